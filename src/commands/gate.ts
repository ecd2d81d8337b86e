// `slmc-check gate <host>`: the release gate. Runs what the policy asks for against one appliance as
// one run (the checks, the reboot cycles, the soak, the bench levels, the VM's build record), judges it
// with evaluate() (src/gate/), writes the evidence bundle with every secret masked, and prints the
// verdict. `slmc-check gate --verify DIR` checks a bundle. Progress goes to stderr, the verdict to stdout.
import type { CliOptions } from "../cli/args.ts";
import { CliError, EXIT } from "../cli/exit-codes.ts";
import type { Access } from "../core/access.ts";
import type { CheckContext, Report, Suite } from "../core/check.ts";
import { createContext, runSuites, type RunListener } from "../core/runner.ts";
import type { BenchReport } from "../bench/report.ts";
import { PROMPT_SET_NAMES } from "../bench/prompts.ts";
import { createProbes } from "../probes/index.ts";
import type { SshSession } from "../probes/ssh.ts";
import { BundleError, verifyBundle, writeBundle } from "../gate/bundle.ts";
import {
  evaluate,
  parseBuildManifest,
  parseBuildRecord,
  type BuildManifest,
  verdictExitCode,
  type BuildRecord,
  type GateInputs,
} from "../gate/evaluate.ts";
import { loadPolicy, PolicyError, type LoadedPolicy, type Policy } from "../gate/policy.ts";
import { sortClauses } from "../gate/verdict-md.ts";
import { decorate as decorateSoak, progressLine } from "./soak.ts";
import { startLoad, type RunningLoad } from "../soak/load.ts";
import { SoakTimeline } from "../soak/timeline.ts";
import { soakSuite, stepOf } from "../../suites/soak.ts";
import { VERSION } from "../version.ts";
import { rebootSuite } from "../../suites/reboot/check.ts";
import { resolveAccess } from "./access.ts";
import { applyNewPassword, connectSsh, passwordFromAppliance } from "./check.ts";
import { withSimulator } from "./demo.ts";
import { measureBench } from "./bench.ts";
import { preflight } from "./preflight.ts";
import { maskerFor, reportOfRun, selectSuites } from "./run.ts";
import { readdir, readFile } from "node:fs/promises";

/** Where the appliance keeps its build record (build.sh's manifest fields), read with one constant command. */
export const BUILD_RECORD_PATH = "/etc/slm-copilot/build-record.json";

type Mask = (text: string) => string;

export async function loadGatePolicy(file: string): Promise<LoadedPolicy> {
  try {
    return await loadPolicy(file);
  } catch (error) {
    if (error instanceof PolicyError) throw new CliError(`--policy: ${error.message}`, EXIT.usage);
    throw error;
  }
}

export async function requireEmptyEvidence(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return;
    throw new CliError(`--evidence "${dir}": ${(error as Error).message}`, EXIT.usage);
  }
  if (entries.length)
    throw new CliError(
      `--evidence "${dir}" is not empty: the gate never overwrites evidence; give a new directory for each gate run`,
      EXIT.usage,
    );
}

function say(mask: Mask, line: string): void {
  process.stderr.write(mask(`gate: ${line}`) + "\n");
}

/** Runs suites through the ordinary runner with one progress line per finished check on stderr. */
async function runQuietly(
  stage: string,
  access: Access,
  notes: string[],
  session: SshSession | undefined,
  suites: Suite[],
  mask: Mask,
  listener: RunListener = {},
  beforeChecks?: (context: CheckContext) => Promise<void>,
  signal?: AbortSignal,
): Promise<Report> {
  const total = suites.reduce((n, s) => n + s.checks.length, 0);
  let done = 0;
  const startedAt = new Date();
  const context = createContext(access, createProbes(access, session));
  await beforeChecks?.(context);
  const checks = await runSuites(
    suites,
    context,
    {
      checkStarted: (suite, check) => listener.checkStarted?.(suite, check),
      checkFinished: (result) => {
        done++;
        say(mask, `${stage} [${done}/${total}] ${result.status.toUpperCase()} ${result.id}`);
        listener.checkFinished?.(result);
      },
    },
    signal,
  );
  // The gate's check report has never carried the SSH connection count or fail_on_skip (the policy's
  // waivers decide skips): no session, no flag.
  const report = reportOfRun(access, startedAt, notes, checks, undefined, false);
  if (signal?.aborted) {
    report.interrupted = true;
    report.notes.push(`${String(signal.reason)}: the checks after it were not run`);
  }
  return report;
}

