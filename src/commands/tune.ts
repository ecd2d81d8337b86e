// `slmc-check tune <host> --yes`: the thread sweep of src/bench/tune.ts over SSH. Every command sent is a
// constant of this module or one built from a thread count we generated and validated; nothing read
// from the VM reaches a shell, and nothing on the VM is sourced or evaluated. The engine restarts
// through the appliance's retune script, which renders the model YAML and the unit through configure's
// own path from what configure recorded, so they follow the override exactly as they follow
// ONEAPP_COPILOT_THREADS.
import { randomBytes } from "node:crypto";
import type { CliOptions } from "../cli/args.ts";
import { CliError, EXIT } from "../cli/exit-codes.ts";
import type { Access } from "../core/access.ts";
import { median, requestMetrics } from "../bench/metrics.ts";
import { createSender } from "../bench/send.ts";
import {
  describePlan,
  executeTune,
  MAX_THREADS,
  recommend,
  RETUNE_SCRIPT,
  TUNE_OVERRIDE_FILE,
  TUNE_REQUESTS,
  tunePlan,
  type Recommendation,
  type TuneMeasurement,
  type TuneRun,
} from "../bench/tune.ts";
import { createProbes } from "../probes/index.ts";
import type { SshSession } from "../probes/ssh.ts";
import { resolveAccess } from "./access.ts";
import { connectSsh, passwordFromAppliance } from "./check.ts";
import { preflight } from "./preflight.ts";
import { startWait, waitForHealth, type WaitClock } from "./wait-ready.ts";

export { RETUNE_SCRIPT, TUNE_OVERRIDE_FILE, TUNE_REQUESTS };

/** vCPUs the engine may use (nproc: the CPUs this VM schedules on). */
export const VCPUS_COMMAND = "nproc";
/** The thread count the engine was configured with: the model YAML's `threads:`. */
export const THREADS_COMMAND = "sed -n 's/^threads: //p' /var/lib/local-ai/models/*.yaml | head -n1";
export const REMOVE_OVERRIDE_COMMAND = `rm -f ${TUNE_OVERRIDE_FILE}`;
/** A left-over override (an earlier tune killed outright) would make its count look like the original. */
export const OVERRIDE_PRESENT_COMMAND = `if [ -e ${TUNE_OVERRIDE_FILE} ]; then echo present; else echo absent; fi`;
/**
 * The appliance's retune script (installed by `service install`): the override if present, else the
 * count the context gave at the last configure (recorded in effective.env), into the model YAML; the
 * engine restarted, its readiness awaited, the report rewritten. It never reads one-context's one_env,
 * which one-context writes unescaped, so sourcing it would run the VM owner's `$(…)` as root in this
 * session. The script prints its own exit status (retune-exit=N); `|| true` keeps a failure's status
 * readable here instead of a bare non-zero exit.
 */
export const RETUNE_COMMAND = `${RETUNE_SCRIPT} 2>/dev/null || true`;

/** The one command that carries a value, and the value is a count we generated: checked again here. */
export function setThreadsCommand(threads: number): string {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS)
    throw new RangeError(`thread count must be a whole number from 1 to ${MAX_THREADS}, got ${threads}`);
  return `install -d -m 0755 /etc/slm-copilot && printf '%d\\n' ${threads} > ${TUNE_OVERRIDE_FILE}`;
}

/** A whole number 1..MAX_THREADS from the first line of an answer, else null (never trusted further). */
export function parseCount(text: string): number | null {
  const line = text.trim().split("\n")[0]?.trim() ?? "";
  if (!/^\d{1,4}$/.test(line)) return null;
  const n = Number(line);
  return n >= 1 && n <= MAX_THREADS ? n : null;
}

/** A cold prompt of about 1500 tokens: a fresh nonce first, so no cached prefix shortens the prefill. */
export function tunePrompt(nonce: string) {
  const body = Array.from(
    { length: 60 },
    (_, i) =>
      `Line ${i + 1}: the function parses the configuration, validates each field, and returns the normalised record.`,
  ).join("\n");
  return {
    name: "tune",
    description: "cold prefill, then a fixed-length answer",
    messages: [
      {
        role: "user" as const,
        content: `Request ${nonce}. Summarise what this code review note says, in detail:\n${body}`,
      },
    ],
  };
}

export interface TuneTarget {
  session: Pick<SshSession, "exec">;
  access: Access;
  log(line: string): void;
  clock?: WaitClock;
  readyTimeoutS: number;
  requests?: number;
  maxTokens?: number;
}

export interface TuneOutcome {
  vcpus: number;
  original: number;
  run: TuneRun;
  recommendation: Recommendation;
  /** The thread count read back after restoring (null: unreadable). */
  restoredThreads: number | null;
}

async function exec(target: TuneTarget, command: string): Promise<string> {
  const result = await target.session.exec(command, target.access.requestTimeoutMs * 6);
  if (result.code !== 0)
    throw new Error(`"${command}" exited ${result.code}: ${result.stderr.trim().slice(0, 200)}`);
  return result.stdout;
}

