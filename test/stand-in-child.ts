// The compiled LocalAI stand-in as a child of a test, on a free loopback port, with its log kept
// (the last 256 KiB) for failure messages and a bounded stop at the test's end. Used by the tests
// that run it with a real llama-server backend, where start-up and readiness take seconds.
import type { Test } from "tap";
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { freePort } from "../fixtures/ports.ts";

export const STAND_IN = resolve(import.meta.dirname, "../dist/local-ai-stand-in");
const LOG_BYTES = 256 * 1024;
// The stand-in stops its llama-server child on SIGTERM; one that does not end is killed.
const STOP_TIMEOUT_MS = 15_000;
// Generous for a loaded 2-core host: loading the 50M model takes about a second when idle.
export const READY_TIMEOUT_MS = 120_000;

export interface StandInChild {
  url: string;
  child: ChildProcess;
  log: () => string;
}

/** `local-ai run --address 127.0.0.1:PORT ARGS…` with PATH plus `env`; stopped when `t` ends. */
export async function spawnStandIn(
  t: Test,
  args: string[],
  env: Record<string, string> = {},
): Promise<StandInChild> {
  const port = await freePort();
  const child = spawn(STAND_IN, ["run", "--address", `127.0.0.1:${port}`, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  let log = "";
  child.stderr!.on("data", (d) => (log = (log + d).slice(-LOG_BYTES)));
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once("exit", done));
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(killer);
  });
  return { url: `http://127.0.0.1:${port}`, child, log: () => log };
}

/** Polls `probe` every 100 ms; throws "WHAT within N ms" with the stand-in's log when time runs out. */
export async function until(what: string, probe: () => Promise<boolean>, log: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((wait) => setTimeout(wait, 100));
  }
  throw new Error(`${what} within ${READY_TIMEOUT_MS} ms; stand-in log:\n${log()}`);
}

export const readyz = (url: string) =>
  fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.status);
