// OpenNebula context values read as data. VM owners choose these values, so nothing here hands them
// to a shell: `one_env` is written unescaped by one-context (`export NAME="value"`), and sourcing it
// would run every `$(…)` or backtick in any value with the privileges of whoever sources it.

/** one-contextd's copy of the CONTEXT CD-ROM's context.sh (OpenNebula quoting: `NAME='value'`). */
export const CONTEXT_SH = "/var/run/one-context/context.sh.network";
/** Written by one-context from the same values as `export NAME="value"`, without escaping. */
export const ONE_ENV = "/var/run/one-context/one_env";

/** A fixed command: each file base64-encoded on one line, so no value can forge the framing. */
export const READ_CONTEXT_COMMAND = `for f in ${CONTEXT_SH} ${ONE_ENV}; do printf '@@context %s ' "$f"; base64 -w0 "$f" 2>/dev/null; echo; done`;

export interface ContextValues {
  /** Which file the values came from, or "none" when neither could be read. */
  source: typeof CONTEXT_SH | typeof ONE_ENV | "none";
  values: Record<string, string>;
}

const NAME = /^[A-Za-z0-9_-]+$/;

/**
 * Parses context.sh as OpenNebula writes it: `NAME='value'`, an embedded `'` written `'\''`, values
 * possibly spanning lines. Lines that are not assignments (comments, blanks) are ignored.
 */
export function parseContextSh(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const lineEnd = text.indexOf("\n", i) === -1 ? text.length : text.indexOf("\n", i);
    const equals = text.indexOf("=", i);
    const name = equals > i && equals < lineEnd ? text.slice(i, equals) : "";
    if (!NAME.test(name)) {
      i = lineEnd + 1;
      continue;
    }
    i = equals + 1;
    if (text[i] !== "'") {
      values[name] = text.slice(i, lineEnd);
      i = lineEnd + 1;
      continue;
    }
    let value = "";
    i++;
    for (;;) {
      const close = text.indexOf("'", i);
      if (close === -1) {
        value += text.slice(i);
        i = text.length;
        break;
      }
      value += text.slice(i, close);
      i = close + 1;
      if (text.startsWith("\\''", i)) {
        value += "'";
        i += 3;
      } else break;
    }
    values[name] = value;
    const next = text.indexOf("\n", i);
    i = next === -1 ? text.length : next + 1;
  }
  return values;
}

/** Parses one_env's `export NAME="value"` lines as literal text (what was written, never expanded). */
export function parseOneEnv(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const match of text.matchAll(/^export ([A-Za-z0-9_-]+)="(.*)"$/gm))
    values[match[1] ?? ""] = match[2] ?? "";
  return values;
}

/** Splits the output of READ_CONTEXT_COMMAND and prefers context.sh, whose quoting is unambiguous. */
export function parseContextFiles(output: string): ContextValues {
  const sections = new Map<string, string>();
  for (const line of output.split("\n")) {
    const [marker, file = "", encoded = ""] = line.split(" ");
    if (marker === "@@context" && (file === CONTEXT_SH || file === ONE_ENV))
      sections.set(file, Buffer.from(encoded, "base64").toString("utf8"));
  }
  const contextSh = sections.get(CONTEXT_SH) ?? "";
  if (contextSh.trim()) return { source: CONTEXT_SH, values: parseContextSh(contextSh) };
  const oneEnv = sections.get(ONE_ENV) ?? "";
  if (oneEnv.trim()) return { source: ONE_ENV, values: parseOneEnv(oneEnv) };
  return { source: "none", values: {} };
}