/** The soak of `slmc-check soak`, with the policy's plan; its timeline lines go to stderr. */
async function soakReport(
  plan: NonNullable<Policy["soak"]>,
  access: Access,
  notes: string[],
  session: SshSession,
  options: CliOptions,
  mask: Mask,
  signal: AbortSignal,
): Promise<Report> {
  const timeline = new SoakTimeline({
    reboots: plan.reboots,
    killEvery: plan.kill_every,
    loadStreams: plan.load_streams,
    readyBudgetS: options.readyTimeoutS,
  });
  let load: RunningLoad | undefined;
  const suite = soakSuite(timeline.plan, timeline, () => load);
  timeline.onStep((step, event) => say(mask, progressLine(step, event, timeline)));
  try {
    const report = await runQuietly(
      "soak",
      access,
      notes,
      session,
      [suite],
      mask,
      {
        checkStarted: (_suite, check) => timeline.stepStarted(stepOf(suite, check.id)),
        checkFinished: (result) => timeline.stepFinished(stepOf(suite, result.id), result),
      },
      async (context) => {
        if (plan.load_streams > 0 && access.password)
          load = await startLoad(context, plan.load_streams, timeline);
      },
      signal,
    );
    decorateSoak(report, suite, timeline, signal.aborted);
    return report;
  } finally {
    await load?.stop();
  }
}

/** The bench runs one report per prompt set, at every concurrency the policy names for it. */
async function benchReports(
  policy: NonNullable<Policy["bench"]>,
  access: Access,
  notes: string[],
  session: SshSession | undefined,
  options: CliOptions,
  mask: Mask,
  signal: AbortSignal,
): Promise<BenchReport[]> {
  const sets = [...new Set(policy.levels.map((l) => l.prompt_set))];
  const reports: BenchReport[] = [];
  for (const set of sets) {
    if (signal.aborted) {
      say(mask, `bench: prompt set ${set} not run (${String(signal.reason)})`);
      continue;
    }
    const known = (PROMPT_SET_NAMES as readonly string[]).find((name) => name === set);
    if (!known) {
      say(mask, `bench: no prompt set "${set}" in this slmc-check; its levels fail as missing evidence`);
      continue;
    }
    const concurrency = [
      ...new Set(policy.levels.filter((l) => l.prompt_set === set).map((l) => l.concurrency)),
    ];
    say(mask, `bench: prompt set ${set}, concurrency ${concurrency.join(",")}`);
    // A bench that cannot run (no model listed) leaves its levels without evidence; the gate goes on.
    const report = await measureBench(
      {
        access,
        probes: createProbes(access, session),
        ...(session ? { session } : {}),
        notes: [...notes],
        path: access.simulated
          ? "/v1/chat/completions via the SIMULATED front"
          : "/v1/chat/completions via HTTPS",
      },
      {
        ...options,
        promptSet: known as (typeof PROMPT_SET_NAMES)[number],
        concurrency: concurrency.sort((a, b) => a - b),
        sweep: false,
      },
    ).catch((error: Error) => {
      say(
        mask,
        `bench: prompt set ${set} did not run (${error.message}); its levels fail as missing evidence`,
      );
      return undefined;
    });
    if (report) reports.push(report);
  }
  return reports;
}

async function readBuildRecord(session: SshSession, mask: Mask): Promise<BuildRecord | undefined> {
  const result = await session.exec(`cat ${BUILD_RECORD_PATH}`).catch((error: Error) => {
    say(mask, `build record: ${error.message}`);
    return undefined;
  });
  if (!result || result.code !== 0) {
    say(mask, `build record: ${BUILD_RECORD_PATH} is not readable on the VM`);
    return undefined;
  }
  try {
    return parseBuildRecord(result.stdout, BUILD_RECORD_PATH);
  } catch (error) {
    say(mask, (error as Error).message);
    return undefined;
  }
}

