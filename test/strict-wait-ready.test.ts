// --wait-ready through the compiled binary: a real local HTTPS server that answers 503 until its Nth
// /health poll, the simulated appliance while its engine still loads the model, and a server that is
// never ready (exit 3 within --wait-ready plus one --timeout, the report still written); and the SSH
// half (bootstrap_success) on a scripted session and clock.
import t, { type Test } from "tap";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createCertificate } from "../src/sim/x509.ts";
import { simulator } from "./helpers.ts";
import { STATUS_COMMAND, startWait, waitForBootstrap } from "../src/commands/wait-ready.ts";
import { PreflightError } from "../src/commands/preflight.ts";
import type { Access } from "../src/core/access.ts";
import type { SshSession } from "../src/probes/ssh.ts";
import { runProcess } from "./spawn.ts";

const BINARY = resolve(import.meta.dirname, "../dist/slmc-check");

const slmc = (args: string[]) => runProcess(BINARY, args, { NO_COLOR: "1" }, 120_000);

/**
 * /health answers 503 until poll number `readyAt` (never, with Infinity); a hung poll with `hang`;
 * `loading` is the 503's body.
 */
async function healthServer(
  t: Test,
  readyAt: number,
  hang = false,
  loading = '{"status":"loading"}',
): Promise<{ port: number; ca: string; polls: () => number }> {
  const cert = createCertificate({ commonName: "vm", altNames: ["127.0.0.1"] });
  let polls = 0;
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (request, response) => {
    if (request.url === "/health") polls++;
    if (request.url === "/health" && polls < readyAt) {
      if (hang) return;
      response.writeHead(503, { "content-type": "application/json" });
      response.end(loading);
      return;
    }
    response.writeHead(request.url === "/health" ? 200 : 404, { "content-type": "application/json" });
    response.end('{"status":"ok"}');
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((closed) => server.close(() => closed()));
  });
  const dir = await mkdtemp(join(tmpdir(), "slmc-wait-"));
  const ca = join(dir, "ca.pem");
  await writeFile(ca, cert.certPem);
  return { port: (server.address() as AddressInfo).port, ca, polls: () => polls };
}

