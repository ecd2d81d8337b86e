// `slmc-check soak <host>`: the reboot-loop soak. Runs suites/soak.ts through the ordinary runner and
// reporters, with a live timeline (terminal lines, optional --ui page), an optional streaming load,
// and Ctrl-C handling: the first interrupt lets the step in flight finish (a reboot waits until the
// appliance is ready again) and skips the rest; a second one stops at once. Either way a valid JSON
// report is written. The soak never changes configuration, so no step can leave it half-applied.
import { writeFile } from "node:fs/promises";
import type { CliOptions } from "../cli/args.ts";
import { CliError, EXIT } from "../cli/exit-codes.ts";
import type { CheckResult, Report } from "../core/check.ts";
import { buildReport, fileStamp } from "../core/report.ts";
import type { Served } from "../core/serve.ts";
import { render } from "../reporters/index.ts";
import { startLoad, type RunningLoad } from "../soak/load.ts";
import { SoakTimeline, type SoakPlan, type TimelineStep } from "../soak/timeline.ts";
import { serveUi } from "../soak/ui.ts";
import { VERSION } from "../version.ts";
import { describeFigures, figuresFrom, soakSuite, stepOf, type SoakSuite } from "../../suites/soak.ts";
import { resolveAccess } from "./access.ts";
import { connectSsh, passwordFromAppliance } from "./check.ts";
import { preflight, PreflightError, PREFLIGHT_TITLES } from "./preflight.ts";
import {
  checkReportFiles,
  maskerFor,
  reportPreflightFailure,
  runAndReport,
  writeReportFiles,
} from "./run.ts";

const PHASES: Record<string, string> = {
  reboot: "rebooting",
  "wait-ssh": "waiting for SSH (new boot_id)",
  "wait-ready": "waiting for bootstrap_success",
  compare: "comparing with the state before",
};

function stepLabel(step: TimelineStep): string {
  return step.id.replace(/^soak\.(cycle-\d+\.)?/, "");
}

export function progressLine(step: TimelineStep, event: string, timeline: SoakTimeline): string {
  const clock = `${(timeline.now() / 1000).toFixed(1).padStart(7)} s`;
  const cycle = step.cycle ? `cycle ${step.cycle}/${timeline.plan.reboots}` : "end";
  const head = `soak ${clock}  ${cycle}  ${stepLabel(step)}`;
  if (event === "started") return `${head}: started`;
  if (event === "phase") return `${head}: ${PHASES[step.detail] ?? step.detail}`;
  const took = step.endMs === null ? "" : ` in ${((step.endMs - step.startMs) / 1000).toFixed(1)} s`;
  return `${head}: ${step.status}${took}: ${step.detail}  [failures so far: ${timeline.failures()}]`;
}

export function decorate(
  report: Report,
  suite: SoakSuite,
  timeline: SoakTimeline,
  interrupted: boolean,
): void {
  const figures = figuresFrom(report.checks, suite, timeline.plan, timeline);
  timeline.state = interrupted ? "interrupted" : "finished";
  report.notes.push(describeFigures(figures));
  if (interrupted) {
    report.interrupted = true;
    report.notes.push("interrupted (Ctrl-C): the checks after the interrupt were not run");
  }
  report.soak = { plan: timeline.plan, figures, timeline: timeline.view() };
}

