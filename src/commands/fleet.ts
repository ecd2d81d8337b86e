// `slmc-check fleet FILE`: the checks of "slmc-check <host>" against every host of an inventory, at
// most --parallel at a time. Each host is its own run: its own options, its own SSH connection, its
// own deadline. Its run is raced against a budget derived from its own timeouts, so a host that hangs
// costs its own time and never holds the others. Everything the inventory names (password files, CA
// files) is read before the first host is contacted.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CliOptions } from "../cli/args.ts";
import { CliError, EXIT, usageError } from "../cli/exit-codes.ts";
import { loadInventory, type InventoryHost } from "../cli/inventory.ts";
import type { Access } from "../core/access.ts";
import type { CheckResult, Report } from "../core/check.ts";
import { buildReport } from "../core/report.ts";
import { createContext, runSuites } from "../core/runner.ts";
import { createProbes } from "../probes/index.ts";
import type { SshSession } from "../probes/ssh.ts";
import { COLOR, PLAIN } from "../reporters/pretty.ts";
import {
  buildFleetReport,
  hostVerdict,
  renderFleet,
  type FleetHost,
  type FleetReport,
  type HostGate,
} from "../reporters/fleet.ts";
import type { LoadedPolicy, Policy } from "../gate/policy.ts";
import { VERSION } from "../version.ts";
import { requestsFor } from "../bench/runner.ts";
import { resolveAccess } from "./access.ts";
import { connectSsh, passwordFromAppliance } from "./check.ts";
import { gateHost, loadGatePolicy, requireEmptyEvidence } from "./gate.ts";
import { preflight, PreflightError, PREFLIGHT_TITLES } from "./preflight.ts";
import { checkReportFiles, maskerFor, reportOfRun, selectSuites } from "./run.ts";
import { startWait, waitForBootstrap, waitForHealth } from "./wait-ready.ts";

/** Added to a host's budget for the steps outside --deadline: wait-ready, preflight, SSH connect. */
const GRACE_MS = 5_000;

interface Prepared {
  entry: InventoryHost;
  access: Access;
  notes: string[];
  /** --gate: the policy, and the directory of this host's bundle (DIR/<name>). */
  gate?: { loaded: LoadedPolicy; dir: string };
}

/**
 * The longest a host may take: its wait-ready, TCP connect + TLS handshake (one --timeout each), SSH
 * connect and password read, then --deadline for the checks, plus a grace.
 */
export function hostBudgetMs(options: CliOptions): number {
  const timeoutMs = options.timeoutS * 1000;
  return (
    (options.waitReadyS ?? 0) * 1000 +
    2 * timeoutMs +
    (options.noSsh ? 0 : 2 * Math.max(30_000, 2 * timeoutMs)) +
    (options.deadlineS ?? 0) * 1000 +
    GRACE_MS
  );
}

/**
 * What a gate adds to a host's budget: each reboot (reboot cycles, soak reboots) its ready timeout
 * twice over, each bench request its stream timeout.
 */
export function gateBudgetMs(policy: Policy, options: CliOptions): number {
  const reboots = (policy.reboot?.cycles ?? (policy.boot ? 1 : 0)) + (policy.soak?.reboots ?? 0);
  const requests = (policy.bench?.levels ?? []).reduce(
    (sum, level) =>
      sum +
      requestsFor(
        options.requests === undefined ? {} : { requestsPerLevel: options.requests },
        level.concurrency,
      ) +
      options.warmup,
    0,
  );
  return reboots * 2 * options.readyTimeoutS * 1000 + requests * options.streamTimeoutS * 1000;
}

/** `signal` with a reason that says what happened, instead of a bare TimeoutError. */
function withReason(signal: AbortSignal, message: string): AbortSignal {
  const controller = new AbortController();
  signal.addEventListener("abort", () => controller.abort(new Error(message)), { once: true });
  return controller.signal;
}

/** One host's report when the run stopped before or instead of its checks. */
function stoppedReport(
  prepared: Prepared,
  startedAt: Date,
  checks: CheckResult[],
  stop: {
    id: string;
    requirement: string;
    title: string;
    message: string;
    evidence?: Record<string, unknown>;
  },
): Report {
  return buildReport({
    version: VERSION,
    access: prepared.access,
    startedAt,
    finishedAt: new Date(),
    notes: prepared.notes,
    checks: [
      ...checks,
      {
        id: stop.id,
        suite: stop.requirement,
        requirement: stop.requirement,
        title: stop.title,
        status: "error",
        duration_ms: Date.now() - startedAt.getTime(),
        message: stop.message,
        evidence: stop.evidence ?? {},
      },
    ],
  });
}

type HostOutcome = Omit<FleetHost, "cells">;

