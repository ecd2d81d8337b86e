// Per-request streaming metrics as defined in benchmark-metrics.md §7.3, from timestamps taken when
// bytes arrive (before parsing).
import type { LlamaTimings } from "../../fixtures/engine/llama-cpp.ts";

export interface StreamObservation {
  t0: number;
  /** Response headers received (equal to t0 in process). */
  tHdr: number;
  /** Arrival times of events whose delta carries non-empty content. */
  contentTimes: number[];
  tEnd: number;
  promptTokens: number;
  completionTokens: number;
  timings?: LlamaTimings;
}

export interface RequestMetrics {
  ttfb_ms: number;
  ttft_ms: number;
  e2e_ms: number;
  decode_ms: number;
  decode_tok_s: number;
  decode_ms_per_token: number;
  e2e_out_tok_s: number;
  n_in: number;
  n_out: number;
  n_ev: number;
  server_decode_tok_s?: number;
  decode_discrepancy_pct?: number;
}

export function requestMetrics(o: StreamObservation, k1 = 1): RequestMetrics {
  const first = o.contentTimes[0];
  const last = o.contentTimes.at(-1);
  if (first === undefined || last === undefined) throw new Error("no content events");
  if (o.completionTokens - k1 < 1) throw new Error(`need N_out - k1 >= 1, got N_out ${o.completionTokens}`);
  const decodeMs = last - first;
  const decodeTokS = (o.completionTokens - k1) / (decodeMs / 1000);
  const server = o.timings?.predicted_per_second;
  return {
    ttfb_ms: o.tHdr - o.t0,
    ttft_ms: first - o.t0,
    e2e_ms: o.tEnd - o.t0,
    decode_ms: decodeMs,
    decode_tok_s: decodeTokS,
    decode_ms_per_token: decodeMs / (o.completionTokens - k1),
    e2e_out_tok_s: o.completionTokens / ((o.tEnd - o.t0) / 1000),
    n_in: o.promptTokens,
    n_out: o.completionTokens,
    n_ev: o.contentTimes.length,
    ...(server
      ? { server_decode_tok_s: server, decode_discrepancy_pct: (100 * (decodeTokS - server)) / server }
      : {}),
  };
}
