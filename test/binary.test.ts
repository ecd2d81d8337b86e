// The compiled executable (Bun) end to end: the CLI contract, exit codes, formats, and the demo.
// Needs `npm run build` first (the test command does it).
import t, { type Test } from "tap";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Parser } from "tap-parser";
import { simulator } from "./helpers.ts";
import { freePort } from "../fixtures/ports.ts";
import { runProcess, type Run } from "./spawn.ts";

const BINARY = resolve(import.meta.dirname, "../dist/slmc-check");
const STAND_IN = resolve(import.meta.dirname, "../dist/local-ai-stand-in");

const run = (binary: string, args: string[], env: Record<string, string> = {}, killAfterMs = 60_000) =>
  runProcess(binary, args, { NO_COLOR: "1", ...env }, killAfterMs);

const slmc = (args: string[], env: Record<string, string> = {}) => run(BINARY, args, env);

async function silentServer(t: Test, answer?: string): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    if (answer) socket.on("data", () => socket.end(answer));
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((closed) => server.close(() => closed()));
  });
  return (server.address() as AddressInfo).port;
}

t.before(() => {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run "npm run build" first`);
});

t.test("--help, --version and checks", async (t) => {
  const help = await slmc(["--help"]);
  t.equal(help.code, 0);
  t.match(help.stdout, /Exit codes:[\s\S]*3 {2}target unreachable/);
  const demoHelp = await slmc(["demo", "--help"]);
  t.match(demoHelp.stdout, /buffered-sse/);
  t.match(demoHelp.stdout, /SIMULATED/);
  const version = await slmc(["--version"]);
  const pkg = JSON.parse(await readFile(resolve(import.meta.dirname, "../package.json"), "utf8")) as {
    version: string;
  };
  t.equal(version.stdout.trim(), `slmc-check ${pkg.version}`);
  const checks = await slmc(["checks"]);
  t.match(checks.stdout, /SEC-08 +streaming\.incremental/);
});

t.test("bad command lines exit 2 with a clear message", async (t) => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /unknown option '--bogus'/],
    [[], /missing host/],
    [["host", "--https-port", "70000"], /--https-port: expected a port number 1-65535, got '70000'/],
    [
      ["host", "--format", "xml"],
      /--format: expected one of pretty, tap, junit, json, html \(bench: pretty, json, html\), got 'xml'/,
    ],
    [["host", "--suite", "nope"], /--suite: expected one of tls, .*, got 'nope'/],
    [["https://host"], /not a URL/],
    [["host", "--password-file", "/nonexistent/pw"], /cannot read password file "\/nonexistent\/pw": ENOENT/],
    [["host", "--ca", "/nonexistent/ca.pem"], /cannot read CA file/],
    [["host", "--ca", "x.pem", "--insecure"], /contradict/],
    [["demo", "--defect", "nope"], /--defect: expected a defect name .*, got 'nope'/],
    [
      ["host", "--defect", "buffered-sse"],
      /--defect only applies to "slmc-check demo", "slmc-check bench demo" or "slmc-check gate demo"/,
    ],
  ];
  for (const [args, message] of cases) {
    const result = await slmc(args);
    t.equal(result.code, 2, `${args.join(" ")} exits 2`);
    t.match(result.stderr, message, `${args.join(" ")}: ${result.stderr.trim()}`);
  }
});

t.test("an unreachable target exits 3 quickly", async (t) => {
  const port = await freePort();
  const result = await slmc(["127.0.0.1", "--https-port", String(port), "--timeout", "2"]);
  t.equal(result.code, 3);
  t.match(result.stderr, /target unreachable: .*connection refused.*--https-port/);
  t.ok(result.ms < 5000, `took ${result.ms} ms`);
});

t.test("a port that never completes a TLS handshake exits 3 within the timeout", async (t) => {
  const port = await silentServer(t);
  const result = await slmc(["127.0.0.1", "--https-port", String(port), "--timeout", "1"]);
  t.equal(result.code, 3);
  t.match(result.stderr, /TLS handshake .* failed: .*timed out/);
  t.ok(result.ms < 5000, `took ${result.ms} ms`);
});

t.test("a port that is not TLS at all exits 3", async (t) => {
  const port = await silentServer(t, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  const result = await slmc(["127.0.0.1", "--https-port", String(port), "--timeout", "2"]);
  t.equal(result.code, 3);
  t.match(result.stderr, /TLS handshake .* failed/);
});

t.test("an untrusted certificate exits 2 and shows the fingerprint to compare", async (t) => {
  const sim = await simulator(t);
  const result = await slmc([
    "127.0.0.1",
    "--https-port",
    String(sim.httpsPort),
    "--http-port",
    String(sim.httpPort),
  ]);
  t.equal(result.code, 2);
  t.match(
    result.stderr,
    /not trusted .*self-signed.*SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}.*--ca FILE.*--insecure/,
  );
});

// The two demos mostly wait on the simulator's schedule (~0.5 s of CPU in 10 s): they run side by
// side, started beside the real-target runs.
let demos: Promise<[Run, Run]> | undefined;
const bothDemos = () =>
  (demos ??= Promise.all([slmc(["demo"]), slmc(["demo", "--defect", "buffered-sse", "--format", "json"])]));

t.test("a real target: all formats, --out, password sources and masking", async (t) => {
  void bothDemos();
  const sim = await simulator(t);
  const dir = await mkdtemp(join(tmpdir(), "slmc-bin-"));
  const caFile = join(dir, "ca.pem");
  const passwordFile = join(dir, "password");
  await writeFile(caFile, sim.certificatePem);
  await writeFile(passwordFile, `${sim.password}\n`);
  const base = [
    "127.0.0.1",
    "--https-port",
    String(sim.httpsPort),
    "--http-port",
    String(sim.httpPort),
    "--ca",
    caFile,
    "--max-tokens",
    "8",
    "--no-ssh",
  ];
  const allHttps = ["tls", "auth", "cors", "redirect", "api", "streaming", "clients"].flatMap((suite) => [
    "--suite",
    suite,
  ]);

  const json = await slmc([...base, ...allHttps, "--password-file", passwordFile, "--format", "json"]);
  const notPassed = (
    JSON.parse(json.stdout || "{}") as { checks?: { id: string; status: string; message: string }[] }
  ).checks
    ?.filter((c) => c.status !== "pass" && c.status !== "skip")
    .map((c) => `${c.id}: ${c.message}`)
    .join("; ");
  t.equal(json.code, 0, `exit 0 (${notPassed || json.stderr})`);
  const report = JSON.parse(json.stdout) as {
    tool: { name: string };
    checks: { id: string; status: string; requirement: string; evidence: object }[];
    summary: Record<string, number>;
  };
  t.equal(report.tool.name, "slmc-check");
  t.ok(report.checks.length >= 18);
  // api.health-readiness can only judge /health while the engine is not ready: a ready target skips it.
  t.same(report.summary, { passed: report.checks.length - 1, failed: 0, skipped: 1, errored: 0 });
  t.same(
    report.checks.filter((c) => c.status === "skip").map((c) => c.id),
    ["api.health-readiness"],
  );

  const tap = await slmc([...base, "--format", "tap", "--suite", "auth", "--suite", "tls"], {
    SLMC_PASSWORD: sim.password,
  });
  t.equal(tap.code, 0);
  t.match(tap.stdout, /^TAP version 14\n/);
  const parsed = await new Promise<{ ok: boolean; count: number; pass: number }>((done) => {
    const parser = new Parser((result) =>
      done(result as unknown as { ok: boolean; count: number; pass: number }),
    );
    parser.end(tap.stdout);
  });
  t.equal(parsed.ok, true, "TAP output parses and passes");
  t.equal(parsed.count, 10, "one test point per check in the selected suites");

  const out = join(dir, "report.xml");
  const junit = await slmc([
    ...base,
    ...allHttps,
    "--format",
    "junit",
    "--out",
    out,
    "--password",
    sim.password,
  ]);
  t.equal(junit.code, 0);
  t.match(junit.stderr, /--password is visible .* process list/);
  const xml = await readFile(out, "utf8");
  t.match(
    xml,
    /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="slmc-check [^"]+" tests="29" failures="0" errors="0" skipped="1"/,
  );
  for (const text of [json.stdout, tap.stdout, xml])
    t.notOk(text.includes(sim.password), "password never printed");

  const noPassword = await slmc([...base, ...allHttps]);
  t.equal(noPassword.code, 0, "skips do not fail the run");
  t.match(noPassword.stdout, /skipped \(skips do not fail the run\)/);
  t.match(noPassword.stdout, /needs the appliance password/);
});

t.test("slmc-check demo passes, and says it used the simulator", async (t) => {
  const [result] = await bothDemos();
  t.equal(result.code, 0, result.stdout + result.stderr);
  t.match(result.stdout, /SIMULATED appliance/);
  t.match(result.stdout, /PASS: 33 passed, 0 failed, 0 errored, 1 skipped/);
});

t.test("slmc-check demo with a defect exits 1 and names the requirement", async (t) => {
  const [, result] = await bothDemos();
  t.equal(result.code, 1);
  const report = JSON.parse(result.stdout) as {
    notes: string[];
    checks: { id: string; status: string; requirement: string }[];
  };
  const failed = report.checks.filter((c) => c.status === "fail" || c.status === "error");
  t.same(
    failed.map((c) => [c.id, c.requirement]),
    [
      ["streaming.incremental", "SEC-08"],
      // The client-shaped requests judge delivery the way those clients receive it, so they see it too.
      ["clients.cline-shaped-request", "IDE-04"],
      ["clients.continue-shaped-request", "IDE-04"],
    ],
  );
  t.ok(report.notes.some((n) => n.includes("defects injected: buffered-sse")));
  t.ok(
    report.notes.some((n) => n.includes("STAND-IN engine")),
    "the report says the engine is a stand-in",
  );
});

t.test("the LocalAI stand-in binary", async (t) => {
  const help = await run(STAND_IN, ["--help"]);
  t.equal(help.code, 0);
  t.match(help.stdout, /STAND-IN[\s\S]*NOT LocalAI/);
  const bad = await run(STAND_IN, ["run", "--address", "nowhere"]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--address must be HOST:PORT/);

  const dir = await mkdtemp(join(tmpdir(), "slmc-standin-"));
  await writeFile(join(dir, "m.gguf"), Buffer.alloc(1024));
  await writeFile(join(dir, "m.yaml"), "name: m\nparameters:\n  model: m.gguf\n");
  const port = await freePort();
  const child = spawn(STAND_IN, [
    "run",
    "--address",
    `127.0.0.1:${port}`,
    "--models-path",
    dir,
    "--load-ms",
    "1500",
    "--threads",
    "3",
  ]);
  t.teardown(() => void child.kill("SIGKILL"));
  const base = `http://127.0.0.1:${port}`;
  let early: number | undefined;
  for (let i = 0; i < 50 && early === undefined; i++) {
    early = await fetch(`${base}/readyz`).then(
      (r) => r.status,
      () => undefined,
    );
    if (early === undefined) await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(early, 503, "/readyz is 503 while the model loads");
  await new Promise((r) => setTimeout(r, 1800));
  t.equal((await fetch(`${base}/readyz`)).status, 200, "/readyz is 200 once loaded");
  const models = (await (await fetch(`${base}/v1/models`)).json()) as {
    data: { id: string; owned_by: string }[];
  };
  t.equal(models.data[0]?.id, "m");
  t.match(models.data[0]?.owned_by, /stand-in/);
  const system = (await (await fetch(`${base}/system`)).json()) as { threads: number };
  t.equal(system.threads, 3, "--threads is honoured");
});

t.test(
  "SSH through the compiled binary: host keys, connection count, and faults with exit codes",
  async (t) => {
    const { startSshd } = await import("../fixtures/sshd.ts");
    const sim = await simulator(t);
    const sshd = await startSshd();
    t.teardown(() => sshd.stop());
    const dir = await mkdtemp(join(tmpdir(), "slmc-bin-ssh-"));
    const caFile = join(dir, "ca.pem");
    await writeFile(caFile, sim.certificatePem);
    const knownHosts = join(dir, "known_hosts");
    const base = [
      "127.0.0.1",
      "--https-port",
      String(sim.httpsPort),
      "--ca",
      caFile,
      "--ssh-port",
      String(sshd.port),
      "--known-hosts",
      knownHosts,
    ];

    const first = await slmc([
      ...base,
      "--ssh-key",
      sshd.clientKeyFile,
      "--suite",
      "host",
      "--format",
      "json",
    ]);
    const report = JSON.parse(first.stdout) as {
      notes: string[];
      checks: { id: string; status: string; evidence: { vcpus?: number } }[];
    };
    t.ok(
      report.notes.some((n) => /seen for the first time: trusted ssh-ed25519 SHA256:/.test(n)),
      "trust on first use is reported",
    );
    t.ok(
      report.notes.some((n) => /SSH: 1 connection\(s\) opened/.test(n)),
      `one SSH connection for the whole run: ${report.notes.join(" / ")}`,
    );
    t.ok(report.notes.some((n) => /password read from the appliance over SSH|no password given/.test(n)));
    t.ok(
      (report.checks.find((c) => c.id === "host.cpu-flags")?.evidence.vcpus ?? 0) > 0,
      "commands ran over SSH under Bun",
    );

    const wrongKey = await slmc([...base, "--ssh-key", sshd.otherKeyFile]);
    t.equal(wrongKey.code, 2, "wrong key: configuration error");
    t.match(wrongKey.stderr, /SSH authentication failed/);

    await sshd.restart({ newHostKey: true });
    const changed = await slmc([...base, "--ssh-key", sshd.clientKeyFile]);
    t.equal(changed.code, 2, "changed host key: refused");
    t.match(changed.stderr, /host key CHANGED.*--accept-new-host-key/);

    await sshd.halt();
    const closed = await slmc([...base, "--ssh-key", sshd.clientKeyFile, "--timeout", "3"]);
    t.equal(closed.code, 3, "SSH port closed: unreachable");
    t.match(closed.stderr, /SSH port closed/);

    const jumpDown = await slmc([
      ...base,
      "--ssh-key",
      sshd.clientKeyFile,
      "--jump",
      `root@127.0.0.1:${sshd.port}`,
      "--timeout",
      "3",
    ]);
    t.equal(jumpDown.code, 3, "jump host unreachable");
    t.match(jumpDown.stderr, /jump host root@127\.0\.0\.1:\d+ unreachable/);
  },
);
