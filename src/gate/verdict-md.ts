// verdict.md: the gate's verdict for people. One table, failing clauses first, then what to fix for
// each failure; the same clauses, values and evidence pointers as verdict.json.
import type { Clause, Verdict } from "./evaluate.ts";

/** A table cell: no pipe or line break may end it early. */
function cell(value: unknown): string {
  const text = value === null || value === undefined ? "—" : String(value);
  return text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ").replace(/`/g, "'");
}

const RANK = (c: Clause) => (c.status === "fail" ? (c.required ? 0 : 1) : c.status === "waived" ? 2 : 3);

const LABEL = (c: Clause) =>
  c.status === "fail"
    ? c.required
      ? "**FAIL**"
      : "fail (not required)"
    : c.status === "waived"
      ? "waived"
      : "pass";

const pointer = (c: Clause) =>
  c.evidence ? `\`${c.evidence.file}${c.evidence.pointer ? `#${c.evidence.pointer}` : ""}\`` : "missing";

export function sortClauses(clauses: readonly Clause[]): Clause[] {
  return clauses
    .map((c, i) => ({ c, i }))
    .sort((a, b) => RANK(a.c) - RANK(b.c) || a.i - b.i)
    .map(({ c }) => c);
}

export function renderVerdictMarkdown(verdict: Verdict): string {
  const s = verdict.summary;
  const out = [
    `# Gate verdict: ${verdict.passed ? "PASS" : "FAIL"}`,
    "",
    `Policy **${cell(verdict.policy.name)}**${verdict.policy.sources.length ? ` (${verdict.policy.sources.map((p) => `\`${cell(p)}\``).join(" extending ")})` : ""}, target ${cell(verdict.target.host)}.`,
    "",
  ];
  if (verdict.target.stand_in)
    out.push(`> **Lab stand-in, not a release target:** ${cell(verdict.target.stand_in)}`, "");
  out.push(
    verdict.image
      ? `Image: \`${cell(verdict.image.file)}\` sha256 \`${cell(verdict.image.sha256)}\` (build ${cell(verdict.image.build_id)}, version ${cell(verdict.image.version)}).`
      : "Image: not identified (no build record whose build id matches a build manifest).",
    "",
  );
  if (verdict.target.simulated)
    out.push("> **Simulated:** some evidence comes from the simulated appliance, not a VM.", "");
  out.push(
    `${s.passed} passed, ${s.failed} failed (${s.failed_required} required), ${s.waived} waived, of ${s.clauses} clauses.`,
    "",
    "| Status | Clause | Measured | Threshold | Evidence |",
    "| ------ | ------ | -------- | --------- | -------- |",
    ...sortClauses(verdict.clauses).map(
      (c) =>
        `| ${LABEL(c)} | ${cell(c.id)}: ${cell(c.title)} | ${cell(c.measured)} | ${cell(c.threshold)} | ${pointer(c)} |`,
    ),
    "",
  );
  const failures = sortClauses(verdict.clauses).filter((c) => c.status === "fail");
  if (failures.length) {
    out.push("## What to fix", "");
    for (const c of failures)
      out.push(`- **${cell(c.id)}**${c.required ? "" : " (not required)"}: ${cell(c.message)}`);
    out.push("");
  }
  const waived = verdict.clauses.filter((c) => c.status === "waived");
  if (waived.length) {
    out.push("## Waived", "");
    for (const c of waived) out.push(`- **${cell(c.id)}**: ${cell(c.message)}`);
    out.push("");
  }
  return out.join("\n");
}
