// Thread tuning for `slmc-check tune <host> --yes` (planned; this module is its pure core). The command
// restarts the engine through the appliance's own configure path with 1, 2, 4, … threads up to the
// vCPU count (a tuning override the appliance reads, removed afterwards), measures prefill and decode
// at each, always restores the original configuration, and recommends ONEAPP_COPILOT_THREADS with the
// table. Here: which counts to try, the steps in order, an executor over injected operations that
// restores whatever happens, and the recommendation from the measurements.

export const MAX_THREADS = 512;
/** The appliance's tuning override: one integer, read by its configure before ONEAPP_COPILOT_THREADS. */
export const TUNE_OVERRIDE_FILE = "/etc/slm-copilot/tune-threads";
/** The appliance's retune script: the override (else the context's recorded count) into the engine. */
export const RETUNE_SCRIPT = "/usr/local/sbin/slm-copilot-retune";
/** Streamed requests per thread count; the median prefill and decode rates are kept. */
export const TUNE_REQUESTS = 3;

/** 1, 2, 4, … below the vCPU count, then the vCPU count itself. */
export function threadCounts(vcpus: number): number[] {
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > MAX_THREADS)
    throw new RangeError(`vCPU count must be a whole number from 1 to ${MAX_THREADS}, got ${vcpus}`);
  const counts: number[] = [];
  for (let n = 1; n < vcpus; n *= 2) counts.push(n);
  counts.push(vcpus);
  return counts;
}

export type TuneStep =
  { kind: "set-threads"; threads: number } | { kind: "measure"; threads: number } | { kind: "restore" };

/** Each count is set then measured; the last step restores the original, whatever came before. */
export function tunePlan(vcpus: number): TuneStep[] {
  return [
    ...threadCounts(vcpus).flatMap((threads): TuneStep[] => [
      { kind: "set-threads", threads },
      { kind: "measure", threads },
    ]),
    { kind: "restore" },
  ];
}

/** What `tune` prints before it asks for --yes: the engine restarts, so the appliance stops serving. */
export function describePlan(vcpus: number, original: { threads: number; source: string }): string[] {
  const counts = threadCounts(vcpus);
  return [
    `tune restarts the engine ${counts.length + 1} times: the appliance answers no requests meanwhile`,
    `threads to measure: ${counts.join(", ")} (vCPUs: ${vcpus})`,
    `then restores the original: ${original.threads} threads (${original.source}), the tuning override removed`,
  ];
}

export interface TuneMeasurement {
  threads: number;
  /** Prompt tokens per second evaluating a fixed cold prompt. */
  prefill_tok_s: number | null;
  /** Generated tokens per second after the first token. */
  decode_tok_s: number | null;
  error?: string;
}

export interface TuneOps {
  setThreads(threads: number): Promise<void>;
  measure(threads: number): Promise<TuneMeasurement>;
  restore(): Promise<void>;
}

export interface TuneRun {
  measurements: TuneMeasurement[];
  restored: boolean;
  restoreError?: string;
  stoppedBecause?: string;
}

/**
 * Runs the plan. A failed restart or measurement is recorded and ends the sweep (the engine may be
 * down); restore runs in every case, and its own failure is reported, never hidden.
 */
export async function executeTune(plan: TuneStep[], ops: TuneOps): Promise<TuneRun> {
  const run: TuneRun = { measurements: [], restored: false };
  try {
    for (const step of plan) {
      if (step.kind === "restore") break;
      if (step.kind === "set-threads") {
        await ops.setThreads(step.threads);
        continue;
      }
      const measured = await ops.measure(step.threads);
      run.measurements.push(measured);
      if (measured.error) {
        run.stoppedBecause = `${step.threads} threads: ${measured.error}`;
        break;
      }
    }
  } catch (error) {
    run.stoppedBecause = (error as Error).message;
  } finally {
    try {
      await ops.restore();
      run.restored = true;
    } catch (error) {
      run.restoreError = (error as Error).message;
    }
  }
  return run;
}

/** The turn the recommendation optimises: a later agentic turn's new prompt tokens and answer. */
export interface ReferenceTurn {
  promptTokens: number;
  outputTokens: number;
}

export const DEFAULT_TURN: ReferenceTurn = { promptTokens: 2000, outputTokens: 300 };
/** Counts whose turn time is within this fraction of the best are ties; the fewest threads wins. */
export const TIE_FRACTION = 0.03;

export interface TuneRow {
  threads: number;
  prefill_tok_s: number | null;
  decode_tok_s: number | null;
  /** prompt ÷ prefill + output ÷ decode, seconds; null when either rate is missing. */
  turn_s: number | null;
  /** turn_s relative to the best, %: 0 for the best. */
  slower_than_best_pct: number | null;
  note: string;
}

export interface Recommendation {
  threads: number | null;
  reason: string;
  table: TuneRow[];
}

const usable = (v: number | null): v is number => v !== null && Number.isFinite(v) && v > 0;

export function recommend(
  measurements: TuneMeasurement[],
  turn: ReferenceTurn = DEFAULT_TURN,
): Recommendation {
  const rows: TuneRow[] = [...measurements]
    .sort((a, b) => a.threads - b.threads)
    .map((m) => ({
      threads: m.threads,
      prefill_tok_s: m.prefill_tok_s,
      decode_tok_s: m.decode_tok_s,
      turn_s:
        !m.error && usable(m.prefill_tok_s) && usable(m.decode_tok_s)
          ? turn.promptTokens / m.prefill_tok_s + turn.outputTokens / m.decode_tok_s
          : null,
      slower_than_best_pct: null,
      note: m.error ? `failed: ${m.error}` : "",
    }));
  const timed = rows.filter((r): r is TuneRow & { turn_s: number } => r.turn_s !== null);
  if (timed.length === 0)
    return {
      threads: null,
      reason: "no thread count was measured completely: nothing to recommend",
      table: rows,
    };
  const best = Math.min(...timed.map((r) => r.turn_s));
  for (const row of timed) row.slower_than_best_pct = (100 * (row.turn_s - best)) / best;
  const chosen = timed.find((r) => r.turn_s <= best * (1 + TIE_FRACTION))!;
  chosen.note = "recommended";
  const fastest = timed.find((r) => r.turn_s === best)!;
  const tie =
    chosen.threads === fastest.threads
      ? ""
      : `; ${fastest.threads} threads were ${(((chosen.turn_s - best) / best) * 100).toFixed(1)} % faster, within the ${TIE_FRACTION * 100} % tie, so the fewer threads leave cores to nginx and the OS`;
  return {
    threads: chosen.threads,
    reason:
      `ONEAPP_COPILOT_THREADS=${chosen.threads}: the shortest reference turn (${turn.promptTokens} prompt tokens ` +
      `evaluated + ${turn.outputTokens} generated) at ${chosen.turn_s.toFixed(1)} s${tie}`,
    table: rows,
  };
}
