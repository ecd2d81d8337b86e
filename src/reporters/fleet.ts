// `slmc-check fleet`: many hosts' reports as one matrix (host × requirement, each cell the worst
// status of that host's checks for the requirement), zone subtotals, and each host's full report.
// Rendered as pretty text, JSON, JUnit (one testsuite per host), TAP or one HTML page.
import type { CheckResult, Report, Status } from "../core/check.ts";
import { runVerdict } from "../core/report.ts";
import { esc, page, reportSection } from "./html.ts";
import type { Format } from "./index.ts";
import { seconds, testcase, xml } from "./junit.ts";
import type { Style } from "./pretty.ts";

export type HostVerdict = "pass" | "fail" | "unreachable";

export interface FleetHost {
  name: string;
  zone: string;
  host: string;
  verdict: HostVerdict;
  duration_ms: number;
  /** Requirement id → the worst status of this host's checks for it; absent: no check of it ran. */
  cells: Record<string, Status>;
  report: Report;
  /** With --gate: the host's gate verdict; the host passes when the gate does. */
  gate?: HostGate;
}

export interface HostGate {
  policy: string;
  passed: boolean;
  bundle: string;
  summary: { clauses: number; passed: number; failed: number; waived: number; failed_required: number };
  /** The required clauses that failed, each with what to fix. */
  failed: { id: string; message: string }[];
}

export interface ZoneTotal {
  zone: string;
  hosts: number;
  pass: number;
  fail: number;
  unreachable: number;
}

export interface FleetReport {
  tool: { name: string; version: string };
  inventory: string;
  parallel: number;
  started_at: string;
  finished_at: string;
  /** The matrix's columns, in the order the checks ran. */
  requirements: string[];
  hosts: FleetHost[];
  zones: ZoneTotal[];
  summary: { hosts: number; pass: number; fail: number; unreachable: number };
}

/** Worst first: a defect found, then an observation that failed, then a skip. */
const SEVERITY: Record<Status, number> = { pass: 0, skip: 1, error: 2, fail: 3 };

/** Requirements the matrix leaves out: the run's own steps, not the appliance's requirements. */
const NOT_REQUIREMENTS = new Set(["preflight", "fleet"]);

export function cellsOf(checks: CheckResult[]): Record<string, Status> {
  const cells: Record<string, Status> = {};
  for (const check of checks) {
    if (NOT_REQUIREMENTS.has(check.requirement)) continue;
    const now = cells[check.requirement];
    if (now === undefined || SEVERITY[check.status] > SEVERITY[now]) cells[check.requirement] = check.status;
  }
  return cells;
}

export function hostVerdict(report: Report, unreachable: boolean): HostVerdict {
  if (unreachable) return "unreachable";
  return runVerdict(report).ok ? "pass" : "fail";
}

export function buildFleetReport(input: {
  version: string;
  inventory: string;
  parallel: number;
  startedAt: Date;
  finishedAt: Date;
  hosts: Omit<FleetHost, "cells">[];
}): FleetReport {
  const hosts = input.hosts.map((h) => ({ ...h, cells: cellsOf(h.report.checks) }));
  const requirements = [
    ...new Set(
      hosts.flatMap((h) => h.report.checks.map((c) => c.requirement).filter((r) => !NOT_REQUIREMENTS.has(r))),
    ),
  ];
  const count = (list: FleetHost[], verdict: HostVerdict) => list.filter((h) => h.verdict === verdict).length;
  const zones = [...new Set(hosts.map((h) => h.zone))].map((zone) => {
    const inZone = hosts.filter((h) => h.zone === zone);
    return {
      zone,
      hosts: inZone.length,
      pass: count(inZone, "pass"),
      fail: count(inZone, "fail"),
      unreachable: count(inZone, "unreachable"),
    };
  });
  return {
    tool: { name: "slmc-check", version: input.version },
    inventory: input.inventory,
    parallel: input.parallel,
    started_at: input.startedAt.toISOString(),
    finished_at: input.finishedAt.toISOString(),
    requirements,
    hosts,
    zones,
    summary: {
      hosts: hosts.length,
      pass: count(hosts, "pass"),
      fail: count(hosts, "fail"),
      unreachable: count(hosts, "unreachable"),
    },
  };
}

/** "FLEET PASS" only when every host passed. */
export function fleetLabel(fleet: FleetReport): string {
  const s = fleet.summary;
  return s.pass === s.hosts ? "FLEET PASS" : "FLEET FAIL";
}

const CELL_TEXT: Record<Status, string> = { pass: "PASS", fail: "FAIL", error: "ERROR", skip: "SKIP" };

