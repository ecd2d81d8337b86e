// Honest load: each level runs at least 2 × concurrency requests, and the sweep only calls saturation
// between levels that held their concurrency (3 requests per level used to report "saturates at 4"
// against a server that scales linearly); open loop (--rate) draws seeded Poisson arrivals and sends
// them whatever the server does, bounded; goodput counts the requests that met the SLOs; percentiles
// from fewer than 10 samples are marked indicative.
import t from "tap";
import { performance } from "node:perf_hooks";
import { compareReports } from "../src/bench/compare.ts";
import { aggregate, distribution, type RequestTrace, type Sample } from "../src/bench/metrics.ts";
import { promptSet } from "../src/bench/prompts.ts";
import type { ComparableReport } from "../src/bench/report.ts";
import {
  openLoopProblem,
  poissonArrivals,
  requestsFor,
  requestsProblem,
  runBench,
  type BenchPlan,
  type SendRequest,
} from "../src/bench/runner.ts";

const TOKENS = 10;

/** A finished trace of TOKENS one-token chunks spread evenly between t0 + 10% and the end. */
function trace(sent: number, end: number): RequestTrace {
  const chunk = (data: object, arrivedAt: number) => ({
    data: JSON.stringify({ object: "chat.completion.chunk", ...data }),
    arrivedAt,
  });
  const first = sent + (end - sent) * 0.1;
  const events = Array.from({ length: TOKENS }, (_, i) =>
    chunk(
      { choices: [{ delta: { content: "x" }, finish_reason: null }] },
      first + ((end - first) * i) / (TOKENS - 1),
    ),
  );
  events.push(chunk({ choices: [], usage: { prompt_tokens: 5, completion_tokens: TOKENS } }, end));
  events.push({ data: "[DONE]", arrivedAt: end });
  return {
    start: sent,
    sent,
    headers: sent + 1,
    end,
    status: 200,
    events,
    comments: 0,
    responseHeaders: {},
    error: null,
    maxTokensAsked: TOKENS,
  };
}

/**
 * A fake server with `slots` parallel streams: a request takes `ms`, or longer when more than `slots`
 * are in flight (they share the server). Infinity slots scales linearly, as the stand-in does.
 */
function fakeServer(ms: number, slots: number) {
  let inFlight = 0;
  let most = 0;
  const send: SendRequest = async () => {
    inFlight++;
    most = Math.max(most, inFlight);
    const sent = performance.now();
    // Every worker of a wave has called by the next turn of the event loop: share by that count.
    await new Promise((done) => setImmediate(done));
    const share = Math.max(1, inFlight / slots);
    await new Promise((done) => setTimeout(done, ms * share));
    inFlight--;
    return trace(sent, performance.now());
  };
  return { send, most: () => most };
}

const plan = (overrides: Partial<BenchPlan>): BenchPlan => ({
  concurrencies: [1],
  sweep: true,
  maxConcurrency: 8,
  warmup: 0,
  prompts: promptSet("short"),
  saturationGain: 0.1,
  ...overrides,
});

