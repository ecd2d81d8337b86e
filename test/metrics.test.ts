// MON-01: the Prometheus text parser on LocalAI's exposition and on broken pages (each problem named by
// line), and every failure branch of metrics.api-calls' judge. The simulator's healthy /metrics and its
// two defect switches (metrics-frozen, metrics-malformed) are proven in healthy and defects.
import t from "tap";
import { parseExposition, select } from "../src/probes/prometheus.ts";
import { apiCallsMetric } from "../suites/metrics.ts";

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
      { before: scrape(1, { type: null }), completion: okCompletion, after: scrape(2) },
      /no # TYPE api_call histogram/,
    ],
    [
      { before: scrape(1, { present: ["api_call_count"] }), completion: okCompletion, after: scrape(2) },
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