export async function soakCommand(host: string, options: CliOptions): Promise<number> {
  const { access, notes, warnings } = await resolveAccess(host, options, process.env);
  if (!access.ssh)
    throw new CliError(
      "soak needs SSH access: pass --ssh-key FILE (and --ssh-port / --jump as needed)",
      EXIT.usage,
    );
  for (const warning of warnings) process.stderr.write(`slmc-check: warning: ${warning}\n`);
  await checkReportFiles(options);
  let session: Awaited<ReturnType<typeof connectSsh>>;
  try {
    await preflight(access);
    session = await connectSsh(access, true, notes);
  } catch (error) {
    // As for `slmc-check <host>`: every requested report still gets the one preflight check and why.
    if (!(error instanceof PreflightError)) throw error;
    await reportPreflightFailure(
      access,
      options,
      notes,
      { ...error, title: PREFLIGHT_TITLES[error.checkId], message: error.message },
      new Date(),
    );
    throw error;
  }
  const plan: SoakPlan = {
    reboots: options.reboots,
    killEvery: options.killEvery,
    loadStreams: options.load,
    readyBudgetS: options.readyTimeoutS,
  };
  const timeline = new SoakTimeline(plan);
  const results: CheckResult[] = [];
  let load: RunningLoad | undefined;
  const suite = soakSuite(plan, timeline, () => load);
  const jsonPath = options.json ?? `slmc-soak-${fileStamp(timeline.startedAt)}.json`;
  const mask = () => maskerFor(access, options);
  const liveStdout = options.format === "pretty" && !options.out && Boolean(process.stdout.isTTY);
  timeline.onStep((step, event) => {
    if (event === "finished" && liveStdout) return;
    process.stderr.write(mask()(progressLine(step, event, timeline)) + "\n");
  });
  const controller = new AbortController();
  let ui: Served | undefined;
  let interrupts = 0;
  const writeJson = (report: Report) => writeFile(jsonPath, mask()(render("json", report, { color: false })));
  const onInterrupt = () => {
    interrupts++;
    const current = timeline.current();
    if (interrupts === 1) {
      timeline.state = "interrupting";
      controller.abort("interrupted (Ctrl-C)");
      process.stderr.write(
        `\nslmc-check: interrupted: finishing ${current ? `"${current.id}"` : "the current step"} so the VM is not left mid-step (a reboot waits until the appliance is ready); Ctrl-C again to stop now\n`,
      );
      return;
    }
    // Second interrupt: stop now, with what has landed. The soak changed no configuration; a VM
    // caught mid-reboot or mid-restart finishes that on its own.
    const report = buildReport({
      version: VERSION,
      access,
      startedAt: timeline.startedAt,
      finishedAt: new Date(),
      notes: [
        ...notes,
        `stopped by a second Ctrl-C during ${current?.id ?? "no step"}; the VM finishes that step on its own (no configuration was changed)`,
      ],
      checks: results,
    });
    decorate(report, suite, timeline, true);
    if (options.failOnSkip) report.fail_on_skip = true;
    void Promise.allSettled([writeJson(report), writeReportFiles(report, options, mask())]).finally(() => {
      process.stderr.write(`slmc-check: partial report written to ${jsonPath}\n`);
      process.exit(EXIT.interrupted);
    });
  };
  process.on("SIGINT", onInterrupt);
  try {
    if (session) await passwordFromAppliance(session, access, notes);
    if (!access.password)
      notes.push("no password given or readable over SSH: recovery and load checks are skipped");
    if (options.ui) {
      ui = await serveUi(() => timeline.view(), options.uiPort);
      process.stderr.write(`slmc-check: live soak view on http://${ui.host}:${ui.port}/ (loopback only)\n`);
    }
    const outcome = await runAndReport(access, options, notes, session, [suite], {
      signal: controller.signal,
      listener: {
        checkStarted: (_suite, check) => timeline.stepStarted(stepOf(suite, check.id)),
        checkFinished: (result) => {
          results.push(result);
          timeline.stepFinished(stepOf(suite, result.id), result);
        },
      },
      beforeChecks: async (context) => {
        if (plan.loadStreams > 0 && access.password)
          load = await startLoad(context, plan.loadStreams, timeline);
      },
      decorate: (report) => decorate(report, suite, timeline, controller.signal.aborted),
    });
    try {
      await writeJson(outcome.report);
    } catch (error) {
      throw new CliError(
        `cannot write the soak report to "${jsonPath}": ${(error as Error).message}`,
        EXIT.usage,
      );
    }
    process.stderr.write(
      `slmc-check: ${mask()(describeFigures(figuresFrom(outcome.report.checks, suite, plan, timeline)))}\n`,
    );
    process.stderr.write(`slmc-check: JSON report written to ${jsonPath}\n`);
    return controller.signal.aborted ? EXIT.interrupted : outcome.exitCode;
  } finally {
    process.off("SIGINT", onInterrupt);
    await load?.stop();
    await ui?.close();
    session?.close();
  }
}