/** Reads what the sweep needs before it changes anything. */
export async function readTargetFacts(target: TuneTarget): Promise<{ vcpus: number; original: number }> {
  const vcpus = parseCount(await exec(target, VCPUS_COMMAND));
  const original = parseCount(await exec(target, THREADS_COMMAND));
  const leftOver = (await exec(target, OVERRIDE_PRESENT_COMMAND)).trim() !== "absent";
  if (vcpus === null)
    throw new CliError(`tune: "${VCPUS_COMMAND}" on the VM gave no vCPU count`, EXIT.checkFailed);
  if (original === null)
    throw new CliError(
      `tune: no threads: line in the model YAML (/var/lib/local-ai/models/*.yaml): is this an SLM-Copilot appliance that has configured?`,
      EXIT.checkFailed,
    );
  if (leftOver)
    throw new CliError(
      `tune: ${TUNE_OVERRIDE_FILE} is already on the VM (an earlier tune that did not finish?), so the engine's count is not the original: ` +
        `remove it and run ${RETUNE_SCRIPT} on the VM, then tune again`,
      EXIT.checkFailed,
    );
  return { vcpus, original };
}

async function retune(target: TuneTarget, expected: number): Promise<void> {
  const answer = await exec(target, RETUNE_COMMAND);
  const status = /retune-exit=(\d+)/.exec(answer)?.[1];
  if (status === undefined)
    throw new Error(
      `${RETUNE_SCRIPT} printed no exit status: is it on the VM? (images built before it cannot be tuned; rebuild the image)`,
    );
  if (status !== "0")
    throw new Error(
      `the appliance's retune failed (retune-exit=${status}): read /var/log/one-appliance/slm-copilot.log on the VM`,
    );
  const threads = parseCount(await exec(target, THREADS_COMMAND));
  if (threads !== expected)
    throw new Error(
      `after retune the model YAML says threads ${threads ?? "(unreadable)"}, expected ${expected}`,
    );
  await waitForHealth(target.access, startWait(target.readyTimeoutS, target.log, target.clock));
}

/** TUNE_REQUESTS cold requests; the medians of prefill (server's own figure first) and decode. */
async function measureAt(target: TuneTarget, threads: number, model: string): Promise<TuneMeasurement> {
  const shape = {
    model,
    maxTokens: target.maxTokens ?? 64,
    fixedLength: true,
    timeoutMs: target.access.streamTimeoutMs,
    idleTimeoutMs: target.access.streamIdleTimeoutMs,
  };
  const send = createSender(target.access, createProbes(target.access), shape);
  const prefill: number[] = [];
  const decode: number[] = [];
  for (let i = 0; i < (target.requests ?? TUNE_REQUESTS); i++) {
    const metrics = requestMetrics(await send(tunePrompt(randomBytes(6).toString("hex"))));
    if (!metrics.ok)
      return {
        threads,
        prefill_tok_s: null,
        decode_tok_s: null,
        error: metrics.error ?? `HTTP ${metrics.status}`,
      };
    const p = metrics.server_prefill_tok_s ?? metrics.prefill_tok_s_client;
    if (p !== null) prefill.push(p);
    if (metrics.decode_tok_s !== null) decode.push(metrics.decode_tok_s);
  }
  const rate = (values: number[]) => (values.length ? median(values) : null);
  target.log(
    `tune: ${threads} threads: prefill ${rate(prefill)?.toFixed(1) ?? "?"} tok/s, decode ${rate(decode)?.toFixed(1) ?? "?"} tok/s`,
  );
  return { threads, prefill_tok_s: rate(prefill), decode_tok_s: rate(decode) };
}

async function modelId(access: Access): Promise<string> {
  const response = await createProbes(access).https({
    path: "/v1/models",
    headers: { authorization: `Bearer ${access.password ?? ""}` },
  });
  if (response.status !== 200) throw new Error(`GET /v1/models answered ${response.status}`);
  const body = JSON.parse(response.body.subarray(0, 65536).toString("utf8")) as { data?: { id?: unknown }[] };
  const id = body.data?.[0]?.id;
  if (typeof id !== "string") throw new Error("GET /v1/models lists no model");
  return id;
}

/**
 * The sweep, then restore: remove the override, retune, read the threads back. `interrupt` aborts
 * the sweep (Ctrl-C); restore still runs.
 */
