// `slmc-check bench <host>` and `slmc-check bench --compare old.json new.json`.
import { readFile, writeFile } from "node:fs/promises";
import type { CliOptions } from "../cli/args.ts";
import { CliError, EXIT } from "../cli/exit-codes.ts";
import type { Access } from "../core/access.ts";
import { createContext } from "../core/runner.ts";
import { createMasker, jsonForms } from "../core/secrets.ts";
import { secretForms } from "../core/access.ts";
import { createProbes, type Probes } from "../probes/index.ts";
import type { SshSession } from "../probes/ssh.ts";
import { compareReports, renderComparison } from "../bench/compare.ts";
import { findings } from "../bench/findings.ts";
import { renderBenchHtml } from "../bench/html.ts";
import { measureInside } from "../bench/inside.ts";
import { median, METRIC_DEFINITIONS, type Sample, type Slo } from "../bench/metrics.ts";
import { renderBenchTable } from "../bench/pretty.ts";
import { promptSet, type BenchPrompt } from "../bench/prompts.ts";
import {
  BENCH_SCHEMA_VERSION,
  comparableReportSchema,
  type BenchFormat,
  type BenchReport,
  type ComparableReport,
} from "../bench/report.ts";
import {
  openLoopProblem,
  poissonArrivals,
  requestsProblem,
  runBench,
  type BenchPlan,
  type BenchProgress,
} from "../bench/runner.ts";
import { createSender } from "../bench/send.ts";
import { VERSION } from "../version.ts";
import { modelId, observeModels, STAND_IN_MARK } from "../core/requests.ts";
import { resolveAccess } from "./access.ts";
import { connectSsh, passwordFromAppliance } from "./check.ts";
import { preflight } from "./preflight.ts";
import { withSimulator } from "./demo.ts";
import { measureAgentic } from "./bench-agentic.ts";
import { checkOutputFiles } from "./run.ts";

