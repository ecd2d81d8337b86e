// The agentic workload: coding-client conversations (agentic-conversation.ts), one at a time, turn
// after turn, as one client on a one-slot server sends them. Per turn it keeps the request's metrics
// (metrics.ts) plus what the server says about its prompt: tokens reused from its cache and tokens
// evaluated (llama.cpp's timings.cache_n / prompt_n, or usage.prompt_tokens_details.cached_tokens);
// a later turn that evaluates the whole prefix again is flagged.
import { performance } from "node:perf_hooks";
import { bearerAuthorization, type Access } from "../core/access.ts";
import type { Probes } from "../probes/index.ts";
import type { Finding } from "./findings.ts";
import { requestMetrics, type RequestMetrics, type RequestTrace } from "./metrics.ts";
import { turnBody, type AgenticShape } from "./agentic-conversation.ts";

/** A later turn reusing less than this share of the previous turn's prompt did not reuse the prefix. */
export const PREFIX_REUSE_MIN_SHARE = 0.5;

export type CacheSource = "timings" | "usage" | "not reported";

export interface AgenticTurn {
  conversation: number;
  turn: number;
  ok: boolean;
  error: string | null;
  /** Request sent, from the conversation's start. */
  t0_ms: number;
  ttft_ms: number | null;
  e2e_ms: number;
  prompt_tokens: number | null;
  prompt_tokens_cached: number | null;
  prompt_tokens_processed: number | null;
  cache_source: CacheSource;
  /** prompt_tokens_processed (else prompt_tokens) / (ttft_ms / 1000). */
  prefill_tok_s: number | null;
  server_prefill_tok_s: number | null;
  decode_tok_s: number | null;
  n_out: number | null;
  finish_reason: string | null;
  answer: "tool_call" | "text" | "none";
}

export interface AgenticConversation {
  conversation: number;
  turns: AgenticTurn[];
  /** First turn sent → last turn's end. */
  total_ms: number;
  /** Conversation start (before connecting) → the first content byte of turn 1. */
  first_useful_byte_ms: number | null;
}

export interface AgenticRun {
  shape: AgenticShape;
  max_tokens: number;
  conversations: AgenticConversation[];
}

export const AGENTIC_DEFINITIONS: Record<string, string> = {
  "agentic.ttft_ms": "t_c1 − t0 of the turn's request (as ttft_ms)",
  "agentic.prompt_tokens": "usage.prompt_tokens; else timings.prompt_n + timings.cache_n",
  "agentic.prompt_tokens_cached":
    "timings.cache_n (llama.cpp); else usage.prompt_tokens_details.cached_tokens; else not reported (null)",
  "agentic.prompt_tokens_processed": "timings.prompt_n; else prompt_tokens − prompt_tokens_cached",
  "agentic.prefill_tok_s":
    "prompt_tokens_processed / (ttft_ms / 1000), or prompt_tokens / (ttft_ms / 1000) when the server reports no cache figures",
  "agentic.total_ms": "first turn's t0 → last turn's t_end",
  "agentic.first_useful_byte_ms": "conversation start (before connecting) → turn 1's first content event",
  "agentic.prefix-not-reused": `turn k ≥ 2 reused fewer than ${PREFIX_REUSE_MIN_SHARE * 100}% of turn k−1's prompt tokens`,
};

interface PromptFacts {
  promptTokens?: number;
  cachedUsage?: number;
  cacheN?: number;
  promptN?: number;
  answer: AgenticTurn["answer"];
}

function promptFacts(trace: RequestTrace): PromptFacts {
  const facts: PromptFacts = { answer: "none" };
  for (const event of trace.events) {
    if (event.data === "[DONE]") continue;
    let chunk: {
      choices?: { delta?: { content?: string; tool_calls?: unknown[] } }[];
      usage?: { prompt_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } };
      timings?: { cache_n?: number; prompt_n?: number };
    };
    try {
      chunk = JSON.parse(event.data) as typeof chunk;
    } catch {
      continue;
    }
    const delta = chunk.choices?.[0]?.delta;
    if (facts.answer === "none" && (delta?.tool_calls?.length ?? 0) > 0) facts.answer = "tool_call";
    else if (facts.answer === "none" && delta?.content) facts.answer = "text";
    const number = (value: unknown) => (typeof value === "number" ? value : undefined);
    facts.promptTokens = number(chunk.usage?.prompt_tokens) ?? facts.promptTokens;
    facts.cachedUsage = number(chunk.usage?.prompt_tokens_details?.cached_tokens) ?? facts.cachedUsage;
    facts.cacheN = number(chunk.timings?.cache_n) ?? facts.cacheN;
    facts.promptN = number(chunk.timings?.prompt_n) ?? facts.promptN;
  }
  return facts;
}

