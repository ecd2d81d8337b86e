// The benchmark in bad situations, each reported and never crashed on or hung: a server that fails
// every 3rd request with 500, a stream that stalls past the idle timeout, a model not loaded yet (503,
// its reason kept), a malformed chunk and a chunk with the wrong `object` (failed requests with their
// cause), fewer tokens than asked with --fixed-length, and a buffering proxy (the appliance's real nginx site
// with proxy_buffering on) showing up as TTFT ≈ E2E and flagged. Also the §7.5 worked example, the
// percentile method and --compare.
import t from "tap";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Access } from "../src/core/access.ts";
import { createProbes } from "../src/probes/index.ts";
import { plainHttpProbes, startStandIn, waitForEngine } from "../fixtures/engine/process.ts";
import { compareReports } from "../src/bench/compare.ts";
import { findings } from "../src/bench/findings.ts";
import { distribution, percentile, requestMetrics, type RequestTrace } from "../src/bench/metrics.ts";
import { promptSet } from "../src/bench/prompts.ts";
import type { ComparableReport } from "../src/bench/report.ts";
import { runBench, type BenchPlan } from "../src/bench/runner.ts";
import { createSender } from "../src/bench/send.ts";
import { NGINX_BIN, NGINX_MUTATIONS, startRealNginx } from "../fixtures/nginx/real-nginx.ts";

const MODEL = "devstral-small-2";

// The tests share no state and mostly wait on child processes and sockets: they run side by side.
t.jobs = 4;

t.test("§7.5 worked example: one streamed request on a CPU server", async (t) => {
  const event = (at: number, content: string | null, extra: object = {}) => ({
    arrivedAt: at,
    data: JSON.stringify({
      object: "chat.completion.chunk",
      choices: [{ delta: content === null ? { role: "assistant" } : { content }, finish_reason: null }],
      ...extra,
    }),
  });
  const events = [event(45, null), event(12_040, "a")];
  // 257 tokens over 257 events, evenly spread between t_c1 = 12,040 and t_cN = 42,040.
  for (let i = 1; i < 257; i++) events.push(event(12_040 + (30_000 * i) / 256, "b"));
  events.push({
    arrivedAt: 42_044,
    data: JSON.stringify({
      object: "chat.completion.chunk",
      choices: [],
      usage: { prompt_tokens: 600, completion_tokens: 257 },
    }),
  });
  events.push({ arrivedAt: 42_045, data: "[DONE]" });
  const trace: RequestTrace = {
    start: -5,
    sent: 0,
    headers: 40,
    end: 42_045,
    status: 200,
    events,
    comments: 0,
    responseHeaders: {},
    error: null,
    maxTokensAsked: 257,
  };
  const m = requestMetrics(trace);
  t.equal(m.ttft_ms, 12_040, "ttft_ms 12,040 (not the role chunk's 45)");
  t.equal(m.first_event_ms, 45);
  t.equal(m.decode_ms, 30_000);
  t.equal(Math.round(m.decode_tok_s! * 100) / 100, 8.53, "decode_tok_s = 256 / 30.0");
  t.equal(Math.round(m.decode_ms_per_token! * 10) / 10, 117.2);
  t.equal(Math.round(m.e2e_out_tok_s! * 100) / 100, 6.11, "e2e_out_tok_s = 257 / 42.045");
  t.equal(Math.round(m.prefill_tok_s_client! * 10) / 10, 49.8, "prefill = 600 / 12.04");
  t.equal(m.connect_tls_ms, 5);
  t.equal(m.ttfb_ms, 40);
  t.equal(m.n_out_source, "usage");
  t.equal(m.osl_mismatch, false);
});