async function readComparable(path: string): Promise<ComparableReport> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new CliError(`cannot read "${path}": ${(error as Error).message}`, EXIT.usage);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CliError(`"${path}" is not JSON: ${(error as Error).message}`, EXIT.usage);
  }
  const parsed = comparableReportSchema.safeParse(json);
  if (!parsed.success)
    throw new CliError(
      `"${path}" is not a slmc-check bench report: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      EXIT.usage,
    );
  return parsed.data;
}

export async function compareCommand(files: [string, string], options: CliOptions): Promise<number> {
  const [before, after] = [await readComparable(files[0]), await readComparable(files[1])];
  const changes = compareReports(before, after, options.regressionThreshold);
  process.stdout.write(renderComparison(changes, options.regressionThreshold, files));
  return changes.some((c) => c.regression) ? EXIT.checkFailed : EXIT.ok;
}

function progressPrinter(plan: BenchPlan): BenchProgress {
  return (event) => {
    // Closed loop: requests finish at about concurrency per request time.
    const eta = ((event.total - event.done) * event.levelElapsedMs) / Math.max(1, event.done) / 1000;
    const what =
      event.phase === "warmup"
        ? "warm-up (excluded)"
        : event.phase === "open-loop"
          ? `open loop at ${plan.openLoop?.ratePerS}/s`
          : `concurrency ${event.concurrency}`;
    process.stderr.write(
      `bench ${(event.elapsedMs / 1000).toFixed(1).padStart(7)} s  ${what}: ${event.done}/${event.total} requests${eta > 0 ? `, level ETA ~${eta.toFixed(0)} s` : ""}${plan.sweep ? " (sweep)" : ""}\n`,
    );
  };
}

export interface BenchTarget {
  access: Access;
  probes: Probes;
  session?: SshSession;
  notes: string[];
  path: string;
  /** The run's --deadline (the probes were made with it too). */
  signal?: AbortSignal;
}

function planOf(options: CliOptions): Omit<BenchPlan, "prompts"> {
  const slo: Slo = {
    ...(options.sloTtftMs !== undefined ? { ttft_ms: options.sloTtftMs } : {}),
    ...(options.sloDecodeTokS !== undefined ? { decode_tok_s: options.sloDecodeTokS } : {}),
  };
  return {
    concurrencies: options.concurrency,
    sweep: options.sweep,
    maxConcurrency: options.maxConcurrency,
    ...(options.requests !== undefined ? { requestsPerLevel: options.requests } : {}),
    warmup: options.warmup,
    saturationGain: 0.1,
    ...(options.rate !== undefined
      ? { openLoop: { ratePerS: options.rate, durationS: options.durationS, seed: options.seed } }
      : {}),
    ...(Object.keys(slo).length ? { slo } : {}),
  };
}

/** What the server counted for each prompt (usage.prompt_tokens), median over its completed requests. */
function promptTokens(prompts: BenchPrompt[], samples: Sample[]): Record<string, number | null> {
  return Object.fromEntries(
    prompts.map((prompt) => {
      const counts = samples
        .filter((s) => s.ok && s.prompt === prompt.name && s.n_in !== null)
        .map((s) => s.n_in!);
      return [prompt.name, counts.length ? median(counts) : null];
    }),
  );
}

/** Runs the bench and returns its report (the gate calls this per prompt set). */
export async function measureBench(target: BenchTarget, options: CliOptions): Promise<BenchReport> {
  const { access, probes, notes } = target;
  const context = createContext(access, probes);
  const model = await modelId(context).catch((error: Error) => {
    throw new CliError(`cannot learn the model id from /v1/models: ${error.message}`, EXIT.checkFailed);
  });
  // The same /v1/models observation the api suite uses (memoized): a stand-in engine says so.
  const standIn = (await observeModels(context)).owners.some((owner) => owner.includes(STAND_IN_MARK));
  if (standIn)
    notes.push(
      "the target serves the slmc STAND-IN engine (NOT LocalAI): these figures measure the path and the stand-in's schedule or backend, not the appliance's model",
    );
  if (options.workload === "agentic") return measureAgentic(target, options, model, standIn);
  const prompts = promptSet(options.promptSet);
  const plan: BenchPlan = {
    ...planOf(options),
    prompts,
    ...(target.signal ? { signal: target.signal } : {}),
  };
  const shape = {
    model,
    maxTokens: options.maxTokens,
    fixedLength: options.fixedLength,
    timeoutMs: access.streamTimeoutMs,
    idleTimeoutMs: access.streamIdleTimeoutMs,
  };
  const startedAt = new Date();
  const run = await runBench(plan, createSender(access, probes, shape, target.signal), progressPrinter(plan));
  const inside = target.session
    ? await measureInside(context, shape, prompts[0]!, run).catch((e: Error) => ({ error: e.message }))
    : undefined;
  const report: BenchReport = {
    schema_version: BENCH_SCHEMA_VERSION,
    tool: {
      name: "slmc-check",
      version: VERSION,
      runtime: process.versions.bun ? `bun ${process.versions.bun}` : `node ${process.versions.node}`,
    },
    target: {
      host: access.host,
      https_port: access.httpsPort,
      path: target.path,
      simulated: access.simulated,
    },
    started_at: startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    plan: {
      mode: plan.openLoop ? "open-loop" : "closed-loop",
      concurrencies: plan.openLoop ? [] : run.levels.map((l) => l.aggregate.concurrency),
      sweep: plan.sweep,
      requests_per_level: plan.requestsPerLevel ?? null,
      ...(plan.openLoop
        ? {
            open_loop: {
              rate_per_s: plan.openLoop.ratePerS,
              duration_s: plan.openLoop.durationS,
              seed: plan.openLoop.seed,
              arrivals: poissonArrivals(plan.openLoop).length,
            },
          }
        : {}),
      ...(plan.slo ? { slo: plan.slo } : {}),
      ...(options.deadlineS !== undefined ? { deadline_s: options.deadlineS } : {}),
      warmup: plan.warmup,
      max_tokens: shape.maxTokens,
      fixed_length: shape.fixedLength,
      prompt_set: options.promptSet,
      prompts: prompts.map((p) => p.name),
      prompt_tokens: promptTokens(
        prompts,
        run.levels.flatMap((l) => l.samples),
      ),
      ...(prompts.some((p) => p.cold) ? { cold_prefix: true } : {}),
      temperature: 0,
    },
    metadata: {
      model,
      stand_in_engine: standIn,
      endpoint: `https://${access.host}:${access.httpsPort}/v1/chat/completions`,
    },
    definitions: METRIC_DEFINITIONS,
    warmup: run.warmup,
    levels: run.levels,
    saturated_at: run.saturatedAt,
    stopped_because: run.stoppedBecause,
    findings: findings(
      run.levels.flatMap((l) => l.samples),
      shape.fixedLength,
      shape.maxTokens,
      run.warmup,
    ),
    ...(inside ? { inside } : {}),
    notes,
  };
  return report;
}

