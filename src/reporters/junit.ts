// JUnit XML as CI systems read it: one <testsuite> per slmc suite, one <testcase> per check. Every
// testsuite carries the run's facts as <properties> and its notes (simulated target, --insecure,
// injected defects, a stand-in engine) in <system-out>, where CI shows them beside the results.
import type { CheckResult, Report } from "../core/check.ts";

export function xml(text: string): string {
  return (
    text
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      // XML 1.0 forbids most control characters even when escaped.
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "")
  );
}

export const seconds = (ms: number) => (ms / 1000).toFixed(3);

/** `prefix` qualifies the class name (a fleet host's name). */
export function testcase(result: CheckResult, prefix = ""): string {
  const open = `    <testcase classname="slmc-check.${xml(prefix)}${xml(result.suite)}" name="${xml(`[${result.requirement}] ${result.id}: ${result.title}`)}" time="${seconds(result.duration_ms)}">`;
  const evidence = xml(JSON.stringify(result.evidence, null, 2));
  const inner =
    result.status === "fail"
      ? `      <failure message="${xml(result.message)}" type="${xml(result.requirement)}">${evidence}</failure>`
      : result.status === "error"
        ? `      <error message="${xml(result.message)}" type="observation-error">${evidence}</error>`
        : result.status === "skip"
          ? `      <skipped message="${xml(result.message)}"/>`
          : `      <system-out>${xml(result.message)}</system-out>`;
  return `${open}\n${inner}\n    </testcase>`;
}

/** The run's facts, the same in every testsuite (CI tools show a testsuite's properties on their own). */
function properties(report: Report): string[] {
  const t = report.target;
  const entries: [string, string][] = [
    ["slmc-check.version", report.tool.version],
    ["target.host", t.host],
    ["target.https_port", String(t.https_port)],
    ["target.tls_verification", t.tls_verification],
    ["target.simulated", String(t.simulated)],
    ["started_at", report.started_at],
    ["finished_at", report.finished_at],
    ...(report.interrupted ? ([["interrupted", "true"]] as [string, string][]) : []),
    ...report.notes.map((note, i): [string, string] => [`note.${i + 1}`, note]),
  ];
  return [
    "    <properties>",
    ...entries.map(([name, value]) => `      <property name="${xml(name)}" value="${xml(value)}"/>`),
    "    </properties>",
  ];
}

function systemOut(report: Report): string[] {
  const lines = [
    `TLS verification: ${report.target.tls_verification}`,
    ...(report.target.simulated ? ["SIMULATED target: not a real appliance"] : []),
    ...report.notes.map((note) => `note: ${note}`),
  ];
  return [`    <system-out>${xml(lines.join("\n"))}</system-out>`];
}

export function renderJunit(report: Report): string {
  const suites = [...new Set(report.checks.map((c) => c.suite))];
  const s = report.summary;
  const total = report.checks.reduce((sum, c) => sum + c.duration_ms, 0);
  const head = (name: string, checks: CheckResult[]) => {
    const count = (status: string) => checks.filter((c) => c.status === status).length;
    const time = checks.reduce((sum, c) => sum + c.duration_ms, 0);
    return `  <testsuite name="${xml(name)}" tests="${checks.length}" failures="${count("fail")}" errors="${count("error")}" skipped="${count("skip")}" time="${seconds(time)}" timestamp="${report.started_at}" hostname="${xml(report.target.host)}">`;
  };
  const body = suites.map((suite) => {
    const checks = report.checks.filter((c) => c.suite === suite);
    return [
      head(suite, checks),
      ...properties(report),
      ...checks.map((c) => testcase(c)),
      ...systemOut(report),
      "  </testsuite>",
    ].join("\n");
  });
  // No check ran (everything filtered out, or interrupted at once): the notes still need a home.
  if (!body.length)
    body.push(
      [head("slmc-check", []), ...properties(report), ...systemOut(report), "  </testsuite>"].join("\n"),
    );
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="slmc-check ${xml(report.tool.version)}" tests="${report.checks.length}" failures="${s.failed}" errors="${s.errored}" skipped="${s.skipped}" time="${seconds(total)}">`,
    ...body,
    "</testsuites>",
    "",
  ].join("\n");
}
