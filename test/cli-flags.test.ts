// The flag table is the contract: every (flag, command) pair it does not list is refused with exit 2,
// naming the flag and the commands that take it; every pair it lists parses; every bad value names the
// flag and what it accepts.
import t from "tap";
import { parseCommandLine } from "../src/cli/args.ts";
import { CliError, EXIT } from "../src/cli/exit-codes.ts";
import { COMMAND_NAMES, COMMANDS, FLAGS, flagByName, type CommandName, type Flag } from "../src/cli/flags.ts";

const ARGV: Record<CommandName, string[]> = {
  check: ["10.0.0.5"],
  demo: ["demo"],
  reboot: ["reboot", "10.0.0.5"],
  soak: ["soak", "10.0.0.5"],
  bench: ["bench", "10.0.0.5"],
  "bench-demo": ["bench", "demo"],
  compare: ["bench", "--compare", "old.json", "new.json"],
  checks: ["checks"],
  gate: ["gate", "10.0.0.5", "--policy", "release-policy.yaml", "--evidence", "out/evidence"],
  "gate-demo": ["gate", "demo", "--policy", "lab-policy.yaml", "--evidence", "out/evidence"],
  "gate-verify": ["gate", "--verify", "out/evidence"],
  fleet: ["fleet", "fleet.yaml"],
  tune: ["tune", "10.0.0.5"],
};

/** A valid value for each value flag without a default. */
const SAMPLE: Record<string, string> = {
  "password-file": "pw.txt",
  password: "secret-password",
  ca: "ca.pem",
  servername: "copilot.example.org",
  "ssh-key": "id_ed25519",
  jump: "oneadmin@frontend.example.org:2222",
  "known-hosts": "known_hosts",
  suite: "tls",
  deadline: "30",
  out: "report.txt",
  report: "json:report.json",
  "wait-ready": "30",
  defect: "buffered-sse",
  "expect-change": "password",
  json: "report.json",
  html: "report.html",
  requests: "16",
  rate: "2",
  "slo-ttft": "500",
  "slo-decode": "5",
  policy: "release-policy.yaml",
  evidence: "out/evidence",
  "build-manifest": "out/manifest.json",
  sign: "id_ed25519",
  verify: "out/evidence",
  "allowed-signer": "id_ed25519.pub",
  gate: "release-policy.yaml",
};

function failure(argv: string[]): CliError | undefined {
  try {
    parseCommandLine(argv, {});
  } catch (error) {
    if (error instanceof CliError) return error;
    throw error;
  }
  return undefined;
}

const words = (f: Flag): string[] => {
  if (!("value" in f)) return [`--${f.name}`];
  const value = "default" in f ? f.default : SAMPLE[f.name];
  if (value === undefined) throw new Error(`no sample value for --${f.name}`);
  return [`--${f.name}`, value];
};
/** The flag `f` requires, with a value when it takes one (--duration needs --rate R). */
const required = (f: Flag): string[] => ("requires" in f ? words(flagByName(f.requires as string)!) : []);
const withRequired = (f: Flag): string[] => [...required(f), ...words(f)];
const takes = (f: Flag, command: CommandName) => (f.commands as readonly CommandName[]).includes(command);

t.test("every flag a command does not take is refused, naming the flag and who takes it", async (t) => {
  let pairs = 0;
  for (const f of FLAGS)
    for (const command of COMMAND_NAMES) {
      // --compare is what makes "bench" the compare command; it cannot be refused by bench.
      // Likewise --verify makes "gate" the verify command.
      if (
        takes(f, command) ||
        (f.name === "compare" && command.startsWith("bench")) ||
        (f.name === "verify" && command.startsWith("gate"))
      )
        continue;
      pairs++;
      const argv = [...ARGV[command], ...words(f)];
      const error = failure(argv);
      t.equal(error?.exitCode, EXIT.usage, `${argv.join(" ")} exits 2`);
      const expected = f.commands.map((c) => `"${COMMANDS[c]}"`);
      t.match(error?.message, `--${f.name} only applies to `, `${argv.join(" ")} names the flag`);
      for (const usage of expected) t.match(error?.message, usage, `${argv.join(" ")} names ${usage}`);
      t.match(error?.message, `not to "${COMMANDS[command]}"`);
    }
  t.ok(pairs > 150, `${pairs} refused pairs checked`);
});

t.test("the issue's examples", async (t) => {
  t.match(
    failure(["demo", "--ssh-key", "k"])?.message,
    /--ssh-key only applies to .*not to "slmc-check demo"/,
  );
  t.match(failure(["demo", "--jump", "u@h"])?.message, /--jump only applies to/);
  t.match(failure(["bench", "h", "--suite", "tls"])?.message, /--suite only applies to/);
  t.match(
    failure(["bench", "demo", "--ca", "ca.pem"])?.message,
    /--ca only applies to .*"slmc-check bench <host>"/,
  );
  t.equal(
    failure(["bench", "h", "--max-concurrency", "4"])?.message,
    "--max-concurrency only applies with --sweep",
  );
  t.equal(failure(["soak", "h", "--ui-port", "8099"])?.message, "--ui-port only applies with --ui");
  t.match(
    failure(["checks", "--format", "json"])?.message,
    /--format only applies to .*not to "slmc-check checks"/,
  );
  t.match(parseCommandLine(["bench", "h", "--sweep", "--max-concurrency", "4"], {}), {
    options: { maxConcurrency: 4 },
  });
});

