// `nginx -T` read as data: a tokenizer and block parser for nginx's configuration syntax, include
// resolution against the files the dump itself contains, nginx's location selection for a request
// path, and the inheritance of a directive (location → server → http) with nginx's defaults. Nothing
// here runs a command or evaluates what it reads; posture.ts judges the facts it extracts.

export interface Directive {
  name: string;
  args: string[];
  /** Set for block directives (`http { … }`, `server { … }`, `location / { … }`). */
  block?: Directive[];
  file: string;
}

const DUMP_FILE_MARKER = /^# configuration file (.+):$/;
/** nginx's compiled-in prefix on Debian/Ubuntu: relative include paths are resolved against it. */
export const NGINX_PREFIX = "/etc/nginx/";

/** Splits `nginx -T` output into the files it prints, in order (path → text). */
export function splitDump(dump: string): Map<string, string> {
  const files = new Map<string, string>();
  let current: string | undefined;
  let lines: string[] = [];
  const flush = () => {
    if (current !== undefined) files.set(current, lines.join("\n"));
  };
  for (const line of dump.split("\n")) {
    const marker = DUMP_FILE_MARKER.exec(line);
    if (marker?.[1]) {
      flush();
      current = marker[1];
      lines = [];
    } else if (current !== undefined) lines.push(line);
  }
  flush();
  return files;
}

type Token = { kind: "word"; text: string } | { kind: "punct"; text: "{" | "}" | ";" };

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? "";
    if (/\s/.test(c)) {
      i++;
    } else if (c === "#") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "{" || c === "}" || c === ";") {
      tokens.push({ kind: "punct", text: c });
      i++;
    } else if (c === '"' || c === "'") {
      let word = "";
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === "\\" && i + 1 < text.length) {
          word += text[i + 1];
          i += 2;
        } else word += text[i++];
      }
      i++;
      tokens.push({ kind: "word", text: word });
    } else {
      let word = "";
      while (i < text.length && !/[\s{};]/.test(text[i] ?? "")) {
        // ${var} inside a word is part of it; a backslash escapes the next character.
        if (text[i] === "\\" && i + 1 < text.length) {
          word += text.slice(i, i + 2);
          i += 2;
        } else if (text[i] === "$" && text[i + 1] === "{") {
          const end = text.indexOf("}", i);
          word += text.slice(i, end < 0 ? text.length : end + 1);
          i = end < 0 ? text.length : end + 1;
        } else word += text[i++];
      }
      tokens.push({ kind: "word", text: word });
    }
  }
  return tokens;
}

/** Parses one file's text into directives; unbalanced braces end the block where the text ends. */
export function parseConfig(text: string, file = "?"): Directive[] {
  const tokens = tokenize(text);
  let position = 0;
  const parseBlock = (): Directive[] => {
    const directives: Directive[] = [];
    let words: string[] = [];
    while (position < tokens.length) {
      const token = tokens[position++];
      if (!token) break;
      if (token.kind === "word") words.push(token.text);
      else if (token.text === ";") {
        if (words.length) directives.push({ name: words[0] ?? "", args: words.slice(1), file });
        words = [];
      } else if (token.text === "{") {
        const block = parseBlock();
        directives.push({ name: words[0] ?? "", args: words.slice(1), block, file });
        words = [];
      } else return directives; // "}"
    }
    return directives;
  };
  return parseBlock();
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, "[^/]*")
    .replace(/\?/g, "[^/]");
  return new RegExp(`^${escaped}$`);
}

/**
 * The configuration nginx runs, as one tree: the first file of the dump (nginx.conf) with every
 * `include` replaced by the directives of the dumped files it matches (glob, relative to the prefix).
 */