function renderPretty(fleet: FleetReport, style: Style): string {
  const paint = (status: Status | undefined, text: string) =>
    status === "pass"
      ? style.green(text)
      : status === "fail" || status === "error"
        ? style.red(text)
        : status === "skip"
          ? style.yellow(text)
          : style.dim(text);
  const first = Math.max(11, ...fleet.requirements.map((r) => r.length)) + 2;
  const widths = fleet.hosts.map((h) => Math.max(11, h.name.length, h.zone.length) + 2);
  const row = (head: string, cells: string[], raw: string[]) =>
    head.padEnd(first) + cells.map((cell, i) => cell + " ".repeat(widths[i]! - raw[i]!.length)).join("");
  const zones = fleet.hosts.map((h) => h.zone);
  const names = fleet.hosts.map((h) => h.name);
  const verdicts = fleet.hosts.map((h) => h.verdict.toUpperCase());
  const out = [
    style.bold(
      `slmc-check ${fleet.tool.version} fleet: ${fleet.inventory}, ${fleet.summary.hosts} host(s), ${fleet.parallel} at a time`,
    ),
    "",
    row("zone", zones.map(style.dim), zones),
    row("host", names.map(style.bold), names),
    ...fleet.requirements.map((req) => {
      const raw = fleet.hosts.map((h) => {
        const cell = h.cells[req];
        return cell ? CELL_TEXT[cell] : "—";
      });
      return row(
        req,
        raw.map((text, i) => paint(fleet.hosts[i]!.cells[req], text)),
        raw,
      );
    }),
    row(
      "verdict",
      verdicts.map((text, i) => (fleet.hosts[i]!.verdict === "pass" ? style.green(text) : style.red(text))),
      verdicts,
    ),
    "",
    "Zones:",
    ...fleet.zones.map(
      (z) => `  ${z.zone}: ${z.hosts} host(s): ${z.pass} pass, ${z.fail} fail, ${z.unreachable} unreachable`,
    ),
  ];
  const problems = fleet.hosts.filter((h) => h.verdict !== "pass");
  if (problems.length) {
    out.push("", "Hosts that did not pass:");
    for (const host of problems) {
      const t = host.report.target;
      out.push(
        `  ${style.bold(host.name)} (zone ${host.zone}, ${t.host}:${t.https_port}): ${host.verdict.toUpperCase()}`,
      );
      for (const clause of host.gate?.failed ?? [])
        out.push(`    ${style.red("GATE")} ${clause.id}: ${clause.message}`);
      const bad = host.report.checks.filter((c) => c.status === "fail" || c.status === "error");
      for (const c of bad)
        out.push(`    ${style.red(CELL_TEXT[c.status])} ${c.requirement} ${c.id}: ${c.message}`);
      if (!bad.length && !host.gate)
        out.push(`    ${runVerdict(host.report).label}: ${runVerdict(host.report).reason}`);
    }
  }
  const s = fleet.summary;
  const label = fleetLabel(fleet);
  out.push(
    "",
    `${label === "FLEET PASS" ? style.green(label) : style.red(label)}: ${s.pass} of ${s.hosts} host(s) pass, ${s.fail} fail, ${s.unreachable} unreachable`,
  );
  return out.join("\n") + "\n";
}

