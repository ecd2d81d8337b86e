// One benchmark request over the probes: a streamed chat completion asking for usage (and LocalAI's
// Extra-Usage), uncompressed, on a fresh connection; the trace keeps arrival times taken before parsing.
import { performance } from "node:perf_hooks";
import { bearerAuthorization, type Access } from "../core/access.ts";
import type { Probes } from "../probes/index.ts";
import type { RequestTrace } from "./metrics.ts";
import { coldFirstLines, requestMessages, type BenchPrompt } from "./prompts.ts";

export interface RequestShape {
  model: string;
  maxTokens: number;
  /** Ask the server to ignore end-of-sequence (ignore_eos + min_tokens), so every answer is maxTokens long. */
  fixedLength: boolean;
  timeoutMs: number;
  idleTimeoutMs: number;
}

/** `firstLine`: a cold prompt's own first line for this request (coldFirstLines). */
export function benchBody(prompt: BenchPrompt, shape: RequestShape, firstLine?: string): string {
  return JSON.stringify({
    model: shape.model,
    messages: requestMessages(prompt, firstLine),
    ...(prompt.tools ? { tools: prompt.tools, tool_choice: "auto" } : {}),
    max_tokens: shape.maxTokens,
    temperature: 0,
    seed: 42,
    stream: true,
    stream_options: { include_usage: true },
    ...(shape.fixedLength ? { ignore_eos: true, min_tokens: shape.maxTokens } : {}),
  });
}

/** The run's --deadline fired while this request was open: that, not "aborted", is its cause. */
const cutByDeadline = (signal: AbortSignal | undefined) =>
  signal?.aborted
    ? `cut by ${signal.reason instanceof Error ? signal.reason.message : "the run's --deadline"}`
    : undefined;

/** `signal` is the one the probes were made with (the run's --deadline), to name it as the cause. */
export function createSender(access: Access, probes: Probes, shape: RequestShape, signal?: AbortSignal) {
  const nextFirstLine = coldFirstLines();
  return async (prompt: BenchPrompt): Promise<RequestTrace> => {
    const body = benchBody(prompt, shape, prompt.cold ? nextFirstLine() : undefined);
    const base = {
      status: 0,
      events: [],
      comments: 0,
      responseHeaders: {},
      maxTokensAsked: shape.maxTokens,
    };
    const before = performance.now();
    try {
      const observation = await probes.sse({
        method: "POST",
        path: "/v1/chat/completions",
        headers: {
          authorization: bearerAuthorization(access.password ?? ""),
          "content-type": "application/json",
          accept: "text/event-stream",
          "accept-encoding": "identity",
          "extra-usage": "1",
        },
        body,
        timeoutMs: shape.timeoutMs,
        idleTimeoutMs: shape.idleTimeoutMs,
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
        ...(observation.nonStreamBody !== undefined ? { errorBody: observation.nonStreamBody } : {}),
        error: observation.streamError
          ? (cutByDeadline(signal) ??
            `stream ${observation.streamError.kind}: ${observation.streamError.message}`)
          : observation.headers["content-encoding"]
            ? `the stream is compressed (Content-Encoding: ${observation.headers["content-encoding"]})`
            : null,
      };
    } catch (error) {
      const now = performance.now();
      return {
        ...base,
        start: before,
        sent: before,
        headers: now,
        end: now,
        error: cutByDeadline(signal) ?? (error as Error).message,
      };
    }
  };
}
