// `slmc-check bench --compare old.json new.json`: the change of each headline metric per concurrency
// level, and whether it is a regression beyond the threshold (which makes the command exit 1).
import type { ComparableReport } from "./report.ts";

interface Headline {
  name: string;
  better: "higher" | "lower";
  read(level: ComparableReport["levels"][number]["aggregate"]): number | null;
}

const HEADLINES: Headline[] = [
  { name: "agg_out_tok_s", better: "higher", read: (a) => a.agg_out_tok_s },
  { name: "req_per_s", better: "higher", read: (a) => a.req_per_s },
  { name: "decode_tok_s p50", better: "higher", read: (a) => a.distributions.decode_tok_s?.p50 ?? null },
  { name: "ttft_ms p50", better: "lower", read: (a) => a.distributions.ttft_ms?.p50 ?? null },
  { name: "ttft_ms p90", better: "lower", read: (a) => a.distributions.ttft_ms?.p90 ?? null },
  { name: "e2e_ms p50", better: "lower", read: (a) => a.distributions.e2e_ms?.p50 ?? null },
  {
    name: "decode_ms_per_token p50",
    better: "lower",
    read: (a) => a.distributions.decode_ms_per_token?.p50 ?? null,
  },
];

export interface Change {
  concurrency: number;
  /** Open-loop levels are matched by their arrival rate, not their concurrency (0). */
  offered_rate_per_s?: number;
  metric: string;
  before: number | null;
  after: number | null;
  change_pct: number | null;
  regression: boolean;
}

export function compareReports(
  before: ComparableReport,
  after: ComparableReport,
  thresholdPct: number,
): Change[] {
  const changes: Change[] = [];
  for (const level of before.levels) {
    const { concurrency, offered_rate_per_s: rate } = level.aggregate;
    const match = after.levels.find(
      (l) => l.aggregate.concurrency === concurrency && l.aggregate.offered_rate_per_s === rate,
    );
    for (const headline of HEADLINES) {
      const was = headline.read(level.aggregate);
      const now = match ? headline.read(match.aggregate) : null;
      const change = was !== null && now !== null && was !== 0 ? (100 * (now - was)) / was : null;
      const worse = change !== null && (headline.better === "higher" ? -change : change);
      changes.push({
        concurrency,
        ...(rate !== undefined ? { offered_rate_per_s: rate } : {}),
        metric: headline.name,
        before: was,
        after: now,
        change_pct: change === null ? null : Math.round(change * 10) / 10,
        // A level that vanished or lost a metric counts as a regression: it cannot be shown not to be one.
        regression: (was !== null && now === null) || (worse !== false && worse > thresholdPct),
      });
    }
  }
  return changes;
}

export function renderComparison(changes: Change[], thresholdPct: number, names: [string, string]): string {
  const lines = [
    `bench comparison: ${names[0]} → ${names[1]} (regression: worse by more than ${thresholdPct}%)`,
    "",
    `${"c".padStart(3)}  ${"metric".padEnd(24)} ${"before".padStart(12)} ${"after".padStart(12)} ${"change".padStart(9)}`,
  ];
  for (const c of changes)
    lines.push(
      `${(c.offered_rate_per_s !== undefined ? `${c.offered_rate_per_s}/s` : String(c.concurrency)).padStart(3)}  ${c.metric.padEnd(24)} ${String(c.before ?? "—").padStart(12)} ${String(c.after ?? "—").padStart(12)} ${(c.change_pct === null ? "—" : `${c.change_pct > 0 ? "+" : ""}${c.change_pct}%`).padStart(9)}${c.regression ? "  REGRESSION" : ""}`,
    );
  const regressions = changes.filter((c) => c.regression).length;
  lines.push("", regressions ? `${regressions} regression(s)` : "no regression");
  return `${lines.join("\n")}\n`;
}