/** The checks of "slmc-check <host>" for one inventory host, as a value: nothing is printed. */
async function checkHost(
  prepared: Prepared,
  signal: AbortSignal,
  finished: CheckResult[],
  progress: { reached: boolean },
): Promise<HostOutcome> {
  const { entry, access, notes } = prepared;
  const options = entry.options;
  const startedAt = new Date();
  const outcome = (report: Report, unreachable = false, gate?: HostGate): HostOutcome => ({
    name: entry.name,
    zone: entry.zone,
    host: entry.host,
    verdict: gate ? (gate.passed ? "pass" : "fail") : hostVerdict(report, unreachable),
    duration_ms: Date.now() - startedAt.getTime(),
    report,
    ...(gate ? { gate } : {}),
  });
  const stopped = (error: unknown): HostOutcome => {
    if (error instanceof PreflightError)
      return outcome(
        stoppedReport(prepared, startedAt, [], {
          id: error.checkId,
          requirement: "preflight",
          title: PREFLIGHT_TITLES[error.checkId],
          message: error.message,
          evidence: error.evidence,
        }),
        error.exitCode === EXIT.unreachable,
      );
    if (error instanceof CliError)
      return outcome(
        stoppedReport(prepared, startedAt, [], {
          id: "preflight.ssh",
          requirement: "preflight",
          title: "SSH connects and authenticates (an SSH option was given)",
          message: error.message,
        }),
        error.exitCode === EXIT.unreachable,
      );
    throw error;
  };
  const log = (line: string) => process.stderr.write(`slmc-check: fleet: ${entry.name}: ${line}\n`);
  const waiter = options.waitReadyS === undefined ? undefined : startWait(options.waitReadyS, log);
  try {
    if (waiter) await waitForHealth(access, waiter);
    await preflight(access);
  } catch (error) {
    return stopped(error);
  }
  progress.reached = true;
  if (signal.aborted) throw signal.reason;
  let session: SshSession | undefined;
  try {
    session = await connectSsh(access, options.sshExplicit, notes);
    if (signal.aborted) throw signal.reason;
    if (waiter && session) await waitForBootstrap(session, access, waiter);
    if (session) await passwordFromAppliance(session, access, notes);
  } catch (error) {
    session?.close();
    return stopped(error);
  }
  try {
    if (!access.password) notes.push("no password given: checks that need credentials are skipped");
    if (prepared.gate) return outcome(...(await gateOutcome(prepared, session, startedAt)));
    // --deadline as in "slmc-check <host>": the check in flight errors, the later ones are skipped.
    const deadlineS = options.deadlineS ?? 0;
    const deadline = AbortSignal.any([
      signal,
      withReason(
        AbortSignal.timeout(deadlineS * 1000),
        `the run's deadline of ${deadlineS} s passed (a target that trickles bytes slowly defeats stream-idle; raise the host's deadline for a slow appliance)`,
      ),
    ]);
    const context = createContext(access, createProbes(access, session, deadline), deadline);
    const checks = await runSuites(selectSuites(options.suites, "vm"), context, {
      checkFinished: (result) => finished.push(result),
    });
    return outcome(reportOfRun(access, startedAt, notes, checks, session, options.failOnSkip));
  } finally {
    session?.close();
  }
}

/** The host's gate (its bundle in DIR/<name>); the matrix shows the checks, reboot and soak it ran. */
async function gateOutcome(
  prepared: Prepared,
  session: SshSession | undefined,
  startedAt: Date,
): Promise<[Report, boolean, HostGate]> {
  const { loaded, dir } = prepared.gate as NonNullable<Prepared["gate"]>;
  const { verdict, inputs } = await gateHost(
    { loaded },
    prepared.access,
    prepared.notes,
    session,
    prepared.entry.options,
    dir,
  );
  const reports = [inputs.checks, inputs.reboot, inputs.soak].filter((r): r is Report => r !== undefined);
  const report = buildReport({
    version: VERSION,
    access: prepared.access,
    startedAt,
    finishedAt: new Date(),
    notes: [...new Set([...prepared.notes, ...reports.flatMap((r) => r.notes)])],
    checks: reports.flatMap((r) => r.checks),
  });
  return [
    report,
    false,
    {
      policy: loaded.policy.name,
      passed: verdict.passed,
      bundle: dir,
      summary: verdict.summary,
      failed: verdict.clauses
        .filter((c) => c.status === "fail" && c.required)
        .map((c) => ({ id: c.id, message: c.message })),
    },
  ];
}

/** Runs one host against its budget: past it, the host is reported with what finished and why it stopped. */
/**
 * Races `work` against `budgetMs`: past it, `work`'s signal aborts with `message` and the result is
 * `over(message)`, whatever `work` still does (its late result or error is dropped).
 */
