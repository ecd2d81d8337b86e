// Command line → validated options. node:util parseArgs splits the words; zod checks the values so
// every mistake is reported at once, with the flag it concerns.
import { parseArgs } from "node:util";
import { z } from "zod";
import { isDefect, type Defect } from "../sim/defects.ts";
import { SUITE_NAMES } from "../../suites/index.ts";
import { FORMATS } from "../reporters/index.ts";
import { EXPECTABLE_CHANGES, type ExpectedChange } from "../../suites/reboot/drift.ts";
import { PROMPT_SET_NAMES } from "../bench/prompts.ts";
import { usageError } from "./exit-codes.ts";

const OPTIONS = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
  "https-port": { type: "string" },
  "http-port": { type: "string" },
  user: { type: "string" },
  "password-file": { type: "string" },
  password: { type: "string" },
  ca: { type: "string" },
  insecure: { type: "boolean" },
  servername: { type: "string" },
  suite: { type: "string", multiple: true },
  "max-tokens": { type: "string" },
  timeout: { type: "string" },
  "stream-timeout": { type: "string" },
  "stream-idle": { type: "string" },
  deadline: { type: "string" },
  format: { type: "string" },
  out: { type: "string" },
  "show-secrets": { type: "boolean" },
  "no-color": { type: "boolean" },
  defect: { type: "string", multiple: true },
  "ssh-user": { type: "string" },
  "ssh-key": { type: "string", multiple: true },
  "ssh-port": { type: "string" },
  jump: { type: "string" },
  "accept-new-host-key": { type: "boolean" },
  "known-hosts": { type: "string" },
  "no-ssh": { type: "boolean" },
  "engine-port": { type: "string" },
  count: { type: "string" },
  "ready-timeout": { type: "string" },
  "expect-change": { type: "string" },
  "expect-offline": { type: "boolean" },
  "outbound-probe": { type: "string" },
  reboots: { type: "string" },
  "kill-every": { type: "string" },
  load: { type: "string" },
  ui: { type: "boolean" },
  "ui-port": { type: "string" },
  json: { type: "string" },
  concurrency: { type: "string" },
  sweep: { type: "boolean" },
  "max-concurrency": { type: "string" },
  requests: { type: "string" },
  warmup: { type: "string" },
  "prompt-set": { type: "string" },
  "fixed-length": { type: "boolean" },
  html: { type: "string" },
  compare: { type: "boolean" },
  "regression-threshold": { type: "string" },
} as const;

/** Default --deadline: a whole check run, every stream included, ends within this many seconds. */
export const DEFAULT_DEADLINE_S = 900;

const jumpSchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]+@[A-Za-z0-9.:_\[\]-]+?(:\d{1,5})?$/, "--jump must be user@host or user@host:port")
  .transform((value) => {
    const [user = "", rest = ""] = value.split("@");
    const match = /^(.*?)(?::(\d+))?$/.exec(rest.replace(/^\[(.*)\](:\d+)?$/, "$1$2"));
    return { user, host: match?.[1] ?? rest, port: Number(match?.[2] ?? 22) };
  });

const port = (flag: string) =>
  z.coerce
    .number({ error: `${flag} must be a number` })
    .int(`${flag} must be a whole number`)
    .min(1, `${flag} must be 1-65535`)
    .max(65535, `${flag} must be 1-65535`);

const seconds = (flag: string, max: number) =>
  z.coerce
    .number({ error: `${flag} must be a number of seconds` })
    .positive(`${flag} must be positive`)
    .max(max, `${flag} must be at most ${max}`);

const whole = (flag: string, min: number, max: number) =>
  z.coerce
    .number({ error: `${flag} must be a number` })
    .int(`${flag} must be a whole number`)
    .min(min, `${flag} must be at least ${min}`)
    .max(max, `${flag} must be at most ${max}`);