const round = (value: number) => Math.round(value * 1000) / 1000;

export function turnRecord(
  conversation: number,
  turn: number,
  trace: RequestTrace,
  origin: number,
  metrics: RequestMetrics = requestMetrics(trace),
): AgenticTurn {
  const facts = promptFacts(trace);
  const source: CacheSource =
    facts.cacheN !== undefined ? "timings" : facts.cachedUsage !== undefined ? "usage" : "not reported";
  const cached = facts.cacheN ?? facts.cachedUsage ?? null;
  const prompt =
    facts.promptTokens ??
    (facts.promptN !== undefined && facts.cacheN !== undefined ? facts.promptN + facts.cacheN : null);
  const processed = facts.promptN ?? (prompt !== null && cached !== null ? prompt - cached : null);
  const prefillTokens = source === "not reported" ? prompt : processed;
  const ttft = metrics.ttft_ms;
  return {
    conversation,
    turn,
    ok: metrics.ok,
    error: metrics.error,
    t0_ms: round(trace.sent - origin),
    ttft_ms: ttft,
    e2e_ms: metrics.e2e_ms,
    prompt_tokens: prompt,
    prompt_tokens_cached: cached,
    prompt_tokens_processed: processed,
    cache_source: source,
    prefill_tok_s:
      prefillTokens !== null && ttft !== null && ttft > 0 ? round(prefillTokens / (ttft / 1000)) : null,
    server_prefill_tok_s: metrics.server_prefill_tok_s,
    decode_tok_s: metrics.decode_tok_s,
    n_out: metrics.n_out,
    finish_reason: metrics.finish_reason,
    answer: facts.answer,
  };
}

export interface AgenticTarget {
  access: Access;
  probes: Probes;
  model: string;
  maxTokens: number;
  timeoutMs: number;
  idleTimeoutMs: number;
}

/** One turn's request, streamed, uncompressed, on a fresh connection (as send.ts sends the chat workload). */
export async function sendTurn(target: AgenticTarget, body: string): Promise<RequestTrace> {
  const base = { status: 0, events: [], comments: 0, responseHeaders: {}, maxTokensAsked: target.maxTokens };
  const before = performance.now();
  try {
    const observation = await target.probes.sse({
      method: "POST",
      path: "/v1/chat/completions",
      headers: {
        authorization: bearerAuthorization(target.access.password ?? ""),
        "content-type": "application/json",
        accept: "text/event-stream",
        "accept-encoding": "identity",
        "extra-usage": "1",
      },
      body,
      timeoutMs: target.timeoutMs,
      idleTimeoutMs: target.idleTimeoutMs,
    });
    const { timings } = observation;
    const done = observation.events.find((event) => event.data === "[DONE]");
    return {
      ...base,
      start: timings.start,
      sent: timings.secured ?? timings.connected,
      headers: timings.firstByte,
      end: done?.arrivedAt ?? timings.end,
      status: observation.status,
      events: observation.events,
      comments: observation.comments,
      responseHeaders: observation.headers,
      error: observation.streamError
        ? `stream ${observation.streamError.kind}: ${observation.streamError.message}`
        : observation.headers["content-encoding"]
          ? `the stream is compressed (Content-Encoding: ${observation.headers["content-encoding"]})`
          : null,
    };
  } catch (error) {
    const now = performance.now();
    return { ...base, start: before, sent: before, headers: now, end: now, error: (error as Error).message };
  }
}

export type AgenticProgress = (turn: AgenticTurn, of: { conversations: number; turns: number }) => void;

export type TurnSender = (body: string) => Promise<RequestTrace>;

