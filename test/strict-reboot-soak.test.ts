// `--fail-on-skip` and `--report FORMAT:FILE` for `reboot` and `soak`, through the compiled binary and
// without a VM: a report file that cannot be written exits 2 before any network traffic; a target
// that is unreachable, or whose SSH (which both commands need) refuses, still gets every requested
// report with the one preflight check that says why, marked fail_on_skip when asked. What runs after
// the preflight is the same runAndReport as `slmc-check <host>` (test/strict-binary.test.ts).
// Needs `npm run build` first.
import t, { type Test } from "tap";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { simulator } from "./helpers.ts";
import { runProcess } from "./spawn.ts";

const BINARY = resolve(import.meta.dirname, "../dist/slmc-check");
const slmc = (args: string[]) => runProcess(BINARY, args, { NO_COLOR: "1", HOME: tmpdir() }, 90_000);
const dir = await mkdtemp(join(tmpdir(), "slmc-strict-rs-"));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const key = join(dir, "key");
spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);

interface JsonReport {
  checks: { id: string; status: string; message: string }[];
  fail_on_skip?: boolean;
}

/** A TCP listener that counts connections and closes each at once. */
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

async function refusedPort(): Promise<string> {
  return new Promise((found) => {
    const probe = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (probe.address() as AddressInfo).port;
      probe.close(() => found(String(port)));
    });
  });
}

for (const command of ["reboot", "soak"]) {
  t.test(`${command}: an unwritable --report exits 2 naming it, before any network traffic`, async (t) => {
    const server = await countingServer(t);
    const run = await slmc([
      command,
      "127.0.0.1",
      "--https-port",
      String(server.port),
      "--ssh-key",
      key,
      "--report",
      `json:${join(dir, "missing-dir", "r.json")}`,
    ]);
    t.equal(run.code, 2, run.stderr);
    t.match(
      run.stderr,
      /--report json:.*missing-dir\/r\.json: .* cannot be created: directory .* is missing/,
    );
    t.equal(server.connections(), 0, "no connection was made");
  });

  t.test(`${command}: an unreachable target still writes every report, with --fail-on-skip`, async (t) => {
    const json = join(dir, `${command}-unreachable.json`);
    const junit = join(dir, `${command}-unreachable.xml`);
    const run = await slmc([
      command,
      "127.0.0.1",
      "--https-port",
      await refusedPort(),
      "--ssh-key",
      key,
      "--fail-on-skip",
      "--report",
      `json:${json}`,
      "--report",
      `junit:${junit}`,
    ]);
    t.equal(run.code, 3, run.stderr);
    const report = JSON.parse(await readFile(json, "utf8")) as JsonReport;
    t.same(
      report.checks.map((c) => [c.id, c.status]),
      [["preflight.reachable", "error"]],
    );
    t.equal(report.fail_on_skip, true, "the report says the run was strict");
    t.match(await readFile(junit, "utf8"), /tests="1" failures="0" errors="1"/);
  });

  t.test(
    `${command}: SSH refused (both commands need it) is a preflight check in every report`,
    async (t) => {
      const sim = await simulator(t);
      const tap = join(dir, `${command}-ssh.tap`);
      const run = await slmc([
        command,
        sim.host,
        "--https-port",
        String(sim.httpsPort),
        "--insecure",
        "--ssh-key",
        key,
        "--ssh-port",
        await refusedPort(),
        "--report",
        `tap:${tap}`,
      ]);
      t.equal(run.code, 3, run.stderr);
      t.match(await readFile(tap, "utf8"), /^not ok 1 - \[preflight\] preflight\.ssh: SSH connects/m);
    },
  );
}
