// MON-02: the Grafana dashboard (dashboards/slm-copilot.grafana.json) may query only series the
// appliance documents (src/probes/metrics-series.ts, the list the metrics checks use): every PromQL
// expression of every panel and template variable is reduced to the metric names it reads.
import { knownSeries } from "../src/probes/metrics-series.ts";

/** PromQL functions and aggregations the dashboard may call. */
const FUNCTIONS = new Set([
  "sum",
  "avg",
  "min",
  "max",
  "count",
  "topk",
  "bottomk",
  "quantile",
  "rate",
  "irate",
  "increase",
  "delta",
  "deriv",
  "histogram_quantile",
  "clamp_min",
  "clamp_max",
  "abs",
  "round",
  "time",
  "timestamp",
  "max_over_time",
  "min_over_time",
  "avg_over_time",
  "absent",
  "vector",
  "scalar",
  "label_values",
]);
const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "and",
  "or",
  "unless",
  "offset",
]);

/** The metric names a PromQL expression reads, or why it cannot be read. */
export function promqlSeries(expr: string): { series: string[]; problems: string[] } {
  const problems: string[] = [];
  let text = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  if (/["']/.test(text.replace(/""/g, ""))) problems.push("an unterminated string");
  // Label matchers, ranges and subqueries, grouping clauses, Grafana variables, and the label that
  // Grafana's label_values(series, label) names.
  text = text
    .replace(/\blabel_values\(([^()]*?),\s*\w+\s*\)/g, "label_values($1)")
    .replace(/\{[^{}]*\}/g, " ")
    .replace(/\[[^[\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)/g, " ")
    .replace(/\$\{?\w+\}?/g, " ");
  if (/[{}[\]]/.test(text)) problems.push("unbalanced { } or [ ]");
  const series = new Set<string>();
  for (const match of text.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?/g)) {
    const name = match[0].replace(/\s*\($/, "");
    const before = text[match.index - 1];
    if (before !== undefined && /[0-9.]/.test(before)) continue; // 1e3, 0.5
    if (KEYWORDS.has(name)) continue;
    if (match[1]) {
      if (!FUNCTIONS.has(name)) problems.push(`unknown function ${name}()`);
      continue;
    }
    if (/^(Inf|NaN)$/i.test(name)) continue;
    series.add(name);
  }
  return { series: [...series], problems };
}

interface Target {
  expr?: unknown;
}
interface Panel {
  id?: unknown;
  title?: unknown;
  type?: unknown;
  targets?: Target[];
  panels?: Panel[];
}

/** Every problem of a parsed dashboard, each naming its panel; empty when it is valid. */
export function dashboardIssues(value: unknown): string[] {
  const known = knownSeries();
  const issues: string[] = [];
  if (typeof value !== "object" || value === null) return ["not a JSON object"];
  const dashboard = value as {
    title?: unknown;
    uid?: unknown;
    panels?: unknown;
    templating?: { list?: unknown };
  };
  if (typeof dashboard.title !== "string" || !dashboard.title) issues.push("no title");
  if (typeof dashboard.uid !== "string" || !dashboard.uid)
    issues.push("no uid (Grafana would make a new dashboard on every import)");
  if (!Array.isArray(dashboard.panels) || dashboard.panels.length === 0) return [...issues, "no panels"];
  const check = (where: string, expr: unknown) => {
    if (typeof expr !== "string" || !expr.trim()) {
      issues.push(`${where}: no PromQL expr`);
      return;
    }
    const { series, problems } = promqlSeries(expr);
    for (const problem of problems) issues.push(`${where}: ${problem} in ${expr}`);
    if (series.length === 0) issues.push(`${where}: queries no series: ${expr}`);
    for (const name of series)
      if (!known.has(name))
        issues.push(
          `${where}: ${name} is not a series the appliance documents (src/probes/metrics-series.ts METRIC_SERIES): ${expr}`,
        );
  };
  const walk = (panels: Panel[]) => {
    for (const panel of panels) {
      const where = `panel ${String(panel.id ?? "?")} "${String(panel.title ?? "")}"`;
      if (panel.type === "row") {
        walk(panel.panels ?? []);
        continue;
      }
      if (!Array.isArray(panel.targets) || panel.targets.length === 0) {
        issues.push(`${where}: no queries`);
        continue;
      }
      panel.targets.forEach((target, index) => check(`${where} query ${index + 1}`, target.expr));
    }
  };
  walk(dashboard.panels as Panel[]);
  const variables = Array.isArray(dashboard.templating?.list) ? dashboard.templating.list : [];
  for (const variable of variables as { name?: unknown; type?: unknown; query?: unknown }[]) {
    if (variable.type !== "query") continue;
    const query =
      typeof variable.query === "object" && variable.query
        ? (variable.query as { query?: unknown }).query
        : variable.query;
    check(`variable $${String(variable.name)}`, query);
  }
  return issues;
}
