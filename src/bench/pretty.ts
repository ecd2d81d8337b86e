// The benchmark as a terminal table: one row per concurrency level (or the open-loop rate), then
// goodput, findings and notes. A percentile from fewer than INDICATIVE_BELOW samples carries "~".
import { INDICATIVE_BELOW, type Distribution, type LevelAggregate } from "./metrics.ts";
import type { BenchReport } from "./report.ts";
import { renderAgenticTable } from "./agentic-report.ts";

const fmt = (value: number | null | undefined, digits = 1) =>
  value === null || value === undefined ? "—" : value.toFixed(digits);

/** One percentile of a distribution, "~"-marked when it rests on too few samples. */
const pct = (d: Distribution | null | undefined, key: "p50" | "p90" | "p99", digits = 1) =>
  d ? `${d.indicative ? "~" : ""}${d[key].toFixed(digits)}` : "—";

export const levelLabel = (a: LevelAggregate) =>
  a.offered_rate_per_s !== undefined ? `${a.offered_rate_per_s}/s` : String(a.concurrency);

export function planLine(report: BenchReport): string {
  const p = report.plan;
  const load = p.open_loop
    ? `open loop: ${p.open_loop.arrivals} Poisson arrivals at ${p.open_loop.rate_per_s}/s over ${p.open_loop.duration_s} s (seed ${p.open_loop.seed})`
    : `${p.requests_per_level ?? "max(3, 2 × concurrency)"} requests per level`;
  const tokens = (name: string) => {
    const count = p.prompt_tokens?.[name];
    return count === undefined ? name : `${name}: ${count === null ? "—" : Math.round(count)} prompt tokens`;
  };
  const cold = p.cold_prefix ? ", cold prefix (each request opens with its own first line)" : "";
  return `prompts ${p.prompt_set} (${p.prompts.map(tokens).join(", ")})${cold}, max_tokens ${p.max_tokens}${p.fixed_length ? " fixed length" : ""}, ${p.warmup} warm-up excluded, ${load}`;
}

/** Open loop: how late the arrivals left against their schedule (the client's own honesty). */
export function lagLines(report: BenchReport): string[] {
  return report.levels.flatMap(({ aggregate: a }) =>
    a.distributions.send_lag_ms
      ? [
          `open loop at ${levelLabel(a)}: ${a.attempted} arrivals sent ${pct(a.distributions.send_lag_ms, "p50")} ms (p50), ${pct(a.distributions.send_lag_ms, "p99")} ms (p99) after they were due`,
        ]
      : [],
  );
}

export function goodputLines(report: BenchReport): string[] {
  const slo = report.plan.slo;
  if (!slo) return [];
  const what = [
    ...(slo.ttft_ms !== undefined ? [`TTFT ≤ ${slo.ttft_ms} ms`] : []),
    ...(slo.decode_tok_s !== undefined ? [`decode ≥ ${slo.decode_tok_s} tok/s`] : []),
  ].join(" and ");
  return report.levels.flatMap(({ aggregate: a }) =>
    a.goodput
      ? [
          `goodput at ${a.offered_rate_per_s !== undefined ? `rate ${levelLabel(a)}` : `concurrency ${a.concurrency}`}: ${a.goodput.met} of ${a.goodput.started} requests met ${what} (${(a.goodput.share * 100).toFixed(1)}%, ${a.goodput.per_s} req/s)`,
        ]
      : [],
  );
}

export function renderBenchTable(report: BenchReport): string {
  if (report.agentic) return renderAgenticTable(report, report.agentic);
  const open = report.plan.mode === "open-loop";
  const header = [
    (open ? "rate" : "c").padStart(open ? 7 : 3),
    "ok/all".padStart(7),
    "in flight".padStart(9),
    "agg tok/s".padStart(10),
    "req/s".padStart(7),
    "TTFT p50".padStart(9),
    "TTFT p90".padStart(9),
    "decode tok/s p50".padStart(17),
    "ms/tok p50".padStart(11),
    "E2E p50".padStart(9),
    "gap p99".padStart(8),
    "tok/event".padStart(10),
  ].join(" ");
  const rows = report.levels.map(({ aggregate: a }) => {
    const d = a.distributions;
    return [
      levelLabel(a).padStart(open ? 7 : 3),
      `${a.completed}/${a.attempted}`.padStart(7),
      String(a.max_in_flight ?? "—").padStart(9),
      fmt(a.agg_out_tok_s, 2).padStart(10),
      fmt(a.req_per_s, 3).padStart(7),
      pct(d.ttft_ms, "p50").padStart(9),
      pct(d.ttft_ms, "p90").padStart(9),
      pct(d.decode_tok_s, "p50", 2).padStart(17),
      pct(d.decode_ms_per_token, "p50").padStart(11),
      pct(d.e2e_ms, "p50", 0).padStart(9),
      pct(d.inter_event_gap_ms, "p99").padStart(8),
      pct(d.tokens_per_event, "p50", 2).padStart(10),
    ].join(" ");
  });
  const indicative = report.levels.some((l) =>
    Object.values(l.aggregate.distributions).some((d) => d?.indicative),
  );
  const sources = new Set(report.levels.flatMap((l) => l.samples.map((s) => s.n_out_source ?? "none")));
  const lines = [
    `slmc-check bench → ${report.target.host}:${report.target.https_port}${report.target.path}${report.target.simulated ? " (SIMULATED appliance)" : ""}`,
    planLine(report),
    "",
    header,
    ...rows,
    "",
    `times in ms from t0 (request sent); N_out from ${[...sources].join(", ") || "—"}; ${report.stopped_because}${report.saturated_at ? `; saturates at concurrency ${report.saturated_at}` : ""}`,
    ...(indicative
      ? [
          `~ indicative: a percentile from fewer than ${INDICATIVE_BELOW} samples (run more requests for a stable figure)`,
        ]
      : []),
    ...lagLines(report),
    ...goodputLines(report),
    ...report.notes.map((n) => `note: ${n}`),
    ...report.findings.map((f) => `${f.level === "flag" ? "FLAG" : "warning"}: ${f.message}`),
    `definitions: slmc-check bench --help, and "definitions" in the JSON report`,
  ];
  return `${lines.join("\n")}\n`;
}
