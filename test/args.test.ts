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

t.test(
  "--deadline: 900 s by default for a check run and the demo; the gate and bench only when given",
  async (t) => {
    t.match(parse("10.0.0.5"), { kind: "check", options: { deadlineS: 900 } });
    t.match(parse("10.0.0.5", "--deadline", "30"), { options: { deadlineS: 30 } });
    t.match(parse("demo", "--deadline", "5"), { options: { deadlineS: 5 } });
    t.match(parse("h", "--stream-timeout", "600"), { options: { deadlineS: 1800 } }, "3 whole streams");
    const soak = parse("soak", "10.0.0.5");
    t.equal("options" in soak ? soak.options.deadlineS : "none", undefined, "soak has its own bounds");
    for (const argv of [
      ["h", "--deadline", "0"],
      ["h", "--deadline", "soon"],
      ["soak", "h", "--deadline", "60"],
      ["reboot", "h", "--deadline", "60"],
    ]) {
      const error = (() => {
        try {
          parse(...argv);
        } catch (e) {
          return e;
        }
      })();
      t.equal((error as CliError | undefined)?.exitCode, EXIT.usage, argv.join(" "));
    }
    t.match(parse("bench", "h", "--deadline", "60"), { options: { deadlineS: 60 } }, "bench: when given");
    const bench = parse("bench", "h");
    t.equal("options" in bench ? bench.options.deadlineS : "none", undefined, "bench: no limit unless given");
    t.throws(
      () => parse("reboot", "h", "--deadline", "60"),
      /--deadline only applies to "slmc-check <host>", "slmc-check demo", .*"slmc-check gate <host>".*"slmc-check bench demo"/,
    );
    const gate = ["--policy", "p.yaml", "--evidence", "e"];
    const unbounded = parse("gate", "h", ...gate);
    t.equal(
      "options" in unbounded ? unbounded.options.deadlineS : "none",
      undefined,
      "no default for a gate",
    );
    t.match(parse("gate", "demo", ...gate, "--deadline", "600"), { options: { deadlineS: 600 } });
  },
);

t.test("bench's outputs are pretty, json and html; the other commands' any report format", async (t) => {
  t.match(parse("bench", "demo", "--format", "html", "--report", "json:r.json"), {
    options: { bench: { format: "html", reports: [{ format: "json", file: "r.json" }] }, reports: [] },
  });
  t.match(parse("demo", "--format", "html"), { options: { format: "html" } });
  t.match(parse("h", "--report", "html:r.html"), {
    options: { reports: [{ format: "html", file: "r.html" }] },
  });
  t.throws(() => parse("bench", "h", "--report", "tap:r.tap"), /--report tap:r\.tap: bench writes pretty/);
});

t.test("--rate is an open loop: not with closed-loop levels; --duration and --seed need it", async (t) => {
  t.match(parse("bench", "h", "--rate", "0.5", "--duration", "30", "--seed", "9"), {
    options: { rate: 0.5, durationS: 30, seed: 9 },
  });
  t.throws(
    () => parse("bench", "h", "--rate", "2", "--sweep", "--concurrency", "1,2"),
    /--rate is an open loop .*--concurrency and --sweep set closed-loop levels: choose one/,
  );
  t.throws(() => parse("bench", "h", "--duration", "30"), /--duration only applies with --rate/);
  t.throws(() => parse("bench", "h", "--seed", "3"), /--seed only applies with --rate/);
});
