// The compiled binary (Bun) on the CLI contract the flag table sets: usage errors, --out without colour
// codes on a terminal, and the demo's note when a failure's advice names a flag the demo refuses.
import t from "tap";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runProcess } from "./spawn.ts";

const BINARY = resolve(import.meta.dirname, "../dist/slmc-check");

const run = (command: string, args: string[], env: Record<string, string>) =>
  runProcess(command, args, env, 90_000);

const slmc = (args: string[]) => run(BINARY, args, { NO_COLOR: "1" });
const shellWord = (word: string) => `'${word.replace(/'/g, "'\\''")}'`;
/** Runs the binary with a pseudo-terminal as stdin, stdout and stderr (util-linux `script`). */
const onTerminal = (args: string[]) =>
  run("script", ["-qec", [BINARY, ...args].map(shellWord).join(" "), "/dev/null"], { TERM: "xterm" });

t.before(() => {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run "npm run build" first`);
});

t.test("usage errors from the binary name the flag and exit 2", async (t) => {
  const cases: [string[], RegExp][] = [
    [
      ["h", "--timeout", "-1"],
      /^slmc-check: --timeout: expected a number of seconds > 0 and at most 3600, got '-1'$/m,
    ],
    [["h", "--max-tokens", "abc"], /^slmc-check: --max-tokens: expected a whole number 4-4096, got 'abc'$/m],
    [["h", "--timeout"], /--timeout: missing value/],
    [["h", "--bogus"], /unknown option '--bogus'/],
    [["demo", "--ssh-key", "k"], /--ssh-key only applies to .*"slmc-check <host>".*not to "slmc-check demo"/],
    [["demo", "--jump", "u@h"], /--jump only applies to/],
    [["bench", "h", "--suite", "tls"], /--suite only applies to "slmc-check <host>" or "slmc-check demo"/],
    [["bench", "h", "--max-concurrency", "4"], /--max-concurrency only applies with --sweep/],
  ];
  for (const [args, message] of cases) {
    const result = await slmc(args);
    t.equal(result.code, 2, `${args.join(" ")} exits 2`);
    t.match(result.stderr, message, `${args.join(" ")}: ${result.stderr.trim()}`);
    t.notMatch(result.stderr, /ERR_PARSE_ARGS|TypeError/, "no runtime argument error");
  }
});

const noPty = existsSync("/usr/bin/script") ? false : "util-linux script (a pseudo-terminal) not installed";

t.test("--out never holds colour codes, whatever the terminal or --no-color", { skip: noPty }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-cli-out-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cases: [string, string[]][] = [
    ["pretty on a terminal", []],
    ["pretty on a terminal, --no-color", ["--no-color"]],
    ["tap on a terminal", ["--format", "tap"]],
  ];
  for (const [name, extra] of cases) {
    const out = join(dir, `${name.replace(/\W+/g, "-")}.txt`);
    const result = await onTerminal(["demo", "--suite", "tls", "--out", out, ...extra]);
    t.equal(result.code, 0, `${name}: exit 0\n${result.stdout}`);
    const text = await readFile(out, "utf8");
    t.match(text, /tls\.protocol/, `${name}: the report was written`);
    t.notMatch(text, "\x1b[", `${name}: no colour code in the file`);
    if (!extra.length)
      t.match(result.stdout, "\x1b[", "the terminal's summary is coloured: the terminal was real");
  }
  const piped = join(dir, "piped.txt");
  t.equal((await run(BINARY, ["demo", "--suite", "tls", "--out", piped], {})).code, 0);
  t.notMatch(await readFile(piped, "utf8"), "\x1b[", "not a terminal: no colour code");
});

t.test("demo: advice naming a flag the demo refuses gets a note naming the injected defect", async (t) => {
  const expired = await slmc([
    "demo",
    "--defect",
    "expired-certificate",
    "--suite",
    "tls",
    "--suite",
    "auth",
    "--format",
    "json",
  ]);
  t.equal(expired.code, 1, "the defect fails checks");
  const report = JSON.parse(expired.stdout) as {
    notes: string[];
    checks: { status: string; message: string }[];
  };
  t.ok(
    report.checks.some((c) => c.status !== "pass" && /--insecure\b/.test(c.message)),
    "a failure advises --insecure (the situation the note is for)",
  );
  t.notOk(
    report.checks.some((c) => /--ca\b/.test(c.message)),
    "an expired certificate is never answered with --ca: renewing it is the fix",
  );
  const notes = report.notes.filter((n) => /does not take/.test(n));
  t.equal(notes.length, 1, "one note for the same advice, not one per check");
  t.match(notes[0], /advise --insecure, which "slmc-check demo" does not take/);
  t.match(notes[0], /On a real appliance you would .*--insecure .*"slmc-check <host>"/);
  t.match(notes[0], /in the demo the failure is the injected defect expired-certificate/);

  const buffered = await slmc([
    "demo",
    "--defect",
    "buffered-sse",
    "--suite",
    "streaming",
    "--format",
    "json",
  ]);
  const bufferedNotes = (JSON.parse(buffered.stdout) as { notes: string[] }).notes;
  t.notOk(
    bufferedNotes.some((n) => /does not take/.test(n)),
    "no such note when the advice concerns the appliance only",
  );
});
