import type { Report } from "../core/check.ts";

export function renderJson(report: Report): string {
  return JSON.stringify(report, null, 2) + "\n";
}
