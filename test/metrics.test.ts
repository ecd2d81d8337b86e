// MON-01: the Prometheus text parser on LocalAI's exposition and on broken pages (each problem named by
// line), and every failure branch of the metrics checks' judges. The simulator's healthy /metrics and its
// two defect switches (metrics-frozen, metrics-malformed) are proven in healthy and defects.
import t from "tap";
import { parseExposition, select } from "../src/probes/prometheus.ts";
import {
  apiCallsMetric,
  engineReadyMetric,
  nginxMetrics,
  nodeMetrics,
  requestMetrics,
} from "../suites/metrics.ts";

const LOCALAI = `# HELP api_call api calls
# TYPE api_call histogram
api_call_bucket{method="POST",otel_scope_name="github.com/go-skynet/LocalAI",path="/v1/chat/completions",le="0"} 0
api_call_bucket{method="POST",otel_scope_name="github.com/go-skynet/LocalAI",path="/v1/chat/completions",le="+Inf"} 3
api_call_sum{method="POST",otel_scope_name="github.com/go-skynet/LocalAI",path="/v1/chat/completions"} 12.5
api_call_count{method="POST",otel_scope_name="github.com/go-skynet/LocalAI",path="/v1/chat/completions"} 3
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
odd{path="a\\"b\\\\c\\nd",} 1.5e3 1700000000000
nan_value NaN
`;

t.test("LocalAI's exposition parses: labels, escapes, timestamps, NaN", async (t) => {
  const parsed = parseExposition(LOCALAI);
  t.same(parsed.problems, []);
  t.equal(parsed.types.api_call, "histogram");
  t.equal(parsed.samples.length, 7);
  t.equal(select(parsed, "api_call_count", { method: "POST", path: "/v1/chat/completions" })[0]?.value, 3);
  t.equal(select(parsed, "api_call_bucket", { le: "+Inf" })[0]?.value, 3);
  t.same(select(parsed, "odd")[0]?.labels, { path: 'a"b\\c\nd' });
  t.equal(select(parsed, "odd")[0]?.value, 1500);
  t.ok(Number.isNaN(select(parsed, "nan_value")[0]?.value));
  t.same(select(parsed, "api_call_count", { method: "GET" }), [], "a label that does not match");
});

t.test("every broken line is a problem with its line number", async (t) => {
  const cases: [string, RegExp][] = [
    ["api_call_count", /a sample is: name\{labels\} value/],
    ['api_call_count{method="POST"} twelve', /a sample is/],
    ["api_call_count{method=POST} 1", /label method: '="' expected/],
    ['api_call_count{method="POST} 1', /unterminated value/],
    ['api_call_count{a="1",a="2"} 1', /label a given twice/],
    ['api_call_count{a="1" b="2"} 1', /',' or '\}' expected after label a/],
    ["9lives 1", /not a metric name/],
    ["x 1 soon", /timestamp "soon" is not whole milliseconds/],
    ["# TYPE x histogramm", /unknown metric type "histogramm"/],
    ["x 1 2 3", /a sample is/],
  ];
  for (const [line, reason] of cases) {
    const parsed = parseExposition(`ok 1\n\n${line}\nok 2\n`);
    t.equal(parsed.problems.length, 1, line);
    t.equal(parsed.problems[0]?.line, 3, `${line}: line 3`);
    t.match(parsed.problems[0]?.reason, reason, line);
    t.equal(parsed.samples.length, 2, `${line}: the good lines still count`);
  }
});

const scrape = (count: number | null, overrides: Record<string, unknown> = {}) => ({
  status: 200,
  contentType: "text/plain; version=0.0.4; charset=utf-8",
  samples: 20,
  problems: [],
  type: "histogram",
  present: ["api_call_bucket", "api_call_sum", "api_call_count"],
  chatCount: count,
  chatSum: count === null ? null : count * 2,
  chatInf: count,
  ...overrides,
});
const judge = (e: Record<string, unknown>) =>
  apiCallsMetric.judge(e as Parameters<typeof apiCallsMetric.judge>[0]);
const okCompletion = { status: 200, problem: null };

