// Strict runs through the compiled binary: --fail-on-skip and NOTHING VERIFIED, --report FORMAT:FILE
// (refused before any network traffic), reports written when preflight stops the run, and a
// certificate the given --ca rejects as a failed check (exit 1) rather than a usage error.
import t, { type Test } from "tap";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import https from "node:https";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createCertificate, type Certificate } from "../src/sim/x509.ts";
import { runProcess } from "./spawn.ts";

const BINARY = resolve(import.meta.dirname, "../dist/slmc-check");

const slmc = (args: string[]) => runProcess(BINARY, args, { NO_COLOR: "1" }, 90_000);

interface JsonReport {
  checks: { id: string; status: string; message: string; evidence: Record<string, unknown> }[];
  summary: Record<string, number>;
  fail_on_skip?: boolean;
}

/** A TCP listener that counts connections: proof that a refused command line sent nothing. */
async function countingServer(t: Test): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  t.teardown(() => new Promise<void>((closed) => server.close(() => closed())));
  return { port: (server.address() as AddressInfo).port, connections: () => connections };
}

async function httpsServer(t: Test, cert: Certificate): Promise<number> {
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (_request, response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end('{"status":"ok"}');
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((closed) => server.close(() => closed()));
  });
  return (server.address() as AddressInfo).port;
}

