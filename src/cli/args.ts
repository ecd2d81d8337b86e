// Command line → validated options, all from the flag table (flags.ts): node:util parseArgs splits the
// words, each flag's schema checks its value, and a flag the command does not take is refused.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { z } from "zod";
import { BENCH_FORMATS, type BenchFormat } from "../bench/report.ts";
import type { Format, ReportOutput } from "../reporters/index.ts";
import { isDefect, type Defect } from "../sim/defects.ts";
import { usageError } from "./exit-codes.ts";
import {
  COMMANDS,
  DEFAULT_DEADLINE_S,
  FLAGS,
  flagByName,
  type CommandName,
  type Flag,
  type FlagValues,
} from "./flags.ts";

export { DEFAULT_DEADLINE_S } from "./flags.ts";

export type CliOptions = Omit<
  FlagValues,
  "defects" | "noColor" | "help" | "version" | "format" | "reports"
> & {
  /** The check report's --format and --report outputs (html is refused for them). */
  format: Format;
  reports: ReportOutput[];
  /** `bench`'s --format and --report outputs (pretty, json, html); --out is in the --format. */
  bench: { format: BenchFormat; reports: { format: BenchFormat; file: string }[] };
  defects: Defect[];
  color: boolean;
  /** An SSH flag was given: SSH failing is then fatal instead of skipping the SSH checks. */
  sshExplicit: boolean;
};

export type HelpTopic = "main" | "demo" | "reboot" | "soak" | "bench" | "checks" | "gate" | "fleet" | "tune";

export type Command =
  | { kind: "help"; topic: HelpTopic }
  | { kind: "version" }
  | { kind: "checks" }
  | { kind: "demo"; options: CliOptions }
  | { kind: "check"; host: string; options: CliOptions }
  | { kind: "reboot"; host: string; options: CliOptions }
  | { kind: "soak"; host: string; options: CliOptions }
  | { kind: "tune"; host: string; options: CliOptions }
  | { kind: "bench"; host: string; options: CliOptions }
  | { kind: "bench-compare"; files: [string, string]; options: CliOptions }
  | { kind: "gate"; host: string; options: CliOptions }
  | { kind: "gate-demo"; options: CliOptions }
  | { kind: "gate-verify"; dir: string; options: CliOptions }
  | { kind: "fleet"; inventory: string; options: CliOptions };

const PARSE_OPTIONS = Object.fromEntries(
  FLAGS.map((f) => [
    f.name,
    {
      type: "value" in f ? "string" : "boolean",
      ...("short" in f ? { short: f.short } : {}),
      ...("multiple" in f ? { multiple: true } : {}),
    },
  ]),
) as NonNullable<ParseArgsConfig["options"]>;

const SSH_FLAGS = ["ssh-user", "ssh-key", "ssh-port", "jump", "accept-new-host-key"];
const HELP_TOPICS: readonly string[] = ["demo", "reboot", "soak", "bench", "checks", "gate", "fleet", "tune"];

export const hostSchema = z
  .string()
  .min(1, "host is empty")
  .refine((h) => !/^[a-z]+:\/\//i.test(h), "give a host name or IP address, not a URL (drop the scheme)")
  .refine(
    (h) => /^[A-Za-z0-9.:_\-[\]%]+$/.test(h),
    "host contains characters no host name or IP address has",
  );

const isValueFlag = (f: Flag) => "value" in f;
const quoted = (list: string[]) =>
  list.length === 1
    ? `"${list[0]}"`
    : `${list
        .slice(0, -1)
        .map((u) => `"${u}"`)
        .join(", ")} or "${list.at(-1)}"`;

/**
 * Joins `--flag value` into `--flag=value` so a value that starts with a dash (`--timeout -1`) reaches
 * validation, and names an unknown flag, a missing value or a value given to a switch.
 */
function normalise(argv: string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string;
    if (word === "--") {
      words.push(...argv.slice(i));
      break;
    }
    if (!word.startsWith("-") || /^-\d/.test(word)) {
      words.push(word);
      continue;
    }
    const short = /^-([A-Za-z])$/.exec(word)?.[1];
    if (short) {
      if (!FLAGS.some((f) => "short" in f && f.short === short))
        throw usageError(
          `unknown option '${word}'; "slmc-check COMMAND --help" lists each command's options`,
        );
      words.push(word);
      continue;
    }
    const [name = "", inline] = word.replace(/^--?/, "").split(/=(.*)/s);
    const spec = word.startsWith("--") ? flagByName(name) : undefined;
    if (!spec)
      throw usageError(
        `unknown option '${word.split("=")[0]}'; "slmc-check COMMAND --help" lists each command's options`,
      );
    if (!isValueFlag(spec)) {
      if (inline !== undefined) throw usageError(`--${name} takes no value, got '${inline}'`);
      words.push(word);
      continue;
    }
    if (inline !== undefined) {
      words.push(word);
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || (next.startsWith("-") && !/^-\d/.test(next)))
      throw usageError(
        `--${name}: missing value; expected ${"expects" in spec ? spec.expects : spec.value}${next === undefined ? "" : ` (a value that starts with "-" goes as --${name}=VALUE)`}`,
      );
    words.push(`--${name}=${next}`);
    i++;
  }
  return words;
}

