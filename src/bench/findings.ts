// What a benchmark run says beyond its numbers: a buffering proxy (TTFT ≈ E2E), compressed streams,
// servers stopping early, token sources that disagree, and failed requests grouped by cause. Each
// finding is a flag (fails the run) or a warning (reported only).
import { TOKEN_DISAGREEMENT_WARN_PCT, type Sample } from "./metrics.ts";

export interface Finding {
  level: "flag" | "warning";
  code: string;
  message: string;
}

/** A stream whose content arrives within the last 10% of its lifetime was held back and released at once. */
const BUFFERED_TTFT_SHARE = 0.9;

function failuresByCause(samples: Sample[], what: string): Finding[] {
  const causes = new Map<string, number>();
  for (const s of samples.filter((s) => !s.ok))
    causes.set(s.error ?? "unknown", (causes.get(s.error ?? "unknown") ?? 0) + 1);
  return [...causes].map(([cause, count]) => ({
    level: "flag",
    code: "failed-requests",
    message: `${count} of ${samples.length} ${what} failed: ${cause}`,
  }));
}

/** `warmup`: its failures are flagged too (a request failed), its timings are not judged. */
export function findings(
  samples: Sample[],
  fixedLength: boolean,
  maxTokens: number,
  warmup: Sample[] = [],
): Finding[] {
  const out: Finding[] = [];
  const completed = samples.filter((s) => s.ok);
  const streamy = completed.filter((s) => s.n_ev >= 3 && s.ttft_ms !== null && s.e2e_ms > 0);
  const buffered = streamy.filter((s) => s.ttft_ms! / s.e2e_ms >= BUFFERED_TTFT_SHARE);
  if (streamy.length && buffered.length * 2 > streamy.length) {
    const example = buffered[0]!;
    out.push({
      level: "flag",
      code: "buffered-stream",
      message: `${buffered.length} of ${streamy.length} streams arrived all at once (e.g. TTFT ${example.ttft_ms} ms ≈ E2E ${example.e2e_ms} ms over ${example.n_ev} events): a proxy buffers the SSE stream; in nginx set proxy_buffering off and proxy_http_version 1.1`,
    });
  }
  out.push(...failuresByCause(warmup, "warm-up requests"), ...failuresByCause(samples, "requests"));
  const short = completed.filter((s) => s.n_out !== null && s.n_out < maxTokens);
  if (short.length)
    out.push({
      level: fixedLength ? "flag" : "warning",
      code: "early-stop",
      message: `${short.length} of ${completed.length} responses stopped before max_tokens ${maxTokens} (e.g. ${short[0]!.n_out} tokens, finish_reason ${short[0]!.finish_reason}): ${fixedLength ? "the server ignored ignore_eos/min_tokens, so output lengths differ between requests" : "output lengths differ; --fixed-length asks the server to ignore end-of-sequence"}`,
    });
  const disagreeing = completed.filter(
    (s) => (s.token_count_disagreement_pct ?? 0) > TOKEN_DISAGREEMENT_WARN_PCT,
  );
  if (disagreeing.length) {
    const s = disagreeing[0]!;
    out.push({
      level: "warning",
      code: "token-sources-disagree",
      message: `token counts disagree by more than ${TOKEN_DISAGREEMENT_WARN_PCT}% in ${disagreeing.length} responses (e.g. ${JSON.stringify(s.token_counts)}); figures use ${s.n_out_source}`,
    });
  }
  const estimated = completed.filter((s) => s.n_out_source === "chunks");
  if (estimated.length)
    out.push({
      level: "warning",
      code: "tokens-estimated",
      message: `${estimated.length} responses carried no usage: N_out is the count of content events (estimated; coalesced events undercount)`,
    });
  const discrepancy = completed.filter((s) => Math.abs(s.decode_discrepancy_pct ?? 0) > 10);
  if (discrepancy.length)
    out.push({
      level: "warning",
      code: "client-server-rate-differ",
      message: `client decode_tok_s differs from the server's own figure by more than 10% in ${discrepancy.length} responses (e.g. ${discrepancy[0]!.decode_discrepancy_pct}%)`,
    });
  return out;
}