t.test("requests per level: max(3, 2 × concurrency) unless given; fewer than 2 × c refused", async (t) => {
  t.same(
    [1, 2, 4, 8].map((c) => requestsFor({}, c)),
    [3, 4, 8, 16],
  );
  t.equal(requestsFor({ requestsPerLevel: 5 }, 8), 5, "as given (the CLI refuses it first)");
  t.match(
    requestsProblem({ requestsPerLevel: 3, concurrencies: [1], sweep: true, maxConcurrency: 8 }),
    /^--requests 3 is fewer than 2 × concurrency 8 \(the sweep's --max-concurrency\).*give --requests 16 or more/,
  );
  t.match(
    requestsProblem({ requestsPerLevel: 3, concurrencies: [1, 2], sweep: false, maxConcurrency: 8 }),
    /--requests 3 is fewer than 2 × concurrency 2:/,
  );
  t.equal(
    requestsProblem({ requestsPerLevel: 16, concurrencies: [1], sweep: true, maxConcurrency: 8 }),
    undefined,
  );
  t.equal(
    requestsProblem({ concurrencies: [64], sweep: false, maxConcurrency: 8 }),
    undefined,
    "the default always fits",
  );
});

t.test("sweep against a server that scales linearly: no saturation claimed", async (t) => {
  // The issue: 3 requests per level never put more than 3 in flight, so levels 4 and 8 both ran
  // one wave of 3 and the sweep said "saturates at concurrency 4".
  const few = fakeServer(200, Infinity);
  const fewRun = await runBench(plan({ requestsPerLevel: 3 }), few.send, () => undefined);
  t.equal(fewRun.saturatedAt, null, "3 requests per level: no saturation verdict");
  t.match(fewRun.stoppedBecause, /^no saturation verdict: concurrency 4 or 8 ran fewer than 2 × concurrency/);
  t.equal(fewRun.levels.at(-1)!.aggregate.max_in_flight, 3, "level 8 never had more than 3 in flight");

  const honest = fakeServer(100, Infinity);
  const run = await runBench(plan({}), honest.send, () => undefined);
  t.same(
    run.levels.map((l) => [l.aggregate.concurrency, l.aggregate.attempted, l.aggregate.max_in_flight]),
    [
      [1, 3, 1],
      [2, 4, 2],
      [4, 8, 4],
      [8, 16, 8],
    ],
    "each level ran 2 × c requests and held c in flight",
  );
  t.equal(run.saturatedAt, null);
  t.equal(run.stoppedBecause, "reached --max-concurrency 8");
});

t.test("sweep against a server with 2 parallel slots saturates at 2", async (t) => {
  const server = fakeServer(100, 2);
  const run = await runBench(plan({}), server.send, () => undefined);
  t.equal(run.saturatedAt, 2);
  t.match(run.stoppedBecause, /^saturated: concurrency 4 gave .* less than 10% over .* at 2$/);
  t.same(
    run.levels.map((l) => l.aggregate.concurrency),
    [1, 2, 4],
  );
});

t.test("open loop: seeded Poisson arrivals", async (t) => {
  const loop = { ratePerS: 50, durationS: 20, seed: 7 };
  const arrivals = poissonArrivals(loop);
  t.same(poissonArrivals(loop), arrivals, "the same seed, the same schedule");
  t.not(poissonArrivals({ ...loop, seed: 8 })[0], arrivals[0], "another seed, another schedule");
  // 1000 expected, standard deviation ~32: the fixed seed makes this exact, the bound says it is Poisson.
  t.ok(arrivals.length > 900 && arrivals.length < 1100, `${arrivals.length} arrivals at 50/s over 20 s`);
  t.ok(arrivals.every((at, i) => at >= 0 && at < 20_000 && (i === 0 || at >= arrivals[i - 1]!)));
  const gaps = arrivals.slice(1).map((at, i) => at - arrivals[i]!);
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  const sd = Math.sqrt(gaps.reduce((a, b) => a + (b - mean) ** 2, 0) / gaps.length);
  t.ok(Math.abs(mean - 20) < 2, `mean gap ${mean.toFixed(1)} ms ≈ 1000 / 50`);
  t.ok(Math.abs(sd / mean - 1) < 0.15, `exponential gaps: sd/mean ${(sd / mean).toFixed(2)} ≈ 1`);
  t.equal(openLoopProblem({ ratePerS: 50, durationS: 200 }), undefined, "10,000 arrivals: allowed");
  t.match(
    openLoopProblem({ ratePerS: 1000, durationS: 60 }),
    /^--rate 1000 for --duration 60 s is 60000 arrivals, more than 10000: lower --rate or --duration$/,
  );
});

t.test("open loop sends on schedule whatever the server does, bounded in flight", async (t) => {
  const loop = { ratePerS: 20, durationS: 1, seed: 3 };
  const due = poissonArrivals(loop);
  // Each request takes 400 ms: a closed loop at concurrency 1 would send 3 in this time.
  const slow = fakeServer(400, Infinity);
  const run = await runBench(plan({ sweep: false, openLoop: loop }), slow.send, () => undefined);
  const level = run.levels[0]!;
  t.equal(run.levels.length, 1);
  t.equal(level.aggregate.attempted, due.length, `every one of the ${due.length} arrivals was sent`);
  t.equal(level.aggregate.completed, due.length);
  t.equal(level.aggregate.offered_rate_per_s, 20);
  t.ok(level.aggregate.max_in_flight! >= 4, `${level.aggregate.max_in_flight} in flight at once`);
  t.same(
    level.samples.map((s) => s.scheduled_ms),
    due,
    "each sample keeps the instant it was due",
  );
  t.match(run.stoppedBecause, `open loop: ${due.length} Poisson arrivals at 20/s over 1 s (seed 3)`);
  const lag = level.aggregate.distributions.send_lag_ms!;
  t.equal(lag.n, due.length, "the send lag of every arrival");
  t.ok(lag.p50 >= 0 && lag.p50 < 250, `sent ${lag.p50} ms (p50) after due: on schedule`);

  const capped = await runBench(
    plan({ sweep: false, openLoop: { ...loop, maxInFlight: 2 } }),
    fakeServer(400, Infinity).send,
    () => undefined,
  );
  const samples = capped.levels[0]!.samples;
  const unsent = samples.filter((s) => s.error?.startsWith("not sent: 2 requests already in flight"));
  t.equal(samples.length, due.length, "an arrival past the bound is still counted");
  t.ok(unsent.length > 0, `${unsent.length} arrivals found 2 in flight and failed with that cause`);
  t.equal(capped.levels[0]!.aggregate.max_in_flight, 2, "never more than the bound in flight");
  t.same(
    capped.levels[0]!.samples.map((s) => s.scheduled_ms),
    due,
    "the unsent arrivals keep their due instant too",
  );
});

t.test("--compare matches open-loop levels by their rate", async (t) => {
  const report = (rate: number, tokS: number): ComparableReport => ({
    schema_version: 1,
    started_at: "",
    target: { host: "h", path: "/" },
    levels: [
      {
        aggregate: {
          concurrency: 0,
          offered_rate_per_s: rate,
          completed: 3,
          attempted: 3,
          agg_out_tok_s: tokS,
          req_per_s: 1,
          distributions: {},
        },
      },
    ],
  });
  const same = compareReports(report(8, 100), report(8, 95), 10);
  t.match(
    same.find((c) => c.metric === "agg_out_tok_s"),
    { offered_rate_per_s: 8, change_pct: -5, regression: false },
  );
  const other = compareReports(report(8, 100), report(16, 200), 10);
  t.match(
    other.find((c) => c.metric === "agg_out_tok_s"),
    { after: null, regression: true },
    "another rate is not the same level",
  );
});

t.test("goodput: requests meeting every SLO given / requests started", async (t) => {
  const sample = (ok: boolean, ttft: number | null, decode: number | null, i: number): Sample =>
    ({
      ok,
      error: ok ? null : "HTTP 500",
      ttft_ms: ttft,
      decode_tok_s: decode,
      n_out: 10,
      t0_ms: i * 100,
      t_end_ms: i * 100 + 1000,
      inter_event_gap_ms: [],
    }) as unknown as Sample;
  const samples = [
    sample(true, 80, 20, 0), // meets both
    sample(true, 150, 20, 1), // TTFT too long
    sample(true, 80, 5, 2), // decode too slow
    sample(false, null, null, 3), // failed
  ];
  const both = aggregate(1, samples, { slo: { ttft_ms: 100, decode_tok_s: 10 } }).goodput!;
  t.match(both, { started: 4, met: 1, share: 0.25 });
  t.equal(both.per_s, Math.round((1 / 1.3) * 1000) / 1000, "met / duration_s (1.3 s)");
  t.match(aggregate(1, samples, { slo: { ttft_ms: 100 } }).goodput, { met: 2, share: 0.5 }, "TTFT only");
  t.match(aggregate(1, samples, { slo: { decode_tok_s: 10 } }).goodput, { met: 2 }, "decode only");
  t.equal(aggregate(1, samples).goodput, undefined, "no SLO, no goodput");
});

t.test("percentiles from fewer than 10 samples are indicative", async (t) => {
  t.equal(distribution([1, 2, 3, 4, 5, 6, 7, 8, 9])!.indicative, true);
  t.equal(distribution([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])!.indicative, false);
});
