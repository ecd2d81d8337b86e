// One self-contained HTML page (no script, no external resource: it opens offline and from a CI
// artifact store): the run's facts and notes, then one row per check with its message; evidence of a
// failed or errored check in a <details>. The fleet page (fleet.ts) reuses the sections.
import type { CheckResult, Report, Status } from "../core/check.ts";
import { runVerdict } from "../core/report.ts";

export function esc(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

export const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.pass{background:#d9f2d9}.fail{background:#f7c6c6}.error{background:#f3d3a6}
.skip{background:#f5f0c8}.none{color:#999}.unreachable{background:#ddd}.note{color:#8a5a00}
pre{white-space:pre-wrap;max-width:100em;font-size:12px}`;

export function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${STYLE}</style></head>
<body>
${body}
</body></html>
`;
}

const statusCell = (status: Status) => `<td class="${status}">${status.toUpperCase()}</td>`;

function checkRow(result: CheckResult): string {
  const evidence =
    result.status === "fail" || result.status === "error"
      ? `<details><summary>evidence</summary><pre>${esc(JSON.stringify(result.evidence, null, 2))}</pre></details>`
      : "";
  return `<tr>${statusCell(result.status)}<td>${esc(result.requirement)}</td><td>${esc(result.id)}</td><td>${esc(result.message)}${evidence}</td><td>${(result.duration_ms / 1000).toFixed(1)} s</td></tr>`;
}

/** The report's facts, notes and checks: the body of a single report's page, a host's section in a fleet page. */
export function reportSection(report: Report): string {
  const t = report.target;
  const s = report.summary;
  const verdict = runVerdict(report);
  return [
    `<p>https://${esc(t.host)}:${t.https_port} (http ${t.http_port}), user ${esc(t.user)}; TLS verification: ${esc(t.tls_verification)}${t.simulated ? "; <strong>SIMULATED target</strong>" : ""}</p>`,
    ...report.notes.map((note) => `<p class="note">note: ${esc(note)}</p>`),
    `<p><strong class="${verdict.ok ? "pass" : "fail"}">${esc(verdict.label)}</strong>: ${s.passed} passed, ${s.failed} failed, ${s.errored} errored, ${s.skipped} skipped${verdict.reason ? ` (${esc(verdict.reason)})` : ""}</p>`,
    "<table><tr><th>status</th><th>requirement</th><th>check</th><th>message</th><th>time</th></tr>",
    ...report.checks.map(checkRow),
    "</table>",
  ].join("\n");
}

export function renderHtml(report: Report): string {
  return page(
    `slmc-check ${report.tool.version}: ${report.target.host}`,
    `<h1>slmc-check ${esc(report.tool.version)}: ${esc(report.target.host)}</h1>
<p>${esc(report.started_at)} to ${esc(report.finished_at)}</p>
${reportSection(report)}`,
  );
}
