// JUnit XML as CI systems read it: one <testsuite> per slmc suite, one <testcase> per check.
import type { CheckResult, Report } from "../core/check.ts";

function xml(text: string): string {
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

const seconds = (ms: number) => (ms / 1000).toFixed(3);

function testcase(result: CheckResult): string {
  const open = `    <testcase classname="slmc-check.${xml(result.suite)}" name="${xml(`[${result.requirement}] ${result.id}: ${result.title}`)}" time="${seconds(result.duration_ms)}">`;
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

export function renderJunit(report: Report): string {
  const suites = [...new Set(report.checks.map((c) => c.suite))];
  const s = report.summary;
  const total = report.checks.reduce((sum, c) => sum + c.duration_ms, 0);
  const body = suites.map((suite) => {
    const checks = report.checks.filter((c) => c.suite === suite);
    const count = (status: string) => checks.filter((c) => c.status === status).length;
    const time = checks.reduce((sum, c) => sum + c.duration_ms, 0);
    return [
      `  <testsuite name="${xml(suite)}" tests="${checks.length}" failures="${count("fail")}" errors="${count("error")}" skipped="${count("skip")}" time="${seconds(time)}" timestamp="${report.started_at}" hostname="${xml(report.target.host)}">`,
      ...checks.map(testcase),
      "  </testsuite>",
    ].join("\n");
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="slmc-check ${xml(report.tool.version)}" tests="${report.checks.length}" failures="${s.failed}" errors="${s.errored}" skipped="${s.skipped}" time="${seconds(total)}">`,
    ...body,
    "</testsuites>",
    "",
  ].join("\n");
}
