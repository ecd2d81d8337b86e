// The one table of command-line flags. parseArgs options, value validation, the refusal of a flag a
// command does not take, every command's --help and the README's flag table (test/readme.test.ts)
// all come from FLAGS.
import { z } from "zod";
import { SUITE_NAMES } from "../../suites/index.ts";
import { EXPECTABLE_CHANGES, type ExpectedChange } from "../../suites/reboot/drift.ts";
import { PROMPT_SET_NAMES } from "../bench/prompts.ts";
import { CLIENT_PREFIX_NAMES, WORKLOAD_NAMES, type ClientPrefixName } from "../bench/agentic-conversation.ts";
import { BENCH_FORMATS } from "../bench/report.ts";
import { FORMATS, parseReportOutput, type ReportOutput } from "../reporters/index.ts";

/** What a command line asks for; `check` is `slmc-check <host>`, `bench-demo` is `slmc-check bench demo`. */
export const COMMANDS = {
  check: "slmc-check <host>",
  demo: "slmc-check demo",
  reboot: "slmc-check reboot <host>",
  soak: "slmc-check soak <host>",
  bench: "slmc-check bench <host>",
  "bench-demo": "slmc-check bench demo",
  compare: "slmc-check bench --compare old.json new.json",
  checks: "slmc-check checks",
  gate: "slmc-check gate <host>",
  "gate-demo": "slmc-check gate demo",
  "gate-verify": "slmc-check gate --verify DIR",
  fleet: "slmc-check fleet FILE",
  tune: "slmc-check tune <host>",
} as const;
export type CommandName = keyof typeof COMMANDS;
export const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];

/** Default --deadline: a whole check run, every stream included, ends within this many seconds. */
export const DEFAULT_DEADLINE_S = 900;

export type Group =
  | "General"
  | "Access"
  | "SSH"
  | "Run"
  | "Output"
  | "Simulator"
  | "Reboot"
  | "Soak"
  | "Host checks"
  | "Bench"
  | "Compare"
  | "Gate"
  | "Fleet"
  | "Tune";

interface FlagSpec<K extends string, S extends z.ZodType> {
  /** The flag without its dashes. */
  name: string;
  /** Its key in the parsed options. */
  key: K;
  short?: string;
  /** A value flag names its value in help (`--timeout SECONDS`); a switch has none. */
  value?: string;
  multiple?: boolean;
  /** Validates the raw text (a value flag), the list of texts (multiple) or the boolean (a switch). */
  schema: S;
  /** The accepted values, for "--flag: expected …, got '…'" and for help. */
  expects?: string;
  /** Parsed like a given value when the flag is absent, and shown in help. */
  default?: string;
  /** Shown in help as the default when it is not a literal value. */
  defaultText?: string;
  commands: readonly CommandName[];
  group: Group;
  help: string;
  /** Another switch without which this flag means nothing (refused without it). */
  requires?: string;
}

const flag = <K extends string, S extends z.ZodType>(spec: FlagSpec<K, S>) => spec;

const HOST_COMMANDS = ["check", "reboot", "soak", "bench", "gate", "tune"] as const;
const RUN_COMMANDS = ["check", "demo", "reboot", "soak", "fleet"] as const;
const STREAM_COMMANDS = ["check", "demo", "soak", "bench", "bench-demo"] as const;
const ALL: readonly CommandName[] = COMMAND_NAMES;

const whole = (min: number, max: number) =>
  z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(min).max(max));
const seconds = (max: number) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?$/)
    .transform(Number)
    .pipe(z.number().positive().max(max));
const text = z.string().min(1);
const secondsExpect = (max: number) => `a number of seconds > 0 and at most ${max}`;

const jump = z
  .string()
  .regex(/^[A-Za-z0-9._-]+@[A-Za-z0-9.:_[\]-]+?(:\d{1,5})?$/)
  .transform((value) => {
    const [user = "", rest = ""] = value.split("@");
    const match = /^(.*?)(?::(\d+))?$/.exec(rest.replace(/^\[(.*)\](:\d+)?$/, "$1$2"));
    return { user, host: match?.[1] ?? rest, port: Number(match?.[2] ?? 22) };
  });

