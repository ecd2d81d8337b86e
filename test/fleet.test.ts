// `slmc-check fleet FILE` end to end through the compiled binary: simulators with different defects in
// different zones, a closed port and a host that accepts TCP but never answers, in one run. The matrix
// is asserted cell by cell; a hung host costs only its own timeout; inventory errors exit 2 before
// any traffic. Needs `npm run build` first.
import t, { type Test } from "tap";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { simulator } from "./helpers.ts";
import { freePort } from "../fixtures/ports.ts";
import { runProcess } from "./spawn.ts";
import { labEntry, simulatorEntry, writeInventory, type Entry } from "./fleet-inventory.ts";
import { parseInventory } from "../src/cli/inventory.ts";
import { CliError } from "../src/cli/exit-codes.ts";
import type { FleetReport } from "../src/reporters/fleet.ts";
import { withBudget } from "../src/commands/fleet.ts";

const BINARY = resolve(import.meta.dirname, "../dist/slmc-check");
const slmc = (args: string[], env: Record<string, string> = {}) =>
  runProcess(BINARY, args, { NO_COLOR: "1", ...env }, 120_000);

t.before(() => {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run "npm run build" first`);
});

/** A TCP server that accepts and never answers; counts its connections. */
async function silentServer(t: Test): Promise<{ port: number; connections: () => number }> {
  const sockets = new Set<net.Socket>();
  let count = 0;
  const server = net.createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on("error", () => {});
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((closed) => server.close(() => closed()));
  });
  return { port: (server.address() as AddressInfo).port, connections: () => count };
}

const SUITES = ["tls", "auth", "cors", "redirect"];
const DEFAULTS: Entry = { "no-ssh": true, suite: SUITES, timeout: 10 };
const HUNG_TIMEOUT_S = 6;

interface Fixture {
  dir: string;
  hosts: Entry[];
  password: string;
}

async function fleetFixture(t: Test): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), "slmc-fleet-"));
  const healthy = await simulator(t);
  const redirect = await simulator(t, { defects: ["redirect-302"] });
  const cors = await simulator(t, { defects: ["cors-missing-on-401"] });
  const hungA = await silentServer(t);
  const hungB = await silentServer(t);
  const closed = await freePort();
  const anon = await simulatorEntry(healthy, dir, "anon", "eu");
  delete anon["password-file"];
  return {
    dir,
    password: healthy.password,
    hosts: [
      await simulatorEntry(healthy, dir, "healthy", "eu"),
      anon,
      await simulatorEntry(redirect, dir, "redirect", "eu"),
      await simulatorEntry(cors, dir, "cors", "us"),
      { name: "closed", zone: "us", host: "127.0.0.1", "https-port": closed },
      { name: "hung-a", zone: "ap", host: "127.0.0.1", "https-port": hungA.port, timeout: HUNG_TIMEOUT_S },
      { name: "hung-b", zone: "ap", host: "127.0.0.1", "https-port": hungB.port, timeout: HUNG_TIMEOUT_S },
    ],
  };
}

const ALL_PASS = {
  "SEC-01": "pass",
  "SEC-02": "pass",
  "SEC-10": "pass",
  "SEC-03": "pass",
  "SEC-04": "pass",
  "SEC-05": "pass",
  "SEC-09": "pass",
};

/** Every cell of the matrix: what each host's checks must show per requirement. */
const EXPECTED_CELLS: Record<string, Record<string, string>> = {
  healthy: ALL_PASS,
  // Without a password the checks that need one are skipped: a skip cell, never a pass.
  anon: { ...ALL_PASS, "SEC-03": "skip" },
  redirect: { ...ALL_PASS, "SEC-09": "fail" },
  cors: { ...ALL_PASS, "SEC-04": "fail" },
  closed: {},
  "hung-a": {},
  "hung-b": {},
};
const EXPECTED_VERDICTS = {
  healthy: "pass",
  anon: "pass",
  redirect: "fail",
  cors: "fail",
  closed: "unreachable",
  "hung-a": "unreachable",
  "hung-b": "unreachable",
};

t.test("one run over simulators with different defects, a closed port and two hung hosts", async (t) => {
  const fixture = await fleetFixture(t);
  const inventory = await writeInventory(fixture.dir, fixture.hosts, DEFAULTS);
  const out = join(fixture.dir, "fleet.json");
  const run = await slmc(["fleet", inventory, "--parallel", "7", "--format", "json", "--out", out]);
  t.equal(run.code, 1, `a failing host makes the run exit 1\n${run.stderr}`);
  const fleet = JSON.parse(await readFile(out, "utf8")) as FleetReport;

  t.same(fleet.requirements, Object.keys(ALL_PASS), "the matrix's columns, in the order the checks ran");
  t.same(
    fleet.hosts.map((h) => h.name),
    Object.keys(EXPECTED_CELLS),
    "every host, in the inventory's order",
  );
  for (const host of fleet.hosts) {
    t.same(host.cells, EXPECTED_CELLS[host.name], `${host.name}: every cell`);
    t.equal(
      host.verdict,
      EXPECTED_VERDICTS[host.name as keyof typeof EXPECTED_VERDICTS],
      `${host.name}: verdict`,
    );
    t.ok(host.report.checks.length > 0, `${host.name}: its full report`);
  }
  const byName = new Map(fleet.hosts.map((h) => [h.name, h]));
  t.match(
    byName.get("redirect")?.report.checks.find((c) => c.status === "fail")?.message,
    /302, not a permanent 301.*return 301/,
    "a failed cell's report says what to fix",
  );
  t.match(byName.get("closed")?.report.checks[0]?.message, /connection refused/);
  t.match(byName.get("hung-a")?.report.checks[0]?.message, /TLS handshake .* failed: .*timed out/);
  t.same(
    fleet.zones,
    [
      { zone: "eu", hosts: 3, pass: 2, fail: 1, unreachable: 0 },
      { zone: "us", hosts: 2, pass: 0, fail: 1, unreachable: 1 },
      { zone: "ap", hosts: 2, pass: 0, fail: 0, unreachable: 2 },
    ],
    "zone subtotals",
  );
  t.same(fleet.summary, { hosts: 7, pass: 2, fail: 2, unreachable: 3 });

  // Isolation: each hung host cost its own timeout, in parallel with everything else.
  const hung = fleet.hosts.filter((h) => h.name.startsWith("hung"));
  for (const host of hung) {
    t.ok(host.duration_ms >= HUNG_TIMEOUT_S * 1000 - 500, `${host.name} waited its own timeout`);
    t.ok(host.duration_ms < HUNG_TIMEOUT_S * 1000 + 5000, `${host.name} took no more than its own timeout`);
  }
  const sum = fleet.hosts.reduce((total, h) => total + h.duration_ms, 0);
  t.ok(
    run.ms < 2 * HUNG_TIMEOUT_S * 1000 && run.ms < sum,
    `the whole run (${run.ms} ms) is under the two hung hosts' timeouts together and the hosts' sum (${sum} ms)`,
  );
  t.notOk((await readFile(out, "utf8")).includes(fixture.password), "the password is never written");
});

t.test("the same run as pretty text, JUnit and HTML", async (t) => {
  const fixture = await fleetFixture(t);
  const inventory = await writeInventory(fixture.dir, fixture.hosts, DEFAULTS);

  const junitFile = join(fixture.dir, "fleet.xml");
  const htmlFile = join(fixture.dir, "fleet.html");
  // Three runs over the same fleet, side by side: each mostly waits on its hung hosts' timeouts.
  const [pretty, junit, html] = await Promise.all([
    slmc(["fleet", inventory, "--parallel", "7"]),
    slmc(["fleet", inventory, "--parallel", "7", "--format", "junit", "--out", junitFile]),
    slmc(["fleet", inventory, "--parallel", "7", "--format", "html", "--out", htmlFile]),
  ]);
  t.equal(pretty.code, 1);
  const lines = pretty.stdout.split("\n");
  const row = (head: string) =>
    lines
      .find((l) => l.startsWith(`${head} `))
      ?.trim()
      .split(/\s+/);
  t.same(row("host"), ["host", ...Object.keys(EXPECTED_CELLS)]);
  t.same(row("zone"), ["zone", "eu", "eu", "eu", "us", "us", "ap", "ap"]);
  for (const req of Object.keys(ALL_PASS))
    t.same(
      row(req),
      [req, ...Object.values(EXPECTED_CELLS).map((cells) => cells[req]?.toUpperCase() ?? "—")],
      `${req}: one cell per host`,
    );
  t.same(row("verdict"), ["verdict", ...Object.values(EXPECTED_VERDICTS).map((v) => v.toUpperCase())]);
  t.match(pretty.stdout, /eu: 3 host\(s\): 2 pass, 1 fail, 0 unreachable/);
  t.match(
    pretty.stdout,
    /FAIL SEC-04 cors\.headers-on-every-response: no Access-Control-Allow-Origin on: 401/,
  );
  t.match(pretty.stdout, /FLEET FAIL: 2 of 7 host\(s\) pass, 2 fail, 3 unreachable/);
  t.notOk(pretty.stdout.includes(fixture.password), "the password is never printed");

  t.equal(junit.code, 1);
  const xml = await readFile(junitFile, "utf8");
  const suites = [
    ...xml.matchAll(/<testsuite name="([^"]+)" tests="(\d+)" failures="(\d+)" errors="(\d+)"/g),
  ];
  t.same(
    suites.map((m) => m[1]),
    Object.keys(EXPECTED_CELLS),
    "one testsuite per host",
  );
  const failures = Object.fromEntries(suites.map((m) => [m[1], [Number(m[3]), Number(m[4])]]));
  t.same(failures.redirect, [1, 0], "redirect: one failure");
  t.same(failures.cors, [1, 0], "cors: one failure");
  t.same(failures.healthy, [0, 0]);
  t.same(failures.closed, [0, 1], "an unreachable host is one error");
  t.match(xml, /classname="slmc-check\.redirect\.redirect"/, "test cases are qualified by the host");
  t.match(xml, /<property name="zone" value="us"\/>/);

  t.equal(html.code, 1);
  const page = await readFile(htmlFile, "utf8");
  t.match(page, /^<!DOCTYPE html>/);
  const matrix = /<table id="matrix">([\s\S]*?)<\/table>/.exec(page)?.[1] ?? "";
  const sec09 = /<tr><th>SEC-09<\/th>(.*)<\/tr>/.exec(matrix)?.[1] ?? "";
  t.same(
    [...sec09.matchAll(/<td class="(\w+)">/g)].map((m) => m[1]),
    Object.values(EXPECTED_CELLS).map((cells) => cells["SEC-09"] ?? "none"),
    "the HTML matrix's SEC-09 row, cell by cell",
  );
  t.match(page, /<td>ap<\/td><td>2<\/td><td>0<\/td><td>0<\/td><td>2<\/td>/, "zone subtotals");
  t.notOk(/<script|\ssrc=|<link/i.test(page), "no script and nothing fetched: it opens offline");
});

t.test("exit 0 when every host passes, 3 only when every host is unreachable", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-fleet-"));
  const healthy = await simulator(t);
  const pass = await writeInventory(
    dir,
    [await simulatorEntry(healthy, dir, "only", "eu")],
    DEFAULTS,
    "pass.yaml",
  );
  const passed = await slmc(["fleet", pass]);
  t.equal(passed.code, 0, passed.stdout + passed.stderr);
  t.match(passed.stdout, /FLEET PASS: 1 of 1 host\(s\) pass/);

  const hung = await silentServer(t);
  const down = await writeInventory(
    dir,
    [
      { name: "closed", zone: "us", host: "127.0.0.1", "https-port": await freePort() },
      { name: "hung", zone: "us", host: "127.0.0.1", "https-port": hung.port, timeout: 2 },
    ],
    DEFAULTS,
    "down.yaml",
  );
  const unreachable = await slmc(["fleet", down, "--format", "json"]);
  t.equal(unreachable.code, 3, "every host unreachable: exit 3");
  t.same((JSON.parse(unreachable.stdout) as FleetReport).summary, {
    hosts: 2,
    pass: 0,
    fail: 0,
    unreachable: 2,
  });

  const mixed = await writeInventory(
    dir,
    [
      await simulatorEntry(healthy, dir, "up", "eu"),
      { name: "closed", zone: "us", host: "127.0.0.1", "https-port": await freePort() },
    ],
    DEFAULTS,
    "mixed.yaml",
  );
  t.equal((await slmc(["fleet", mixed])).code, 1, "one host unreachable, not all: exit 1");
});

t.test("--parallel bounds how many hosts run at once", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-fleet-"));
  const a = await silentServer(t);
  const b = await silentServer(t);
  const inventory = await writeInventory(
    dir,
    [
      { name: "a", zone: "z", host: "127.0.0.1", "https-port": a.port },
      { name: "b", zone: "z", host: "127.0.0.1", "https-port": b.port },
    ],
    { ...DEFAULTS, timeout: 3 },
  );
  const one = await slmc(["fleet", inventory, "--parallel", "1"]);
  t.equal(one.code, 3);
  t.ok(one.ms >= 6000, `one at a time: the two 3 s timeouts add up (${one.ms} ms)`);
  const two = await slmc(["fleet", inventory, "--parallel", "2"]);
  t.equal(two.code, 3);
  t.ok(two.ms < 6000, `two at a time: they overlap (${two.ms} ms)`);
});

t.test(
  "a bad inventory exits 2 naming the host, the key and what it accepts, before any traffic",
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "slmc-fleet-"));
    const listener = await silentServer(t);
    const good = { name: "good", zone: "eu", host: "127.0.0.1", "https-port": listener.port };
    const cases: [Entry, RegExp][] = [
      [
        { name: "bad", zone: "eu", host: "h", timeout: -1 },
        /host "bad": timeout: expected a number of seconds > 0 and at most 3600, got '-1'/,
      ],
      [
        { name: "bad", zone: "eu", host: "h", "https-port": 70000 },
        /host "bad": https-port: expected a port number 1-65535, got '70000'/,
      ],
      [
        { name: "bad", zone: "eu", host: "h", bogus: 1 },
        /host "bad": unknown key "bogus"; an inventory entry takes name, zone, host, https-port/,
      ],
      [{ name: "bad", zone: "eu", host: "h", format: "json" }, /host "bad": unknown key "format"/],
      [
        { name: "bad", zone: "eu", host: "h", password: "x" },
        /host "bad": "password" is not accepted .* password-file/,
      ],
      [
        { name: "bad", zone: "eu", host: "h", insecure: "yes" },
        /host "bad": insecure: expected true or false, got "yes"/,
      ],
      [
        { name: "bad", zone: "eu", host: "h", suite: ["tls", "nope"] },
        /host "bad": suite: expected one of tls, .*, got 'nope'/,
      ],
      [
        { name: "bad", zone: "eu", host: "h", ca: "x.pem", insecure: true },
        /host "bad": ca and insecure contradict/,
      ],
      [{ name: "bad", zone: "eu", host: "https://h" }, /host "bad": host: .*not a URL/],
      [{ name: "bad", host: "h" }, /host "bad": zone: expected a zone name/],
      [{ name: "bad host", zone: "eu", host: "h" }, /name: expected 1-64 letters/],
      [{ name: "good", zone: "eu", host: "h" }, /host "good": the name is used by an earlier host/],
      [
        { name: "bad", zone: "eu", host: "h", "password-file": "missing.pw" },
        /inventory host "bad": cannot read password file ".*missing\.pw": ENOENT/,
      ],
    ];
    for (const [entry, message] of cases) {
      const inventory = await writeInventory(dir, [good, entry]);
      const run = await slmc(["fleet", inventory]);
      t.equal(run.code, 2, `${JSON.stringify(entry)} exits 2`);
      t.match(run.stderr, message, run.stderr.trim());
    }
    t.equal(listener.connections(), 0, "no host was contacted");

    const notYaml = join(dir, "broken.yaml");
    await writeFile(notYaml, "hosts: [ {name: a\n");
    t.match((await slmc(["fleet", notYaml])).stderr, /not valid YAML/);
    const missing = await slmc(["fleet", join(dir, "nope.yaml")]);
    t.equal(missing.code, 2);
    t.match(missing.stderr, /cannot read inventory ".*nope\.yaml": ENOENT/);
    const noHosts = await writeInventory(dir, []);
    t.match((await slmc(["fleet", noHosts])).stderr, /hosts: .*expected "defaults:"/);
    const defaultsName = await writeInventory(dir, [good], { name: "x" });
    t.match((await slmc(["fleet", defaultsName])).stderr, /defaults: "name" belongs to each host/);
    t.equal((await slmc(["fleet"])).code, 2, "no inventory: exit 2");
    t.match(
      (await slmc(["fleet", "a.yaml", "--parallel", "0"])).stderr,
      /--parallel: expected a whole number 1-64, got '0'/,
    );
    t.match((await slmc(["fleet", "a.yaml", "--timeout", "5"])).stderr, /--timeout only applies to/);
    t.equal(listener.connections(), 0, "still no host contacted");
  },
);

t.test(
  "options: defaults apply to every host, a host's own value wins, files are relative to the inventory",
  async (t) => {
    const inventory = parseInventory(
      [
        "defaults: { timeout: 7, insecure: true, ssh-key: [a.key, /abs/b.key], zone: eu }",
        "hosts:",
        "  - { name: one, host: 10.0.0.1 }",
        "  - { name: two, zone: us, host: '[::1]', timeout: 9, insecure: false, ca: ca.pem }",
      ].join("\n"),
      "/srv/fleet/inventory.yaml",
      {},
    );
    const [one, two] = inventory.hosts;
    t.equal(one?.options.timeoutS, 7);
    t.equal(one?.options.insecure, true);
    t.equal(one?.zone, "eu");
    t.same(one?.options.sshKeys, ["/srv/fleet/a.key", "/abs/b.key"]);
    t.equal(one?.options.sshExplicit, true, "an SSH option makes SSH required, as on the command line");
    t.equal(two?.options.timeoutS, 9);
    t.equal(two?.options.insecure, false, "a host turns a default switch off");
    t.equal(two?.options.ca, "/srv/fleet/ca.pem");
    t.equal(two?.host, "::1");
    t.equal(two?.zone, "us");
    t.equal(one?.options.deadlineS, 900, "the command line's default deadline");

    const lab = labEntry(
      {
        LAB_HTTPS_PORT: "8443",
        LAB_HTTP_PORT: "8080",
        LAB_ENGINE_PORT: "18080",
        LAB_SSH_PORT: "2222",
        LAB_SSH_KEY: "/lab/id",
      },
      { certificate: "/lab/crt.pem", password: "/lab/pw", knownHosts: "/lab/known_hosts" },
    );
    const { stringify } = await import("yaml");
    const parsed = parseInventory(stringify({ hosts: [lab] }), "/tmp/lab.yaml", {}).hosts[0];
    t.equal(parsed?.options.httpsPort, 8443, "the lab VM's entry is a valid inventory host");
    t.equal(parsed?.options.sshPort, 2222);
    t.same(parsed?.options.sshKeys, ["/lab/id"]);
    t.throws(() => labEntry({}, { certificate: "", password: "", knownHosts: "" }), /no LAB_HTTPS_PORT/);
    let refused: unknown;
    try {
      parseInventory("hosts: [{name: a, zone: z, host: h, jump: nobody}]", "i.yaml", {});
    } catch (error) {
      refused = error;
    }
    t.ok(refused instanceof CliError && refused.exitCode === 2, "a bad value is a usage error");
    t.match((refused as Error).message, /host "a": jump: expected USER@HOST/);
  },
);

t.test("--format html for a single run: one page, escaped, each check with its status", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-fleet-"));
  const file = join(dir, "demo.html");
  const run = await slmc([
    "demo",
    "--suite",
    "redirect",
    "--defect",
    "redirect-302",
    "--format",
    "html",
    "--out",
    file,
  ]);
  t.equal(run.code, 1);
  const page = await readFile(file, "utf8");
  t.match(
    page,
    /<td class="fail">FAIL<\/td><td>SEC-09<\/td><td>redirect\.http-to-https<\/td><td>redirect status is 302/,
  );
  t.match(page, /&quot;|&lt;|&#39;/, "the message's quotes and brackets are escaped");
  t.match(page, /SIMULATED/);
});

t.test("--gate POLICY: each host's gate, its bundle in DIR/<name>, its verdict in the matrix", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-fleet-"));
  const healthy = await simulator(t);
  const redirect = await simulator(t, { defects: ["redirect-302"] });
  const inventory = await writeInventory(
    dir,
    [await simulatorEntry(healthy, dir, "good", "eu"), await simulatorEntry(redirect, dir, "bad", "us")],
    { "no-ssh": true },
  );
  const policy = join(dir, "policy.yaml");
  await writeFile(policy, "name: fleet-test\nchecks:\n  must_pass: [tls.protocol, SEC-09]\n");
  const evidence = join(dir, "evidence");
  const run = await slmc(["fleet", inventory, "--gate", policy, "--evidence", evidence, "--format", "json"]);
  t.equal(run.code, 1, run.stderr);
  const fleet = JSON.parse(run.stdout) as FleetReport;
  const [good, bad] = fleet.hosts;
  t.equal(good?.verdict, "pass");
  t.equal(good?.gate?.passed, true);
  t.equal(bad?.verdict, "fail");
  t.equal(bad?.gate?.passed, false);
  t.equal(bad?.cells["SEC-09"], "fail", "the matrix shows the checks the gate ran");
  t.match(bad?.gate?.failed.map((c) => c.id).join(" "), /checks\.redirect\.http-to-https/);
  for (const name of ["good", "bad"]) {
    const verdict = JSON.parse(await readFile(join(evidence, name, "verdict.json"), "utf8")) as {
      passed: boolean;
    };
    t.equal(verdict.passed, name === "good", `${name}: its own bundle`);
    const verify = await slmc(["gate", "--verify", join(evidence, name)]);
    t.equal(verify.code, 0, `${name}: the bundle verifies`);
  }
  t.notOk(run.stdout.includes(healthy.password), "no password printed");

  const again = await slmc(["fleet", inventory, "--gate", policy, "--evidence", evidence]);
  t.equal(again.code, 2, "a used evidence directory is refused");
  t.match(again.stderr, /is not empty/);
  t.match((await slmc(["fleet", inventory, "--gate", policy])).stderr, /--gate needs --evidence DIR/);
  t.match(
    (await slmc(["fleet", inventory, "--evidence", evidence])).stderr,
    /--evidence only applies with --gate/,
  );
});

t.test(
  "a host's budget: past it the host is stopped and reported, whatever its run still does",
  async (t) => {
    let aborted: unknown;
    const started = Date.now();
    const result = await withBudget(
      300,
      "over budget",
      (signal) =>
        new Promise<string>(() => {
          signal.addEventListener("abort", () => (aborted = signal.reason));
        }),
      (message) => `stopped: ${message}`,
    );
    t.equal(result, "stopped: over budget");
    t.ok(Date.now() - started < 5000, "it did not wait for the hung work");
    t.match(aborted, { message: "over budget" }, "the work's signal was aborted with why");
    const quick = await withBudget(
      60_000,
      "never",
      async () => "done",
      () => "stopped",
    );
    t.equal(quick, "done", "work within its budget is its own result");
  },
);

t.test("a host's deadline stops a trickling target; the other host is not held", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-fleet-"));
  const trickle = await simulator(t, { defects: ["slow-trickle"] });
  const healthy = await simulator(t);
  const inventory = await writeInventory(
    dir,
    [
      { ...(await simulatorEntry(trickle, dir, "trickle", "eu")), deadline: 3, "stream-idle": 60 },
      // Its own suite judges no arrival times, so a loaded host cannot fail it.
      { ...(await simulatorEntry(healthy, dir, "healthy", "eu")), suite: ["api"] },
    ],
    { "no-ssh": true, suite: ["streaming"] },
  );
  const run = await slmc(["fleet", inventory, "--format", "json"]);
  t.equal(run.code, 1, run.stderr);
  const [slow, fine] = (JSON.parse(run.stdout) as FleetReport).hosts;
  t.equal(slow?.verdict, "fail");
  t.match(
    slow?.report.checks.map((c) => c.message).join("\n"),
    /deadline of 3 s passed/,
    "the deadline is named as the reason",
  );
  t.ok(
    (slow?.duration_ms ?? 0) < 3000 + 10_000,
    `the trickling host took its deadline (${slow?.duration_ms} ms)`,
  );
  t.equal(
    fine?.verdict,
    "pass",
    `the other host passes: ${fine?.report.checks
      .filter((c) => c.status !== "pass")
      .map((c) => `${c.id}: ${c.message}`)
      .join("; ")}`,
  );
});

t.test("SSH: one connection per host; a host whose key is refused fails alone", async (t) => {
  const { startSshd } = await import("../fixtures/sshd.ts");
  const sim = await simulator(t);
  const sshd = await startSshd();
  t.teardown(() => sshd.stop());
  const dir = await mkdtemp(join(tmpdir(), "slmc-fleet-"));
  const ssh = (name: string, key: string): Promise<Entry> =>
    simulatorEntry(sim, dir, name, "eu").then((entry) => ({
      ...entry,
      "ssh-port": sshd.port,
      "ssh-key": key,
      "known-hosts": `${name}.known_hosts`,
    }));
  const inventory = await writeInventory(
    dir,
    [
      await ssh("one", sshd.clientKeyFile),
      await ssh("two", sshd.clientKeyFile),
      await ssh("refused", sshd.otherKeyFile),
    ],
    { suite: ["host"] },
  );
  const run = await slmc(["fleet", inventory, "--format", "json"]);
  t.equal(run.code, 1, run.stderr);
  const hosts = (JSON.parse(run.stdout) as FleetReport).hosts;
  for (const host of hosts.slice(0, 2)) {
    t.ok(
      host.report.notes.some((n) => /SSH: 1 connection\(s\) opened/.test(n)),
      `${host.name}: one SSH connection for its whole run`,
    );
    t.ok(
      host.report.checks.some((c) => c.id === "host.cpu-flags" && c.status !== "skip"),
      `${host.name}: its SSH checks ran`,
    );
  }
  const refused = hosts[2];
  t.equal(refused?.verdict, "fail", "a refused key is the host's failure, not unreachable");
  t.equal(refused?.report.checks[0]?.id, "preflight.ssh");
  t.match(refused?.report.checks[0]?.message, /auth|key|refused|denied/i);
});
