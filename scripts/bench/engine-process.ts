// Starts the stand-in with a real backend (llama-cpp, or llama-server with its --llama-server) as a
// Node child process and waits for /readyz.
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { freePort } from "../../fixtures/ports.ts";

const MAIN = resolve(import.meta.dirname, "../../fixtures/engine/main.ts");

export interface EngineProcess {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startLlamaEngine(options: {
  modelsPath: string;
  threads: number;
  contextSize: number;
  readyTimeoutMs: number;
  /** Default: the llama-cpp backend (node-llama-cpp). */
  backendArgs?: string[];
}): Promise<EngineProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      MAIN,
      "run",
      ...(options.backendArgs ?? ["--backend", "llama-cpp"]),
      "--models-path",
      options.modelsPath,
      "--address",
      `127.0.0.1:${port}`,
      "--threads",
      String(options.threads),
      "--context-size",
      String(options.contextSize),
      "--load-ms",
      "0",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr += d));
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((done) => child.once("exit", done));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((done) => setTimeout(done, 5000))]);
    if (child.exitCode === null) child.kill("SIGKILL");
  };
  const deadline = Date.now() + options.readyTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`engine exited with ${child.exitCode}: ${stderr}`);
    const status = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.status)
      .catch(() => 0);
    if (status === 200) return { port, child, stop };
    await new Promise((wait) => setTimeout(wait, 200));
  }
  await stop();
  throw new Error(`engine not ready within ${options.readyTimeoutMs} ms: ${stderr}`);
}