t.test("metrics.api-calls passes live metrics and says what to fix otherwise", async (t) => {
  const healthy = judge({ before: scrape(null), completion: okCompletion, after: scrape(1) });
  t.equal(healthy.status, "pass", healthy.message);
  t.match(healthy.message, /api_call_count\{POST \/v1\/chat\/completions\} 0 → 1/);
  const fresh = judge({
    before: scrape(null, { type: null, present: [] }),
    completion: okCompletion,
    after: scrape(1),
  });
  t.equal(fresh.status, "pass", `an engine that answered nothing before: ${fresh.message}`);
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { before: scrape(null, { status: 401 }) },
      /answered 401: nginx must proxy \/metrics to LocalAI behind auth.*--disable-metrics-endpoint/,
    ],
    [{ before: scrape(null, { status: 404 }) }, /answered 404/],
    [
      {
        before: scrape(1, { problems: [{ line: 7, text: "x", reason: "not a metric name" }] }),
        completion: okCompletion,
        after: scrape(2),
      },
      /not Prometheus text: line 7 "x": not a metric name/,
    ],
    [
      { before: scrape(1, { contentType: "text/html" }), completion: okCompletion, after: scrape(2) },
      /Content-Type "text\/html", not text\/plain/,
    ],
    [
      { before: scrape(1), completion: okCompletion, after: scrape(2, { type: null }) },
      /no # TYPE api_call histogram/,
    ],
    [
      { before: scrape(1), completion: okCompletion, after: scrape(2, { present: ["api_call_count"] }) },
      /api_call_bucket, api_call_sum/,
    ],
    [
      { before: scrape(1), completion: { status: 500, problem: null }, after: scrape(1) },
      /completion meant to move the metrics failed \(HTTP 500\)/,
    ],
    [
      { before: scrape(4), completion: okCompletion, after: scrape(4) },
      /did not move after a completion \(4 → 4\): the metrics are not live/,
    ],
    [{ before: scrape(null), completion: okCompletion, after: scrape(null) }, /\(absent → absent\)/],
    [
      { before: scrape(1), completion: okCompletion, after: scrape(2, { chatInf: 1 }) },
      /api_call_bucket\{le="\+Inf"\} \(1\) differs from api_call_count \(2\)/,
    ],
  ];
  for (const [evidence, message] of cases) {
    const verdict = judge(evidence);
    t.equal(verdict.status, "fail", verdict.message);
    t.match(verdict.message, message);
  }
});

// The exporter checks: every failure branch of each judge, and the pass.
const page = (values: Record<string, number | null>, overrides: Record<string, unknown> = {}) => ({
  status: 200,
  problems: [],
  missing: [],
  values,
  ...overrides,
});
type Judge = { judge: (e: never) => { status: string; message: string } };
const verdictOf = (check: Judge, evidence: Record<string, unknown>) => check.judge(evidence as never);