export async function runAgentic(
  target: AgenticTarget,
  shape: AgenticShape,
  progress: AgenticProgress,
  send: TurnSender = (body) => sendTurn(target, body),
): Promise<AgenticRun> {
  const conversations: AgenticConversation[] = [];
  for (let c = 1; c <= shape.conversations; c++) {
    const origin = performance.now();
    const turns: AgenticTurn[] = [];
    let firstUseful: number | null = null;
    let end = origin;
    for (let t = 1; t <= shape.turns; t++) {
      const trace = await send(turnBody(shape, c, t, target.model, target.maxTokens));
      const record = turnRecord(c, t, trace, origin);
      if (t === 1 && record.ttft_ms !== null) firstUseful = round(trace.sent + record.ttft_ms - origin);
      end = trace.end;
      turns.push(record);
      progress(record, { conversations: shape.conversations, turns: shape.turns });
    }
    conversations.push({
      conversation: c,
      turns,
      total_ms: round(end - (turns[0] ? origin + turns[0].t0_ms : origin)),
      first_useful_byte_ms: firstUseful,
    });
  }
  return { shape, max_tokens: target.maxTokens, conversations };
}

const fmtTokens = (n: number | null) => (n === null ? "?" : n.toLocaleString("en-US"));

export function agenticFindings(run: AgenticRun): Finding[] {
  const out: Finding[] = [];
  const turns = run.conversations.flatMap((c) => c.turns);
  const failed = turns.filter((t) => !t.ok);
  if (failed.length)
    out.push({
      level: "flag",
      code: "failed-requests",
      message: `${failed.length} of ${turns.length} turns failed: ${failed[0]!.error ?? "unknown"} (conversation ${failed[0]!.conversation} turn ${failed[0]!.turn})${/timeout/.test(failed[0]!.error ?? "") ? "; a turn that evaluates the whole prefix can be silent for minutes on a CPU server: raise --stream-idle and --stream-timeout above it" : ""}`,
    });
  const notReused: { turn: AgenticTurn; previous: number }[] = [];
  const unreported: AgenticTurn[] = [];
  const slow: { turn: AgenticTurn; first: number }[] = [];
  for (const conversation of run.conversations) {
    const first = conversation.turns[0];
    for (const [i, turn] of conversation.turns.entries()) {
      const previous = conversation.turns[i - 1];
      if (!previous || !turn.ok || !previous.ok) continue;
      if (turn.prompt_tokens_cached === null) {
        unreported.push(turn);
        if (first?.ttft_ms && turn.ttft_ms !== null && turn.ttft_ms >= PREFIX_REUSE_MIN_SHARE * first.ttft_ms)
          slow.push({ turn, first: first.ttft_ms });
      } else if (
        previous.prompt_tokens !== null &&
        turn.prompt_tokens_cached < PREFIX_REUSE_MIN_SHARE * previous.prompt_tokens
      )
        notReused.push({ turn, previous: previous.prompt_tokens });
    }
  }
  if (notReused.length) {
    const { turn, previous } = notReused[0]!;
    out.push({
      level: "flag",
      code: "prefix-not-reused",
      message: `${notReused.length} later turns evaluated the conversation's prefix again (e.g. conversation ${turn.conversation} turn ${turn.turn}: ${fmtTokens(turn.prompt_tokens_processed)} of ${fmtTokens(turn.prompt_tokens)} prompt tokens evaluated, ${fmtTokens(turn.prompt_tokens_cached)} reused, though the previous turn's ${fmtTokens(previous)} tokens are its prefix; TTFT ${turn.ttft_ms} ms): the server does not reuse its cached prompt, so every turn pays the whole prefill. Keep llama.cpp's prompt cache on (LocalAI: prompt_cache_all: true before v4.3; llama-server: --cache-prompt, one slot per client with -np 1)`,
    });
  }
  if (unreported.length) {
    out.push({
      level: "warning",
      code: "prefix-reuse-not-reported",
      message: `the server reported no cache figures (no timings.cache_n, no usage.prompt_tokens_details.cached_tokens) in ${unreported.length} later turns: prefix reuse is judged from TTFT only`,
    });
    if (slow.length) {
      const { turn, first } = slow[0]!;
      out.push({
        level: "warning",
        code: "prefix-reuse-suspect",
        message: `${slow.length} later turns took at least ${PREFIX_REUSE_MIN_SHARE * 100}% of turn 1's TTFT (e.g. conversation ${turn.conversation} turn ${turn.turn}: ${turn.ttft_ms} ms against ${first} ms): the prefix may be evaluated again every turn (or the TTFT is not prefill-bound)`,
      });
    }
  }
  return out;
}