function renderJunit(fleet: FleetReport): string {
  const all = fleet.hosts.flatMap((h) => h.report.checks);
  const count = (checks: CheckResult[], status: Status) => checks.filter((c) => c.status === status).length;
  const time = (checks: CheckResult[]) => seconds(checks.reduce((sum, c) => sum + c.duration_ms, 0));
  const suites = fleet.hosts.map((host) => {
    const checks = host.report.checks;
    const properties: [string, string][] = [
      ["zone", host.zone],
      ["verdict", host.verdict],
      ["target.host", host.report.target.host],
      ["target.https_port", String(host.report.target.https_port)],
      ["target.tls_verification", host.report.target.tls_verification],
      ...host.report.notes.map((note, i): [string, string] => [`note.${i + 1}`, note]),
    ];
    return [
      `  <testsuite name="${xml(host.name)}" tests="${checks.length}" failures="${count(checks, "fail")}" errors="${count(checks, "error")}" skipped="${count(checks, "skip")}" time="${time(checks)}" timestamp="${host.report.started_at}" hostname="${xml(host.report.target.host)}">`,
      "    <properties>",
      ...properties.map(([name, value]) => `      <property name="${xml(name)}" value="${xml(value)}"/>`),
      "    </properties>",
      ...checks.map((c) => testcase(c, `${host.name}.`)),
      "  </testsuite>",
    ].join("\n");
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="slmc-check ${xml(fleet.tool.version)} fleet ${xml(fleet.inventory)}" tests="${all.length}" failures="${count(all, "fail")}" errors="${count(all, "error")}" skipped="${count(all, "skip")}" time="${time(all)}">`,
    ...suites,
    "</testsuites>",
    "",
  ].join("\n");
}

function renderTap(fleet: FleetReport): string {
  const points = fleet.hosts.flatMap((host) => host.report.checks.map((check) => ({ host, check })));
  const out = [
    "TAP version 14",
    `# slmc-check ${fleet.tool.version} fleet ${fleet.inventory}`,
    `1..${points.length}`,
  ];
  points.forEach(({ host, check }, index) => {
    const description = `${host.name}: [${check.requirement}] ${check.id}: ${check.title}`
      .replace(/\\/g, "\\\\")
      .replace(/#/g, "\\#");
    if (check.status === "skip")
      out.push(`ok ${index + 1} - ${description} # SKIP ${check.message.replace(/\r?\n/g, " ")}`);
    else if (check.status === "pass") out.push(`ok ${index + 1} - ${description}`);
    else
      out.push(
        `not ok ${index + 1} - ${description}`,
        "  ---",
        `  message: ${JSON.stringify(check.message)}`,
        `  host: ${JSON.stringify(host.name)}`,
        `  zone: ${JSON.stringify(host.zone)}`,
        "  ...",
      );
  });
  const s = fleet.summary;
  out.push(
    `# ${fleetLabel(fleet)}: ${s.pass} of ${s.hosts} host(s) pass, ${s.fail} fail, ${s.unreachable} unreachable`,
  );
  return out.join("\n") + "\n";
}

function renderHtml(fleet: FleetReport): string {
  const head = `<tr><th>requirement</th>${fleet.hosts.map((h) => `<th>${esc(h.name)}<br><small>${esc(h.zone)}</small></th>`).join("")}</tr>`;
  const rows = fleet.requirements.map(
    (req) =>
      `<tr><th>${esc(req)}</th>${fleet.hosts
        .map((h) => {
          const cell = h.cells[req];
          return cell ? `<td class="${cell}">${CELL_TEXT[cell]}</td>` : `<td class="none">—</td>`;
        })
        .join("")}</tr>`,
  );
  const verdicts = `<tr><th>verdict</th>${fleet.hosts.map((h) => `<td class="${h.verdict}">${h.verdict.toUpperCase()}</td>`).join("")}</tr>`;
  const zones = fleet.zones.map(
    (z) =>
      `<tr><td>${esc(z.zone)}</td><td>${z.hosts}</td><td>${z.pass}</td><td>${z.fail}</td><td>${z.unreachable}</td></tr>`,
  );
  const s = fleet.summary;
  const sections = fleet.hosts.map(
    (h) =>
      `<details${h.verdict === "pass" ? "" : " open"} id="host-${esc(h.name)}"><summary><strong>${esc(h.name)}</strong> (zone ${esc(h.zone)}): <span class="${h.verdict}">${h.verdict.toUpperCase()}</span></summary>\n${reportSection(h.report)}\n</details>`,
  );
  return page(
    `slmc-check fleet: ${fleet.inventory}`,
    [
      `<h1>slmc-check ${esc(fleet.tool.version)} fleet: ${esc(fleet.inventory)}</h1>`,
      `<p>${esc(fleet.started_at)} to ${esc(fleet.finished_at)}, ${fleet.parallel} host(s) at a time</p>`,
      `<p><strong class="${s.pass === s.hosts ? "pass" : "fail"}">${fleetLabel(fleet)}</strong>: ${s.pass} of ${s.hosts} host(s) pass, ${s.fail} fail, ${s.unreachable} unreachable</p>`,
      `<table id="matrix">${head}\n${rows.join("\n")}\n${verdicts}</table>`,
      "<h2>Zones</h2>",
      `<table id="zones"><tr><th>zone</th><th>hosts</th><th>pass</th><th>fail</th><th>unreachable</th></tr>\n${zones.join("\n")}</table>`,
      "<h2>Hosts</h2>",
      ...sections,
    ].join("\n"),
  );
}

export function renderFleet(format: Format, fleet: FleetReport, options: { style: Style }): string {
  switch (format) {
    case "json":
      return JSON.stringify(fleet, null, 2) + "\n";
    case "junit":
      return renderJunit(fleet);
    case "tap":
      return renderTap(fleet);
    case "html":
      return renderHtml(fleet);
    case "pretty":
      return renderPretty(fleet, options.style);
  }
}