export async function runTune(
  target: TuneTarget,
  facts: { vcpus: number; original: number },
  interrupt?: AbortSignal,
): Promise<TuneOutcome> {
  let model: string | undefined;
  let restoredThreads: number | null = null;
  const stopIfInterrupted = () => {
    if (interrupt?.aborted) throw new Error("interrupted (Ctrl-C)");
  };
  const run = await executeTune(tunePlan(facts.vcpus), {
    setThreads: async (threads) => {
      stopIfInterrupted();
      target.log(`tune: restarting the engine with ${threads} threads`);
      await exec(target, setThreadsCommand(threads));
      await retune(target, threads);
    },
    measure: async (threads) => {
      stopIfInterrupted();
      model ??= await modelId(target.access);
      return measureAt(target, threads, model);
    },
    restore: async () => {
      target.log(`tune: restoring the original (${facts.original} threads): override removed, retune`);
      await exec(target, REMOVE_OVERRIDE_COMMAND);
      try {
        await retune(target, facts.original);
      } finally {
        restoredThreads = parseCount(await exec(target, THREADS_COMMAND).catch(() => ""));
      }
    },
  });
  return { ...facts, run, recommendation: recommend(run.measurements), restoredThreads };
}

const cell = (v: number | null, digits = 1) => (v === null ? "—" : v.toFixed(digits));

export function renderTune(outcome: TuneOutcome): string {
  const head = ["threads", "prefill tok/s", "decode tok/s", "turn s", "vs best", "note"];
  const rows = outcome.recommendation.table.map((r) => [
    String(r.threads),
    cell(r.prefill_tok_s),
    cell(r.decode_tok_s),
    cell(r.turn_s),
    r.slower_than_best_pct === null ? "—" : `+${r.slower_than_best_pct.toFixed(1)} %`,
    r.note,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  const { run } = outcome;
  return [
    `vCPUs ${outcome.vcpus}, original threads ${outcome.original}`,
    line(head),
    ...rows.map(line),
    "",
    outcome.recommendation.threads === null
      ? `no recommendation: ${outcome.recommendation.reason}`
      : `recommendation: ${outcome.recommendation.reason}`,
    ...(run.stoppedBecause ? [`the sweep stopped early: ${run.stoppedBecause}`] : []),
    run.restored
      ? `restored: the override removed, threads ${outcome.restoredThreads} as before`
      : `NOT RESTORED: ${run.restoreError}; remove ${TUNE_OVERRIDE_FILE} on the VM and run ${RETUNE_SCRIPT} (threads read back: ${outcome.restoredThreads ?? "unreadable"})`,
    "",
  ].join("\n");
}

export function tuneExitCode(outcome: TuneOutcome): number {
  const ok = outcome.run.restored && !outcome.run.stoppedBecause && outcome.recommendation.threads !== null;
  return ok ? EXIT.ok : EXIT.checkFailed;
}

/** After SSH is up: read the facts, print the plan (and stop without --yes), sweep, restore, print. */
export async function tuneWithSession(
  target: TuneTarget,
  options: Pick<CliOptions, "yes" | "format">,
  write: (text: string) => void,
  interrupt?: AbortSignal,
): Promise<number> {
  const facts = await readTargetFacts(target);
  const plan = describePlan(facts.vcpus, { threads: facts.original, source: "the model YAML" });
  if (!options.yes) {
    write(`${plan.join("\n")}\n`);
    throw new CliError("tune restarts the running engine: pass --yes to go ahead", EXIT.usage);
  }
  for (const line of plan) target.log(line);
  const outcome = await runTune(target, facts, interrupt);
  write(options.format === "json" ? `${JSON.stringify(outcome, null, 2)}\n` : renderTune(outcome));
  return interrupt?.aborted ? EXIT.interrupted : tuneExitCode(outcome);
}

export async function tuneCommand(host: string, options: CliOptions): Promise<number> {
  if (options.format !== "pretty" && options.format !== "json")
    throw new CliError(`--format ${options.format}: tune writes pretty or json`, EXIT.usage);
  const { access, notes, warnings } = await resolveAccess(host, options, process.env);
  if (!access.ssh)
    throw new CliError(
      "tune needs SSH access: pass --ssh-key FILE (and --ssh-port / --jump as needed)",
      EXIT.usage,
    );
  for (const warning of warnings) process.stderr.write(`slmc-check: warning: ${warning}\n`);
  await preflight(access);
  const session = await connectSsh(access, true, notes);
  if (!session) throw new CliError("tune: no SSH session", EXIT.unreachable);
  const log = (line: string) => process.stderr.write(`slmc-check: ${line}\n`);
  const controller = new AbortController();
  // Ctrl-C ends the sweep after the step in flight; restore always runs (a second Ctrl-C is Node's own).
  const onInterrupt = () => {
    controller.abort();
    log("interrupted: finishing the step in flight, then restoring the original configuration");
    process.off("SIGINT", onInterrupt);
  };
  process.on("SIGINT", onInterrupt);
  try {
    await passwordFromAppliance(session, access, notes);
    const target: TuneTarget = { session, access, log, readyTimeoutS: options.readyTimeoutS };
    return await tuneWithSession(target, options, (text) => process.stdout.write(text), controller.signal);
  } finally {
    process.off("SIGINT", onInterrupt);
    session.close();
  }
}
