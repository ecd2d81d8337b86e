// Benchmark metrics, exactly as defined in METRIC_DEFINITIONS below and printed by
// `slmc-check bench --help` and in every report. Pure functions over what the probe recorded: the
// request's timestamps (monotonic, taken when bytes arrived, before parsing) and its SSE events.

/** What one streamed request looked like on the wire. All times are performance.now() milliseconds. */
export interface RequestTrace {
  /** Before connecting. */
  start: number;
  /** Request bytes handed to the socket (after TCP connect and TLS): t0. */
  sent: number;
  /** Status line and headers received: t_hdr. */
  headers: number;
  /** Stream end: `data: [DONE]` or close: t_end. */
  end: number;
  status: number;
  events: { data: string; arrivedAt: number }[];
  comments: number;
  /** Response headers (lower-case names). */
  responseHeaders: Record<string, string>;
  error: string | null;
  /** The body of a response that was not an event stream (an HTTP error's own text), bounded. */
  errorBody?: string;
  maxTokensAsked: number;
}

export type TokenSource = "usage" | "timings" | "chunks";

export interface RequestMetrics {
  ok: boolean;
  error: string | null;
  status: number;
  connect_tls_ms: number;
  ttfb_ms: number;
  first_event_ms: number | null;
  ttft_ms: number | null;
  e2e_ms: number;
  decode_ms: number | null;
  decode_tok_s: number | null;
  decode_ms_per_token: number | null;
  e2e_out_tok_s: number | null;
  prefill_tok_s_client: number | null;
  inter_event_gap_ms: number[];
  tokens_per_event: number | null;
  n_out: number | null;
  n_out_source: TokenSource | null;
  n_in: number | null;
  n_ev: number;
  server_decode_tok_s: number | null;
  server_prefill_tok_s: number | null;
  decode_discrepancy_pct: number | null;
  /** N_out by each source that was present, for the cross-check. */
  token_counts: Partial<Record<TokenSource, number>>;
  token_count_disagreement_pct: number | null;
  finish_reason: string | null;
  osl_mismatch: boolean;
}

interface ChunkFacts {
  content: boolean;
  usage?: { prompt_tokens?: number; completion_tokens?: number };
  timings?: { predicted_n?: number; predicted_per_second?: number; prompt_per_second?: number };
  finish?: string | null;
  /** Why this chunk is not a chat.completion.chunk: not JSON, or another `object`. */
  invalid?: string;
}

export const CHUNK_OBJECT = "chat.completion.chunk";

