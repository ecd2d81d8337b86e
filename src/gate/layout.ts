// Where each piece of evidence sits in a gate bundle. The verdict's evidence pointers name these
// paths, so evaluate.ts (which writes no file) and bundle.ts (which writes them) share one table.
import type { BenchReport } from "../bench/report.ts";

export const BUNDLE = {
  verdictJson: "verdict.json",
  verdictMd: "verdict.md",
  checksJson: "checks/report.json",
  checksJunit: "checks/report.junit.xml",
  checksTap: "checks/report.tap",
  rebootJson: "reboot/report.json",
  soakJson: "soak/report.json",
  soakTimeline: "soak/timeline.json",
  policy: "policy.json",
  versions: "versions.json",
  buildRecord: "target/build-record.json",
  buildManifest: "image/manifest.json",
  sums: "SHA256SUMS",
  signature: "SHA256SUMS.sig",
} as const;

/** One file per bench run, numbered in the order given, named by its prompt set. */
export function benchFile(report: Pick<BenchReport, "plan">, index: number, ext: "json" | "html"): string {
  const set = report.plan.prompt_set.replace(/[^a-z0-9-]/gi, "_");
  return `bench/${index + 1}-${set}.${ext}`;
}

/** RFC 6901: a JSON pointer from path segments. */
export function jsonPointer(...segments: (string | number)[]): string {
  return segments.map((s) => "/" + String(s).replace(/~/g, "~0").replace(/\//g, "~1")).join("");
}

/** Follows an RFC 6901 pointer into a parsed JSON value; undefined when it leads nowhere. */
export function resolvePointer(value: unknown, pointer: string): unknown {
  if (pointer === "") return value;
  let current = value;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (typeof current !== "object" || current === null || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
