// The vocabulary every suite speaks. A check names the requirement it verifies, observes the target
// through probes (producing evidence), and judges that evidence alone (a pure function: no context,
// probes, clock or mutable state). Reporters only ever see CheckResult values.
import type { Access } from "./access.ts";
import type { Probes } from "../probes/index.ts";

export type Status = "pass" | "fail" | "skip" | "error";

export type Evidence = Record<string, unknown>;

export interface Verdict {
  status: "pass" | "fail" | "skip";
  message: string;
}

export type Need = "password" | "ssh";

export interface CheckContext {
  /** Read-only for checks: a value a check learns (a new password) goes into its evidence instead. */
  readonly access: Readonly<Access>;
  probes: Probes;
  /** Observations shared between checks of one run (e.g. the advertised model id). */
  memo<T>(key: string, produce: () => Promise<T>): Promise<T>;
  /** Aborts when the run's --deadline passes (clients built by checks, like the openai SDK, use it). */
  runSignal?: AbortSignal;
}

/** `R`: the requirement ids a check may name (suites/requirements.ts narrows it to its table). */
export interface Check<E extends Evidence = Evidence, R extends string = string> {
  id: string;
  requirement: R;
  title: string;
  needs?: Need[];
  timeoutMs?: number;
  observe(ctx: CheckContext): Promise<E>;
  judge(evidence: E): Verdict;
}

export interface Suite {
  name: string;
  title: string;
  /** Only meaningful against a real appliance VM (not run by `slmc-check demo`). */
  requiresVm?: boolean;
  checks: Check<any>[];
}

export interface CheckResult {
  id: string;
  suite: string;
  requirement: string;
  title: string;
  status: Status;
  duration_ms: number;
  message: string;
  evidence: Evidence;
}

export interface Report {
  tool: { name: string; version: string };
  target: {
    host: string;
    https_port: number;
    http_port: number;
    user: string;
    tls_verification: string;
    simulated: boolean;
  };
  started_at: string;
  finished_at: string;
  notes: string[];
  checks: CheckResult[];
  summary: { passed: number; failed: number; skipped: number; errored: number };
  /** Set when the run was stopped (Ctrl-C) before every check ran; the report is still complete JSON. */
  interrupted?: boolean;
  /** Set by --fail-on-skip: a skipped check fails the run. */
  fail_on_skip?: boolean;
  /** Added by `slmc-check soak`: plan, measured figures and the whole timeline. */
  soak?: Record<string, unknown>;
}

export const pass = (message: string): Verdict => ({ status: "pass", message });
export const fail = (message: string): Verdict => ({ status: "fail", message });
export const skip = (message: string): Verdict => ({ status: "skip", message });

/** Thrown by observe() when an earlier observation makes this check impossible; reported as skip. */
export class PrerequisiteMissing extends Error {}
