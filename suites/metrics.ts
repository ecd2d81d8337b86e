// MON-01: the appliance's /metrics (behind auth) is Prometheus text a scraper can read, carries the
// series LocalAI documents (the OpenTelemetry histogram api_call: seconds per request by method and
// path), and they are live: one completion moves api_call_count for POST /v1/chat/completions.
import { fail, pass, type CheckContext, type Suite } from "../src/core/check.ts";
import { authorization, bodyProblem, chatBody, modelId, SHORT_PROMPT } from "../src/core/requests.ts";
import {
  EXPORTER_PORTS,
  METRIC_SERIES,
  METRICS_ENDPOINTS,
  METRICS_LOG,
  READINESS_PROM,
  STUB_STATUS_PORT,
  type MetricsEndpoint,
} from "../src/probes/metrics-series.ts";
import { parseExposition, select, type Exposition } from "../src/probes/prometheus.ts";
import { defineCheck } from "./requirements.ts";

const CHAT = { method: "POST", path: "/v1/chat/completions" };
const SERIES = ["api_call_bucket", "api_call_sum", "api_call_count"];

interface Scrape {
  status: number;
  contentType: string;
  samples: number;
  problems: Exposition["problems"];
  type: string | null;
  present: string[];
  chatCount: number | null;
  chatSum: number | null;
  /** The chat series' +Inf bucket, which must equal its count. */
  chatInf: number | null;
  bodyPreview?: string;
}

async function scrape(ctx: CheckContext): Promise<Scrape> {
  const response = await ctx.probes.https({ method: "GET", path: "/metrics", headers: authorization(ctx) });
  const text = response.body.toString("utf8");
  const parsed = parseExposition(text);
  const one = (name: string, extra: Record<string, string> = {}) => {
    const found = select(parsed, name, { ...CHAT, ...extra });
    return found.length ? found.reduce((total, s) => total + s.value, 0) : null;
  };
  return {
    status: response.status,
    contentType: response.headers["content-type"] ?? "",
    samples: parsed.samples.length,
    problems: parsed.problems.slice(0, 5),
    type: parsed.types.api_call ?? null,
    present: SERIES.filter((name) => select(parsed, name).length > 0),
    chatCount: one("api_call_count"),
    chatSum: one("api_call_sum"),
    chatInf: one("api_call_bucket", { le: "+Inf" }),
    ...(response.status === 200 && parsed.problems.length === 0 ? {} : { bodyPreview: text.slice(0, 300) }),
  };
}

interface Completion {
  status: number;
  problem: string | null;
}

/** One short non-streamed chat completion, sent to move the metrics. */
async function sendCompletion(ctx: CheckContext): Promise<Completion> {
  const model = await modelId(ctx);
  const response = await ctx.probes.https({
    method: "POST",
    path: CHAT.path,
    headers: { ...authorization(ctx), "content-type": "application/json" },
    body: chatBody(ctx, model, SHORT_PROMPT, false),
    timeoutMs: ctx.access.streamTimeoutMs,
  });
  return { status: response.status, problem: bodyProblem(response) ?? null };
}

/** Why the completion meant to move `what` failed, or null when it succeeded. */
function completionFailure(completion: Completion | undefined, what: string): string | null {
  if (completion && completion.status === 200 && !completion.problem) return null;
  const how = completion
    ? `HTTP ${completion.status}${completion.problem ? `, ${completion.problem}` : ""}`
    : "not sent";
  return `the completion meant to move ${what} failed (${how}); see api.chat-completion`;
}

const FIX_LIVE =
  "the metrics are not live: /metrics must be LocalAI's own endpoint proxied by nginx (location /metrics → 127.0.0.1:8080), not a static page or a cache";