t.test("an HTTP error keeps the server's own reason, bounded", async (t) => {
  const trace = (status: number, body: string): RequestTrace => ({
    start: 0,
    sent: 0,
    headers: 5,
    end: 6,
    status,
    events: [],
    comments: 0,
    responseHeaders: {},
    error: null,
    errorBody: body,
    maxTokensAsked: 16,
  });
  t.equal(
    requestMetrics(trace(503, '{"error":{"code":503,"message":"loading model","type":"unavailable_error"}}'))
      .error,
    "HTTP 503: loading model",
    "llama.cpp / OpenAI error.message",
  );
  t.equal(requestMetrics(trace(503, '{"status":"loading"}')).error, "HTTP 503: loading", "nginx/front");
  t.equal(
    requestMetrics(trace(502, "<html><body><h1>502 Bad Gateway</h1></body></html>")).error,
    "HTTP 502: 502 Bad Gateway",
    "an HTML page: its text",
  );
  t.equal(requestMetrics(trace(500, "")).error, "HTTP 500", "no body: the status alone");
  t.equal(requestMetrics(trace(500, "x".repeat(5000))).error!.length, "HTTP 500: ".length + 201, "bounded");
});

t.test("percentiles interpolate between closest ranks", async (t) => {
  t.equal(percentile([1, 2, 3, 4], 50), 2.5);
  t.equal(percentile([10, 20, 30, 40, 50], 90), 46);
  t.same(distribution([3, null, 1, 2]), {
    n: 3,
    min: 1,
    p50: 2,
    p90: 2.8,
    p99: 2.98,
    max: 3,
    mean: 2,
    indicative: true,
  });
  t.equal(distribution([null]), null);
});

t.test("--compare flags regressions beyond the threshold, and vanished levels", async (t) => {
  const level = (concurrency: number, tokS: number, ttft: number) => ({
    aggregate: {
      concurrency,
      completed: 3,
      attempted: 3,
      agg_out_tok_s: tokS,
      req_per_s: 1,
      distributions: { ttft_ms: { n: 3, min: ttft, p50: ttft, p90: ttft, p99: ttft, max: ttft, mean: ttft } },
    },
  });
  const report = (levels: ReturnType<typeof level>[]): ComparableReport => ({
    schema_version: 1,
    started_at: "",
    target: { host: "h", path: "/" },
    levels,
  });
  const changes = compareReports(
    report([level(1, 10, 100), level(2, 18, 150)]),
    report([level(1, 9.5, 125)]),
    10,
  );
  const find = (c: number, metric: string) =>
    changes.find((x) => x.concurrency === c && x.metric === metric)!;
  t.match(find(1, "agg_out_tok_s"), { change_pct: -5, regression: false }, "5% slower is within 10%");
  t.match(find(1, "ttft_ms p50"), { change_pct: 25, regression: true }, "TTFT 25% longer");
  t.match(find(2, "agg_out_tok_s"), { after: null, regression: true }, "a level that vanished");
});

const plan = (requests: number): BenchPlan => ({
  concurrencies: [1],
  sweep: false,
  maxConcurrency: 1,
  requestsPerLevel: requests,
  warmup: 0,
  prompts: promptSet("short"),
  saturationGain: 0.1,
});

