// Command-line parsing: defaults, validation, and the usage errors that must exit 2.
import t from "tap";
import { parseCommandLine } from "../src/cli/args.ts";
import { CliError, EXIT } from "../src/cli/exit-codes.ts";

const parse = (...argv: string[]) => parseCommandLine(argv, {});

t.test("defaults for a host", async (t) => {
  const command = parse("10.0.0.5");
  t.equal(command.kind, "check");
  if (command.kind !== "check") return;
  t.equal(command.host, "10.0.0.5");
  t.match(command.options, {
    httpsPort: 443,
    httpPort: 80,
    user: "copilot",
    format: "pretty",
    insecure: false,
    maxTokens: 24,
    suites: [],
  });
});

t.test("bracketed IPv6 hosts are unwrapped", async (t) => {
  const command = parse("[::1]", "--https-port", "8443");
  t.match(command, { kind: "check", host: "::1", options: { httpsPort: 8443 } });
});

t.test("usage errors carry exit code 2", async (t) => {
  for (const argv of [
    ["--nope"],
    ["a", "b"],
    ["h", "--timeout", "-1"],
    ["h", "--max-tokens", "2"],
    ["demo", "--https-port", "1"],
    ["h ost"],
  ]) {
    const error = (() => {
      try {
        parse(...argv);
      } catch (e) {
        return e;
      }
    })();
    t.ok(error instanceof CliError, argv.join(" "));
    t.equal((error as CliError).exitCode, EXIT.usage, argv.join(" "));
  }
});

t.test("help, version and checks need no host", async (t) => {
  t.same(parse("--help"), { kind: "help", topic: "main" });
  t.same(parse("demo", "--help"), { kind: "help", topic: "demo" });
  t.same(parse("help", "demo"), { kind: "help", topic: "demo" });
  t.same(parse("--version"), { kind: "version" });
  t.same(parse("checks"), { kind: "checks" });
});

t.test("NO_COLOR turns colour off", async (t) => {
  const command = parseCommandLine(["demo"], { NO_COLOR: "1" });
  t.match(command, { kind: "demo", options: { color: false } });
});
