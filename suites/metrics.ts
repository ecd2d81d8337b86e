// MON-01: the appliance's /metrics (behind auth) is Prometheus text a scraper can read, carries the
// series LocalAI documents (the OpenTelemetry histogram api_call: seconds per request by method and
// path), and they are live: one completion moves api_call_count for POST /v1/chat/completions.
import { fail, pass, type CheckContext, type Suite } from "../src/core/check.ts";
import { authorization, bodyProblem, chatBody, modelId, SHORT_PROMPT } from "../src/core/requests.ts";
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
    const model = await modelId(ctx);
    const response = await ctx.probes.https({
      method: "POST",
      path: CHAT.path,
      headers: { ...authorization(ctx), "content-type": "application/json" },
      body: chatBody(ctx, model, SHORT_PROMPT, false),
      timeoutMs: ctx.access.streamTimeoutMs,
    });
    const completion = { status: response.status, problem: bodyProblem(response) ?? null };
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
    const missing = SERIES.filter((name) => !before.present.includes(name));
    if (before.type !== "histogram" || missing.length)
      return fail(
        `/metrics lacks LocalAI's api_call histogram (${[before.type === "histogram" ? "" : "no # TYPE api_call histogram", ...missing].filter(Boolean).join(", ")}); is it LocalAI's endpoint?`,
      );
    if (!completion || completion.status !== 200 || completion.problem)
      return fail(
        `the completion meant to move the metrics failed (${completion ? `HTTP ${completion.status}${completion.problem ? `, ${completion.problem}` : ""}` : "not sent"}); see api.chat-completion`,
      );
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

export const metricsSuite: Suite = {
  name: "metrics",
  title: "Monitoring (/metrics)",
  checks: [apiCallsMetric],
};