t.test("every pair the table lists parses, its value reaching the options", async (t) => {
  for (const f of FLAGS)
    for (const command of COMMAND_NAMES) {
      if (!takes(f, command) || f.name === "help" || f.name === "version") continue;
      const argv = [...ARGV[command], ...withRequired(f)];
      const error = failure(argv);
      t.equal(error, undefined, `${argv.join(" ")}: ${error?.message ?? "ok"}`);
    }
});

t.test("defaults come from the table", async (t) => {
  for (const f of FLAGS) {
    if (!("default" in f)) continue;
    const command = f.commands[0] as CommandName;
    const given = parseCommandLine([...ARGV[command], ...withRequired(f)], {});
    const absent = parseCommandLine([...ARGV[command], ...required(f)], {});
    const value = (c: typeof given) =>
      "options" in c ? (c.options as Record<string, unknown>)[f.key] : "none";
    t.same(value(absent), value(given), `--${f.name} defaults to ${f.default}`);
    t.not(value(absent), undefined, `--${f.name} has a value when absent`);
  }
});

const numeric = FLAGS.filter(
  (f) => "expects" in f && /^a (whole number|port number|number of seconds|percentage)/.test(f.expects ?? ""),
);

t.test("a bad number names the flag, the accepted range and the value given", async (t) => {
  for (const f of FLAGS)
    if ("default" in f && /^\d+$/.test(f.default ?? "") && f.name !== "concurrency")
      t.ok(numeric.includes(f), `--${f.name} is checked as a number`);
  t.ok(
    numeric.some((f) => f.name === "deadline"),
    "a number without a default too",
  );
  for (const f of numeric) {
    const command = f.commands[0] as CommandName;
    for (const bad of ["abc", "-1", "99999999", "1x", ""]) {
      const argv = [...ARGV[command], ...required(f), `--${f.name}`, bad];
      const error = failure(argv);
      t.equal(error?.exitCode, EXIT.usage, `${argv.join(" ")} exits 2`);
      t.equal(
        error?.message,
        `--${f.name}: expected ${"expects" in f ? f.expects : ""}, got '${bad}'`,
        argv.join(" "),
      );
    }
  }
  t.equal(
    failure(["h", "--timeout", "-1"])?.message,
    "--timeout: expected a number of seconds > 0 and at most 3600, got '-1'",
  );
  t.equal(
    failure(["h", "--max-tokens", "abc"])?.message,
    "--max-tokens: expected a whole number 4-4096, got 'abc'",
  );
  t.equal(
    failure(["h", "--timeout=-1"])?.message,
    "--timeout: expected a number of seconds > 0 and at most 3600, got '-1'",
  );
});

t.test("other bad values name the flag and what it accepts", async (t) => {
  const cases: [string[], RegExp][] = [
    [
      ["h", "--format", "xml"],
      /^--format: expected one of pretty, tap, junit, json, html \(bench: pretty, json, html\), got 'xml'$/,
    ],
    [["h", "--suite", "tls", "--suite", "nope"], /^--suite: expected one of tls, .*, got 'nope'$/],
    [["demo", "--defect", "nope"], /^--defect: expected a defect name .*, got 'nope'$/],
    [["h", "--jump", "frontend"], /^--jump: expected USER@HOST or USER@HOST:PORT, got 'frontend'$/],
    [["h", "--outbound-probe", "ftp://x"], /^--outbound-probe: expected a plain http:\/\/ or https:\/\/ URL/],
    [
      ["bench", "h", "--concurrency", "1,0"],
      /^--concurrency: expected a comma-separated list of whole numbers 1-256/,
    ],
    [["bench", "h", "--prompt-set", "poems"], /^--prompt-set: expected one of coding, .*got 'poems'$/],
    [
      ["reboot", "h", "--expect-change", "colour"],
      /^--expect-change: unknown "colour"; choose from password/,
    ],
    [["h", "--user", ""], /^--user: expected a user name, got ''$/],
  ];
  for (const [argv, message] of cases) {
    const error = failure(argv);
    t.equal(error?.exitCode, EXIT.usage, argv.join(" "));
    t.match(error?.message, message, argv.join(" "));
  }
  t.equal(failure(["h", "--password=-dash-first"]), undefined, "the = form takes a leading dash");
});

t.test("unknown flags, missing values and values given to switches", async (t) => {
  const cases: [string[], string][] = [
    [["h", "--nope"], "unknown option '--nope'"],
    [["h", "-x"], "unknown option '-x'"],
    [["h", "--timeout"], "--timeout: missing value; expected a number of seconds > 0 and at most 3600"],
    [["h", "--timeout", "--insecure"], "--timeout: missing value"],
    [["h", "--ca"], "--ca: missing value"],
    [
      ["h", "--password", "-dash-first"],
      '--password: missing value; expected PASSWORD (a value that starts with "-" goes as --password=VALUE)',
    ],
    [["h", "--insecure=yes"], "--insecure takes no value, got 'yes'"],
  ];
  for (const [argv, message] of cases) {
    const error = failure(argv);
    t.equal(error?.exitCode, EXIT.usage, argv.join(" "));
    t.match(error?.message, message, argv.join(" "));
  }
  t.equal(failure(["h", "--password=-dash-first"]), undefined, "the = form takes a leading dash");
});

t.test("flags of access and SSH are refused together for the simulator, listed at once", async (t) => {
  const error = failure(["demo", "--https-port", "8443", "--ssh-key", "k", "--ca", "c.pem"]);
  t.equal(error?.message.split("\n").length, 3, "one line per refused flag");
});