export const apiCallsMetric = defineCheck({
  id: "metrics.api-calls",
  requirement: "MON-01",
  title: "/metrics is Prometheus text with the api_call histogram, and a completion moves it",
  needs: ["password"],
  observe: async (ctx) => {
    const before = await scrape(ctx);
    if (before.status !== 200) return { before };
    const completion = await sendCompletion(ctx);
    return { before, completion, after: await scrape(ctx) };
  },
  judge: (e) => {
    const { before, completion, after } = e;
    if (before.status !== 200)
      return fail(
        `GET /metrics (with the password) answered ${before.status}: nginx must proxy /metrics to LocalAI behind auth, and LocalAI must run without --disable-metrics-endpoint`,
      );
    const scraped = after ?? before;
    const problem = before.problems[0] ?? scraped.problems[0];
    if (problem)
      return fail(
        `/metrics is not Prometheus text: line ${problem.line} "${problem.text}": ${problem.reason}; a scraper rejects the whole page`,
      );
    if (!/^text\/plain|^application\/openmetrics-text/.test(before.contentType))
      return fail(
        `/metrics has Content-Type "${before.contentType}", not text/plain (Prometheus text format); do not override it in nginx`,
      );
    // Judged after the completion: a fresh engine that has answered nothing yet prints no api_call.
    const missing = SERIES.filter((name) => !scraped.present.includes(name));
    if (scraped.type !== "histogram" || missing.length)
      return fail(
        `/metrics lacks LocalAI's api_call histogram (${[scraped.type === "histogram" ? "" : "no # TYPE api_call histogram", ...missing].filter(Boolean).join(", ")}); is it LocalAI's endpoint?`,
      );
    const failed = completionFailure(completion, "the metrics");
    if (failed) return fail(failed);
    const was = before.chatCount ?? 0;
    const now = scraped.chatCount;
    if (now === null || now <= was)
      return fail(
        `api_call_count{method="POST",path="/v1/chat/completions"} did not move after a completion (${before.chatCount ?? "absent"} → ${now ?? "absent"}): ${FIX_LIVE}`,
      );
    if (scraped.chatInf !== now)
      return fail(
        `api_call_bucket{le="+Inf"} (${scraped.chatInf ?? "absent"}) differs from api_call_count (${now}) for POST /v1/chat/completions: not a valid histogram`,
      );
    return pass(
      `${scraped.samples} samples; api_call_count{POST /v1/chat/completions} ${was} → ${now} after one completion (sum ${before.chatSum ?? 0} → ${scraped.chatSum} s)`,
    );
  },
});

// The exporters behind /metrics/nginx, /metrics/requests and /metrics/node (METRICS_ENDPOINTS): each
// behind the password, Prometheus text, with the series the README and the dashboard name.

interface Page {
  status: number;
  problems: Exposition["problems"];
  /** Documented series of this endpoint that the page lacks. */
  missing: string[];
  /** The values the check reads (summed over matching samples; null when absent). */
  values: Record<string, number | null>;
  bodyPreview?: string;
}

type Pick = Record<string, [name: string, labels?: Record<string, string>]>;

async function scrapePage(
  ctx: CheckContext,
  endpoint: MetricsEndpoint,
  pick: Pick,
  required: readonly string[],
): Promise<Page> {
  const response = await ctx.probes.https({
    method: "GET",
    path: METRICS_ENDPOINTS[endpoint],
    headers: authorization(ctx),
  });
  const text = response.body.toString("utf8");
  const parsed = parseExposition(text);
  const values: Page["values"] = {};
  for (const [key, [name, labels]] of Object.entries(pick)) {
    const found = select(parsed, name, labels);
    values[key] = found.length ? found.reduce((total, s) => total + s.value, 0) : null;
  }
  return {
    status: response.status,
    problems: parsed.problems.slice(0, 5),
    missing: required.filter((name) => select(parsed, name).length === 0),
    values,
    ...(response.status === 200 && parsed.problems.length === 0 ? {} : { bodyPreview: text.slice(0, 300) }),
  };
}

async function unauthenticatedStatus(ctx: CheckContext, endpoint: MetricsEndpoint): Promise<number> {
  return (await ctx.probes.https({ method: "GET", path: METRICS_ENDPOINTS[endpoint] })).status;
}

/** The failures every exporter page shares: open to anyone, not proxied, not Prometheus text, series missing. */
function pageProblem(
  endpoint: MetricsEndpoint,
  unauthenticated: number,
  page: Page,
  upstream: string,
): string | undefined {
  const path = METRICS_ENDPOINTS[endpoint];
  if (unauthenticated !== 401)
    return `GET ${path} without credentials answered ${unauthenticated}, not 401: the exporter pages must sit behind the same password as the API (nginx location ${path} with auth_basic)`;
  if (page.status !== 200)
    return `GET ${path} (with the password) answered ${page.status}: nginx must proxy it to ${upstream}; is that service running and listening there?`;
  const problem = page.problems[0];
  if (problem)
    return `${path} is not Prometheus text: line ${problem.line} "${problem.text}": ${problem.reason}`;
  if (page.missing.length)
    return `${path} lacks ${page.missing.join(", ")} (documented in the README's metrics table): is ${upstream} the exporter nginx proxies to?`;
  return undefined;
}

const sleep = (ms: number) => new Promise((wake) => setTimeout(wake, ms));
/** mtail tails nginx's log: a request shows up in its counters a moment after it ends. */
const LOG_FOLLOW_MS = 10_000;
/** The readiness probe runs every 15 s (slm-copilot-readiness.timer). */
const READINESS_PROBE_WAIT_MS = 25_000;
const POLL_MS = 500;

