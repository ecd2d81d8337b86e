// `slmc-check demo`: the whole harness against the embedded simulated appliance, no VM needed.
import type { CliOptions } from "../cli/args.ts";
import { CliError, EXIT } from "../cli/exit-codes.ts";
import type { Access } from "../core/access.ts";
import { startSimulator } from "../sim/simulator.ts";
import { checkReportFiles, runAndReport } from "./run.ts";
import { flagByName, flagsFor, type Flag } from "../cli/flags.ts";
import type { Report } from "../core/check.ts";

const READY_TIMEOUT_MS = 15_000;

/** bench demo --workload agentic: the simulated engine evaluates prompts at this rate, with its prefix cache. */
const DEMO_AGENTIC_SCHEDULE = { prefillTokensPerSecond: 10_000 };

/** Starts the simulated appliance, waits until it serves, and runs `work` against it. */
export async function withSimulator<T>(
  options: CliOptions,
  work: (access: Access, notes: string[]) => Promise<T>,
): Promise<T> {
  const simulator = await startSimulator({
    defects: options.defects,
    ...(options.workload === "agentic" ? { schedule: DEMO_AGENTIC_SCHEDULE } : {}),
  });
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

/**
 * A failure's advice may name a flag the demo refuses (expired-certificate: "--insecure runs the checks anyway"): one note
 * per such advice says what it means on a real appliance, and that here the failure is the injected defect.
 */
export function demoAdviceNotes(report: Report, defects: readonly string[]): string[] {
  if (!defects.length) return [];
  const demoTakes = new Set(flagsFor("demo").map((f) => f.name));
  const byAdvice = new Map<string, string[]>();
  for (const check of report.checks) {
    if (check.status !== "fail" && check.status !== "error") continue;
    const refused = [...new Set([...check.message.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1] as string))]
      .filter((name) => flagByName(name) && !demoTakes.has(name))
      .join(" ");
    if (refused) byAdvice.set(refused, [...(byAdvice.get(refused) ?? []), check.id]);
  }
  return [...byAdvice].map(([names, ids]) => {
    const flags = names.split(" ").map((name) => flagByName(name) as Flag);
    const shown =
      ids.length > 3 ? `${ids.slice(0, 3).join(", ")} and ${ids.length - 3} more` : ids.join(", ");
    return (
      `${shown} advise ${flags.map((f) => `--${f.name}`).join(", ")}, which "slmc-check demo" does not take ` +
      `(it chooses its own access settings). On a real appliance you would fix the appliance or pass ` +
      `${flags.map((f) => `--${f.name} (${f.help.split("\n")[0]})`).join(" / ")} to "slmc-check <host>"; ` +
      `in the demo the failure is the injected defect ${defects.join(", ")}, which no flag undoes: ` +
      `run without --defect to see these checks pass`
    );
  });
}

export async function demoCommand(options: CliOptions): Promise<number> {
  await checkReportFiles(options);
  return withSimulator(options, async (access, notes) => {
    const decorate = (report: Report) => report.notes.push(...demoAdviceNotes(report, options.defects));
    return (await runAndReport(access, options, notes, undefined, undefined, { decorate })).exitCode;
  });
}
