// Runs the selected suites against one target and delivers the report in the chosen format.
import { constants } from "node:fs";
import { access as fsAccess, stat, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { secretForms, type Access } from "../core/access.ts";
import type { CheckContext, CheckResult, Report, Suite } from "../core/check.ts";
import { buildReport, runVerdict } from "../core/report.ts";
import { createContext, runSuites, type RunListener } from "../core/runner.ts";
import { createMasker, jsonForms } from "../core/secrets.ts";
import { createProbes } from "../probes/index.ts";
import type { SshSession } from "../probes/ssh.ts";
import { render, renderMany, type ReportOutput } from "../reporters/index.ts";
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

function combineListeners(...listeners: (RunListener | undefined)[]): RunListener {
  const present = listeners.filter((l): l is RunListener => l !== undefined);
  return {
    checkStarted: (suite, check) => present.forEach((l) => l.checkStarted?.(suite, check)),
    checkFinished: (result) => present.forEach((l) => l.checkFinished?.(result)),
  };
}

export function exitCodeFor(report: Report): number {
  return runVerdict(report).ok ? EXIT.ok : EXIT.checkFailed;
}

/** Every file the run writes: --out (in --format) and each --report. */
function outputsOf(options: CliOptions): ReportOutput[] {
  return [
    ...(options.out ? [{ format: options.format, file: options.out }] : []),
    ...(options.reports ?? []),
  ];
}

/**
 * Refuses, before any network traffic, report files that cannot be written: a missing or read-only
 * directory, a file that is not writable, a file named twice. Exit 2 naming the flag's value.
 */
export async function checkReportFiles(options: CliOptions): Promise<void> {
  await checkOutputFiles(
    outputsOf(options).map(({ format, file }) => ({
      file,
      named:
        file === options.out && format === options.format ? `--out ${file}` : `--report ${format}:${file}`,
    })),
  );
}

/** The same refusal for any list of files, each named by the flag that asked for it (bench's outputs too). */
export async function checkOutputFiles(outputs: { file: string; named: string }[]): Promise<void> {
  const seen = new Map<string, string>();
  for (const { file, named } of outputs) {
    const full = resolve(file);
    const earlier = seen.get(full);
    if (earlier)
      throw new CliError(`${named}: the same file as ${earlier}; one would overwrite the other`, EXIT.usage);
    seen.set(full, named);
    const problem = await stat(full).then(
      async (info) =>
        info.isDirectory()
          ? "is a directory"
          : await fsAccess(full, constants.W_OK).then(
              () => undefined,
              () => "is not writable",
            ),
      async () =>
        await fsAccess(dirname(full), constants.W_OK).then(
          () => undefined,
          () => `cannot be created: directory ${dirname(full)} is missing or not writable`,
        ),
    );
    if (problem) throw new CliError(`${named}: ${full} ${problem}`, EXIT.usage);
  }
}

/** Writes the report to --out and every --report file (never with colour codes), masked. */
export async function writeReportFiles(
  report: Report,
  options: CliOptions,
  mask: (text: string) => string,
): Promise<void> {
  for (const output of renderMany(report, outputsOf(options), { color: false })) {
    try {
      await writeFile(output.file, mask(output.text));
    } catch (error) {
      throw new CliError(`cannot write report to "${output.file}": ${(error as Error).message}`, EXIT.usage);
    }
  }
}

/**
 * A run that stopped at preflight still writes every requested report: one check (preflight.reachable
 * or preflight.tls) with why. A failed check (a certificate --ca does not accept) also goes to stdout
 * like any report; for exit 2 and 3 the message on stderr is the output.
 */
export async function reportPreflightFailure(
  access: Access,
  options: CliOptions,
  notes: string[],
  failure: {
    checkId: string;
    title: string;
    exitCode: number;
    message: string;
    evidence: Record<string, unknown>;
  },
  startedAt: Date,
): Promise<void> {
  const report = buildReport({
    version: VERSION,
    access,
    startedAt,
    finishedAt: new Date(),
    notes,
    checks: [
      {
        id: failure.checkId,
        suite: "preflight",
        requirement: "preflight",
        title: failure.title,
        status: failure.exitCode === EXIT.checkFailed ? "fail" : "error",
        duration_ms: Date.now() - startedAt.getTime(),
        message: failure.message,
        evidence: failure.evidence,
      },
    ],
  });
  if (options.failOnSkip) report.fail_on_skip = true;
  const mask = maskerFor(access, options);
  await writeReportFiles(report, options, mask);
  if (failure.exitCode === EXIT.checkFailed && !options.out)
    process.stdout.write(mask(render(options.format, report, { color: false })));
}

/** What a long-running command (soak) adds to an ordinary run. */
export interface RunExtras {
  signal?: AbortSignal;
  listener?: RunListener;
  /** Called with the probes before the first check (e.g. to start a background load). */
  beforeChecks?(context: CheckContext): Promise<void>;
  /** Adds command-specific sections and notes to the finished report. */
  decorate?(report: Report): void;
}

/** Masks every password the run has used, one applied mid-run (`slmc-check reboot`'s new password) too. */
export function maskerFor(access: Readonly<Access>, options: CliOptions): (text: string) => string {
  if (options.showSecrets) return (text) => text;
  const known = new Set<string>();
  let mask = (text: string) => text;
  return (text) => {
    const forms = secretForms(access).flatMap(jsonForms);
    if (forms.some((form) => !known.has(form))) {
      for (const form of forms) known.add(form);
      mask = createMasker([...known]);
    }
    return mask(text);
  };
}

/**
 * The report of one run's checks: the given notes, then what checks left for the whole run (e.g. a
 * stand-in engine was detected) and the SSH connection count.
 */
export function reportOfRun(
  access: Access,
  startedAt: Date,
  notes: string[],
  checks: CheckResult[],
  sshSession: SshSession | undefined,
  failOnSkip: boolean,
): Report {
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
  if (failOnSkip) report.fail_on_skip = true;
  return report;
}

export async function runAndReport(
  access: Access,
  options: CliOptions,
  notes: string[],
  sshSession?: SshSession,
  suitesOverride?: Suite[],
  extras: RunExtras = {},
): Promise<RunOutcome> {
  const suites = suitesOverride ?? selectSuites(options.suites, access.simulated ? "simulator" : "vm");
  const mask = maskerFor(access, options);
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
  // --deadline: one bound for the whole run, whatever each stream's idle and total timeouts allow.
  const deadline = new AbortController();
  const deadlineTimer =
    options.deadlineS === undefined
      ? undefined
      : setTimeout(
          () =>
            deadline.abort(
              new Error(
                `the run's --deadline of ${options.deadlineS} s passed (a target that trickles bytes slowly defeats --stream-idle; raise --deadline for a slow appliance)`,
              ),
            ),
          options.deadlineS * 1000,
        );
  deadlineTimer?.unref();
  const runSignal = deadlineTimer ? deadline.signal : undefined;
  const context = createContext(access, createProbes(access, sshSession, runSignal), runSignal);
  const listener = combineListeners(progress, extras.listener);
  let checks;
  try {
    await extras.beforeChecks?.(context);
    checks = await runSuites(suites, context, listener, extras.signal);
  } finally {
    clearTimeout(deadlineTimer);
    progress?.stop();
  }
  const report = reportOfRun(access, startedAt, notes, checks, sshSession, options.failOnSkip);
  extras.decorate?.(report);
  // The header already showed the notes given at the start; what checks and decorate added comes last.
  const lateNotes = report.notes
    .slice(notes.length)
    .map((note) => style.yellow(`note: ${note}`) + "\n")
    .join("");
  // A file never gets colour codes, whatever terminal the summary goes to.
  const fileColor = style === COLOR && !options.out;
  const text = liveReport
    ? lateNotes + renderPrettySummary(report, style)
    : render(options.format, report, { color: fileColor });
  await writeReportFiles(report, options, mask);
  if (options.out) {
    if (stderrTty) process.stderr.write(mask(renderPrettySummary(report, style)));
  } else process.stdout.write(mask(text));
  return { report, exitCode: exitCodeFor(report) };
}
