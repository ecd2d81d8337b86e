// Load for the benchmark: warm-up requests (excluded), then closed-loop levels at fixed concurrency,
// optionally a sweep 1, 2, 4, … that stops at saturation (aggregate tok/s no longer grows); or one
// open-loop level: Poisson arrivals at a fixed rate for a fixed duration, whatever the server does.
import { performance } from "node:perf_hooks";
import {
  aggregate,
  requestMetrics,
  type LevelAggregate,
  type RequestTrace,
  type Sample,
  type Slo,
} from "./metrics.ts";
import type { BenchPrompt } from "./prompts.ts";

export type SendRequest = (prompt: BenchPrompt) => Promise<RequestTrace>;

/** Requests per level when --requests is not given: at least this, and at least 2 × concurrency. */
export const DEFAULT_REQUESTS = 3;
/**
 * Open loop sends whatever the server's speed; past this many requests in flight an arrival is not
 * sent but counted as a failed request (the server is not keeping up), so the client stays bounded.
 */
export const OPEN_LOOP_MAX_IN_FLIGHT = 256;

/** --rate × --duration may ask for this many arrivals at most (as many as --requests allows a level). */
export const MAX_OPEN_LOOP_ARRIVALS = 10_000;

export interface OpenLoop {
  /** Mean arrivals per second (Poisson: exponential gaps). */
  ratePerS: number;
  /** Arrivals are drawn for this long; the requests still in flight then are waited for. */
  durationS: number;
  seed: number;
  /** Default OPEN_LOOP_MAX_IN_FLIGHT. */
  maxInFlight?: number;
}

