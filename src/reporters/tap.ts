// TAP version 14: one test point per check; failures and errors carry a YAML diagnostic block. The run's
// facts and notes (TLS verification, a simulated target, injected defects, stand-ins) are comment lines
// before the plan, one `# note:` per note line, so a TAP consumer's log keeps them.
import { runVerdict } from "../core/report.ts";
import type { CheckResult, Report } from "../core/check.ts";

function yamlScalar(value: unknown): string {
  return JSON.stringify(value) ?? "null";
}

function diagnostic(result: CheckResult): string {
  const lines = [
    "  ---",
    `  message: ${yamlScalar(result.message)}`,
    `  severity: ${result.status === "error" ? "error" : "fail"}`,
    `  requirement: ${result.requirement}`,
    `  duration_ms: ${result.duration_ms}`,
    // JSON is valid YAML (flow style), so evidence stays exact and machine-readable.
    `  evidence: ${JSON.stringify(result.evidence)}`,
    "  ...",
  ];
  return lines.join("\n");
}

function escapeDescription(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/#/g, "\\#");
}

export function renderTap(report: Report): string {
  const t = report.target;
  const out = [
    "TAP version 14",
    `# slmc-check ${report.tool.version} against https://${t.host}:${t.https_port}`,
    `# TLS verification: ${t.tls_verification}`,
  ];
  if (t.simulated) out.push("# note: SIMULATED target: not a real appliance");
  // A note spanning lines would end the comment at its first newline and corrupt the stream.
  for (const note of report.notes) out.push(...note.split(/\r?\n/).map((line) => `# note: ${line}`));
  out.push(`1..${report.checks.length}`);
  report.checks.forEach((result, index) => {
    const description = escapeDescription(`[${result.requirement}] ${result.id}: ${result.title}`);
    if (result.status === "skip") out.push(`ok ${index + 1} - ${description} # SKIP ${result.message}`);
    else if (result.status === "pass") out.push(`ok ${index + 1} - ${description}`);
    else out.push(`not ok ${index + 1} - ${description}`, diagnostic(result));
  });
  const s = report.summary;
  out.push(`# passed ${s.passed}, failed ${s.failed}, errored ${s.errored}, skipped ${s.skipped}`);
  const verdict = runVerdict(report);
  if (verdict.reason) out.push(`# ${verdict.label}: ${verdict.reason.replace(/\r?\n/g, " ")}`);
  return out.join("\n") + "\n";
}