/** Everything the policy asks for that this target can give; what it cannot stays absent (a missing-evidence failure). */
async function collectEvidence(
  loaded: LoadedPolicy,
  access: Access,
  notes: string[],
  session: SshSession | undefined,
  options: CliOptions,
  mask: Mask,
  inputs: GateInputs,
  signal: AbortSignal,
): Promise<void> {
  const { policy } = loaded;
  const noSsh = (what: string) =>
    say(mask, `${what}: needs SSH (--ssh-key FILE); its clauses fail as missing evidence`);
  const stopped = (what: string) => {
    if (signal.aborted)
      say(mask, `${what}: not run (${String(signal.reason)}); its clauses fail as missing evidence`);
    return signal.aborted;
  };
  if ((policy.checks || policy.recovery) && !stopped("checks")) {
    say(mask, "checks: every suite");
    const suites = selectSuites([], access.simulated ? "simulator" : "vm");
    inputs.checks = await runQuietly("checks", access, notes, session, suites, mask, {}, undefined, signal);
  }
  if ((policy.reboot || policy.boot) && !stopped("reboot")) {
    if (session) {
      const cycles = policy.reboot?.cycles ?? 1;
      say(mask, `reboot: ${cycles} cycle(s)`);
      inputs.reboot = await runQuietly(
        "reboot",
        access,
        notes,
        session,
        [rebootSuite(cycles, options.readyTimeoutS, [])],
        mask,
        applyNewPassword(access).listener,
        undefined,
        signal,
      );
    } else noSsh("reboot");
  }
  if (policy.soak && !stopped("soak")) {
    if (session) {
      say(
        mask,
        `soak: ${policy.soak.reboots} reboot(s), kill every ${policy.soak.kill_every}, ${policy.soak.load_streams} stream(s)`,
      );
      inputs.soak = await soakReport(policy.soak, access, notes, session, options, mask, signal);
    } else noSsh("soak");
  }
  if (policy.bench && !stopped("bench")) {
    if (access.password)
      inputs.bench = await benchReports(policy.bench, access, notes, session, options, mask, signal);
    else
      say(
        mask,
        "bench: needs the API password (--password-file, SLMC_PASSWORD or SSH); its clauses fail as missing evidence",
      );
  }
  if (policy.appliance && !stopped("build record")) {
    if (session) {
      const build = await readBuildRecord(session, mask);
      if (build) inputs.build = build;
    } else noSsh("build record");
  }
}

function summary(verdict: ReturnType<typeof evaluate>, dir: string, signed: boolean): string {
  const lines = sortClauses(verdict.clauses).map((c) => {
    const status = c.status === "fail" && !c.required ? "fail (not required)" : c.status;
    return `${status.toUpperCase().padEnd(6)} ${c.id}: ${c.message}`;
  });
  const s = verdict.summary;
  return [
    ...lines,
    "",
    `gate ${verdict.passed ? "PASSED" : "FAILED"} (policy ${verdict.policy.name}): ${s.passed} passed, ${s.failed} failed (${s.failed_required} required), ${s.waived} waived of ${s.clauses} clauses`,
    verdict.image
      ? `image: ${verdict.image.file ?? "(unnamed)"} sha256 ${verdict.image.sha256} (build ${verdict.image.build_id})`
      : "image: not identified (no build record whose build id matches --build-manifest)",
    `evidence bundle: ${dir}${signed ? " (signed)" : ""}; verify with: slmc-check gate --verify ${dir}`,
    "",
  ].join("\n");
}

/**
 * Stops the gate on SIGINT/SIGTERM or at --deadline: the first stop lets the step in flight finish (a
 * reboot waits until the appliance is ready again, the soak's load is stopped: the gate changes no
 * configuration, so nothing else needs restoring) and skips the rest; a second signal stops at once.
 * Either way a bundle is written whose verdict says why the run stopped.
 */
