// One module per output format; this table is how the CLI finds them.
import type { Report } from "../core/check.ts";
import { renderHtml } from "./html.ts";
import { renderJson } from "./json.ts";
import { renderJunit } from "./junit.ts";
import { COLOR, PLAIN, renderPretty } from "./pretty.ts";
import { renderTap } from "./tap.ts";

export const FORMATS = ["pretty", "tap", "junit", "json", "html"] as const;
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
    case "html":
      return renderHtml(report);
  }
}

/** One report written somewhere in one format (a `--report FORMAT:FILE`, a gate bundle's file). */
export interface ReportOutput {
  format: Format;
  file: string;
}

/** Parses `FORMAT:FILE` (`junit:out/slmc.xml`); the message names the spec and what is wrong. */
export function parseReportOutput(spec: string): ReportOutput {
  const colon = spec.indexOf(":");
  const format = colon < 0 ? spec : spec.slice(0, colon);
  const file = colon < 0 ? "" : spec.slice(colon + 1);
  if (!(FORMATS as readonly string[]).includes(format))
    throw new Error(`"${spec}": the format before ":" must be one of ${FORMATS.join(", ")}`);
  if (!file) throw new Error(`"${spec}": give the file after the format, as ${format}:FILE`);
  return { format: format as Format, file };
}

/**
 * Renders one report into several outputs. Each format is rendered once, so every file that shares a
 * format holds the same text; the same file named twice is refused (one would overwrite the other).
 */
export function renderMany(
  report: Report,
  outputs: readonly ReportOutput[],
  options: { color: boolean },
): (ReportOutput & { text: string })[] {
  const files = outputs.map((o) => o.file);
  const twice = files.find((file, i) => files.indexOf(file) !== i);
  if (twice !== undefined) throw new Error(`"${twice}" is named by two report outputs`);
  const rendered = new Map<Format, string>();
  return outputs.map((output) => {
    let text = rendered.get(output.format);
    if (text === undefined) {
      text = render(output.format, report, options);
      rendered.set(output.format, text);
    }
    return { ...output, text };
  });
}
