// The benchmark as a terminal table: one row per concurrency level, then findings and notes.
import type { BenchReport } from "./report.ts";
import { renderAgenticTable } from "./agentic-report.ts";

const fmt = (value: number | null | undefined, digits = 1) =>
  value === null || value === undefined ? "—" : value.toFixed(digits);

export function renderBenchTable(report: BenchReport): string {
  if (report.agentic) return renderAgenticTable(report, report.agentic);
  const header = [
    "c".padStart(3),
    "ok/all".padStart(7),
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
      String(a.concurrency).padStart(3),
      `${a.completed}/${a.attempted}`.padStart(7),
      fmt(a.agg_out_tok_s, 2).padStart(10),
      fmt(a.req_per_s, 3).padStart(7),
      fmt(d.ttft_ms?.p50).padStart(9),
      fmt(d.ttft_ms?.p90).padStart(9),
      fmt(d.decode_tok_s?.p50, 2).padStart(17),
      fmt(d.decode_ms_per_token?.p50).padStart(11),
      fmt(d.e2e_ms?.p50, 0).padStart(9),
      fmt(d.inter_event_gap_ms?.p99).padStart(8),
      fmt(d.tokens_per_event?.p50, 2).padStart(10),
    ].join(" ");
  });
  const sources = new Set(report.levels.flatMap((l) => l.samples.map((s) => s.n_out_source ?? "none")));
  const lines = [
    `slmc-check bench → ${report.target.host}:${report.target.https_port}${report.target.path}${report.target.simulated ? " (SIMULATED appliance)" : ""}`,
    `prompts ${report.plan.prompt_set} (${report.plan.prompts.join(", ")}), max_tokens ${report.plan.max_tokens}${report.plan.fixed_length ? " fixed length" : ""}, ${report.plan.warmup} warm-up excluded, ${report.plan.requests_per_level} requests per level`,
    "",
    header,
    ...rows,
    "",
    `times in ms from t0 (request sent); N_out from ${[...sources].join(", ")}; ${report.stopped_because}${report.saturated_at ? `; saturates at concurrency ${report.saturated_at}` : ""}`,
    ...report.notes.map((n) => `note: ${n}`),
    ...report.findings.map((f) => `${f.level === "flag" ? "FLAG" : "warning"}: ${f.message}`),
    `definitions: slmc-check bench --help, and "definitions" in the JSON report`,
  ];
  return `${lines.join("\n")}\n`;
}