function chunkFacts(data: string): ChunkFacts | undefined {
  if (data === "[DONE]") return undefined;
  let parsed: {
    object?: unknown;
    choices?: {
      delta?: { content?: string; reasoning_content?: string; tool_calls?: unknown[] };
      finish_reason?: string | null;
    }[];
    usage?: ChunkFacts["usage"];
    timings?: ChunkFacts["timings"];
  };
  try {
    parsed = JSON.parse(data) as typeof parsed;
  } catch (error) {
    // No excerpt of the chunk: it carries the response id, and failures are grouped by cause.
    return { content: false, invalid: `is not JSON (${(error as Error).message})` };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    return { content: false, invalid: "is not a JSON object" };
  if (parsed.object !== CHUNK_OBJECT)
    return {
      content: false,
      invalid:
        parsed.object === undefined
          ? `has no "object" (expected "${CHUNK_OBJECT}")`
          : `has object ${JSON.stringify(parsed.object)}, expected "${CHUNK_OBJECT}"`,
    };
  const delta = parsed.choices?.[0]?.delta;
  const content =
    Boolean(delta?.content) || Boolean(delta?.reasoning_content) || (delta?.tool_calls?.length ?? 0) > 0;
  return {
    content,
    ...(parsed.usage ? { usage: parsed.usage } : {}),
    ...(parsed.timings ? { timings: parsed.timings } : {}),
    finish: parsed.choices?.[0]?.finish_reason ?? null,
  };
}

/** An HTTP error's own reason: OpenAI's error.message, LocalAI's/nginx's message or status, else the text. */
export function serverErrorText(body: string | undefined): string {
  const text = (body ?? "").trim();
  if (!text) return "";
  try {
    const json = JSON.parse(text) as {
      error?: { message?: unknown } | string;
      message?: unknown;
      detail?: unknown;
      status?: unknown;
    };
    const reason =
      (typeof json.error === "object" ? json.error?.message : json.error) ??
      json.message ??
      json.detail ??
      json.status;
    if (typeof reason === "string" && reason.trim()) return bounded(reason);
  } catch {
    // not JSON: an HTML error page or plain text, shown as it is
  }
  return bounded(text.replace(/<[^>]*>/g, " "));
}

const bounded = (text: string, max = 200) => {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
};

const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Disagreement above this between token sources is reported */
export const TOKEN_DISAGREEMENT_WARN_PCT = 10;

export function requestMetrics(trace: RequestTrace, extraUsage?: Record<string, number>): RequestMetrics {
  const facts = trace.events.map((event) => ({ event, facts: chunkFacts(event.data) }));
  const invalidAt = facts.findIndex((f) => f.facts?.invalid !== undefined);
  const content = facts.filter((f) => f.facts?.content);
  const firstEvent = trace.events[0];
  const firstContent = content[0]?.event;
  const lastContent = content.at(-1)?.event;
  // Usage from the LAST usage-bearing chunk (LocalAI v3 sends partial usage on every chunk).
  const usage = facts.findLast((f) => f.facts?.usage)?.facts?.usage;
  const timings = facts.findLast((f) => f.facts?.timings)?.facts?.timings;
  const finish = facts.findLast((f) => f.facts?.finish)?.facts?.finish ?? null;
  const counts: Partial<Record<TokenSource, number>> = {};
  if (typeof usage?.completion_tokens === "number") counts.usage = usage.completion_tokens;
  if (typeof timings?.predicted_n === "number") counts.timings = timings.predicted_n;
  if (content.length) counts.chunks = content.length;
  const source: TokenSource | null =
    counts.usage !== undefined
      ? "usage"
      : counts.timings !== undefined
        ? "timings"
        : counts.chunks !== undefined
          ? "chunks"
          : null;
  const nOut = source ? (counts[source] ?? null) : null;
  const nEv = content.length;
  const t0 = trace.sent;
  const ttft = firstContent ? firstContent.arrivedAt - t0 : null;
  const decode = firstContent && lastContent ? lastContent.arrivedAt - firstContent.arrivedAt : null;
  // k1, the tokens in the first content event: N_out / N_ev. With one token per event that is the
  // reference's k1 = 1; with coalesced events (4 tokens each) k1 = 1 would overstate the rate.
  const tokensPerEvent = nOut !== null && nEv > 0 ? nOut / nEv : null;
  const decodeTokens = nOut !== null && tokensPerEvent !== null ? nOut - tokensPerEvent : null;
  const decodeRate =
    decode !== null && decode > 0 && decodeTokens !== null && decodeTokens >= 1
      ? decodeTokens / (decode / 1000)
      : null;
  const gaps = content.slice(1).map((c, i) => round(c.event.arrivedAt - content[i]!.event.arrivedAt));
  const e2e = trace.end - t0;
  const nIn = typeof usage?.prompt_tokens === "number" ? usage.prompt_tokens : null;
  const serverDecode =
    timings?.predicted_per_second ??
    (extraUsage?.timing_token_generation && nOut !== null
      ? nOut / (extraUsage.timing_token_generation / 1000)
      : null);
  const serverPrefill =
    timings?.prompt_per_second ??
    (extraUsage?.timing_prompt_processing && nIn !== null
      ? nIn / (extraUsage.timing_prompt_processing / 1000)
      : null);
  // Server-side counts must agree; the content-event count differs by design when events coalesce
  // tokens (tokens_per_event shows that), so it only stands in when no server count exists.
  const sourceValues = [counts.usage, counts.timings].filter((v): v is number => v !== undefined);
  const disagreement =
    sourceValues.length > 1 && Math.min(...sourceValues) > 0
      ? round((100 * (Math.max(...sourceValues) - Math.min(...sourceValues))) / Math.min(...sourceValues), 1)
      : null;
  const done = trace.events.some((e) => e.data === "[DONE]");
  const reason = serverErrorText(trace.errorBody);
  const error =
    trace.error ??
    (trace.status !== 200
      ? `HTTP ${trace.status}${reason ? `: ${reason}` : ""}`
      : invalidAt >= 0
        ? `chunk #${invalidAt + 1} ${facts[invalidAt]!.facts!.invalid}`
        : nEv === 0
          ? "no content events"
          : done
            ? null
            : "stream ended without [DONE]");
  return {
    ok: error === null,
    error,
    status: trace.status,
    connect_tls_ms: round(trace.sent - trace.start),
    ttfb_ms: round(trace.headers - t0),
    first_event_ms: firstEvent ? round(firstEvent.arrivedAt - t0) : null,
    ttft_ms: ttft === null ? null : round(ttft),
    e2e_ms: round(e2e),
    decode_ms: decode === null ? null : round(decode),
    decode_tok_s: decodeRate === null ? null : round(decodeRate),
    decode_ms_per_token: decodeRate === null ? null : round(1000 / decodeRate),
    e2e_out_tok_s: nOut !== null && e2e > 0 ? round(nOut / (e2e / 1000)) : null,
    prefill_tok_s_client: nIn !== null && ttft !== null && ttft > 0 ? round(nIn / (ttft / 1000)) : null,
    inter_event_gap_ms: gaps,
    tokens_per_event: tokensPerEvent === null ? null : round(tokensPerEvent),
    n_out: nOut,
    n_out_source: source,
    n_in: nIn,
    n_ev: nEv,
    server_decode_tok_s: serverDecode === null ? null : round(serverDecode),
    server_prefill_tok_s: serverPrefill === null ? null : round(serverPrefill),
    decode_discrepancy_pct:
      decodeRate !== null && serverDecode
        ? round((100 * (decodeRate - serverDecode)) / serverDecode, 1)
        : null,
    token_counts: counts,
    token_count_disagreement_pct: disagreement,
    finish_reason: finish,
    osl_mismatch: nOut !== null && nOut < trace.maxTokensAsked,
  };
}

export interface Distribution {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** Fewer than INDICATIVE_BELOW samples: the percentiles are indicative only (absent in older reports). */
  indicative?: boolean;
}

/** Percentiles from fewer samples than this are marked indicative in every output. */
export const INDICATIVE_BELOW = 10;

/** Percentiles by linear interpolation between closest ranks (Hyndman–Fan type 7, numpy's default). */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

/** The middle value (mean of the two middle ones for an even count); NaN for no values. */
export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

export function distribution(values: (number | null)[]): Distribution | null {
  const present = values.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  if (!present.length) return null;
  return {
    n: present.length,
    min: round(present[0]!),
    p50: round(percentile(present, 50)),
    p90: round(percentile(present, 90)),
    p99: round(percentile(present, 99)),
    max: round(present.at(-1)!),
    mean: round(present.reduce((a, b) => a + b, 0) / present.length),
    indicative: present.length < INDICATIVE_BELOW,
  };
}

export interface Sample extends RequestMetrics {
  /** Offsets from the level's start, for run-level arithmetic and the timeline chart. */
  t0_ms: number;
  t_end_ms: number;
  prompt: string;
  /** Open loop: when the arrival was due (ms from the level's start); t0_ms − scheduled_ms is the client's lag. */
  scheduled_ms?: number;
}

/** Service-level objectives per request; a request meets them when it completed within both given. */
export interface Slo {
  /** TTFT at most this many ms. */
  ttft_ms?: number;
  /** decode_tok_s at least this. */
  decode_tok_s?: number;
}

export interface Goodput {
  slo: Slo;
  /** Every request the level started (offered, in open loop), failed ones included. */
  started: number;
  met: number;
  /** met / started. */
  share: number;
  /** met / duration_s. */
  per_s: number;
}

export function meetsSlo(sample: RequestMetrics, slo: Slo): boolean {
  if (!sample.ok) return false;
  if (slo.ttft_ms !== undefined && (sample.ttft_ms === null || sample.ttft_ms > slo.ttft_ms)) return false;
  if (
    slo.decode_tok_s !== undefined &&
    (sample.decode_tok_s === null || sample.decode_tok_s < slo.decode_tok_s)
  )
    return false;
  return true;
}

/** The most requests in flight at once: the largest overlap of [t0, t_end] intervals. */
export function maxInFlight(samples: Pick<Sample, "t0_ms" | "t_end_ms">[]): number {
  const edges = samples.flatMap((s) => [
    { at: s.t0_ms, step: 1 },
    { at: s.t_end_ms, step: -1 },
  ]);
  // An end and a start at the same instant do not overlap.
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let now = 0;
  let most = 0;
  for (const edge of edges) most = Math.max(most, (now += edge.step));
  return most;
}

export interface LevelAggregate {
  /** Closed loop: the level's concurrency. Open loop (--rate): 0, with offered_rate_per_s set. */
  concurrency: number;
  /** Open loop: the Poisson arrival rate asked for (requests/s). */
  offered_rate_per_s?: number;
  /** Absent in reports written before it was measured. */
  max_in_flight?: number;
  attempted: number;
  completed: number;
  failed: number;
  duration_s: number;
  agg_out_tok_s: number | null;
  req_per_s: number;
  /** With --slo-ttft / --slo-decode: the requests that met them. */
  goodput?: Goodput;
  distributions: Record<string, Distribution | null>;
}

export const DISTRIBUTED_METRICS = [
  "connect_tls_ms",
  "ttfb_ms",
  "ttft_ms",
  "e2e_ms",
  "decode_ms",
  "decode_tok_s",
  "decode_ms_per_token",
  "e2e_out_tok_s",
  "prefill_tok_s_client",
  "tokens_per_event",
] as const;

export function aggregate(
  concurrency: number,
  samples: Sample[],
  extra: { slo?: Slo; offeredRatePerS?: number } = {},
): LevelAggregate {
  const completed = samples.filter((s) => s.ok);
  const duration =
    samples.length > 0
      ? (Math.max(...samples.map((s) => s.t_end_ms)) - Math.min(...samples.map((s) => s.t0_ms))) / 1000
      : 0;
  const tokens = completed.reduce((sum, s) => sum + (s.n_out ?? 0), 0);
  const distributions: Record<string, Distribution | null> = {};
  for (const name of DISTRIBUTED_METRICS) distributions[name] = distribution(completed.map((s) => s[name]));
  distributions.inter_event_gap_ms = distribution(completed.flatMap((s) => s.inter_event_gap_ms));
  if (samples.some((s) => s.scheduled_ms !== undefined))
    distributions.send_lag_ms = distribution(
      samples.map((s) =>
        // No request starts before it is due: below 0 is only the rounding of t0_ms and connect_tls_ms.
        s.scheduled_ms === undefined ? null : Math.max(0, round(s.t0_ms - s.connect_tls_ms - s.scheduled_ms)),
      ),
    );
  const met = extra.slo ? samples.filter((s) => meetsSlo(s, extra.slo!)).length : 0;
  return {
    concurrency,
    ...(extra.offeredRatePerS !== undefined ? { offered_rate_per_s: extra.offeredRatePerS } : {}),
    max_in_flight: maxInFlight(samples),
    attempted: samples.length,
    completed: completed.length,
    failed: samples.length - completed.length,
    duration_s: round(duration),
    agg_out_tok_s: duration > 0 ? round(tokens / duration) : null,
    req_per_s: duration > 0 ? round(completed.length / duration) : 0,
    ...(extra.slo
      ? {
          goodput: {
            slo: extra.slo,
            started: samples.length,
            met,
            share: samples.length ? round(met / samples.length) : 0,
            per_s: duration > 0 ? round(met / duration) : 0,
          },
        }
      : {}),
    distributions,
  };
}

/** The definitions printed in --help and embedded in every report. */
export const METRIC_DEFINITIONS: Record<string, string> = {
  t0: "request bytes handed to the socket, after TCP connect and TLS (monotonic clock)",
  connect_tls_ms: "t0 − start of TCP connect (fresh connection per request)",
  ttfb_ms: "t_hdr − t0: status line and headers received",
  first_event_ms: "first SSE event of any kind − t0 (diagnostic: the role-only chunk counts here)",
  ttft_ms: "t_c1 − t0: first event whose delta has non-empty content, reasoning_content or tool_calls",
  e2e_ms: "t_end − t0: [DONE] or stream close",
  decode_ms: "t_cN − t_c1: first to last content event",
  decode_tok_s: "(N_out − k1) / (decode_ms / 1000), k1 = N_out / N_ev (tokens in the first event)",
  decode_ms_per_token: "decode_ms / (N_out − k1) (TPOT, excludes the first token)",
  e2e_out_tok_s: "N_out / (e2e_ms / 1000)",
  prefill_tok_s_client: "N_in / (ttft_ms / 1000): a lower bound (TTFT also holds network and queueing)",
  inter_event_gap_ms: "gaps between consecutive content events",
  tokens_per_event: "N_out / N_ev (≈ 1 for llama.cpp; > 1 means coalescing)",
  N_out:
    "usage.completion_tokens of the last usage chunk; else timings.predicted_n; else content events (estimated)",
  server_decode_tok_s:
    "llama.cpp timings.predicted_per_second, or LocalAI N_out / Extra-Usage timing_token_generation",
  decode_discrepancy_pct: "100 × (decode_tok_s − server_decode_tok_s) / server_decode_tok_s",
  agg_out_tok_s: "Σ N_out of completed requests / duration_s, duration_s = max(t_end) − min(t0) of the level",
  req_per_s: "completed requests / duration_s",
  percentiles: `n, min, p50, p90, p99, max, mean; linear interpolation between closest ranks; from fewer than ${INDICATIVE_BELOW} samples marked indicative (~ in the table)`,
  send_lag_ms:
    "open loop: connect start − the arrival's due instant (the client falling behind its schedule shows here)",
  max_in_flight: "the most requests of the level in flight at once (largest overlap of [t0, t_end])",
  goodput:
    "requests that completed with ttft_ms ≤ --slo-ttft and decode_tok_s ≥ --slo-decode / every request started (failed ones included)",
};
