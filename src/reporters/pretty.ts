// Human-readable report: grouped by suite, one line per check, evidence for what went wrong.
import type { CheckResult, Report } from "../core/check.ts";
import { runVerdict } from "../core/report.ts";

export interface Style {
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

const paint = (code: number) => (text: string) => `\u001b[${code}m${text}\u001b[0m`;
export const COLOR: Style = {
  green: paint(32),
  red: paint(31),
  yellow: paint(33),
  dim: paint(2),
  bold: paint(1),
};
const identity = (text: string) => text;
export const PLAIN: Style = {
  green: identity,
  red: identity,
  yellow: identity,
  dim: identity,
  bold: identity,
};

const SYMBOL = { pass: "✓", fail: "✗", error: "!", skip: "-" } as const;

export function resultLine(result: CheckResult, style: Style): string {
  const color = { pass: style.green, fail: style.red, error: style.red, skip: style.yellow }[result.status];
  const time = style.dim(`${(result.duration_ms / 1000).toFixed(1)}s`);
  return `  ${color(SYMBOL[result.status])} ${style.dim(result.requirement.padEnd(8))} ${result.id.padEnd(36)} ${result.message} ${time}`;
}

export function evidenceLines(result: CheckResult): string[] {
  const text = JSON.stringify(result.evidence);
  return [
    `      evidence: ${text.length > 600 ? `${text.slice(0, 600)}… (full evidence: --format json)` : text}`,
  ];
}

export function renderPrettyHeader(report: Pick<Report, "tool" | "target" | "notes">, style: Style): string {
  const t = report.target;
  const lines = [
    style.bold(`slmc-check ${report.tool.version}`) +
      ` → https://${t.host}:${t.https_port} (http ${t.http_port}), user ${t.user}`,
    style.dim(`TLS verification: ${t.tls_verification}`),
    ...report.notes.map((note) => style.yellow(`note: ${note}`)),
  ];
  return lines.join("\n") + "\n";
}

export function renderPrettyBody(checks: CheckResult[], style: Style): string {
  const out: string[] = [];
  let suite = "";
  for (const result of checks) {
    if (result.suite !== suite) {
      suite = result.suite;
      out.push(style.bold(suite));
    }
    out.push(resultLine(result, style));
    if (result.status === "fail" || result.status === "error")
      out.push(...evidenceLines(result).map(style.dim));
  }
  return out.length ? out.join("\n") + "\n" : "";
}

export function renderPrettySummary(report: Report, style: Style): string {
  const s = report.summary;
  const run = runVerdict(report);
  const verdict = run.ok ? style.green(run.label) : style.red(run.label);
  if (run.reason)
    return `\n${verdict}: ${run.reason}\n${s.passed} passed, ${s.failed} failed, ${s.errored} errored, ${s.skipped} skipped\n`;
  const skipped = s.skipped ? style.yellow(`, ${s.skipped} skipped (skips do not fail the run)`) : "";
  return `\n${verdict}: ${s.passed} passed, ${s.failed} failed, ${s.errored} errored${skipped}\n`;
}

export function renderPretty(report: Report, style: Style): string {
  return (
    renderPrettyHeader(report, style) +
    renderPrettyBody(report.checks, style) +
    renderPrettySummary(report, style)
  );
}