export function resolveDump(dump: string): { tree: Directive[]; files: string[] } {
  const files = splitDump(dump);
  const parsed = new Map([...files].map(([path, text]) => [path, parseConfig(text, path)]));
  const expand = (directives: Directive[], depth: number): Directive[] =>
    directives.flatMap((d) => {
      if (d.name === "include" && !d.block && depth < 16) {
        const pattern = d.args[0] ?? "";
        const absolute = pattern.startsWith("/") ? pattern : `${NGINX_PREFIX}${pattern}`;
        const matcher = globToRegExp(absolute);
        return [...parsed.keys()]
          .filter((path) => matcher.test(path))
          .sort()
          .flatMap((path) => expand(parsed.get(path) ?? [], depth + 1));
      }
      return [d.block ? { ...d, block: expand(d.block, depth) } : d];
    });
  const first = [...parsed.keys()][0];
  return { tree: first ? expand(parsed.get(first) ?? [], 0) : [], files: [...files.keys()] };
}

export const children = (block: Directive[] | undefined, name: string): Directive[] =>
  (block ?? []).filter((d) => d.name === name);

/** The last value a block sets for a directive (nginx rejects duplicates of most; the last is safest). */
export const own = (block: Directive[] | undefined, name: string): string[] | undefined =>
  children(block, name).at(-1)?.args;

/** The servers that terminate TLS: a `listen … ssl` (or the old `ssl on`). */
export function tlsServers(tree: Directive[]): Directive[] {
  return children(children(tree, "http")[0]?.block, "server").filter(
    (server) =>
      children(server.block, "listen").some((l) => l.args.includes("ssl")) ||
      own(server.block, "ssl")?.[0] === "on",
  );
}

/** nginx's choice of location for a request path: exact, then longest prefix (^~ stops), then regex. */
export function selectLocation(server: Directive, path: string): Directive | undefined {
  const locations = children(server.block, "location");
  const modifier = (l: Directive) => (l.args.length > 1 ? (l.args[0] ?? "") : "");
  const uri = (l: Directive) => l.args.at(-1) ?? "";
  const exact = locations.find((l) => modifier(l) === "=" && uri(l) === path);
  if (exact) return exact;
  const prefixes = locations
    .filter((l) => (modifier(l) === "" || modifier(l) === "^~") && path.startsWith(uri(l)))
    .sort((a, b) => uri(b).length - uri(a).length);
  const longest = prefixes[0];
  if (longest && modifier(longest) === "^~") return longest;
  const regex = locations.find((l) => {
    const m = modifier(l);
    if (m !== "~" && m !== "~*") return false;
    try {
      return new RegExp(uri(l), m === "~*" ? "i" : "").test(path);
    } catch {
      return false;
    }
  });
  return regex ?? longest;
}

export interface Inherited {
  value: string[] | undefined;
  /** Where the effective value comes from: "location /", "server", "http", or "default". */
  from: string;
}

/** The effective value of a directive in a location: the innermost level that sets it. */
export function inherited(
  tree: Directive[],
  server: Directive,
  location: Directive | undefined,
  name: string,
): Inherited {
  const levels: [string, Directive[] | undefined][] = [
    ...(location ? [[`location ${location.args.join(" ")}`, location.block] as [string, Directive[]]] : []),
    ["server", server.block],
    ["http", children(tree, "http")[0]?.block],
  ];
  for (const [from, block] of levels) {
    const value = own(block, name);
    if (value) return { value, from };
  }
  return { value: undefined, from: "default" };
}

const TIME_UNITS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 604800,
  M: 2592000,
  y: 31536000,
};

/** nginx time syntax ("600s", "10m", "1h30m", "90" = seconds) in seconds; NaN when malformed. */
export function nginxSeconds(value: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  const parts = [...value.matchAll(/(\d+)(ms|s|m|h|d|w|M|y)/g)];
  if (!parts.length || parts.map((p) => p[0]).join("") !== value) return Number.NaN;
  return parts.reduce((sum, p) => sum + Number(p[1]) * (TIME_UNITS[p[2] ?? ""] ?? Number.NaN), 0);
}

/** nginx size syntax ("64m", "512k", "1g", "1024" = bytes) in bytes; NaN when malformed. */
export function nginxBytes(value: string): number {
  const match = /^(\d+)([kKmMgG]?)$/.exec(value);
  if (!match) return Number.NaN;
  const unit = (match[2] ?? "").toLowerCase();
  return Number(match[1]) * (unit === "k" ? 1024 : unit === "m" ? 1024 ** 2 : unit === "g" ? 1024 ** 3 : 1);
}
