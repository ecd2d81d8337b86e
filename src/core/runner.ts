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

export async function runCheck(suite: Suite, check: Check, context: CheckContext): Promise<CheckResult> {
  const base = { id: check.id, suite: suite.name, requirement: check.requirement, title: check.title };
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const unmet = unmetNeed(check, context.access);
  if (unmet) return { ...base, status: "skip", duration_ms: 0, message: unmet, evidence: {} };
  try {
    const timeout = check.timeoutMs ?? Math.max(DEFAULT_CHECK_TIMEOUT_MS, context.access.streamTimeoutMs * 3);
    const evidence = await withDeadline(check.observe(context), timeout, `check ${check.id}`);
    const verdict = check.judge(evidence, context.access);
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

export function createContext(access: Access, probes: Probes): CheckContext {
  const memo = new Map<string, Promise<unknown>>();
  return {
    access,
    probes,
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
      if (signal?.aborted) {
        const result: CheckResult = {
          id: check.id,
          suite: suite.name,
          requirement: check.requirement,
          title: check.title,
          status: "skip",
          duration_ms: 0,
          message: `not run: ${String(signal.reason ?? "interrupted")}`,
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