const NGINX_UPSTREAM = `prometheus-nginx-exporter on 127.0.0.1:${EXPORTER_PORTS.nginx}`;
const MTAIL_UPSTREAM = `mtail on 127.0.0.1:${EXPORTER_PORTS.requests}`;
const NODE_UPSTREAM = `prometheus-node-exporter on 127.0.0.1:${EXPORTER_PORTS.node}`;
const NGINX_SERIES = Object.keys(METRIC_SERIES.nginx);

export const nginxMetrics = defineCheck({
  id: "metrics.nginx",
  requirement: "MON-01",
  title: "/metrics/nginx: nginx's connections and request totals, behind auth, and they move",
  needs: ["password"],
  observe: async (ctx) => {
    const unauthenticated = await unauthenticatedStatus(ctx, "nginx");
    const pick: Pick = { up: ["nginx_up"], requests: ["nginx_http_requests_total"] };
    const before = await scrapePage(ctx, "nginx", pick, NGINX_SERIES);
    if (before.status !== 200) return { unauthenticated, before };
    const models = await ctx.probes.https({ method: "GET", path: "/v1/models", headers: authorization(ctx) });
    return {
      unauthenticated,
      before,
      modelsStatus: models.status,
      after: await scrapePage(ctx, "nginx", pick, NGINX_SERIES),
    };
  },
  judge: (e) => {
    const problem = pageProblem("nginx", e.unauthenticated, e.before, NGINX_UPSTREAM);
    if (problem) return fail(problem);
    const after = e.after;
    if (!after || after.status !== 200)
      return fail(`the second GET /metrics/nginx answered ${after?.status ?? "nothing"}: see the first`);
    if (after.values.up !== 1)
      return fail(
        `nginx_up is ${after.values.up}: the exporter cannot read nginx's stub_status (its -nginx.scrape-uri must be http://127.0.0.1:${STUB_STATUS_PORT}/stub_status, served by the site's loopback server)`,
      );
    const was = e.before.values.requests ?? 0;
    const now = after.values.requests ?? null;
    if (now === null || now <= was)
      return fail(
        `nginx_http_requests_total did not move across GET /v1/models and a scrape (${was} → ${now ?? "absent"}): the exporter must read nginx's live stub_status, not a cache`,
      );
    return pass(
      `nginx_up 1; nginx_http_requests_total ${was} → ${now} across one API request and one scrape`,
    );
  },
});

const REQUEST_SERIES = [
  "slmc_http_requests_total",
  "slmc_http_request_seconds_bucket",
  "slmc_http_upstream_header_seconds_bucket",
  "slmc_http_upstream_seconds_bucket",
  "slmc_http_upstream_seconds_count",
  "slmc_http_response_bytes_total",
];

export const requestMetrics = defineCheck({
  id: "metrics.requests",
  requirement: "MON-01",
  title:
    "/metrics/requests: requests by status class and path and the engine's latency, moved by a completion",
  needs: ["password"],
  observe: async (ctx) => {
    const unauthenticated = await unauthenticatedStatus(ctx, "requests");
    const pick: Pick = {
      chatOk: ["slmc_http_requests_total", { path: "chat", status_class: "2xx" }],
      chatUpstream: ["slmc_http_upstream_seconds_count", { path: "chat" }],
    };
    const before = await scrapePage(ctx, "requests", pick, []);
    if (before.status !== 200) return { unauthenticated, before };
    const completion = await sendCompletion(ctx);
    const deadline = Date.now() + LOG_FOLLOW_MS;
    let after = await scrapePage(ctx, "requests", pick, REQUEST_SERIES);
    while (
      after.status === 200 &&
      (after.values.chatOk ?? 0) <= (before.values.chatOk ?? 0) &&
      Date.now() < deadline
    ) {
      await sleep(POLL_MS);
      after = await scrapePage(ctx, "requests", pick, REQUEST_SERIES);
    }
    return { unauthenticated, before, completion, after };
  },
  judge: (e) => {
    const problem = pageProblem("requests", e.unauthenticated, e.before, MTAIL_UPSTREAM);
    if (problem) return fail(problem);
    const { completion, after } = e;
    const failed = completionFailure(completion, "the request metrics");
    if (failed) return fail(failed);
    const was = e.before.values.chatOk ?? 0;
    const now = after?.values.chatOk ?? null;
    if (!after || now === null || now <= was)
      return fail(
        `slmc_http_requests_total{path="chat",status_class="2xx"} did not move within ${LOG_FOLLOW_MS / 1000} s of a completion (${e.before.values.chatOk ?? "absent"} → ${now ?? "absent"}): mtail must follow nginx's metrics log (${METRICS_LOG}) with the program slm-copilot.mtail`,
      );
    const later = pageProblem("requests", 401, after, MTAIL_UPSTREAM);
    if (later) return fail(later);
    // No +Inf = count test here: mtail 3.0.0~rc50 counts an observation of exactly 0 (nginx's
    // millisecond times of a fast answer) in _count but in no bucket.
    if (!after.values.chatUpstream)
      return fail(
        `slmc_http_upstream_seconds_count{path="chat"} is ${after.values.chatUpstream ?? "absent"} after a completion: nginx's metrics log must carry $upstream_response_time (log_format slmc_metrics)`,
      );
    return pass(
      `slmc_http_requests_total{chat,2xx} ${was} → ${now} after one completion; upstream latency histogram has ${after.values.chatUpstream} chat observations`,
    );
  },
});