function issueMessage(spec: Flag, raw: unknown, issue: z.core.$ZodIssue): string {
  if (issue.code === "custom") return `--${spec.name}: ${issue.message}`;
  const index = issue.path.find((p) => typeof p === "number");
  const value = Array.isArray(raw) && typeof index === "number" ? raw[index] : raw;
  const expects = "expects" in spec ? spec.expects : "a value";
  return `--${spec.name}: expected ${expects}, got '${String(value)}'`;
}

function commandOf(
  first: string | undefined,
  rest: string[],
  compare: boolean,
  verify: boolean,
): CommandName {
  if (first === "gate") return verify ? "gate-verify" : rest[0] === "demo" ? "gate-demo" : "gate";
  if (first === "checks") return "checks";
  if (first === "fleet") return "fleet";
  if (first === "demo") return "demo";
  if (first === "reboot" || first === "soak" || first === "tune") return first;
  if (first === "bench") return compare ? "compare" : rest[0] === "demo" ? "bench-demo" : "bench";
  return "check";
}

/** Refuses every given flag that `command` does not take, naming the commands that do. */
function refuseForeignFlags(given: Flag[], command: CommandName, values: Record<string, unknown>): void {
  const problems = given.flatMap((f) => {
    const commands = f.commands as readonly CommandName[];
    if (!commands.includes(command))
      return [
        `--${f.name} only applies to ${quoted(commands.map((c) => COMMANDS[c]))}, not to "${COMMANDS[command]}"`,
      ];
    if ("requires" in f && values[f.requires as string] === undefined)
      return [`--${f.name} only applies with --${f.requires}`];
    return [];
  });
  if (problems.length) throw usageError(problems.join("\n"));
}

type AnyOutput = { format: Format | "html"; file: string };

/** bench writes pretty, json and html; every other command's report any of FORMATS. */
function splitFormats(
  command: CommandName,
  format: Format | "html",
  reports: AnyOutput[],
): Pick<CliOptions, "format" | "reports" | "bench"> {
  const isBench = command === "bench" || command === "bench-demo";
  const fits = (f: string) => (isBench ? (BENCH_FORMATS as readonly string[]).includes(f) : true);
  const why = `bench writes ${BENCH_FORMATS.join(", ")}`;
  const problems = [
    ...(fits(format) ? [] : [`--format ${format}: ${why}`]),
    ...reports.filter((r) => !fits(r.format)).map((r) => `--report ${r.format}:${r.file}: ${why}`),
  ];
  if (problems.length) throw usageError(problems.join("\n"));
  if (isBench)
    return {
      format: "pretty",
      reports: [],
      bench: { format: format as BenchFormat, reports: reports as CliOptions["bench"]["reports"] },
    };
  return {
    format: format as Format,
    reports: reports as ReportOutput[],
    bench: { format: "pretty", reports: [] },
  };
}

function validate(given: Record<string, unknown>, env: NodeJS.ProcessEnv, command: CommandName): CliOptions {
  const parsed: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const spec of FLAGS) {
    const raw =
      given[spec.name] ??
      ("default" in spec ? spec.default : "multiple" in spec ? [] : isValueFlag(spec) ? undefined : false);
    const result = (spec.schema as z.ZodType).safeParse(raw);
    if (result.success) parsed[spec.key] = result.data;
    else problems.push(...result.error.issues.map((issue) => issueMessage(spec, raw, issue)));
  }
  if (problems.length) throw usageError(problems.join("\n"));
  const unknownDefect = (parsed.defects as string[]).find((d) => !isDefect(d));
  if (unknownDefect)
    throw usageError(
      `--defect: expected a defect name ("slmc-check demo --help" lists them), got '${unknownDefect}'`,
    );
  const { help: _help, version: _version, noColor, format, reports, ...options } = parsed;
  return {
    ...(options as Omit<CliOptions, "color" | "sshExplicit" | "format" | "reports" | "bench">),
    ...splitFormats(command, format as Format | "html", reports as AnyOutput[]),
    color: !noColor && !env.NO_COLOR,
    sshExplicit: SSH_FLAGS.some((name) => given[name] !== undefined),
  };
}

/**
 * The options of "slmc-check <host>" from flag names and raw values (a fleet inventory entry), with
 * the same validation, defaults and refusals as the command line.
 */
