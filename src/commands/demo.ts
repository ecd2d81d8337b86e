// `slmc-check demo`: the whole harness against the embedded simulated appliance, no VM needed.
import type { CliOptions } from "../cli/args.ts";
import { CliError, EXIT } from "../cli/exit-codes.ts";
import type { Access } from "../core/access.ts";
import { startSimulator } from "../sim/simulator.ts";
import { runAndReport } from "./run.ts";

const READY_TIMEOUT_MS = 15_000;

/** Starts the simulated appliance, waits until it serves, and runs `work` against it. */
export async function withSimulator<T>(
  options: CliOptions,
  work: (access: Access, notes: string[]) => Promise<T>,
): Promise<T> {
  const simulator = await startSimulator({ defects: options.defects });
  try {
    const ready = await Promise.race([
      simulator.ready.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), READY_TIMEOUT_MS).unref()),
    ]);
    if (!ready)
      throw new CliError(
        `the simulator did not become ready within ${READY_TIMEOUT_MS} ms`,
        EXIT.unreachable,
      );
    const access: Access = {
      host: simulator.host,
      httpsPort: simulator.httpsPort,
      httpPort: simulator.httpPort,
      user: simulator.user,
      password: simulator.password,
      ca: simulator.certificatePem,
      caFile: "(the simulator's generated self-signed certificate)",
      insecure: false,
      requestTimeoutMs: options.timeoutS * 1000,
      streamTimeoutMs: Math.min(options.streamTimeoutS, 30) * 1000,
      streamIdleTimeoutMs: Math.min(options.streamIdleS, 3) * 1000,
      maxTokens: options.maxTokens,
      simulated: true,
    };
    const notes = [
      "SIMULATED appliance: slmc stand-in engine (synthetic tokens, NOT LocalAI) behind the simulated front (NOT nginx); results say nothing about a real VM",
      ...(options.defects.length ? [`defects injected: ${options.defects.join(", ")}`] : []),
    ];
    return await work(access, notes);
  } finally {
    await simulator.close();
  }
}

export async function demoCommand(options: CliOptions): Promise<number> {
  return withSimulator(
    options,
    async (access, notes) => (await runAndReport(access, options, notes)).exitCode,
  );
}