const NODE_SERIES = [
  "node_cpu_seconds_total",
  "node_memory_MemTotal_bytes",
  "node_memory_MemAvailable_bytes",
];

export const nodeMetrics = defineCheck({
  id: "metrics.node",
  requirement: "MON-01",
  title: "/metrics/node: the host's CPU and memory from node exporter, behind auth",
  needs: ["password"],
  observe: async (ctx) => ({
    unauthenticated: await unauthenticatedStatus(ctx, "node"),
    page: await scrapePage(
      ctx,
      "node",
      {
        total: ["node_memory_MemTotal_bytes"],
        available: ["node_memory_MemAvailable_bytes"],
        idle: ["node_cpu_seconds_total", { mode: "idle" }],
      },
      NODE_SERIES,
    ),
  }),
  judge: (e) => {
    const problem = pageProblem("node", e.unauthenticated, e.page, NODE_UPSTREAM);
    if (problem) return fail(problem);
    const { total, available, idle } = e.page.values;
    if (!total || available === null || available === undefined || available > total)
      return fail(
        `node_memory_MemAvailable_bytes (${available}) is not within node_memory_MemTotal_bytes (${total}): not node exporter's meminfo collector`,
      );
    if (!idle)
      return fail(
        `node_cpu_seconds_total{mode="idle"} is ${idle ?? "absent"}: not node exporter's cpu collector`,
      );
    return pass(
      `memory ${(available / 2 ** 30).toFixed(1)} of ${(total / 2 ** 30).toFixed(1)} GiB available; CPU idle ${idle.toFixed(0)} s in total`,
    );
  },
});

export const engineReadyMetric = defineCheck({
  id: "metrics.engine-ready",
  requirement: "MON-01",
  title: "slmc_engine_ready (on /metrics/node) is 1 while the engine's /readyz says ready",
  needs: ["password"],
  observe: async (ctx) => {
    const pick: Pick = {
      ready: ["slmc_engine_ready"],
      probedAt: ["slmc_engine_ready_probe_timestamp_seconds"],
    };
    const readyz = (await ctx.probes.https({ method: "GET", path: "/readyz" })).status;
    const first = await scrapePage(ctx, "node", pick, []);
    let page = first;
    // A 0 may predate the engine's readiness: wait for one probe after the first scrape.
    const deadline = Date.now() + READINESS_PROBE_WAIT_MS;
    while (
      readyz === 200 &&
      page.status === 200 &&
      page.values.ready === 0 &&
      (page.values.probedAt ?? 0) <= (first.values.probedAt ?? 0) &&
      Date.now() < deadline
    ) {
      await sleep(POLL_MS * 2);
      page = await scrapePage(ctx, "node", pick, []);
    }
    return { readyz, page, reprobed: (page.values.probedAt ?? 0) > (first.values.probedAt ?? 0) };
  },
  judge: (e) => {
    const { readyz, page } = e;
    if (page.status !== 200) return fail(`GET /metrics/node answered ${page.status}: see metrics.node`);
    const { ready } = page.values;
    if (ready === null || ready === undefined)
      return fail(
        `/metrics/node has no slmc_engine_ready: slm-copilot-readiness.timer must write ${READINESS_PROM} and node exporter must read that directory (--collector.textfile.directory)`,
      );
    if (readyz !== 200)
      return fail(
        `the engine is not ready (/readyz answered ${readyz}; slmc_engine_ready is ${ready}): the check needs a ready engine, see health.ready`,
      );
    if (ready !== 1)
      return fail(
        `slmc_engine_ready is ${ready} while /readyz answers 200${e.reprobed ? ", even after a new probe" : ` and no new probe ran within ${READINESS_PROBE_WAIT_MS / 1000} s`}: slm-copilot-readiness.timer must probe 127.0.0.1:8080/readyz every 15 s (systemctl status slm-copilot-readiness.timer)`,
      );
    return pass("slmc_engine_ready 1 while /readyz answers 200");
  },
});

export const metricsSuite: Suite = {
  name: "metrics",
  title: "Monitoring (/metrics, /metrics/nginx, /metrics/requests, /metrics/node)",
  checks: [apiCallsMetric, nginxMetrics, requestMetrics, nodeMetrics, engineReadyMetric],
};