t.test(
  "metrics.nginx, .requests, .node and .engine-ready pass healthy pages and say what to fix otherwise",
  async (t) => {
    const ok = { status: 200, problem: null };
    const cases: [string, Judge, Record<string, unknown>, "pass" | RegExp][] = [
      [
        "nginx healthy",
        nginxMetrics,
        { unauthenticated: 401, before: page({ up: 1, requests: 5 }), after: page({ up: 1, requests: 7 }) },
        "pass",
      ],
      [
        "nginx open",
        nginxMetrics,
        { unauthenticated: 200, before: page({ up: 1, requests: 5 }) },
        /\/metrics\/nginx without credentials answered 200, not 401/,
      ],
      [
        "nginx exporter down",
        nginxMetrics,
        { unauthenticated: 401, before: page({}, { status: 502 }) },
        /answered 502: nginx must proxy it to prometheus-nginx-exporter on 127\.0\.0\.1:9113/,
      ],
      [
        "nginx page broken",
        nginxMetrics,
        {
          unauthenticated: 401,
          before: page({}, { problems: [{ line: 3, text: "x y", reason: "a sample is" }] }),
        },
        /\/metrics\/nginx is not Prometheus text: line 3 "x y"/,
      ],
      [
        "nginx series missing",
        nginxMetrics,
        { unauthenticated: 401, before: page({}, { missing: ["nginx_up"] }) },
        /\/metrics\/nginx lacks nginx_up \(documented in the README's metrics table\)/,
      ],
      [
        "nginx_up 0",
        nginxMetrics,
        { unauthenticated: 401, before: page({ up: 0, requests: 0 }), after: page({ up: 0, requests: 0 }) },
        /nginx_up is 0: the exporter cannot read nginx's stub_status.*127\.0\.0\.1:8081\/stub_status/,
      ],
      [
        "nginx frozen",
        nginxMetrics,
        { unauthenticated: 401, before: page({ up: 1, requests: 5 }), after: page({ up: 1, requests: 5 }) },
        /nginx_http_requests_total did not move .*\(5 → 5\)/,
      ],
      [
        "requests healthy",
        requestMetrics,
        {
          unauthenticated: 401,
          before: page({ chatOk: 2, chatUpstream: 2 }),
          completion: ok,
          after: page({ chatOk: 3, chatUpstream: 3 }),
        },
        "pass",
      ],
      [
        "requests completion failed",
        requestMetrics,
        {
          unauthenticated: 401,
          before: page({ chatOk: 2 }),
          completion: { status: 503, problem: null },
          after: page({}),
        },
        /completion meant to move the request metrics failed \(HTTP 503\)/,
      ],
      [
        "requests frozen",
        requestMetrics,
        { unauthenticated: 401, before: page({ chatOk: 2 }), completion: ok, after: page({ chatOk: 2 }) },
        /did not move within 10 s of a completion \(2 → 2\): mtail must follow nginx's metrics log \(\/var\/log\/nginx\/slm-copilot-metrics\.log\)/,
      ],
      [
        "requests histogram missing",
        requestMetrics,
        {
          unauthenticated: 401,
          before: page({ chatOk: 2 }),
          completion: ok,
          after: page({ chatOk: 3, chatUpstream: 3 }, { missing: ["slmc_http_upstream_seconds_bucket"] }),
        },
        /\/metrics\/requests lacks slmc_http_upstream_seconds_bucket/,
      ],
      [
        "requests no upstream timing",
        requestMetrics,
        {
          unauthenticated: 401,
          before: page({ chatOk: 2 }),
          completion: ok,
          after: page({ chatOk: 3, chatUpstream: null }),
        },
        /slmc_http_upstream_seconds_count\{path="chat"\} is absent.*\$upstream_response_time/,
      ],
      [
        "node healthy",
        nodeMetrics,
        { unauthenticated: 401, page: page({ total: 8 * 2 ** 30, available: 2 ** 30, idle: 100 }) },
        "pass",
      ],
      [
        "node memory odd",
        nodeMetrics,
        { unauthenticated: 401, page: page({ total: 2 ** 30, available: 2 ** 31, idle: 100 }) },
        /node_memory_MemAvailable_bytes .* is not within node_memory_MemTotal_bytes/,
      ],
      [
        "node no idle cpu",
        nodeMetrics,
        { unauthenticated: 401, page: page({ total: 2 ** 30, available: 2 ** 29, idle: null }) },
        /node_cpu_seconds_total\{mode="idle"\} is absent/,
      ],
      [
        "node exporter down",
        nodeMetrics,
        { unauthenticated: 401, page: page({}, { status: 502 }) },
        /prometheus-node-exporter on 127\.0\.0\.1:9100/,
      ],
      [
        "ready",
        engineReadyMetric,
        { readyz: 200, page: page({ ready: 1, probedAt: 1 }), reprobed: false },
        "pass",
      ],
      [
        "ready missing",
        engineReadyMetric,
        { readyz: 200, page: page({ ready: null, probedAt: null }), reprobed: false },
        /no slmc_engine_ready: slm-copilot-readiness\.timer must write \/var\/lib\/prometheus\/node-exporter\/slm-copilot\.prom/,
      ],
      [
        "ready stale",
        engineReadyMetric,
        { readyz: 200, page: page({ ready: 0, probedAt: 1 }), reprobed: false },
        /slmc_engine_ready is 0 while \/readyz answers 200 and no new probe ran within 25 s/,
      ],
      [
        "engine not ready",
        engineReadyMetric,
        { readyz: 503, page: page({ ready: 0, probedAt: 1 }), reprobed: false },
        /the engine is not ready \(\/readyz answered 503; slmc_engine_ready is 0\)/,
      ],
      [
        "node page down",
        engineReadyMetric,
        { readyz: 200, page: page({}, { status: 401 }), reprobed: false },
        /GET \/metrics\/node answered 401: see metrics\.node/,
      ],
    ];
    for (const [name, check, evidence, expected] of cases) {
      const verdict = verdictOf(check, evidence);
      if (expected === "pass") t.equal(verdict.status, "pass", `${name}: ${verdict.message}`);
      else {
        t.equal(verdict.status, "fail", `${name}: ${verdict.message}`);
        t.match(verdict.message, expected, name);
      }
    }
  },
);
