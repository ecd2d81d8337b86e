// One module per output format; this table is how the CLI finds them.
import type { Report } from "../core/check.ts";
import { renderJson } from "./json.ts";
import { renderJunit } from "./junit.ts";
import { COLOR, PLAIN, renderPretty } from "./pretty.ts";
import { renderTap } from "./tap.ts";

export const FORMATS = ["pretty", "tap", "junit", "json"] as const;
export type Format = (typeof FORMATS)[number];

export function render(format: Format, report: Report, options: { color: boolean }): string {
  switch (format) {
    case "json":
      return renderJson(report);
    case "tap":
      return renderTap(report);
    case "junit":
      return renderJunit(report);
    case "pretty":
      return renderPretty(report, options.color ? COLOR : PLAIN);
  }
}