t.test("bad situations are reported, not crashed on", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-bench-faults-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, "m.gguf"), Buffer.from("GGUF-stand-in"));
  await writeFile(join(dir, `${MODEL}.yaml`), `name: ${MODEL}\nparameters:\n  model: m.gguf\n`);
  const fast = ["--ttft-ms", "20", "--tokens-per-second", "400", "--load-ms", "0"];
  const shape = (fixedLength = false) => ({
    model: MODEL,
    maxTokens: 16,
    fixedLength,
    timeoutMs: 10_000,
    idleTimeoutMs: 1_000,
  });
  const access = { password: "x" } as Access;

  const scenario = async (args: string[], requests: number, fixedLength = false, ready = true) => {
    const engine = await startStandIn(dir, [...fast, ...args]);
    t.teardown(() => engine.stop());
    await waitForEngine(engine.port, ready ? "ready" : "listed");
    const run = await runBench(
      plan(requests),
      createSender(access, plainHttpProbes(engine.port), shape(fixedLength)),
      () => undefined,
    );
    engine.stop();
    const samples = run.levels.flatMap((l) => l.samples);
    return { run, samples, findings: findings(samples, fixedLength, 16) };
  };

  const failing = await scenario(["--fail-every", "3"], 6);
  t.equal(failing.samples.filter((s) => !s.ok).length, 2, "500 mid-run: 2 of 6 failed, the run went on");
  t.match(failing.findings, [
    {
      level: "flag",
      code: "failed-requests",
      message: /^2 of 6 requests failed: HTTP 500: injected failure \(every 3th request\)$/,
    },
  ]);
  t.equal(failing.run.levels[0]!.aggregate.completed, 4, "aggregates count only completed requests");

  const stalled = await scenario(["--defect", "stalled-stream"], 2);
  t.match(stalled.samples[0]!.error, /stream idle-timeout/, "a stalled stream ends at the idle timeout");
  t.match(stalled.findings, [
    { code: "failed-requests", message: /2 of 2 requests failed: stream idle-timeout/ },
  ]);

  const loading = await scenario(["--load-ms", "60000"], 2, false, false);
  t.equal(
    loading.samples[0]!.error,
    `HTTP 503: model "${MODEL}" is loading`,
    "model not loaded: 503 with the server's own reason",
  );
  t.match(loading.run.stoppedBecause, /no request completed at concurrency 1/);

  const malformed = await scenario(["--defect", "malformed-chunk"], 2);
  t.same(
    malformed.samples.map((s) => s.ok),
    [false, false],
    "a malformed chunk fails the request, though the stream ended with [DONE]",
  );
  t.match(malformed.findings, [
    { level: "flag", code: "failed-requests", message: /^2 of 2 requests failed: chunk #3 is not JSON \(/ },
  ]);
  const wrongObject = await scenario(["--defect", "wrong-chunk-object"], 2);
  t.match(wrongObject.findings, [
    {
      level: "flag",
      code: "failed-requests",
      message:
        /^2 of 2 requests failed: chunk #1 has object "chat\.completion", expected "chat\.completion\.chunk"$/,
    },
  ]);
  t.equal(wrongObject.run.levels[0]!.aggregate.completed, 0, "no wrong-object stream counts as completed");

  const short = await scenario(["--stop-after-tokens", "5"], 2, true);
  t.match(short.findings, [
    {
      level: "flag",
      code: "early-stop",
      message:
        /2 of 2 responses stopped before max_tokens 16 \(e\.g\. 5 tokens, finish_reason stop\): the server ignored ignore_eos/,
    },
  ]);
  const shortFree = findings(short.samples, false, 16);
  t.match(shortFree, [{ level: "warning", code: "early-stop" }], "without --fixed-length only a warning");
});

t.test(
  "a buffering proxy (real nginx, proxy_buffering on) is flagged as TTFT ≈ E2E",
  { skip: existsSync(NGINX_BIN) ? false : `nginx not installed at ${NGINX_BIN}` },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "slmc-bench-nginx-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, "m.gguf"), Buffer.from("GGUF-stand-in"));
    await writeFile(join(dir, `${MODEL}.yaml`), `name: ${MODEL}\nparameters:\n  model: m.gguf\n`);
    const engine = await startStandIn(dir, [
      "--ttft-ms",
      "50",
      "--tokens-per-second",
      "100",
      "--load-ms",
      "0",
    ]);
    t.teardown(() => engine.stop());
    await waitForEngine(engine.port, "ready");
    const password = "Bench.Password-1";
    const measure = async (mutated: boolean) => {
      const nginx = await startRealNginx({
        enginePort: engine.port,
        password,
        ...(mutated ? { mutation: NGINX_MUTATIONS["buffering-on"] } : {}),
      });
      try {
        const access: Access = {
          host: "127.0.0.1",
          httpsPort: nginx.httpsPort,
          httpPort: nginx.httpPort,
          user: "copilot",
          password,
          ca: nginx.certificatePem,
          insecure: false,
          requestTimeoutMs: 5000,
          streamTimeoutMs: 15000,
          streamIdleTimeoutMs: 5000,
          maxTokens: 16,
          simulated: false,
        };
        const send = createSender(access, createProbes(access), {
          model: MODEL,
          maxTokens: 16,
          fixedLength: false,
          timeoutMs: 15_000,
          idleTimeoutMs: 5_000,
        });
        const run = await runBench(plan(3), send, () => undefined);
        return findings(run.levels[0]!.samples, false, 16);
      } finally {
        await nginx.stop();
      }
    };
    t.same(await measure(false), [], "the appliance's site streams: no finding");
    t.match(await measure(true), [
      {
        level: "flag",
        code: "buffered-stream",
        message: /3 of 3 streams arrived all at once .*proxy_buffering off/,
      },
    ]);
  },
);