t.before(() => {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run "npm run build" first`);
});

// The tests share no state and mostly wait on child processes and sockets: they run side by side.
t.jobs = 4;

t.test("the status command is constant and only reads the one-apps status file", async (t) => {
  t.equal(STATUS_COMMAND, "cat /etc/one-appliance/status 2>/dev/null || echo status-file-missing");
});

t.test("--wait-ready waits through 503s, with progress on stderr, then runs the checks", async (t) => {
  const server = await healthServer(t, 3);
  const result = await slmc([
    "127.0.0.1",
    "--https-port",
    String(server.port),
    "--ca",
    server.ca,
    "--no-ssh",
    "--suite",
    "tls",
    "--wait-ready",
    "30",
    "--format",
    "json",
  ]);
  t.match(
    result.stderr,
    /waiting for https:\/\/127\.0\.0\.1:\d+\/health: HTTP 503 Service Unavailable \(\d+ s of 30 s\)/,
  );
  t.equal(result.stderr.match(/: HTTP 503 /g)?.length, 2, "one progress line per 503 poll");
  t.match(result.stderr, /ready: https:\/\/127\.0\.0\.1:\d+\/health answered 200 after \d+ s of 30 s/);
  t.ok(server.polls() >= 3, `the server saw ${server.polls()} /health polls`);
  const report = JSON.parse(result.stdout) as { checks: { id: string }[] };
  t.notOk(
    report.checks.some((c) => c.id.startsWith("preflight.")),
    "no preflight failure: the checks ran",
  );
  t.ok(
    report.checks.some((c) => c.id === "tls.certificate"),
    "the tls suite ran after the wait",
  );
});

t.test(
  "--wait-ready stops at once when the appliance says insufficient_memory (a resize is needed)",
  async (t) => {
    const server = await healthServer(
      t,
      Infinity,
      false,
      '{"status":"insufficient_memory","memory_mib":8192,"needed_mib":18439,"resize_to_gib":20}\n',
    );
    const dir = await mkdtemp(join(tmpdir(), "slmc-wait-memory-"));
    const json = join(dir, "r.json");
    const result = await slmc([
      "127.0.0.1",
      "--https-port",
      String(server.port),
      "--ca",
      server.ca,
      "--no-ssh",
      "--wait-ready",
      "300",
      "--report",
      `json:${json}`,
    ]);
    t.equal(result.code, 1, result.stderr);
    t.equal(server.polls(), 1, "one poll: waiting would not change it");
    t.match(
      result.stderr,
      /says insufficient_memory: the VM has 8192 MiB of RAM, the model needs 18439 MiB: resize the VM to at least 20 GiB/,
    );
    const report = JSON.parse(await readFile(json, "utf8")) as { checks: { id: string; status: string }[] };
    t.same(
      report.checks.map((c) => [c.id, c.status]),
      [["preflight.ready", "fail"]],
    );
  },
);

t.test("--wait-ready against the simulator while its engine still loads the model", async (t) => {
  const sim = await simulator(t, { loadMs: 3_000 }, false);
  const dir = await mkdtemp(join(tmpdir(), "slmc-wait-"));
  const ca = join(dir, "ca.pem");
  await writeFile(ca, sim.certificatePem);
  const result = await slmc([
    "127.0.0.1",
    "--https-port",
    String(sim.httpsPort),
    "--http-port",
    String(sim.httpPort),
    "--ca",
    ca,
    "--no-ssh",
    "--password",
    sim.password,
    "--suite",
    "api",
    "--wait-ready",
    "60",
  ]);
  t.match(
    result.stderr,
    /waiting for https:\/\/127\.0\.0\.1:\d+\/health: HTTP 503/,
    "it saw the loading engine",
  );
  t.match(result.stderr, /ready: .*answered 200/);
  t.notMatch(result.stdout, /preflight\./);
  t.match(result.stdout, /api\.models/);
});

t.test(
  "never ready: exit 3 within --wait-ready + one --timeout, with what was last seen, report written",
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "slmc-wait-"));
    const json = join(dir, "r.json");
    const xml = join(dir, "r.xml");
    const server = await healthServer(t, Infinity);
    const result = await slmc([
      "127.0.0.1",
      "--https-port",
      String(server.port),
      "--ca",
      server.ca,
      "--no-ssh",
      "--wait-ready",
      "3",
      "--timeout",
      "2",
      "--format",
      "junit",
      "--out",
      xml,
      "--report",
      `json:${json}`,
    ]);
    t.equal(result.code, 3, result.stderr);
    t.ok(result.ms < (3 + 2 + 2) * 1000, `ended after ${result.ms} ms`);
    t.match(
      result.stderr,
      /--wait-ready 3: the appliance was not ready in time \(GET \/health 200\); last seen: HTTP 503/,
    );
    const report = JSON.parse(await readFile(json, "utf8")) as {
      checks: { id: string; status: string; evidence: { lastSeen: string } }[];
    };
    t.same(
      report.checks.map((c) => [c.id, c.status]),
      [["preflight.ready", "error"]],
    );
    t.match(report.checks[0]?.evidence.lastSeen, /HTTP 503/);
    t.match(await readFile(xml, "utf8"), /preflight\.ready/);

    // Each poll is bounded by --timeout: a /health that never answers still ends in time.
    const hung = await healthServer(t, Infinity, true);
    const slow = await slmc([
      "127.0.0.1",
      "--https-port",
      String(hung.port),
      "--ca",
      hung.ca,
      "--no-ssh",
      "--wait-ready",
      "2",
      "--timeout",
      "1",
    ]);
    t.equal(slow.code, 3, slow.stderr);
    t.ok(slow.ms < (2 + 1 + 2) * 1000, `a hung /health ended after ${slow.ms} ms`);
    t.match(slow.stderr, /last seen: .*(timed out|no response|timeout)/i);
  },
);

/** A session that answers the status command from a script, and a clock that sleeps instantly. */
function fakeWait(statuses: (string | Error)[], totalS: number) {
  const commands: string[] = [];
  const session = {
    exec: async (command: string) => {
      commands.push(command);
      const next = statuses.length > 1 ? statuses.shift() : statuses[0];
      if (next instanceof Error) throw next;
      return { stdout: `${next}\n`, stderr: "", code: 0 };
    },
  } as unknown as SshSession;
  let now = 0;
  const lines: string[] = [];
  const waiter = startWait(totalS, (line) => lines.push(line), {
    now: () => now,
    sleep: async (ms) => void (now += ms),
  });
  return { session, waiter, lines, commands };
}

const ACCESS = { requestTimeoutMs: 1000 } as Access;

t.test("bootstrap wait: polls the status file until bootstrap_success", async (t) => {
  const fake = fakeWait([new Error("connection reset"), "configure_success", "bootstrap_success"], 60);
  await waitForBootstrap(fake.session, ACCESS, fake.waiter);
  t.same(fake.commands, [STATUS_COMMAND, STATUS_COMMAND, STATUS_COMMAND], "only the constant command");
  t.match(fake.lines[0], /waiting for bootstrap_success .*: connection reset/);
  t.match(fake.lines[1], /status "configure_success"/);
  t.match(fake.lines.at(-1), /ready: the appliance reports bootstrap_success/);
});

t.test("bootstrap wait: a *_failure ends the wait (the checks say what is wrong)", async (t) => {
  const fake = fakeWait(["configure_failure"], 60);
  await waitForBootstrap(fake.session, ACCESS, fake.waiter);
  t.equal(fake.commands.length, 1);
  t.match(fake.lines[0], /reports configure_failure: running the checks/);
});

t.test("bootstrap wait: timeout is exit 3 with the last status seen", async (t) => {
  const fake = fakeWait(["configure_success"], 5);
  const error = await waitForBootstrap(fake.session, ACCESS, fake.waiter).catch((e: unknown) => e);
  t.ok(error instanceof PreflightError);
  t.equal((error as PreflightError).exitCode, 3);
  t.equal((error as PreflightError).checkId, "preflight.ready");
  t.match(
    (error as Error).message,
    /not ready in time \(bootstrap_success\); last seen: status "configure_success"/,
  );
  t.ok(fake.commands.length >= 3 && fake.commands.length <= 5, `${fake.commands.length} polls in 5 s`);
});