export function checkOptionsFrom(given: Record<string, unknown>, env: NodeJS.ProcessEnv): CliOptions {
  refuseForeignFlags(
    FLAGS.filter((f) => given[f.name] !== undefined),
    "check",
    given,
  );
  const options = validate(given, env, "check");
  options.deadlineS ??= Math.max(DEFAULT_DEADLINE_S, 3 * options.streamTimeoutS);
  if (options.ca && options.insecure)
    throw usageError("--ca and --insecure contradict each other; choose one");
  return options;
}

export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): Command {
  const words = normalise(argv);
  let parsed;
  try {
    parsed = parseArgs({
      args: words,
      options: PARSE_OPTIONS,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw usageError(`${(error as Error).message}\nRun "slmc-check --help" for usage.`);
  }
  const values = parsed.values as Record<string, unknown>;
  const [first, ...rest] = parsed.positionals;
  if (values.version) return { kind: "version" };
  const topic = (word: string | undefined): HelpTopic =>
    word && HELP_TOPICS.includes(word) ? (word as HelpTopic) : "main";
  if (first === "help") return { kind: "help", topic: topic(rest[0]) };
  if (values.help) return { kind: "help", topic: topic(first) };

  const command = commandOf(first, rest, values.compare === true, values.verify !== undefined);
  const given = FLAGS.filter((f) => values[f.name] !== undefined);
  refuseForeignFlags(given, command, values);
  if (command === "checks") {
    if (rest.length) throw usageError(`unexpected argument "${rest[0]}": "slmc-check checks" takes none`);
    return { kind: "checks" };
  }
  if (command === "fleet") {
    if (rest.length !== 1)
      throw usageError(
        rest.length
          ? `unexpected argument "${rest.at(-1)}": run "slmc-check fleet FILE" with one inventory`
          : 'missing inventory: run "slmc-check fleet FILE" (see "slmc-check fleet --help")',
      );
    return { kind: "fleet", inventory: rest[0] as string, options: validate(values, env, "fleet") };
  }
  if (!first) throw usageError('missing host: run "slmc-check <host>" or "slmc-check demo" (see --help)');
  if (command === "compare" && rest.length !== 2)
    throw usageError("bench --compare needs two reports: slmc-check bench --compare old.json new.json");
  if (command === "gate-verify") {
    if (rest.length) throw usageError(`unexpected argument "${rest[0]}": run "slmc-check gate --verify DIR"`);
    return { kind: "gate-verify", dir: values.verify as string, options: validate(values, env, command) };
  }
  const target = command === "check" ? first : rest[0];
  if (command === "reboot" && !target)
    throw usageError('missing host: run "slmc-check reboot <host> [--count N]"');
  if (command === "soak" && !target)
    throw usageError('missing host: run "slmc-check soak <host> --reboots N"');
  if (command === "tune" && !target) throw usageError('missing host: run "slmc-check tune <host> --yes"');
  if (command === "gate" && !target)
    throw usageError(
      'missing host: run "slmc-check gate <host> --policy FILE --evidence DIR" or "slmc-check gate demo"',
    );
  if (command === "bench" && !target)
    throw usageError(
      'missing host: run "slmc-check bench <host>" or "slmc-check bench --compare old.json new.json"',
    );
  const extra = command === "compare" ? [] : command === "check" || command === "demo" ? rest : rest.slice(1);
  if (extra.length) throw usageError(`unexpected argument "${extra.at(-1)}"; give one host (see --help)`);

  const options = validate(values, env, command);
  if (values.rate !== undefined) {
    const clash = ["concurrency", "sweep", "requests"].filter((name) => values[name] !== undefined);
    if (clash.length)
      throw usageError(
        `--rate is an open loop (arrivals at a fixed rate); ${clash.map((n) => `--${n}`).join(" and ")} set closed-loop levels: choose one`,
      );
  }
  if (command === "compare")
    return { kind: "bench-compare", files: [rest[0] as string, rest[1] as string], options };
  // A longer --stream-timeout (a slow appliance) moves the default along: three whole streams.
  if (command === "check" || command === "demo")
    options.deadlineS ??= Math.max(DEFAULT_DEADLINE_S, 3 * options.streamTimeoutS);
  if (options.ca && options.insecure)
    throw usageError("--ca and --insecure contradict each other; choose one");
  if (command === "demo") return { kind: "demo", options };
  if (command === "gate" || command === "gate-demo") {
    const missing = (["policy", "evidence"] as const).filter((name) => options[name] === undefined);
    if (missing.length)
      throw usageError(
        `the gate needs ${missing.map((name) => `--${name} ${name === "policy" ? "FILE" : "DIR"}`).join(" and ")}`,
      );
    if (command === "gate-demo") return { kind: "gate-demo", options };
  }
  const host = hostSchema.safeParse((target ?? "").replace(/^\[(.*)\]$/, "$1"));
  if (!host.success)
    throw usageError(`host "${target}": ${host.error.issues.map((issue) => issue.message).join("\n")}`);
  const kind = command === "bench-demo" ? "bench" : command;
  return { kind, host: host.data, options };
}