export interface BenchPlan {
  concurrencies: number[];
  /** Keep doubling concurrency after the listed levels until saturation, up to maxConcurrency. */
  sweep: boolean;
  maxConcurrency: number;
  /** Requests per level; undefined: max(DEFAULT_REQUESTS, 2 × concurrency). */
  requestsPerLevel?: number;
  warmup: number;
  /** Instead of the closed-loop levels: one open-loop level. */
  openLoop?: OpenLoop;
  slo?: Slo;
  /** The run's --deadline: no request starts after it fires, those in flight are cut. */
  signal?: AbortSignal;
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
    phase: "warmup" | "level" | "open-loop";
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

export const requestsFor = (plan: Pick<BenchPlan, "requestsPerLevel">, concurrency: number) =>
  plan.requestsPerLevel ?? Math.max(DEFAULT_REQUESTS, 2 * concurrency);

/**
 * Why an explicit request count cannot measure these levels, or undefined. Fewer than 2 × concurrency
 * requests never hold the level's concurrency past the first wave (3 requests never put 4 in flight).
 */
export function requestsProblem(
  plan: Pick<BenchPlan, "requestsPerLevel" | "concurrencies" | "sweep" | "maxConcurrency">,
): string | undefined {
  if (plan.requestsPerLevel === undefined) return undefined;
  const highest = Math.max(...plan.concurrencies, plan.sweep ? plan.maxConcurrency : 0);
  if (plan.requestsPerLevel >= 2 * highest) return undefined;
  return `--requests ${plan.requestsPerLevel} is fewer than 2 × concurrency ${highest}${plan.sweep && highest === plan.maxConcurrency ? " (the sweep's --max-concurrency)" : ""}: that level would never hold ${highest} requests in flight; give --requests ${2 * highest} or more, or leave --requests out (each level then runs max(${DEFAULT_REQUESTS}, 2 × concurrency))`;
}

/** Why an open loop asks for too many arrivals to keep every sample in memory, or undefined. */
export function openLoopProblem(loop: Pick<OpenLoop, "ratePerS" | "durationS">): string | undefined {
  const expected = loop.ratePerS * loop.durationS;
  if (expected <= MAX_OPEN_LOOP_ARRIVALS) return undefined;
  return `--rate ${loop.ratePerS} for --duration ${loop.durationS} s is ${Math.round(expected)} arrivals, more than ${MAX_OPEN_LOOP_ARRIVALS}: lower --rate or --duration`;
}

/** mulberry32: a small seeded generator, so a --seed gives the same arrival schedule every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Poisson arrivals: offsets in ms from the start, exponential gaps of mean 1000 / rate, within the
 * duration; never more than 2 × MAX_OPEN_LOOP_ARRIVALS (openLoopProblem keeps the mean at most half that).
 */
export function poissonArrivals(loop: OpenLoop): number[] {
  const random = seededRandom(loop.seed);
  const arrivals: number[] = [];
  const end = loop.durationS * 1000;
  for (let at = 0; ;) {
    at += (-Math.log(1 - random()) * 1000) / loop.ratePerS;
    if (at >= end || arrivals.length >= 2 * MAX_OPEN_LOOP_ARRIVALS) return arrivals;
    arrivals.push(Math.round(at * 1000) / 1000);
  }
}

const deadlineMessage = (signal: AbortSignal) =>
  signal.reason instanceof Error ? signal.reason.message : "the run's --deadline passed";

async function sleepUntil(at: number, signal?: AbortSignal): Promise<void> {
  const wait = at - performance.now();
  if (wait > 0 && !signal?.aborted)
    await new Promise<void>((done) => {
      const timer = setTimeout(finish, wait);
      function finish() {
        clearTimeout(timer);
        signal?.removeEventListener("abort", finish);
        done();
      }
      signal?.addEventListener("abort", finish, { once: true });
    });
  // Timers may fire up to a millisecond early; an arrival is never sent before it is due.
  while (performance.now() < at && !signal?.aborted) await new Promise((done) => setImmediate(done));
}

/** A request that was never sent, as a failed sample with its cause. */
function unsent(at: number, origin: number, prompt: BenchPrompt, cause: string): Sample {
  const trace: RequestTrace = {
    start: at,
    sent: at,
    headers: at,
    end: at,
    status: 0,
    events: [],
    comments: 0,
    responseHeaders: {},
    error: cause,
    maxTokensAsked: 0,
  };
  return toSample(trace, origin, prompt);
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
  signal?: AbortSignal,
): Promise<Sample[]> {
  const origin = performance.now();
  const samples: Sample[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total && !signal?.aborted) {
      const index = next++;
      const prompt = prompts[index % prompts.length]!;
      samples.push(toSample(await send(prompt), origin, prompt));
      onDone(samples.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, () => worker()));
  return samples.sort((a, b) => a.t0_ms - b.t0_ms);
}

async function openLoop(
  send: SendRequest,
  prompts: BenchPrompt[],
  arrivals: number[],
  maxInFlight: number,
  onDone: (done: number) => void,
  signal?: AbortSignal,
): Promise<Sample[]> {
  const origin = performance.now();
  const samples: Sample[] = [];
  const inFlight = new Set<Promise<void>>();
  for (const [index, offset] of arrivals.entries()) {
    await sleepUntil(origin + offset, signal);
    if (signal?.aborted) break;
    const prompt = prompts[index % prompts.length]!;
    if (inFlight.size >= maxInFlight) {
      samples.push({
        ...unsent(
          performance.now(),
          origin,
          prompt,
          `not sent: ${maxInFlight} requests already in flight (the server does not keep up with the arrival rate)`,
        ),
        scheduled_ms: offset,
      });
      onDone(samples.length);
      continue;
    }
    const request = send(prompt).then((trace) => {
      samples.push({ ...toSample(trace, origin, prompt), scheduled_ms: offset });
      onDone(samples.length);
      inFlight.delete(request);
    });
    inFlight.add(request);
  }
  await Promise.all(inFlight);
  return samples.sort((a, b) => a.t0_ms - b.t0_ms);
}

/** Saturation can only be judged between levels that each held their concurrency past the first wave. */
function heldConcurrency(level: LevelAggregate): boolean {
  return level.attempted >= 2 * level.concurrency && (level.max_in_flight ?? 0) >= level.concurrency;
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
  const { signal } = plan;
  const warmupStart = elapsed();
  const warmup = await closedLoop(
    send,
    plan.prompts,
    1,
    plan.warmup,
    (done) =>
      progress({
        phase: "warmup",
        concurrency: 1,
        done,
        total: plan.warmup,
        elapsedMs: elapsed(),
        levelElapsedMs: elapsed() - warmupStart,
      }),
    signal,
  );
  const levels: Level[] = [];
  if (plan.openLoop) {
    const loop = plan.openLoop;
    const arrivals = poissonArrivals(loop);
    const levelStart = elapsed();
    const samples = await openLoop(
      send,
      plan.prompts,
      arrivals,
      loop.maxInFlight ?? OPEN_LOOP_MAX_IN_FLIGHT,
      (done) =>
        progress({
          phase: "open-loop",
          concurrency: 0,
          done,
          total: arrivals.length,
          elapsedMs: elapsed(),
          levelElapsedMs: elapsed() - levelStart,
        }),
      signal,
    );
    levels.push({
      aggregate: aggregate(0, samples, {
        offeredRatePerS: loop.ratePerS,
        ...(plan.slo ? { slo: plan.slo } : {}),
      }),
      samples,
    });
    const stoppedBecause = signal?.aborted
      ? `${deadlineMessage(signal)}: ${samples.length} of ${arrivals.length} arrivals were sent`
      : `open loop: ${arrivals.length} Poisson arrivals at ${loop.ratePerS}/s over ${loop.durationS} s (seed ${loop.seed})`;
    return { warmup, levels, saturatedAt: null, stoppedBecause };
  }
  const queue = levelsToRun(plan);
  let saturatedAt: number | null = null;
  let stoppedBecause = "every requested level ran";
  while (queue.length) {
    if (signal?.aborted) {
      stoppedBecause = `${deadlineMessage(signal)}; concurrency ${queue.join(", ")} not run`;
      break;
    }
    const concurrency = queue.shift()!;
    const levelStart = elapsed();
    const total = requestsFor(plan, concurrency);
    const samples = await closedLoop(
      send,
      plan.prompts,
      concurrency,
      total,
      (done) =>
        progress({
          phase: "level",
          concurrency,
          done,
          total,
          elapsedMs: elapsed(),
          levelElapsedMs: elapsed() - levelStart,
        }),
      signal,
    );
    const level = { aggregate: aggregate(concurrency, samples, plan.slo ? { slo: plan.slo } : {}), samples };
    levels.push(level);
    if (signal?.aborted) {
      stoppedBecause = `${deadlineMessage(signal)} during concurrency ${concurrency} (${samples.length} of ${total} requests sent)`;
      break;
    }
    const before = levels.at(-2)?.aggregate;
    const previous = before?.agg_out_tok_s;
    const current = level.aggregate.agg_out_tok_s;
    if (level.aggregate.completed === 0) {
      stoppedBecause = `no request completed at concurrency ${concurrency}`;
      break;
    }
    if (before && previous && current !== null && current < previous * (1 + plan.saturationGain)) {
      if (!heldConcurrency(before) || !heldConcurrency(level.aggregate)) {
        stoppedBecause = `no saturation verdict: concurrency ${before.concurrency} or ${concurrency} ran fewer than 2 × concurrency requests or never held that many in flight`;
        if (plan.sweep) break;
        continue;
      }
      saturatedAt = before.concurrency;
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
