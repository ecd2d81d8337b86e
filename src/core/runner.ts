// Runs checks one after another: skip what the access does not allow, observe with a deadline, judge,
// and hand each result to the listener as it lands (progress display) and to the report.
import { performance } from "node:perf_hooks";
import type { Access } from "./access.ts";
import { PrerequisiteMissing, type Check, type CheckContext, type CheckResult, type Suite } from "./check.ts";
import type { Probes } from "../probes/index.ts";
import { ConnectError } from "../probes/http.ts";

export interface RunListener {
  checkStarted?(suite: Suite, check: Check): void;
  checkFinished?(result: CheckResult): void;
}

const DEFAULT_CHECK_TIMEOUT_MS = 120_000;

function unmetNeed(check: Check, access: Access): string | undefined {
  if (check.needs?.includes("ssh") && !access.ssh)
    return "needs SSH access: pass --ssh-key FILE (or have an agent or ~/.ssh/id_* key) and do not pass --no-ssh";
  if (check.needs?.includes("password") && !access.password)
    return "needs the appliance password: pass --password-file FILE or set SLMC_PASSWORD (or give SSH access)";
  return undefined;
}

function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function errorMessage(error: unknown): string {
  if (error instanceof ConnectError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Rejects when the run's deadline signal fires, with the signal's reason. */
function deadlineReached(signal: AbortSignal | undefined): Promise<never> | undefined {
  if (!signal) return undefined;
  return new Promise<never>((_, reject) => {
    const stop = () =>
      reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    if (signal.aborted) stop();
    else signal.addEventListener("abort", stop, { once: true });
  });
}

export async function runCheck(suite: Suite, check: Check, context: CheckContext): Promise<CheckResult> {
  const base = { id: check.id, suite: suite.name, requirement: check.requirement, title: check.title };
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const unmet = unmetNeed(check, context.access);
  if (unmet) return { ...base, status: "skip", duration_ms: 0, message: unmet, evidence: {} };
  try {
    const timeout = check.timeoutMs ?? Math.max(DEFAULT_CHECK_TIMEOUT_MS, context.access.streamTimeoutMs * 3);
    const observed = withDeadline(check.observe(context), timeout, `check ${check.id}`);
    const runDeadline = deadlineReached(context.runSignal);
    if (runDeadline) observed.catch(() => {}); // settles later, after the run moved on
    const evidence = await (runDeadline ? Promise.race([observed, runDeadline]) : observed);
    const verdict = check.judge(evidence);
    return { ...base, status: verdict.status, duration_ms: elapsed(), message: verdict.message, evidence };
  } catch (error) {
    if (error instanceof PrerequisiteMissing)
      return {
        ...base,
        status: "skip",
        duration_ms: elapsed(),
        message: `not run: ${error.message}`,
        evidence: {},
      };
    return {
      ...base,
      status: "error",
      duration_ms: elapsed(),
      message: `could not observe: ${errorMessage(error)}`,
      evidence: { error: errorMessage(error) },
    };
  }
}

export function createContext(access: Access, probes: Probes, runSignal?: AbortSignal): CheckContext {
  const memo = new Map<string, Promise<unknown>>();
  return {
    access,
    probes,
    ...(runSignal ? { runSignal } : {}),
    memo: <T>(key: string, produce: () => Promise<T>) => {
      if (!memo.has(key)) memo.set(key, produce());
      return memo.get(key) as Promise<T>;
    },
  };
}

/** Once `signal` aborts, the check in flight finishes and every later one is reported as skipped. */
export async function runSuites(
  suites: Suite[],
  context: CheckContext,
  listener: RunListener = {},
  signal?: AbortSignal,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const suite of suites) {
    for (const check of suite.checks) {
      const stopped = signal?.aborted ? signal : context.runSignal?.aborted ? context.runSignal : undefined;
      if (stopped) {
        const result: CheckResult = {
          id: check.id,
          suite: suite.name,
          requirement: check.requirement,
          title: check.title,
          status: "skip",
          duration_ms: 0,
          message: `not run: ${stopped.reason instanceof Error ? stopped.reason.message : String(stopped.reason ?? "interrupted")}`,
          evidence: {},
        };
        listener.checkFinished?.(result);
        results.push(result);
        continue;
      }
      listener.checkStarted?.(suite, check);
      const result = await runCheck(suite, check, context);
      listener.checkFinished?.(result);
      results.push(result);
    }
  }
  return results;
}
