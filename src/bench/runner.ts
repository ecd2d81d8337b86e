// Load for the benchmark: warm-up requests (excluded), then closed-loop levels at fixed concurrency,
// optionally a sweep 1, 2, 4, … that stops at saturation (aggregate tok/s no longer grows).
import { performance } from "node:perf_hooks";
import { aggregate, requestMetrics, type LevelAggregate, type RequestTrace, type Sample } from "./metrics.ts";
import type { BenchPrompt } from "./prompts.ts";

export type SendRequest = (prompt: BenchPrompt) => Promise<RequestTrace>;

export interface BenchPlan {
  concurrencies: number[];
  /** Keep doubling concurrency after the listed levels until saturation, up to maxConcurrency. */
  sweep: boolean;
  maxConcurrency: number;
  requestsPerLevel: number;
  warmup: number;
  prompts: BenchPrompt[];
  /** A level saturates when its aggregate tok/s grows by less than this fraction over the previous. */
  saturationGain: number;
}

export interface Level {
  aggregate: LevelAggregate;
  samples: Sample[];
}

export interface BenchProgress {
  (event: {
    phase: "warmup" | "level";
    concurrency: number;
    done: number;
    total: number;
    elapsedMs: number;
    levelElapsedMs: number;
  }): void;
}

export interface BenchRun {
  warmup: Sample[];
  levels: Level[];
  saturatedAt: number | null;
  stoppedBecause: string;
}

function toSample(trace: RequestTrace, origin: number, prompt: BenchPrompt): Sample {
  return {
    ...requestMetrics(trace, parseExtraUsage(trace.responseHeaders["extra-usage"])),
    t0_ms: Math.round((trace.sent - origin) * 1000) / 1000,
    t_end_ms: Math.round((trace.end - origin) * 1000) / 1000,
    prompt: prompt.name,
  };
}

/** LocalAI's Extra-Usage response header: "timing_prompt_processing=…, timing_token_generation=…" or JSON. */
export function parseExtraUsage(header: string | undefined): Record<string, number> | undefined {
  if (!header) return undefined;
  try {
    return JSON.parse(header) as Record<string, number>;
  } catch {
    const pairs = [...header.matchAll(/([a-z_]+)\s*[=:]\s*([\d.]+)/g)].map((m) => [m[1]!, Number(m[2])]);
    return pairs.length ? Object.fromEntries(pairs) : undefined;
  }
}

async function closedLoop(
  send: SendRequest,
  prompts: BenchPrompt[],
  concurrency: number,
  total: number,
  onDone: (done: number) => void,
): Promise<Sample[]> {
  const origin = performance.now();
  const samples: Sample[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const index = next++;
      const prompt = prompts[index % prompts.length]!;
      samples.push(toSample(await send(prompt), origin, prompt));
      onDone(samples.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, () => worker()));
  return samples.sort((a, b) => a.t0_ms - b.t0_ms);
}

export function levelsToRun(plan: BenchPlan): number[] {
  return [...new Set(plan.concurrencies)].sort((a, b) => a - b);
}

export async function runBench(
  plan: BenchPlan,
  send: SendRequest,
  progress: BenchProgress,
): Promise<BenchRun> {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const warmupStart = elapsed();
  const warmup = await closedLoop(send, plan.prompts, 1, plan.warmup, (done) =>
    progress({
      phase: "warmup",
      concurrency: 1,
      done,
      total: plan.warmup,
      elapsedMs: elapsed(),
      levelElapsedMs: elapsed() - warmupStart,
    }),
  );
  const levels: Level[] = [];
  const queue = levelsToRun(plan);
  let saturatedAt: number | null = null;
  let stoppedBecause = "every requested level ran";
  while (queue.length) {
    const concurrency = queue.shift()!;
    const levelStart = elapsed();
    const samples = await closedLoop(send, plan.prompts, concurrency, plan.requestsPerLevel, (done) =>
      progress({
        phase: "level",
        concurrency,
        done,
        total: plan.requestsPerLevel,
        elapsedMs: elapsed(),
        levelElapsedMs: elapsed() - levelStart,
      }),
    );
    const level = { aggregate: aggregate(concurrency, samples), samples };
    levels.push(level);
    const previous = levels.at(-2)?.aggregate.agg_out_tok_s;
    const current = level.aggregate.agg_out_tok_s;
    if (level.aggregate.completed === 0) {
      stoppedBecause = `no request completed at concurrency ${concurrency}`;
      break;
    }
    if (previous && current !== null && current < previous * (1 + plan.saturationGain)) {
      saturatedAt = levels.at(-2)!.aggregate.concurrency;
      if (plan.sweep) {
        stoppedBecause = `saturated: concurrency ${concurrency} gave ${current} tok/s, less than ${Math.round(plan.saturationGain * 100)}% over ${previous} at ${saturatedAt}`;
        break;
      }
    }
    if (!queue.length && plan.sweep && concurrency * 2 <= plan.maxConcurrency) queue.push(concurrency * 2);
    else if (!queue.length && plan.sweep) stoppedBecause = `reached --max-concurrency ${plan.maxConcurrency}`;
  }
  return { warmup, levels, saturatedAt, stoppedBecause };
}