const expectChange = z
  .string()
  .optional()
  .transform((value, ctx) => {
    const names = (value ?? "").split(",").filter(Boolean);
    const unknown = names.filter((n) => !(EXPECTABLE_CHANGES as readonly string[]).includes(n));
    if (unknown.length)
      ctx.addIssue({
        code: "custom",
        message: `unknown "${unknown.join(", ")}"; choose from ${EXPECTABLE_CHANGES.join(", ")} (comma-separated)`,
      });
    return [...new Set(names)] as ExpectedChange[];
  });

/** --format and --report take the main command's formats; bench takes pretty, json and html (args.ts narrows). */
const formatsExpect = `${FORMATS.join(", ")} (bench: ${BENCH_FORMATS.join(", ")})`;

const positive = (max: number) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?$/)
    .transform(Number)
    .pipe(z.number().positive().max(max));

const concurrency = z
  .string()
  .regex(/^\d+(,\d+)*$/)
  .transform((v) => v.split(",").map(Number))
  .pipe(z.array(z.number().int().min(1).max(256)));

export const FLAGS = [
  flag({
    name: "help",
    key: "help",
    short: "h",
    schema: z.boolean(),
    commands: ALL,
    group: "General",
    help: "print this command's help, with its flags and their defaults",
  }),
  flag({
    name: "version",
    key: "version",
    short: "V",
    schema: z.boolean(),
    commands: ALL,
    group: "General",
    help: "print the version",
  }),
  flag({
    name: "https-port",
    key: "httpsPort",
    value: "N",
    schema: whole(1, 65535),
    expects: "a port number 1-65535",
    default: "443",
    commands: HOST_COMMANDS,
    group: "Access",
    help: "HTTPS port",
  }),
  flag({
    name: "http-port",
    key: "httpPort",
    value: "N",
    schema: whole(1, 65535),
    expects: "a port number 1-65535",
    default: "80",
    commands: ["check", "reboot", "soak", "gate"],
    group: "Access",
    help: "HTTP port: the redirect check probes it, reports record it",
  }),
  flag({
    name: "user",
    key: "user",
    value: "NAME",
    schema: text,
    expects: "a user name",
    default: "copilot",
    commands: HOST_COMMANDS,
    group: "Access",
    help: "API user",
  }),
  flag({
    name: "password-file",
    key: "passwordFile",
    value: "FILE",
    schema: text.optional(),
    expects: "a file name",
    commands: HOST_COMMANDS,
    group: "Access",
    help: "read the appliance password from FILE (first line)",
  }),
  flag({
    name: "password",
    key: "password",
    value: "PASSWORD",
    schema: z.string().optional(),
    commands: HOST_COMMANDS,
    group: "Access",
    help: "the password itself (visible in the process list; a warning is printed)\n(environment: SLMC_PASSWORD)",
  }),
  flag({
    name: "ca",
    key: "ca",
    value: "FILE",
    schema: text.optional(),
    expects: "a file name",
    defaultText: "the system store",
    commands: HOST_COMMANDS,
    group: "Access",
    help: "trust the PEM certificate(s) in FILE (the appliance's self-signed cert works)",
  }),
  flag({
    name: "insecure",
    key: "insecure",
    schema: z.boolean(),
    commands: HOST_COMMANDS,
    group: "Access",
    help: "accept any certificate; reported in every output, never hidden",
  }),
  flag({
    name: "servername",
    key: "servername",
    value: "NAME",
    schema: text.optional(),
    expects: "a host name",
    defaultText: "the host",
    commands: HOST_COMMANDS,
    group: "Access",
    help: "TLS server name / host to expect in the certificate",
  }),
  flag({
    name: "ssh-user",
    key: "sshUser",
    value: "NAME",
    schema: text,
    expects: "a user name",
    default: "root",
    commands: HOST_COMMANDS,
    group: "SSH",
    help: "SSH user",
  }),
  flag({
    name: "ssh-key",
    key: "sshKeys",
    value: "FILE",
    multiple: true,
    schema: z.array(text),
    expects: "a file name",
    defaultText: "the SSH agent (SSH_AUTH_SOCK), then ~/.ssh/id_*",
    commands: HOST_COMMANDS,
    group: "SSH",
    help: "private key (repeatable)",
  }),
  flag({
    name: "ssh-port",
    key: "sshPort",
    value: "N",
    schema: whole(1, 65535),
    expects: "a port number 1-65535",
    default: "22",
    commands: HOST_COMMANDS,
    group: "SSH",
    help: "SSH port",
  }),
  flag({
    name: "jump",
    key: "jump",
    value: "USER@HOST[:PORT]",
    schema: jump.optional(),
    expects: "USER@HOST or USER@HOST:PORT",
    commands: HOST_COMMANDS,
    group: "SSH",
    help: "reach the VM through a jump host (e.g. the OpenNebula front-end)",
  }),
  flag({
    name: "known-hosts",
    key: "knownHosts",
    value: "FILE",
    schema: text.optional(),
    expects: "a file name",
    defaultText: "~/.config/slmc-check/known_hosts",
    commands: HOST_COMMANDS,
    group: "SSH",
    help: "where first-seen host keys are recorded (~/.ssh/known_hosts is also consulted)",
  }),
  flag({
    name: "accept-new-host-key",
    key: "acceptNewHostKey",
    schema: z.boolean(),
    commands: HOST_COMMANDS,
    group: "SSH",
    help: "accept and record a CHANGED host key (after a redeploy)",
  }),
  flag({
    name: "no-ssh",
    key: "noSsh",
    schema: z.boolean(),
    commands: ["check", "bench", "gate"],
    group: "SSH",
    help: "never use SSH",
  }),
  flag({
    name: "engine-port",
    key: "enginePort",
    value: "N",
    schema: whole(1, 65535),
    expects: "a port number 1-65535",
    default: "8080",
    commands: ["check", "reboot", "soak", "gate"],
    group: "SSH",
    help: "the engine port as reachable from here, for the outside binding check",
  }),
  flag({
    name: "suite",
    key: "suites",
    value: "NAME",
    multiple: true,
    schema: z.array(z.enum(SUITE_NAMES as [string, ...string[]])),
    expects: `one of ${SUITE_NAMES.join(", ")}`,
    defaultText: "all",
    commands: ["check", "demo"],
    group: "Run",
    help: `run only this suite (repeatable): ${SUITE_NAMES.join(", ")}`,
  }),
  flag({
    name: "max-tokens",
    key: "maxTokens",
    value: "N",
    schema: whole(4, 4096),
    expects: "a whole number 4-4096",
    default: "24",
    commands: STREAM_COMMANDS,
    group: "Run",
    help: "tokens asked for in each test completion",
  }),
  flag({
    name: "timeout",
    key: "timeoutS",
    value: "SECONDS",
    schema: seconds(3600),
    expects: secondsExpect(3600),
    default: "15",
    commands: ["check", "demo", "reboot", "soak", "bench", "bench-demo", "gate", "gate-demo"],
    group: "Run",
    help: "per-request timeout (also SSH connect)",
  }),
  flag({
    name: "stream-timeout",
    key: "streamTimeoutS",
    value: "SECONDS",
    schema: seconds(7200),
    expects: secondsExpect(7200),
    default: "300",
    commands: STREAM_COMMANDS,
    group: "Run",
    help: "whole-completion timeout (CPU inference is slow)",
  }),
  flag({
    name: "stream-idle",
    key: "streamIdleS",
    value: "SECONDS",
    schema: seconds(3600),
    expects: secondsExpect(3600),
    default: "60",
    commands: STREAM_COMMANDS,
    group: "Run",
    help: "longest silence tolerated inside a stream, and after a response's headers",
  }),
  flag({
    name: "deadline",
    key: "deadlineS",
    value: "SECONDS",
    schema: seconds(86400).optional(),
    expects: secondsExpect(86400),
    defaultText: `${DEFAULT_DEADLINE_S}, or 3 x --stream-timeout if larger (gate, bench: none)`,
    commands: ["check", "demo", "gate", "gate-demo", "bench", "bench-demo"],
    group: "Run",
    help: "the whole run ends within this time, whatever the target trickles; the check in\nflight errors, later ones are skipped (gate: the step in flight finishes, the rest is\nskipped, the verdict fails as interrupted; bench: no request starts after it, those in\nflight are cut and counted as failed)",
  }),
  flag({
    name: "format",
    key: "format",
    value: "FORMAT",
    schema: z.enum(FORMATS),
    expects: `one of ${formatsExpect}`,
    default: "pretty",
    commands: [...RUN_COMMANDS, "bench", "bench-demo", "tune"],
    group: "Output",
    help: `${FORMATS.join(" | ")} (bench: ${BENCH_FORMATS.join(" | ")}; tune: pretty | json)`,
  }),
  flag({
    name: "out",
    key: "out",
    value: "FILE",
    schema: text.optional(),
    expects: "a file name",
    defaultText: "standard output",
    commands: [...RUN_COMMANDS, "bench", "bench-demo"],
    group: "Output",
    help: "write the report to FILE, never with colour codes (a summary still goes to a terminal's stderr)",
  }),
  // Strict runs: --fail-on-skip, --report, --wait-ready.
  flag({
    name: "fail-on-skip",
    key: "failOnSkip",
    schema: z.boolean(),
    commands: ["check", "demo", "reboot", "soak"],
    group: "Run",
    help: "a skipped check fails the run (exit 1); the summary lists each skip and why",
  }),
  flag({
    name: "report",
    key: "reports",
    value: "FORMAT:FILE",
    multiple: true,
    schema: z.array(
      z.string().transform((spec, ctx): ReportOutput => {
        try {
          return parseReportOutput(spec);
        } catch (error) {
          ctx.addIssue({
            code: "custom",
            message: `${(error as Error).message} (bench: ${BENCH_FORMATS.join(", ")})`,
          });
          return z.NEVER;
        }
      }),
    ),
    expects: `FORMAT:FILE with FORMAT one of ${formatsExpect}`,
    commands: ["check", "demo", "reboot", "soak", "bench", "bench-demo"],
    group: "Output",
    help: "also write the report to FILE in FORMAT, without colour (repeatable; with --format/--out too)",
  }),
  flag({
    name: "wait-ready",
    key: "waitReadyS",
    value: "SECONDS",
    schema: seconds(7200).optional(),
    expects: secondsExpect(7200),
    commands: ["check"],
    group: "Run",
    help: "first wait up to SECONDS for GET /health 200 and, with SSH, bootstrap_success\n(progress on stderr; exit 3 with what was last seen)",
  }),
  flag({
    name: "show-secrets",
    key: "showSecrets",
    schema: z.boolean(),
    commands: ["check", "demo", "reboot", "soak", "bench", "bench-demo"],
    group: "Output",
    help: "do not mask the password in output",
  }),
  flag({
    name: "no-color",
    key: "noColor",
    schema: z.boolean(),
    commands: RUN_COMMANDS,
    group: "Output",
    help: "plain text (also when NO_COLOR is set or output is not a terminal)",
  }),
  flag({
    name: "defect",
    key: "defects",
    value: "NAME",
    multiple: true,
    schema: z.array(text),
    expects: 'a defect name ("slmc-check demo --help" lists them)',
    commands: ["demo", "bench-demo", "gate-demo"],
    group: "Simulator",
    help: "break the simulated appliance this way (repeatable; the defects are listed below)",
  }),
  flag({
    name: "ready-timeout",
    key: "readyTimeoutS",
    value: "SECONDS",
    schema: seconds(7200),
    expects: secondsExpect(7200),
    default: "900",
    commands: ["reboot", "soak", "gate", "tune"],
    group: "Reboot",
    help: "longest wait for SSH, and then for bootstrap_success, after a reboot (tune: for the engine after each restart)",
  }),
  flag({
    name: "count",
    key: "count",
    value: "N",
    schema: whole(1, 1000),
    expects: "a whole number 1-1000",
    default: "1",
    commands: ["reboot"],
    group: "Reboot",
    help: "reboot cycles",
  }),
  flag({
    name: "expect-change",
    key: "expectChange",
    value: "LIST",
    schema: expectChange,
    expects: `a comma-separated list of ${EXPECTABLE_CHANGES.join(", ")}`,
    commands: ["reboot"],
    group: "Reboot",
    help: `a new context was given (e.g. onevm updateconf) and must take effect: comma-separated
${EXPECTABLE_CHANGES.join(", ")}. Those must change (a new password must open the API and the old
one be refused), everything else must not`,
  }),
  flag({
    name: "yes",
    key: "yes",
    schema: z.boolean(),
    commands: ["tune"],
    group: "Tune",
    help: "go ahead: restart the engine once per thread count (without it, tune prints its plan and exits 2)",
  }),
  flag({
    name: "reboots",
    key: "reboots",
    value: "N",
    schema: whole(1, 1000),
    expects: "a whole number 1-1000",
    default: "3",
    commands: ["soak"],
    group: "Soak",
    help: "reboot cycles",
  }),
  flag({
    name: "kill-every",
    key: "killEvery",
    value: "K",
    schema: whole(0, 1000),
    expects: "a whole number 0-1000 (0 = never)",
    default: "1",
    commands: ["soak"],
    group: "Soak",
    help: "kill -9 LocalAI and nginx before every K-th reboot (0 = never)",
  }),
  flag({
    name: "load",
    key: "load",
    value: "STREAMS",
    schema: whole(0, 16),
    expects: "a whole number 0-16",
    default: "0",
    commands: ["soak"],
    group: "Soak",
    help: "concurrent streamed completions kept running throughout; a request may fail only\nwhile the soak itself kills or reboots something",
  }),
  flag({
    name: "ui",
    key: "ui",
    schema: z.boolean(),
    commands: ["soak"],
    group: "Soak",
    help: "serve a live timeline page on 127.0.0.1",
  }),
  flag({
    name: "ui-port",
    key: "uiPort",
    value: "N",
    schema: whole(0, 65535),
    expects: "a port number 0-65535 (0 = a free port)",
    default: "0",
    commands: ["soak"],
    requires: "ui",
    group: "Soak",
    help: "port of the --ui page (0 = a free port)",
  }),
  flag({
    name: "json",
    key: "json",
    value: "FILE",
    schema: text.optional(),
    expects: "a file name",
    defaultText: "soak: ./slmc-soak-<UTC time>.json, bench: none",
    commands: ["soak", "bench", "bench-demo"],
    group: "Output",
    help: "where the JSON report goes (soak: written also when interrupted; Ctrl-C once\nfinishes the step in flight, twice stops now; bench: the same as --report json:FILE)",
  }),
  flag({
    name: "expect-offline",
    key: "expectOffline",
    schema: z.boolean(),
    commands: ["check"],
    group: "Host checks",
    help: "fail host.serves-offline when the VM has outbound network (else it is skipped)",
  }),
  flag({
    name: "outbound-probe",
    key: "outboundProbe",
    value: "URL",
    schema: z.string().regex(/^https?:\/\/[A-Za-z0-9.:[\]/_-]+$/),
    expects: "a plain http:// or https:// URL (host, port, path)",
    default: "http://deb.debian.org/",
    commands: ["check"],
    group: "Host checks",
    help: "what the VM tries to reach to detect outbound network",
  }),
  flag({
    name: "concurrency",
    key: "concurrency",
    value: "LIST",
    schema: concurrency,
    expects: "a comma-separated list of whole numbers 1-256, e.g. 1,2,4",
    default: "1",
    commands: ["bench", "bench-demo"],
    group: "Bench",
    help: "closed-loop levels, e.g. 1,2,4",
  }),
  flag({
    name: "sweep",
    key: "sweep",
    schema: z.boolean(),
    commands: ["bench", "bench-demo"],
    group: "Bench",
    help: "keep doubling concurrency until aggregate tok/s grows < 10% (saturation)",
  }),
  flag({
    name: "max-concurrency",
    key: "maxConcurrency",
    value: "N",
    schema: whole(1, 256),
    expects: "a whole number 1-256",
    default: "8",
    commands: ["bench", "bench-demo"],
    requires: "sweep",
    group: "Bench",
    help: "sweep limit",
  }),
  flag({
    name: "requests",
    key: "requests",
    value: "N",
    schema: whole(1, 10000).optional(),
    expects: "a whole number 1-10000",
    defaultText: "max(3, 2 x concurrency) per level",
    commands: ["bench", "bench-demo"],
    group: "Bench",
    help: "measured requests per level; fewer than 2 x the highest concurrency (--max-concurrency\nwith --sweep) is refused (exit 2): that level would never hold its concurrency",
  }),
  flag({
    name: "warmup",
    key: "warmup",
    value: "N",
    schema: whole(0, 100),
    expects: "a whole number 0-100",
    default: "1",
    commands: ["bench", "bench-demo"],
    group: "Bench",
    help: "requests sent first and excluded",
  }),
  flag({
    name: "prompt-set",
    key: "promptSet",
    value: "NAME",
    schema: z.enum(PROMPT_SET_NAMES),
    expects: `one of ${PROMPT_SET_NAMES.join(", ")}`,
    default: "coding",
    commands: ["bench", "bench-demo"],
    group: "Bench",
    help: `${PROMPT_SET_NAMES.join(" | ")} (coding: short question, file refactor, multi-turn; client-first-request: a Cline-shaped first request with 25 tools, a cold prefix: each request opens with its own first line)`,
  }),
  flag({
    name: "fixed-length",
    key: "fixedLength",
    schema: z.boolean(),
    commands: ["bench", "bench-demo"],
    group: "Bench",
    help: "ask for exactly max-tokens (ignore_eos, min_tokens); early stops are flagged",
  }),
  flag({
    name: "html",
    key: "html",
    value: "FILE",
    schema: text.optional(),
    expects: "a file name",
    defaultText: "none",
    commands: ["bench", "bench-demo"],
    group: "Bench",
    help: "HTML report with SVG charts, opens offline (the same as --report html:FILE)",
  }),
  // Open-loop load and goodput (bench).
  flag({
    name: "rate",
    key: "rate",
    value: "R",
    schema: positive(1000).optional(),
    expects: "requests per second > 0 and at most 1000",
    commands: ["bench", "bench-demo"],
    group: "Bench",
    help: "open loop instead of concurrency levels: Poisson arrivals at R requests/s for\n--duration, sent whatever the server's speed (not with --concurrency, --sweep, --requests)",
  }),
  flag({
    name: "duration",
    key: "durationS",
    value: "SECONDS",
    schema: seconds(86400),
    expects: secondsExpect(86400),
    default: "60",
    commands: ["bench", "bench-demo"],
    requires: "rate",
    group: "Bench",
    help: "how long --rate draws arrivals; requests still in flight are then waited for",
  }),
  flag({
    name: "seed",
    key: "seed",
    value: "N",
    schema: whole(0, 999999),
    expects: "a whole number 0-999999",
    default: "1",
    commands: ["bench", "bench-demo"],
    requires: "rate",
    group: "Bench",
    help: "seed of the --rate arrival schedule: the same seed, the same schedule",
  }),
  flag({
    name: "slo-ttft",
    key: "sloTtftMs",
    value: "MS",
    schema: positive(3_600_000).optional(),
    expects: "milliseconds > 0 and at most 3600000",
    commands: ["bench", "bench-demo"],
    group: "Bench",
    help: "goodput SLO: a request meets it with ttft_ms at most MS",
  }),
  flag({
    name: "slo-decode",
    key: "sloDecodeTokS",
    value: "TOKS",
    schema: positive(100_000).optional(),
    expects: "tokens per second > 0 and at most 100000",
    commands: ["bench", "bench-demo"],
    group: "Bench",
    help: "goodput SLO: a request meets it with decode_tok_s at least TOKS; goodput = requests\nmeeting every SLO given / requests started",
  }),
  // --- bench --workload agentic ---
  flag({
    name: "workload",
    key: "workload",
    value: "NAME",
    schema: z.enum(WORKLOAD_NAMES),
    expects: `one of ${WORKLOAD_NAMES.join(", ")}`,
    default: "chat",
    commands: ["bench", "bench-demo"],
    group: "Bench",
    help: "chat: the prompt set at closed-loop levels | agentic: coding-client conversations (a client-sized tools + system prefix, then tool call, tool result and user turns), per-turn TTFT and prompt-cache reuse",
  }),
  flag({
    name: "conversations",
    key: "conversations",
    value: "N",
    schema: whole(1, 100),
    expects: "a whole number 1-100",
    default: "2",
    commands: ["bench", "bench-demo"],
    group: "Bench",
    help: "agentic workload: conversations, one after another, each starting cold",
  }),
  flag({
    name: "turns",
    key: "turns",
    value: "N",
    schema: whole(1, 50),
    expects: "a whole number 1-50",
    default: "4",
    commands: ["bench", "bench-demo"],
    group: "Bench",
    help: "agentic workload: requests per conversation",
  }),
  flag({
    name: "client-prefix",
    key: "clientPrefix",
    value: "NAME",
    schema: z.enum(CLIENT_PREFIX_NAMES as [ClientPrefixName, ...ClientPrefixName[]]),
    expects: `one of ${CLIENT_PREFIX_NAMES.join(", ")}`,
    default: "cline",
    commands: ["bench", "bench-demo"],
    group: "Bench",
    help: "agentic workload: the first request's size (cline: 21.7 KB, 25 tools; continue: 5.5 KB, 9 tools)",
  }),
  flag({
    name: "tool-result-bytes",
    key: "toolResultBytes",
    value: "N",
    schema: whole(1, 1_000_000),
    expects: "a whole number 1-1000000",
    default: "2000",
    commands: ["bench", "bench-demo"],
    group: "Bench",
    help: "agentic workload: size of each tool result a turn appends",
  }),
  flag({
    name: "compare",
    key: "compare",
    schema: z.boolean(),
    commands: ["compare"],
    group: "Compare",
    help: "compare two bench JSON reports: change per metric and level; exit 1 on a regression",
  }),
  flag({
    name: "regression-threshold",
    key: "regressionThreshold",
    value: "PCT",
    schema: z
      .string()
      .regex(/^\d+(\.\d+)?$/)
      .transform(Number)
      .pipe(z.number().positive().max(1000)),
    expects: "a percentage > 0 and at most 1000",
    default: "10",
    commands: ["compare"],
    group: "Compare",
    help: "a metric worse by more than this percentage is a regression",
  }),
  // --- the release gate (slmc-check gate) ---
  flag({
    name: "policy",
    key: "policy",
    value: "FILE",
    schema: text.optional(),
    expects: "a policy file name",
    commands: ["gate", "gate-demo"],
    group: "Gate",
    help: "the release policy (YAML, e.g. release-policy.yaml): what the gate runs and demands",
  }),
  flag({
    name: "evidence",
    key: "evidence",
    value: "DIR",
    schema: text.optional(),
    expects: "a directory name",
    commands: ["gate", "gate-demo", "fleet"],
    group: "Gate",
    help: "where the evidence bundle goes; must be new or empty (fleet: one bundle per host in DIR/<name>)",
  }),
  flag({
    name: "build-manifest",
    key: "buildManifest",
    value: "FILE",
    schema: text.optional(),
    expects: "a manifest.json file",
    commands: ["gate", "gate-demo"],
    group: "Gate",
    help: "build.sh's out/manifest.json: the VM's build id must be its build id; the verdict names its image sha256",
  }),
  flag({
    name: "sign",
    key: "sign",
    value: "KEY",
    schema: text.optional(),
    expects: "an SSH private key file",
    commands: ["gate", "gate-demo"],
    group: "Gate",
    help: "sign SHA256SUMS with this SSH private key (ssh-keygen -Y sign, namespace slmc-gate)",
  }),
  flag({
    name: "verify",
    key: "verify",
    value: "DIR",
    schema: text.optional(),
    expects: "a bundle directory",
    commands: ["gate-verify"],
    group: "Gate",
    help: "verify an evidence bundle: SHA256SUMS, no file added or removed, the signature",
  }),
  flag({
    name: "allowed-signer",
    key: "allowedSigner",
    value: "PUBKEY",
    schema: text.optional(),
    expects: "an SSH public key file",
    commands: ["gate-verify"],
    group: "Gate",
    help: "the bundle must be signed by this SSH public key (without it, only the signature's form is checked)",
  }),
  // --- slmc-check fleet FILE ---
  flag({
    name: "parallel",
    key: "parallel",
    value: "N",
    schema: whole(1, 64),
    expects: "a whole number 1-64",
    default: "4",
    commands: ["fleet"],
    group: "Fleet",
    help: "hosts checked at the same time (each host on its own deadline and SSH connection)",
  }),
  flag({
    name: "gate",
    key: "gatePolicy",
    value: "POLICY",
    schema: text.optional(),
    expects: "a policy file name",
    commands: ["fleet"],
    group: "Fleet",
    help: "run the release gate with this policy on every host instead of the checks (needs --evidence DIR)",
  }),
] as const;

export type Flag = (typeof FLAGS)[number];
export type FlagValues = { [F in Flag as F["key"]]: z.output<F["schema"]> };

export const flagByName = (name: string): Flag | undefined => FLAGS.find((f) => f.name === name);

/** The flags `command` takes, in table order. */
export const flagsFor = (command: CommandName): Flag[] =>
  FLAGS.filter((f) => (f.commands as readonly CommandName[]).includes(command));

/** The default as help and the README show it, or undefined. */
export const shownDefault = (f: Flag): string | undefined =>
  "default" in f ? f.default : "defaultText" in f ? f.defaultText : undefined;
