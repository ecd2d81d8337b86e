// INFER-02 / SEC-08: a streamed chat completion is well-formed SSE, and its chunks arrive while the
// model generates them (a buffering proxy delivers them all in one burst at the end).
import { fail, pass, type Suite } from "../src/core/check.ts";
import { defineCheck } from "./requirements.ts";
import { chatCompletionChunk, describeIssues, type ChatCompletionChunk } from "../src/schemas/openai.ts";
import type { SseObservation } from "../src/probes/sse.ts";
import { observeStream } from "../src/core/requests.ts";

export interface StreamAnalysis {
  events: number;
  contentChunks: number;
  content: string;
  doneSeen: boolean;
  eventsAfterDone: number;
  parseErrors: string[];
  schemaErrors: string[];
  usage: ChatCompletionChunk["usage"] | null;
  /** Arrival of each content chunk, ms after the request started. */
  contentArrivalsMs: number[];
}

export function analyzeEvents(observation: SseObservation): StreamAnalysis {
  const analysis: StreamAnalysis = {
    events: observation.events.length,
    contentChunks: 0,
    content: "",
    doneSeen: false,
    eventsAfterDone: 0,
    parseErrors: [],
    schemaErrors: [],
    usage: null,
    contentArrivalsMs: [],
  };
  observation.events.forEach((event, index) => {
    if (analysis.doneSeen) {
      analysis.eventsAfterDone++;
      return;
    }
    if (event.data.trim() === "[DONE]") {
      analysis.doneSeen = true;
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(event.data);
    } catch (error) {
      analysis.parseErrors.push(
        `event #${index + 1} is not JSON (${(error as Error).message}): ${event.data.slice(0, 80)}`,
      );
      return;
    }
    const parsed = chatCompletionChunk.safeParse(json);
    if (!parsed.success) {
      analysis.schemaErrors.push(`event #${index + 1}: ${describeIssues(parsed.error)}`);
      return;
    }
    if (parsed.data.usage) analysis.usage = parsed.data.usage;
    const text = parsed.data.choices.map((choice) => choice.delta.content ?? "").join("");
    if (text.length > 0) {
      analysis.contentChunks++;
      analysis.content += text;
      analysis.contentArrivalsMs.push(round(event.arrivedAt - observation.timings.start));
    }
  });
  return analysis;
}

export interface ArrivalPattern {
  chunks: number;
  bursts: number;
  largestBurst: number;
  firstMs: number;
  lastMs: number;
  spreadMs: number;
}

/** A burst = consecutive chunks that arrived less than gapMs apart (one read, or one proxy flush). */
export function arrivalPattern(arrivalsMs: number[], gapMs: number): ArrivalPattern {
  let bursts = arrivalsMs.length ? 1 : 0;
  let current = arrivalsMs.length ? 1 : 0;
  let largest = current;
  for (let i = 1; i < arrivalsMs.length; i++) {
    if ((arrivalsMs[i] ?? 0) - (arrivalsMs[i - 1] ?? 0) >= gapMs) {
      bursts++;
      current = 1;
    } else current++;
    largest = Math.max(largest, current);
  }
  const firstMs = arrivalsMs[0] ?? 0;
  const lastMs = arrivalsMs.at(-1) ?? 0;
  return {
    chunks: arrivalsMs.length,
    bursts,
    largestBurst: largest,
    firstMs,
    lastMs,
    spreadMs: round(lastMs - firstMs),
  };
}

/**
 * Two chunks are separate arrivals when the gap between them is at least a quarter of the stream's mean
 * chunk interval (so a 500 tok/s engine's 2 ms gaps count), capped at 5 ms (a slow CPU engine's
 * 100+ ms gaps) and never below 0.2 ms: what one buffered write read back in several socket reads
 * looks like. A buffering proxy delivers most chunks in the same read (gap 0).
 */
export const INCREMENTAL_THRESHOLDS = {
  burstGapFraction: 0.25,
  maxBurstGapMs: 5,
  minBurstGapMs: 0.2,
  minChunksToJudge: 4,
  minBurstFraction: 0.5,
  minBursts: 3,
};