const hostSchema = z
  .string()
  .min(1, "host is empty")
  .refine((h) => !/^[a-z]+:\/\//i.test(h), "give a host name or IP address, not a URL (drop the scheme)")
  .refine(
    (h) => /^[A-Za-z0-9.:_\-[\]%]+$/.test(h),
    "host contains characters no host name or IP address has",
  );

const optionsSchema = z.object({
  httpsPort: port("--https-port").default(443),
  httpPort: port("--http-port").default(80),
  user: z.string().min(1, "--user is empty").default("copilot"),
  passwordFile: z.string().optional(),
  password: z.string().optional(),
  ca: z.string().optional(),
  insecure: z.boolean().default(false),
  servername: z.string().optional(),
  suites: z
    .array(
      z.string().refine((s) => SUITE_NAMES.includes(s), {
        error: (i) => `--suite: unknown suite "${String(i.input)}"; known: ${SUITE_NAMES.join(", ")}`,
      }),
    )
    .default([]),
  maxTokens: z.coerce
    .number()
    .int("--max-tokens must be a whole number")
    .min(4, "--max-tokens must be at least 4")
    .max(4096)
    .default(24),
  timeoutS: seconds("--timeout", 3600).default(15),
  streamTimeoutS: seconds("--stream-timeout", 7200).default(300),
  streamIdleS: seconds("--stream-idle", 3600).default(60),
  /** Only for a check run (`<host>`, `demo`); reboot, soak and bench have their own bounds. */
  deadlineS: seconds("--deadline", 86400).optional(),
  format: z.enum(FORMATS, { error: `--format must be one of ${FORMATS.join(", ")}` }).default("pretty"),
  out: z.string().optional(),
  showSecrets: z.boolean().default(false),
  color: z.boolean(),
  defects: z.array(z.string()).default([]),
  sshUser: z.string().min(1).default("root"),
  sshKeys: z.array(z.string()).default([]),
  sshPort: port("--ssh-port").default(22),
  jump: jumpSchema.optional(),
  acceptNewHostKey: z.boolean().default(false),
  knownHosts: z.string().optional(),
  noSsh: z.boolean().default(false),
  sshExplicit: z.boolean(),
  enginePort: port("--engine-port").default(8080),
  count: z.coerce
    .number()
    .int("--count must be a whole number")
    .min(1, "--count must be at least 1")
    .max(1000)
    .default(1),
  readyTimeoutS: seconds("--ready-timeout", 7200).default(900),
  expectChange: z
    .string()
    .optional()
    .transform((value, ctx) => {
      const names = (value ?? "").split(",").filter(Boolean);
      const unknown = names.filter((n) => !(EXPECTABLE_CHANGES as readonly string[]).includes(n));
      if (unknown.length)
        ctx.addIssue({
          code: "custom",
          message: `--expect-change: unknown "${unknown.join(", ")}"; choose from ${EXPECTABLE_CHANGES.join(", ")} (comma-separated)`,
        });
      return [...new Set(names)] as ExpectedChange[];
    }),
  expectOffline: z.boolean().default(false),
  outboundProbe: z
    .string()
    .regex(
      /^https?:\/\/[A-Za-z0-9.:[\]\/_-]+$/,
      "--outbound-probe must be a plain http:// or https:// URL (host, port, path)",
    )
    .default("http://deb.debian.org/"),
  reboots: whole("--reboots", 1, 1000).default(3),
  killEvery: whole("--kill-every", 0, 1000).default(1),
  load: whole("--load", 0, 16).default(0),
  ui: z.boolean().default(false),
  uiPort: z.coerce
    .number({ error: "--ui-port must be a number" })
    .int("--ui-port must be a whole number")
    .min(0, "--ui-port must be 0-65535")
    .max(65535, "--ui-port must be 0-65535")
    .default(0),
  json: z.string().min(1, "--json is empty").optional(),
  concurrency: z
    .string()
    .regex(/^\d+(,\d+)*$/, "--concurrency must be a comma-separated list of whole numbers, e.g. 1,2,4")
    .default("1")
    .transform((v) => v.split(",").map(Number))
    .refine((levels) => levels.every((c) => c >= 1 && c <= 256), "--concurrency levels must be 1-256"),
  sweep: z.boolean().default(false),
  maxConcurrency: whole("--max-concurrency", 1, 256).default(8),
  requests: whole("--requests", 1, 10000).default(3),
  warmup: whole("--warmup", 0, 100).default(1),
  promptSet: z
    .enum(PROMPT_SET_NAMES, { error: `--prompt-set must be one of ${PROMPT_SET_NAMES.join(", ")}` })
    .default("coding"),
  fixedLength: z.boolean().default(false),
  html: z.string().min(1, "--html is empty").optional(),
  compare: z.boolean().default(false),
  regressionThreshold: z.coerce
    .number({ error: "--regression-threshold must be a number (percent)" })
    .positive("--regression-threshold must be positive")
    .max(1000)
    .default(10),
});

export type CliOptions = z.infer<typeof optionsSchema> & { defects: Defect[] };

export type Command =
  | { kind: "help"; topic: "main" | "demo" | "bench" }
  | { kind: "version" }
  | { kind: "checks" }
  | { kind: "demo"; options: CliOptions }
  | { kind: "check"; host: string; options: CliOptions }
  | { kind: "reboot"; host: string; options: CliOptions }
  | { kind: "soak"; host: string; options: CliOptions }
  | { kind: "bench"; host: string; options: CliOptions }
  | { kind: "bench-compare"; files: [string, string]; options: CliOptions };

function formatIssues(error: z.ZodError): string {
  return error.issues.map((issue) => issue.message).join("\n");
}

export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): Command {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError(`${(error as Error).message}\nRun "slmc-check --help" for usage.`);
  }
  const { values, positionals } = parsed;
  const [first, ...rest] = positionals;
  if (values.version) return { kind: "version" };
  const topic = (word: string | undefined) => (word === "demo" || word === "bench" ? word : "main");
  if (first === "help") return { kind: "help", topic: topic(rest[0]) };
  if (values.help) return { kind: "help", topic: topic(first) };
  if (first === "checks") return { kind: "checks" };
  if (!first) throw usageError('missing host: run "slmc-check <host>" or "slmc-check demo" (see --help)');
  const subcommand = first === "reboot" || first === "soak" || first === "bench" ? first : undefined;
  const isReboot = subcommand !== undefined;
  const target = isReboot ? rest[0] : first;
  const comparing = subcommand === "bench" && values.compare === true;
  if (comparing && rest.length !== 2)
    throw usageError("bench --compare needs two reports: slmc-check bench --compare old.json new.json");
  if (values.compare && subcommand !== "bench")
    throw usageError('--compare only applies to "slmc-check bench --compare old.json new.json"');
  if (subcommand === "reboot" && !target)
    throw usageError('missing host: run "slmc-check reboot <host> [--count N]"');
  if (subcommand === "soak" && !target)
    throw usageError('missing host: run "slmc-check soak <host> --reboots N"');
  if (subcommand === "bench" && !target)
    throw usageError(
      'missing host: run "slmc-check bench <host>" or "slmc-check bench --compare old.json new.json"',
    );
  if (!comparing && rest.length > (isReboot ? 1 : 0))
    throw usageError(`unexpected argument "${rest.at(-1)}"; give one host (see --help)`);

  const result = optionsSchema.safeParse({
    httpsPort: values["https-port"],
    httpPort: values["http-port"],
    user: values.user,
    passwordFile: values["password-file"],
    password: values.password,
    ca: values.ca,
    insecure: values.insecure,
    servername: values.servername,
    suites: values.suite,
    maxTokens: values["max-tokens"],
    timeoutS: values.timeout,
    streamTimeoutS: values["stream-timeout"],
    streamIdleS: values["stream-idle"],
    deadlineS: values.deadline,
    format: values.format,
    out: values.out,
    showSecrets: values["show-secrets"],
    color: !values["no-color"] && !env.NO_COLOR,
    defects: values.defect,
    sshUser: values["ssh-user"],
    sshKeys: values["ssh-key"],
    sshPort: values["ssh-port"],
    jump: values.jump,
    acceptNewHostKey: values["accept-new-host-key"],
    knownHosts: values["known-hosts"],
    noSsh: values["no-ssh"],
    sshExplicit: ["ssh-user", "ssh-key", "ssh-port", "jump", "accept-new-host-key"].some(
      (flag) => values[flag as keyof typeof values] !== undefined,
    ),
    enginePort: values["engine-port"],
    count: values.count,
    readyTimeoutS: values["ready-timeout"],
    expectChange: values["expect-change"],
    expectOffline: values["expect-offline"],
    outboundProbe: values["outbound-probe"],
    reboots: values.reboots,
    killEvery: values["kill-every"],
    load: values.load,
    ui: values.ui,
    uiPort: values["ui-port"],
    json: values.json,
    concurrency: values.concurrency,
    sweep: values.sweep,
    maxConcurrency: values["max-concurrency"],
    requests: values.requests,
    warmup: values.warmup,
    promptSet: values["prompt-set"],
    fixedLength: values["fixed-length"],
    html: values.html,
    compare: values.compare,
    regressionThreshold: values["regression-threshold"],
  });
  if (!result.success) throw usageError(formatIssues(result.error));
  const options = result.data;
  const unknownDefect = options.defects.find((d) => !isDefect(d));
  if (unknownDefect)
    throw usageError(`--defect: unknown defect "${unknownDefect}"; "slmc-check demo --help" lists them`);
  const onlyFor = (flags: (keyof typeof values)[], command: string, allowed: boolean) => {
    const given = flags.filter((flag) => values[flag] !== undefined);
    if (given.length && !allowed)
      throw usageError(`--${given.join(", --")} only applies to "slmc-check ${command}"`);
  };
  onlyFor(["reboots", "kill-every", "load", "ui", "ui-port"], "soak <host>", subcommand === "soak");
  onlyFor(
    ["json"],
    'soak <host>" or "slmc-check bench <host>',
    subcommand === "soak" || subcommand === "bench",
  );
  onlyFor(
    ["concurrency", "sweep", "max-concurrency", "requests", "warmup", "prompt-set", "fixed-length", "html"],
    "bench <host>",
    subcommand === "bench",
  );
  onlyFor(["regression-threshold"], "bench --compare", comparing);
  if (comparing)
    return { kind: "bench-compare", files: [rest[0]!, rest[1]!], options: options as CliOptions };
  onlyFor(["deadline"], '<host>" or "slmc-check demo', subcommand === undefined);
  // A longer --stream-timeout (a slow appliance) moves the default along: three whole streams.
  if (subcommand === undefined)
    options.deadlineS ??= Math.max(DEFAULT_DEADLINE_S, 3 * options.streamTimeoutS);
  onlyFor(["expect-change"], "reboot <host>", subcommand === "reboot");
  onlyFor(["count"], "reboot <host>", subcommand === "reboot");
  if (options.ca && options.insecure)
    throw usageError("--ca and --insecure contradict each other; choose one");

  if (first === "demo") {
    const conflicting = (
      [
        "https-port",
        "http-port",
        "password-file",
        "password",
        "ca",
        "insecure",
        "servername",
        "user",
      ] as const
    ).filter((flag) => values[flag] !== undefined);
    if (conflicting.length)
      throw usageError(`demo chooses its own access settings; drop --${conflicting.join(", --")}`);
    return { kind: "demo", options: options as CliOptions };
  }
  if (options.defects.length && !(subcommand === "bench" && target === "demo"))
    throw usageError(
      "--defect only applies to the simulator: slmc-check demo --defect NAME (or slmc-check bench demo --defect NAME)",
    );
  const host = hostSchema.safeParse((target ?? "").replace(/^\[(.*)\]$/, "$1"));
  if (!host.success) throw usageError(`host "${target}": ${formatIssues(host.error)}`);
  return { kind: subcommand ?? "check", host: host.data, options: options as CliOptions };
}
