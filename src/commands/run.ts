// Runs the selected suites against one target and delivers the report in the chosen format.
import { writeFile } from "node:fs/promises";
import { secretForms, type Access } from "../core/access.ts";
import type { Report, Suite } from "../core/check.ts";
import { buildReport } from "../core/report.ts";
import { createContext, runSuites } from "../core/runner.ts";
import { createMasker, jsonForms } from "../core/secrets.ts";
import { createProbes } from "../probes/index.ts";
import type { SshSession } from "../probes/ssh.ts";
import { render } from "../reporters/index.ts";
import { COLOR, PLAIN, renderPrettyHeader, renderPrettySummary } from "../reporters/pretty.ts";
import { createProgress } from "../reporters/progress.ts";
import { SUITES } from "../../suites/index.ts";
import type { CliOptions } from "../cli/args.ts";
import { CliError, EXIT } from "../cli/exit-codes.ts";
import { VERSION } from "../version.ts";

export interface RunOutcome {
  report: Report;
  exitCode: number;
}

export function selectSuites(names: string[], target: "vm" | "simulator" = "vm"): Suite[] {
  if (names.length) return SUITES.filter((suite) => names.includes(suite.name));
  return target === "vm" ? SUITES : SUITES.filter((suite) => !suite.requiresVm);
}

export function exitCodeFor(report: Report): number {
  return report.summary.failed + report.summary.errored > 0 ? EXIT.checkFailed : EXIT.ok;
}

export async function runAndReport(
  access: Access,
  options: CliOptions,
  notes: string[],
  sshSession?: SshSession,
  suitesOverride?: Suite[],
): Promise<RunOutcome> {
  const suites = suitesOverride ?? selectSuites(options.suites, access.simulated ? "simulator" : "vm");
  const mask = options.showSecrets
    ? (text: string) => text
    : createMasker(secretForms(access).flatMap(jsonForms));
  const stdoutTty = Boolean(process.stdout.isTTY);
  const stderrTty = Boolean(process.stderr.isTTY);
  const style = options.color && (options.out ? stderrTty : stdoutTty) ? COLOR : PLAIN;
  const liveReport = options.format === "pretty" && !options.out && stdoutTty;
  const total = suites.reduce((n, s) => n + s.checks.length, 0);
  const startedAt = new Date();
  const header = {
    tool: { name: "slmc-check", version: VERSION },
    target: buildReport({ version: VERSION, access, startedAt, finishedAt: startedAt, notes, checks: [] })
      .target,
    notes,
  };
  if (liveReport) process.stdout.write(mask(renderPrettyHeader(header, style)));
  const progress =
    liveReport || stderrTty
      ? createProgress({
          stream: liveReport ? process.stdout : process.stderr,
          style,
          mask,
          printResults: liveReport,
          total,
        })
      : undefined;
  const context = createContext(access, createProbes(access, sshSession));
  let checks;
  try {
    checks = await runSuites(suites, context, progress ?? {});
  } finally {
    progress?.stop();
  }
  // A check can leave a note that concerns the whole run (e.g. a stand-in engine was detected).
  const checkNotes = checks.flatMap((c) =>
    typeof c.evidence.reportNote === "string" ? [c.evidence.reportNote] : [],
  );
  if (sshSession)
    checkNotes.push(`SSH: ${sshSession.connectionsOpened} connection(s) opened to ${sshSession.endpoint}`);
  const report = buildReport({
    version: VERSION,
    access,
    startedAt,
    finishedAt: new Date(),
    notes: [...notes, ...checkNotes],
    checks,
  });
  const lateNotes = checkNotes.map((note) => style.yellow(`note: ${note}`) + "\n").join("");
  const text = liveReport
    ? lateNotes + renderPrettySummary(report, style)
    : render(options.format, report, { color: style === COLOR });
  if (options.out) {
    try {
      await writeFile(options.out, mask(text));
    } catch (error) {
      throw new CliError(`cannot write report to "${options.out}": ${(error as Error).message}`, EXIT.usage);
    }
    if (stderrTty) process.stderr.write(mask(renderPrettySummary(report, style)));
  } else process.stdout.write(mask(text));
  return { report, exitCode: exitCodeFor(report) };
}