/** The gap that separates two arrivals, relative to the stream's own mean chunk interval. */
export function burstGapFor(arrivalsMs: number[], thresholds = INCREMENTAL_THRESHOLDS): number {
  const n = arrivalsMs.length;
  const meanIntervalMs = n > 1 ? ((arrivalsMs.at(-1) ?? 0) - (arrivalsMs[0] ?? 0)) / (n - 1) : 0;
  const relative = thresholds.burstGapFraction * meanIntervalMs;
  const gap = Math.max(thresholds.minBurstGapMs, Math.min(thresholds.maxBurstGapMs, relative));
  return Math.round(gap * 100) / 100;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function streamSummary(observation: SseObservation & { model: string }) {
  return {
    model: observation.model,
    status: observation.status,
    contentType: observation.headers["content-type"] ?? null,
    contentEncoding: observation.headers["content-encoding"] ?? null,
    streamError: observation.streamError ?? null,
    nonStreamBody: observation.nonStreamBody ?? null,
    ttfbMs: round(observation.timings.firstByte - observation.timings.start),
    totalMs: round(observation.timings.end - observation.timings.start),
    keepAliveComments: observation.comments,
  };
}

const sseFormat = defineCheck({
  id: "streaming.sse-format",
  requirement: "INFER-02",
  title: "streamed completion is text/event-stream, every chunk valid, ending with [DONE]",
  needs: ["password"],
  observe: async (ctx) => {
    const observation = await observeStream(ctx);
    const { contentArrivalsMs: _arrivals, ...analysis } = analyzeEvents(observation);
    return { ...streamSummary(observation), ...analysis, content: analysis.content.slice(0, 400) };
  },
  judge: (e) => {
    if (e.status !== 200)
      return fail(`streaming request answered ${e.status}: ${(e.nonStreamBody ?? "").slice(0, 160)}`);
    if (!(e.contentType ?? "").includes("text/event-stream"))
      return fail(`Content-Type is "${e.contentType}", expected text/event-stream`);
    if (e.contentEncoding && e.contentEncoding !== "identity")
      return fail(
        `stream is compressed (Content-Encoding: ${e.contentEncoding}); compression buffers SSE: "gzip off;" for the API`,
      );
    if (e.parseErrors.length) return fail(`malformed chunk: ${e.parseErrors[0]}`);
    if (e.schemaErrors.length)
      return fail(`chunk does not follow the chat.completion.chunk schema: ${e.schemaErrors[0]}`);
    if (e.streamError) {
      const where = `after ${e.events} events (${e.contentChunks} with content)`;
      if (e.streamError.kind === "idle-timeout")
        return fail(`stream stalled ${where}: ${e.streamError.message}`);
      if (e.streamError.kind === "timeout")
        return fail(`stream did not finish in time ${where}: ${e.streamError.message}`);
      if (e.streamError.kind === "too-large")
        return fail(
          `${e.streamError.message} ${where}: no chat chunk is that large, so the engine or a proxy sends garbage; slmc-check stopped reading`,
        );
      return fail(`connection broke mid-stream ${where}: ${e.streamError.message}`);
    }
    if (e.contentChunks === 0) return fail("stream carried no content");
    if (!e.doneSeen)
      return fail(`stream ended after ${e.events} events without "data: [DONE]"; OpenAI clients wait for it`);
    if (e.eventsAfterDone) return fail(`${e.eventsAfterDone} events after [DONE]`);
    const usage = e.usage ? `, usage ${e.usage.completion_tokens} completion tokens` : ", no usage chunk";
    return pass(`${e.events} events, ${e.contentChunks} with content, [DONE] last${usage}`);
  },
});

const incremental = defineCheck({
  id: "streaming.incremental",
  requirement: "SEC-08",
  title: "stream chunks arrive spread over the generation, not in one burst",
  needs: ["password"],
  observe: async (ctx) => {
    const observation = await observeStream(ctx);
    const analysis = analyzeEvents(observation);
    const burstGapMs = burstGapFor(analysis.contentArrivalsMs);
    return {
      ...streamSummary(observation),
      thresholds: { ...INCREMENTAL_THRESHOLDS, burstGapMs },
      pattern: arrivalPattern(analysis.contentArrivalsMs, burstGapMs),
      contentArrivalsMs: analysis.contentArrivalsMs.slice(0, 128),
    };
  },
  judge: (e) => {
    const { pattern, thresholds } = e;
    if (pattern.chunks < thresholds.minChunksToJudge)
      return fail(
        `only ${pattern.chunks} content chunks arrived (need ${thresholds.minChunksToJudge} to judge delivery)${e.streamError ? `; ${e.streamError.message}` : ""}`,
      );
    const needed = Math.max(thresholds.minBursts, Math.ceil(pattern.chunks * thresholds.minBurstFraction));
    if (pattern.bursts < needed)
      return fail(
        `buffered: ${pattern.chunks} chunks arrived in ${pattern.bursts} burst(s) (largest ${pattern.largestBurst}, spread ${pattern.spreadMs} ms; separate = gap ≥ ${thresholds.burstGapMs} ms); need ≥ ${needed} separate arrivals. Set "proxy_buffering off;" for the API location`,
      );
    return pass(
      `${pattern.chunks} chunks in ${pattern.bursts} separate arrivals over ${pattern.spreadMs} ms (gap ≥ ${thresholds.burstGapMs} ms)`,
    );
  },
});

export const streamingSuite: Suite = {
  name: "streaming",
  title: "Streaming (SSE)",
  checks: [sseFormat, incremental],
};
