// The Prometheus text exposition format (version 0.0.4, as LocalAI's promhttp handler writes it):
// `# HELP` / `# TYPE` lines, samples `name{label="value",…} value [timestamp]`. A line that is none of
// these is a problem with its line number, never silently skipped.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** Metric family → its `# TYPE` (counter, gauge, histogram, summary, untyped). */
  types: Record<string, string>;
  problems: { line: number; text: string; reason: string }[];
}

/** More samples than this is not an appliance's metrics page. */
export const MAX_SAMPLES = 200_000;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped", "unknown"]);

function parseValue(text: string): number | undefined {
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/** `{a="1",b="x\"y"}` from the start of `rest`: the labels and what follows, or why it is not. */
function parseLabels(rest: string): { labels: Record<string, string>; after: string } | string {
  const labels: Record<string, string> = {};
  let i = 1;
  for (;;) {
    while (rest[i] === " ") i++;
    if (rest[i] === "}") return { labels, after: rest.slice(i + 1) };
    const name = LABEL_NAME.exec(rest.slice(i))?.[0];
    if (!name) return `a label name expected at column ${i + 1}`;
    i += name.length;
    if (rest[i] !== "=" || rest[i + 1] !== '"') return `label ${name}: '="' expected`;
    i += 2;
    let value = "";
    for (;;) {
      const c = rest[i];
      if (c === undefined) return `label ${name}: unterminated value`;
      if (c === '"') break;
      if (c === "\\") {
        const next = rest[i + 1];
        value += next === "n" ? "\n" : (next ?? "");
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++;
    if (Object.hasOwn(labels, name)) return `label ${name} given twice`;
    labels[name] = value;
    while (rest[i] === " ") i++;
    if (rest[i] === ",") i++;
    else if (rest[i] !== "}") return `',' or '}' expected after label ${name}`;
  }
}

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types: Record<string, string> = {};
  const problems: Exposition["problems"] = [];
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = (lines[index] as string).replace(/\r$/, "");
    const problem = (reason: string) => problems.push({ line: index + 1, text: line.slice(0, 200), reason });
    if (!line.trim()) continue;
    if (line.startsWith("#")) {
      const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (meta?.[1] === "TYPE") {
        const type = (meta[3] ?? "").trim();
        if (!TYPES.has(type)) problem(`unknown metric type "${type}"`);
        else types[meta[2] as string] = type;
      }
      continue;
    }
    const name = NAME.exec(line)?.[0];
    if (!name) {
      problem("not a metric name");
      continue;
    }
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith("{")) {
      const parsed = parseLabels(rest);
      if (typeof parsed === "string") {
        problem(parsed);
        continue;
      }
      labels = parsed.labels;
      rest = parsed.after;
    }
    const fields = rest.trim().split(/\s+/);
    const value = fields[0] === undefined ? undefined : parseValue(fields[0]);
    if (!/^\s/.test(rest) || value === undefined || fields.length > 2) {
      problem("a sample is: name{labels} value [timestamp]");
      continue;
    }
    if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) {
      problem(`timestamp "${fields[1]}" is not whole milliseconds`);
      continue;
    }
    if (samples.length >= MAX_SAMPLES) {
      problem(`more than ${MAX_SAMPLES} samples`);
      break;
    }
    samples.push({ name, labels, value });
  }
  return { samples, types, problems };
}

/** The samples named `name` whose labels include every one of `match`. */
export function select(exposition: Exposition, name: string, match: Record<string, string> = {}): Sample[] {
  return exposition.samples.filter(
    (s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v),
  );
}