function stopControl(options: CliOptions, mask: Mask, stopNow: (reason: string) => void) {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      controller.abort(`interrupted (${signal})`);
      say(
        mask,
        `interrupted (${signal}): finishing the step in flight (a reboot waits until the appliance is ready), then writing the bundle; ${signal} again to stop now`,
      );
      return;
    }
    stopNow(
      `stopped by a second ${signal}; a reboot or restart in flight finishes on its own (the gate changed no configuration)`,
    );
  };
  const deadline =
    options.deadlineS === undefined
      ? undefined
      : setTimeout(() => {
          controller.abort(`the gate's --deadline of ${options.deadlineS} s passed`);
          say(
            mask,
            `--deadline of ${options.deadlineS} s passed: finishing the step in flight, then writing the bundle`,
          );
        }, options.deadlineS * 1000);
  deadline?.unref();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    /** Whether a signal (not the deadline) stopped the run: exit 130. */
    bySignal: () => signals > 0,
    release: () => {
      clearTimeout(deadline);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

/** Judges the evidence and writes the (masked) bundle to `dir`; the verdict it wrote. */
async function writeGateBundle(
  loaded: LoadedPolicy,
  inputs: GateInputs,
  options: CliOptions,
  mask: Mask,
  dir: string,
): Promise<ReturnType<typeof evaluate>> {
  const verdict = evaluate(loaded.policy, inputs, loaded.sources);
  try {
    await writeBundle(
      dir,
      {
        verdict,
        policy: loaded,
        inputs,
        tool: {
          name: "slmc-check",
          version: VERSION,
          runtime: process.versions.bun ? `bun ${process.versions.bun}` : `node ${process.versions.node}`,
        },
      },
      { mask, ...(options.sign ? { signWith: options.sign } : {}) },
    );
  } catch (error) {
    if (error instanceof BundleError) throw new CliError(`evidence bundle: ${error.message}`, EXIT.usage);
    throw error;
  }
  return verdict;
}

/**
 * One host's gate for `fleet --gate`, printing nothing on stdout: the evidence, the verdict, and the
 * bundle written to `dir`. The fleet bounds each host itself and may stop it through `signal`.
 */
export async function gateHost(
  { loaded, manifest }: Prepared,
  access: Access,
  notes: string[],
  session: SshSession | undefined,
  options: CliOptions,
  dir: string,
  signal: AbortSignal = new AbortController().signal,
): Promise<{ verdict: ReturnType<typeof evaluate>; inputs: GateInputs }> {
  const mask = maskerFor(access, { ...options, showSecrets: false });
  const inputs: GateInputs = manifest ? { manifest } : {};
  await collectEvidence(loaded, access, notes, session, options, mask, inputs, signal);
  if (signal.aborted) inputs.interrupted = String(signal.reason);
  return { verdict: await writeGateBundle(loaded, inputs, options, mask, dir), inputs };
}

async function gateRun(
  { loaded, manifest }: Prepared,
  access: Access,
  notes: string[],
  session: SshSession | undefined,
  options: CliOptions,
): Promise<number> {
  const dir = options.evidence as string;
  // The bundle is published evidence: always masked (the gate takes no --show-secrets).
  const mask = maskerFor(access, { ...options, showSecrets: false });
  const inputs: GateInputs = manifest ? { manifest } : {};
  let written: Promise<ReturnType<typeof evaluate>> | undefined;
  // Once only: the second signal and the end of the run may both get here.
  const finish = (interrupted: string | undefined) =>
    (written ??= (async () => {
      if (interrupted !== undefined) inputs.interrupted = interrupted;
      const verdict = await writeGateBundle(loaded, inputs, options, mask, dir);
      process.stdout.write(mask(summary(verdict, dir, Boolean(options.sign))));
      return verdict;
    })());
  const stop = stopControl(options, mask, (reason) => {
    finish(reason).then(
      () => process.exit(EXIT.interrupted),
      (error: Error) => {
        process.stderr.write(`slmc-check: ${error.message}\n`);
        process.exit(EXIT.interrupted);
      },
    );
  });
  try {
    await collectEvidence(loaded, access, notes, session, options, mask, inputs, stop.signal);
  } finally {
    stop.release();
  }
  const verdict = await finish(stop.signal.aborted ? String(stop.signal.reason) : undefined);
  return stop.bySignal() ? EXIT.interrupted : verdictExitCode(verdict);
}

async function readBuildManifest(file: string): Promise<BuildManifest> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new CliError(`--build-manifest: cannot read "${file}": ${(error as Error).message}`, EXIT.usage);
  }
  try {
    return parseBuildManifest(text, `"${file}"`);
  } catch (error) {
    throw new CliError(`--build-manifest: ${(error as Error).message}`, EXIT.usage);
  }
}

export interface Prepared {
  loaded: LoadedPolicy;
  manifest?: BuildManifest;
}

async function prepare(options: CliOptions): Promise<Prepared> {
  const loaded = await loadGatePolicy(options.policy as string);
  const manifest = options.buildManifest ? await readBuildManifest(options.buildManifest) : undefined;
  await requireEmptyEvidence(options.evidence as string);
  return { loaded, ...(manifest ? { manifest } : {}) };
}

export async function gateCommand(host: string, options: CliOptions): Promise<number> {
  const prepared = await prepare(options);
  const { access, notes, warnings } = await resolveAccess(host, options, process.env);
  for (const warning of warnings) process.stderr.write(`slmc-check: warning: ${warning}\n`);
  await preflight(access);
  const session = await connectSsh(access, options.sshExplicit, notes);
  try {
    if (session) await passwordFromAppliance(session, access, notes);
    if (!access.password) notes.push("no password given: checks that need credentials are skipped");
    return await gateRun(prepared, access, notes, session, options);
  } finally {
    session?.close();
  }
}

export async function gateDemoCommand(options: CliOptions): Promise<number> {
  const prepared = await prepare(options);
  return withSimulator(options, (access, notes) => gateRun(prepared, access, notes, undefined, options));
}

export async function gateVerifyCommand(dir: string, options: CliOptions): Promise<number> {
  let publicKey: string | undefined;
  if (options.allowedSigner)
    try {
      publicKey = await readFile(options.allowedSigner, "utf8");
    } catch (error) {
      throw new CliError(
        `--allowed-signer "${options.allowedSigner}": ${(error as Error).message}`,
        EXIT.usage,
      );
    }
  const result = await verifyBundle(dir, publicKey ? { publicKey } : {});
  for (const problem of result.problems)
    process.stdout.write(`${problem.kind.toUpperCase()} ${problem.file}: ${problem.message}\n`);
  process.stdout.write(
    result.ok
      ? `bundle ${dir}: intact (signature: ${result.signature})\n`
      : `bundle ${dir}: ${result.problems.length} problem(s)\n`,
  );
  return result.ok ? EXIT.ok : EXIT.checkFailed;
}
