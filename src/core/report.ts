import type { Access } from "./access.ts";
import type { CheckResult, Report } from "./check.ts";

export function summarize(checks: CheckResult[]): Report["summary"] {
  const count = (status: CheckResult["status"]) => checks.filter((c) => c.status === status).length;
  return { passed: count("pass"), failed: count("fail"), skipped: count("skip"), errored: count("error") };
}

export function buildReport(input: {
  version: string;
  access: Access;
  startedAt: Date;
  finishedAt: Date;
  notes: string[];
  checks: CheckResult[];
}): Report {
  const { access } = input;
  return {
    tool: { name: "slmc-check", version: input.version },
    target: {
      host: access.host,
      https_port: access.httpsPort,
      http_port: access.httpPort,
      user: access.user,
      tls_verification: access.insecure
        ? "disabled (--insecure)"
        : access.caFile
          ? `CA file ${access.caFile}`
          : "system CA store",
      simulated: access.simulated,
    },
    started_at: input.startedAt.toISOString(),
    finished_at: input.finishedAt.toISOString(),
    notes: input.notes,
    checks: input.checks,
    summary: summarize(input.checks),
  };
}

export interface RunVerdict {
  ok: boolean;
  /** The summary's first word(s): PASS, FAIL, FAIL (--fail-on-skip), NOTHING VERIFIED. */
  label: string;
  /** Why, for a verdict other than PASS/FAIL: the skipped checks and their reasons. */
  reason: string;
}

/** The skipped checks, those skipped for the same reason together: "a, b (reason); c (other reason)". */
function skipList(report: Report): string {
  const byReason = new Map<string, string[]>();
  for (const c of report.checks)
    if (c.status === "skip") byReason.set(c.message, [...(byReason.get(c.message) ?? []), c.id]);
  return [...byReason].map(([reason, ids]) => `${ids.join(", ")} (${reason})`).join("; ");
}

/**
 * The run's verdict. A failure or error fails it; with --fail-on-skip so does a skip; and a run where
 * nothing passed verified nothing, so it never passes, whatever was skipped.
 */
export function runVerdict(report: Report): RunVerdict {
  const s = report.summary;
  if (s.failed + s.errored > 0) return { ok: false, label: "FAIL", reason: "" };
  if (report.fail_on_skip && s.skipped > 0)
    return { ok: false, label: "FAIL (--fail-on-skip)", reason: `${s.skipped} skipped: ${skipList(report)}` };
  if (s.passed === 0)
    return {
      ok: false,
      label: "NOTHING VERIFIED",
      reason: s.skipped ? `every check was skipped: ${skipList(report)}` : "no check ran",
    };
  return { ok: true, label: "PASS", reason: "" };
}

/** A UTC timestamp for default report file names, e.g. 20261122T031500. */
export function fileStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
}
