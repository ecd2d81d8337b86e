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

/** A UTC timestamp for default report file names, e.g. 20261122T031500. */
export function fileStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
}