t.before(() => {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run "npm run build" first`);
});

t.test("--fail-on-skip fails a run with skips and names each skipped check and why", async (t) => {
  const plain = await slmc(["demo", "--suite", "integration"]);
  t.equal(plain.code, 1, "a run where nothing passed is never a PASS");
  t.match(plain.stdout, /^NOTHING VERIFIED: every check was skipped: one\.status, one\.report/m);
  t.notMatch(plain.stdout, /^PASS/m);

  const strict = await slmc(["demo", "--suite", "integration", "--fail-on-skip", "--format", "tap"]);
  t.equal(strict.code, 1, strict.stdout);
  t.match(
    strict.stdout,
    /^# FAIL \(--fail-on-skip\): \d+ skipped: one\.status, .*\(needs SSH access: pass --ssh-key FILE/m,
  );

  // Some checks pass, one skips (api.health-readiness on a ready target): exit 0 by default, 1 when strict.
  const mixed = await slmc(["demo", "--suite", "api"]);
  t.equal(mixed.code, 0, "skips alone do not fail a default run");
  t.match(mixed.stdout, /^PASS: \d+ passed, 0 failed, 0 errored, 1 skipped \(skips do not fail the run\)/m);
  const mixedStrict = await slmc(["demo", "--suite", "api", "--fail-on-skip", "--format", "json"]);
  t.equal(mixedStrict.code, 1, "the same run fails with --fail-on-skip");
  t.equal((JSON.parse(mixedStrict.stdout) as JsonReport).fail_on_skip, true, "the JSON report says why");

  const noSkips = await slmc(["demo", "--suite", "tls", "--fail-on-skip"]);
  t.equal(noSkips.code, 0, "--fail-on-skip passes a run without skips");
  t.match(noSkips.stdout, /^PASS: \d+ passed, 0 failed, 0 errored$/m);
});

t.test("--report writes several formats from one run, with --format/--out too", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-strict-"));
  const files = {
    out: join(dir, "a.tap"),
    json: join(dir, "b.json"),
    junit: join(dir, "c.xml"),
    pretty: join(dir, "d.txt"),
  };
  const result = await slmc([
    "demo",
    "--suite",
    "tls",
    "--format",
    "tap",
    "--out",
    files.out,
    "--report",
    `json:${files.json}`,
    "--report",
    `junit:${files.junit}`,
    "--report",
    `pretty:${files.pretty}`,
  ]);
  t.equal(result.code, 0, result.stderr);
  t.equal(result.stdout, "", "everything went to files");
  const report = JSON.parse(await readFile(files.json, "utf8")) as JsonReport;
  t.ok(report.checks.length > 1);
  t.match(
    await readFile(files.out, "utf8"),
    new RegExp(`^TAP version 14\\n[^]*1\\.\\.${report.checks.length}\\n`),
  );
  t.match(await readFile(files.junit, "utf8"), new RegExp(`tests="${report.checks.length}" failures="0"`));
  const pretty = await readFile(files.pretty, "utf8");
  t.match(pretty, /^PASS: /m);
  t.notOk(pretty.includes("\u001b["), "no colour codes in a file");
});

t.test("a bad --report or an unwritable file exits 2 naming it, before any network traffic", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-strict-"));
  const server = await countingServer(t);
  const host = ["127.0.0.1", "--https-port", String(server.port), "--no-ssh"];
  const cases: [string[], RegExp][] = [
    [
      ["--report", "xml:r.xml"],
      /--report: "xml:r\.xml": the format before ":" must be one of pretty, tap, junit, json, html/,
    ],
    [["--report", "json"], /--report: "json": give the file after the format, as json:FILE/],
    [
      ["--report", "json:/nonexistent-dir/r.json"],
      /--report json:\/nonexistent-dir\/r\.json: .*directory \/nonexistent-dir is missing or not writable/,
    ],
    [["--report", `json:${dir}`], /is a directory/],
    [
      ["--out", join(dir, "same.json"), "--format", "json", "--report", `json:${join(dir, "same.json")}`],
      /the same file as --out/,
    ],
  ];
  for (const [args, message] of cases) {
    const result = await slmc([...host, ...args]);
    t.equal(result.code, 2, `${args.join(" ")} exits 2`);
    t.match(result.stderr, message, result.stderr.trim());
  }
  t.equal(server.connections(), 0, "no connection was made for any of them");
  const demo = await slmc(["demo", "--report", "json:/nonexistent-dir/r.json"]);
  t.equal(demo.code, 2, "the demo refuses it too");
});

t.test("preflight failures still write every requested report, then exit as before", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-strict-"));
  const closed = await countingServer(t);
  // A listener that closes at once: the TLS handshake fails (exit 3), on a port nothing else uses.
  const xml = join(dir, "r.xml");
  const json = join(dir, "r.json");
  const refusedPort = String(
    await new Promise<number>((found) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const port = (probe.address() as AddressInfo).port;
        probe.close(() => found(port));
      });
    }),
  );
  const refused = await slmc([
    "127.0.0.1",
    "--https-port",
    refusedPort,
    "--no-ssh",
    "--format",
    "junit",
    "--out",
    xml,
    "--report",
    `json:${json}`,
  ]);
  t.equal(refused.code, 3, refused.stderr);
  t.match(refused.stderr, /target unreachable: .*connection refused/);
  const junit = await readFile(xml, "utf8");
  t.match(junit, /tests="1" failures="0" errors="1"/);
  t.match(junit, /preflight\.reachable/);
  const report = JSON.parse(await readFile(json, "utf8")) as JsonReport;
  t.same(
    report.checks.map((c) => [c.id, c.status]),
    [["preflight.reachable", "error"]],
  );
  t.match(report.checks[0]?.message, /connection refused.*--https-port/);

  const tapFile = join(dir, "h.tap");
  const handshake = await slmc([
    "127.0.0.1",
    "--https-port",
    String(closed.port),
    "--no-ssh",
    "--report",
    `tap:${tapFile}`,
  ]);
  t.equal(handshake.code, 3, handshake.stderr);
  t.match(await readFile(tapFile, "utf8"), /^not ok 1 - \[preflight\] preflight\.reachable/m);
});

t.test(
  "a certificate --ca rejects is a failed check (exit 1, report written); without --ca exit 2",
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "slmc-strict-"));
    const day = 24 * 3600 * 1000;
    const expired = createCertificate({
      commonName: "vm",
      altNames: ["127.0.0.1"],
      notBefore: new Date(Date.now() - 10 * day),
      notAfter: new Date(Date.now() - day),
    });
    const expiredPort = String(await httpsServer(t, expired));
    const expiredCa = join(dir, "expired.pem");
    await writeFile(expiredCa, expired.certPem);
    const json = join(dir, "expired.json");
    const withCa = await slmc([
      "127.0.0.1",
      "--https-port",
      expiredPort,
      "--no-ssh",
      "--ca",
      expiredCa,
      "--format",
      "json",
      "--report",
      `json:${json}`,
    ]);
    t.equal(withCa.code, 1, withCa.stderr);
    const report = JSON.parse(withCa.stdout) as JsonReport;
    t.same(
      report.checks.map((c) => [c.id, c.status]),
      [["preflight.tls", "fail"]],
    );
    const message = report.checks[0]?.message ?? "";
    t.match(message, /outside its validity/);
    t.match(
      message,
      /Renew it on the appliance: .*delete \/etc\/slm-copilot\/tls\/self-signed\.crt and re-run configure/,
    );
    t.notMatch(message, /pass --ca/, "an expired certificate is not fixed by another --ca");
    t.same(JSON.parse(await readFile(json, "utf8")), report, "the --report file holds the same report");

    const noCa = await slmc(["127.0.0.1", "--https-port", expiredPort, "--no-ssh"]);
    t.equal(noCa.code, 2, "without --ca trust is not configured: exit 2 as before");
    t.match(noCa.stderr, /outside its validity.*Renew it.*--insecure runs the checks anyway/);

    // A valid certificate the given CA did not issue: the target is not the one --ca belongs to.
    const other = createCertificate({ commonName: "other", altNames: ["127.0.0.1"] });
    const otherPort = String(await httpsServer(t, other));
    const wrong = await slmc([
      "127.0.0.1",
      "--https-port",
      otherPort,
      "--no-ssh",
      "--ca",
      expiredCa,
      "--format",
      "json",
    ]);
    t.equal(wrong.code, 1, wrong.stderr);
    const wrongReport = JSON.parse(wrong.stdout) as JsonReport;
    t.same(
      wrongReport.checks.map((c) => [c.id, c.status]),
      [["preflight.tls", "fail"]],
    );
    t.match(
      wrongReport.checks[0]?.message,
      /not trusted by --ca .*expired\.pem.*SHA-256 .*ca_certificate_fetch/,
    );
    const wrongNoCa = await slmc(["127.0.0.1", "--https-port", otherPort, "--no-ssh"]);
    t.equal(wrongNoCa.code, 2);
    t.match(wrongNoCa.stderr, /pass --ca FILE with that certificate, or --insecure/);
  },
);