interface BenchOutput {
  format: BenchFormat;
  file: string;
  /** The flag that asked for it, for messages. */
  named: string;
}

/** Every file bench writes: --out in --format, each --report, and --json / --html (the same as --report). */
function benchOutputs(options: CliOptions): BenchOutput[] {
  const { format, reports } = options.bench;
  return [
    ...(options.out ? [{ format, file: options.out, named: `--out ${options.out}` }] : []),
    ...reports.map((r) => ({ ...r, named: `--report ${r.format}:${r.file}` })),
    ...(options.json
      ? [{ format: "json" as const, file: options.json, named: `--json ${options.json}` }]
      : []),
    ...(options.html
      ? [{ format: "html" as const, file: options.html, named: `--html ${options.html}` }]
      : []),
  ];
}

function renderBench(report: BenchReport, format: BenchFormat): string {
  if (format === "json") return `${JSON.stringify(report, null, 2)}\n`;
  if (format === "html") return renderBenchHtml(report);
  return renderBenchTable(report);
}

/**
 * What bench refuses before any traffic (exit 2): too few --requests for a level's concurrency, an
 * open loop of more arrivals than a level may have requests, output files that cannot be written.
 */
export async function checkBenchOptions(options: CliOptions): Promise<void> {
  const plan = planOf(options);
  const problem = plan.openLoop ? openLoopProblem(plan.openLoop) : requestsProblem(plan);
  if (problem) throw new CliError(problem, EXIT.usage);
  await checkOutputFiles(benchOutputs(options));
}

export async function runBenchAgainst(target: BenchTarget, options: CliOptions): Promise<number> {
  const { access } = target;
  const report = await measureBench(target, options);
  const mask = options.showSecrets ? (t: string) => t : createMasker(secretForms(access).flatMap(jsonForms));
  const outputs = benchOutputs(options);
  for (const output of outputs) {
    try {
      await writeFile(output.file, mask(renderBench(report, output.format)));
    } catch (error) {
      throw new CliError(
        `${output.named}: cannot write the bench report: ${(error as Error).message}`,
        EXIT.usage,
      );
    }
  }
  if (!options.out) process.stdout.write(mask(renderBench(report, options.bench.format)));
  else if (process.stderr.isTTY) process.stderr.write(mask(renderBenchTable(report)));
  if (outputs.length)
    process.stderr.write(`slmc-check: bench report written to ${outputs.map((o) => o.file).join(", ")}\n`);
  return report.findings.some((f) => f.level === "flag") ? EXIT.checkFailed : EXIT.ok;
}

/** --deadline: one bound for the whole bench run; the signal cuts the requests in flight when it fires. */
function deadlineSignal(options: CliOptions): { signal?: AbortSignal; clear(): void } {
  if (options.deadlineS === undefined) return { clear: () => undefined };
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`the run's --deadline of ${options.deadlineS} s`)),
    options.deadlineS * 1000,
  );
  timer.unref();
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

export async function benchCommand(host: string, options: CliOptions): Promise<number> {
  await checkBenchOptions(options);
  const deadline = deadlineSignal(options);
  try {
    return await benchTarget(host, options, deadline.signal);
  } finally {
    deadline.clear();
  }
}

async function benchTarget(host: string, options: CliOptions, signal?: AbortSignal): Promise<number> {
  const withSignal = signal ? { signal } : {};
  if (host === "demo")
    return withSimulator(options, (access, notes) =>
      runBenchAgainst(
        {
          access,
          probes: createProbes(access, undefined, signal),
          notes,
          path: "/v1/chat/completions via the SIMULATED front",
          ...withSignal,
        },
        options,
      ),
    );
  const { access, notes, warnings } = await resolveAccess(host, options, process.env);
  for (const warning of warnings) process.stderr.write(`slmc-check: warning: ${warning}\n`);
  await preflight(access);
  const session = await connectSsh(access, options.sshExplicit, notes);
  try {
    if (session) await passwordFromAppliance(session, access, notes);
    if (!access.password)
      throw new CliError(
        "bench needs the API password: --password-file FILE, SLMC_PASSWORD, or SSH access to read it",
        EXIT.usage,
      );
    return await runBenchAgainst(
      {
        access,
        probes: createProbes(access, session, signal),
        ...(session ? { session } : {}),
        notes,
        path: "/v1/chat/completions via HTTPS",
        ...withSignal,
      },
      options,
    );
  } finally {
    session?.close();
  }
}