export async function withBudget<T>(
  budgetMs: number,
  message: string,
  work: (signal: AbortSignal) => Promise<T>,
  over: (message: string) => T,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const overBudget = new Promise<T>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error(message));
      resolve(over(message));
    }, budgetMs);
  });
  const running = work(controller.signal);
  running.catch(() => undefined);
  try {
    return await Promise.race([running, overBudget]);
  } finally {
    clearTimeout(timer);
    controller.abort(new Error("the host's run is over"));
  }
}

async function runHost(prepared: Prepared): Promise<HostOutcome> {
  const options = prepared.entry.options;
  const budgetMs =
    hostBudgetMs(options) + (prepared.gate ? gateBudgetMs(prepared.gate.loaded.policy, options) : 0);
  const finished: CheckResult[] = [];
  const progress = { reached: false };
  const startedAt = new Date();
  const message = `the host did not finish within its budget of ${Math.round(budgetMs / 1000)} s (wait-ready + 2 x timeout + SSH connect + deadline + ${GRACE_MS / 1000} s${prepared.gate ? " + the gate's reboots and bench requests" : ""}); it was stopped so the other hosts are not held`;
  return withBudget(
    budgetMs,
    message,
    (signal) => checkHost(prepared, signal, finished, progress),
    (reason) => {
      const report = stoppedReport(prepared, startedAt, finished, {
        id: "fleet.budget",
        requirement: "fleet",
        title: "the host's run ends within its own budget",
        message: reason,
      });
      return {
        name: prepared.entry.name,
        zone: prepared.entry.zone,
        host: prepared.entry.host,
        verdict: hostVerdict(report, !progress.reached),
        duration_ms: Date.now() - startedAt.getTime(),
        report,
      };
    },
  );
}

/** Runs `items` through `worker`, at most `limit` at a time, results in the items' order. */
async function pool<T, R>(items: T[], limit: number, worker: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await worker(items[index] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** Every host's access, read before any traffic: an unreadable password or CA file exits 2 naming the host. */
async function prepareAll(hosts: InventoryHost[], env: NodeJS.ProcessEnv): Promise<Prepared[]> {
  const prepared: Prepared[] = [];
  for (const entry of hosts) {
    // SLMC_PASSWORD is the password of the hosts that name no password-file.
    const hostEnv = entry.options.passwordFile ? { ...env, SLMC_PASSWORD: undefined } : env;
    try {
      const { access, notes } = await resolveAccess(entry.host, entry.options, hostEnv);
      prepared.push({ entry, access, notes });
    } catch (error) {
      if (error instanceof CliError)
        throw new CliError(`inventory host "${entry.name}": ${error.message}`, error.exitCode);
      throw error;
    }
  }
  return prepared;
}

export function fleetExitCode(fleet: FleetReport): number {
  const s = fleet.summary;
  if (s.unreachable === s.hosts) return EXIT.unreachable;
  return s.pass === s.hosts ? EXIT.ok : EXIT.checkFailed;
}

export async function fleetCommand(file: string, options: CliOptions): Promise<number> {
  if (options.evidence !== undefined && options.gatePolicy === undefined)
    throw usageError("--evidence only applies with --gate POLICY");
  if (options.gatePolicy !== undefined && options.evidence === undefined)
    throw usageError("--gate needs --evidence DIR: each host's bundle goes to DIR/<name>");
  await checkReportFiles(options);
  const inventory = await loadInventory(file, process.env);
  const loaded = options.gatePolicy === undefined ? undefined : await loadGatePolicy(options.gatePolicy);
  if (options.evidence !== undefined) await requireEmptyEvidence(options.evidence);
  const prepared = (await prepareAll(inventory.hosts, process.env)).map((p) =>
    loaded ? { ...p, gate: { loaded, dir: join(options.evidence as string, p.entry.name) } } : p,
  );
  const masks = prepared.map((p) => maskerFor(p.access, p.entry.options));
  const mask = (text: string) => masks.reduce((masked, m) => m(masked), text);
  const startedAt = new Date();
  let done = 0;
  const hosts = await pool(prepared, options.parallel, async (p) => {
    const result = await runHost(p);
    done++;
    process.stderr.write(
      mask(
        `slmc-check: fleet: [${done}/${prepared.length}] ${result.name} (zone ${result.zone}): ${result.verdict.toUpperCase()} in ${(result.duration_ms / 1000).toFixed(1)} s\n`,
      ),
    );
    return result;
  });
  const fleet = buildFleetReport({
    version: VERSION,
    inventory: file,
    parallel: options.parallel,
    startedAt,
    finishedAt: new Date(),
    hosts,
  });
  const color = options.color && !options.out && Boolean(process.stdout.isTTY);
  const text = mask(renderFleet(options.format, fleet, { style: color ? COLOR : PLAIN }));
  if (options.out)
    try {
      await writeFile(options.out, text);
    } catch (error) {
      throw new CliError(`cannot write report to "${options.out}": ${(error as Error).message}`, EXIT.usage);
    }
  else process.stdout.write(text);
  return fleetExitCode(fleet);
}
