// The appliance in a OneFlow pool: with ONEAPP_COPILOT_LB_* in the context, bootstrap registers the VM
// through OneGate as a dynamic HAProxy backend of the one-apps VRouter, and the shutdown unit's
// ExecStop deregisters it; ONEAPP_COPILOT_TLS_CERT/_KEY make every worker serve the pool's certificate. The appliance functions run in a scratch SLMC_ROOT (systemctl, nginx,
// fail2ban-client and ip replaced by recorders) against a OneGate STAND-IN that checks the token.
import t from "tap";
import { execFile } from "node:child_process";
import { access, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { startOneGateStandIn } from "../fixtures/onegate-stand-in.ts";
import { freePort } from "../fixtures/ports.ts";
import { enabledStateRecorder } from "./systemctl-stand-in.ts";

const run = promisify(execFile);
const APPLIANCE = resolve(import.meta.dirname, "../appliance");
const TOKEN = "c2VjcmV0LW9uZWdhdGUtdG9rZW4tZm9yLXZtLTQy";
const VM_ADDRESS = "192.0.2.21";

interface Result {
  code: number;
  stderr: string;
  calls: string[];
}

async function scratch(endpoint: string, token = TOKEN) {
  const dir = await mkdtemp(join(tmpdir(), "slmc-onegate-"));
  const root = join(dir, "root");
  const bin = join(dir, "bin");
  const calls = join(dir, "calls");
  for (const sub of ["etc/nginx/sites-enabled", "var/log/nginx", "run/one-context"]) {
    await mkdir(join(root, sub), { recursive: true });
  }
  await mkdir(bin);
  const meminfo = join(dir, "meminfo");
  await writeFile(meminfo, "MemTotal:       67108864 kB\n");
  for (const name of ["nginx", "fail2ban-client"]) {
    await writeFile(join(bin, name), `#!/bin/sh\necho "${name} $*" >>"${calls}"\n`, { mode: 0o755 });
  }
  await writeFile(join(bin, "systemctl"), enabledStateRecorder(calls, join(dir, "enabled")), { mode: 0o755 });
  await writeFile(
    join(bin, "ip"),
    `#!/bin/sh\necho "2: eth0    inet ${VM_ADDRESS}/24 brd 192.0.2.255 scope global eth0"\n`,
    { mode: 0o755 },
  );
  // What loc-16-gen-env writes (unescaped export lines); at shutdown ExecStop has nothing else.
  await writeFile(
    join(root, "run/one-context/one_env"),
    `export ONEAPP_COPILOT_LB_IP="192.0.2.100"\nexport TOKENTXT="${token}"\nexport VMID="42"\nexport ONEGATE_ENDPOINT="${endpoint}"\n`,
    { mode: 0o400 },
  );
  const step = async (functions: string, env: Record<string, string> = {}): Promise<Result> => {
    await writeFile(calls, "");
    const result = await run(
      "bash",
      ["-c", `umask 0077; set -e; source "$1/appliance.sh"; ${functions}`, "_", APPLIANCE],
      {
        env: {
          PATH: `${bin}:${process.env.PATH ?? ""}`,
          SLMC_ROOT: root,
          SLMC_HOME: APPLIANCE,
          SLMC_MEMINFO: meminfo,
          ONE_SERVICE_APPLIANCE: "/etc/one-appliance/service.d/appliance.sh",
          ...env,
        },
        timeout: 60_000,
      },
    ).then(
      ({ stderr }) => ({ code: 0, stderr }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );
    return { ...result, calls: (await readFile(calls, "utf8")).trim().split("\n") };
  };
  const read = (file: string): Promise<string> => readFile(join(root, file), "utf8");
  return { root, step, read };
}

const POOL = {
  ONEAPP_COPILOT_LB_IP: "192.0.2.100",
  ONEAPP_COPILOT_LB_PORT: "443",
  ONEAPP_COPILOT_LB_INDEX: "1",
};
const REPORT = "etc/one-appliance/config";
const LOG = "var/log/one-appliance/slm-copilot.log";
const exists = (file: string): Promise<boolean> =>
  access(file).then(
    () => true,
    () => false,
  );

t.test("registration and deregistration: the attributes VRouter reads, then none", async (t) => {
  const onegate = await startOneGateStandIn(TOKEN);
  t.teardown(onegate.close);
  const { root, step, read } = await scratch(onegate.endpoint);
  const configure = await step("service_configure", POOL);
  t.equal(configure.code, 0, configure.stderr);

  const register = await step("onegate_register; install_onegate_unit; write_report", POOL);
  t.equal(register.code, 0, register.stderr);
  t.same(
    onegate.calls.map((c) => [c.method, c.path, c.type, c.vmid, c.tokenOk, c.status]),
    [["PUT", "/vm", null, "42", true, 200]],
    "one PUT /vm with the VM's token and id",
  );
  t.same(
    Object.fromEntries(onegate.attributes.get("42") ?? []),
    {
      ONEGATE_HAPROXY_LB1_IP: "192.0.2.100",
      ONEGATE_HAPROXY_LB1_PORT: "443",
      ONEGATE_HAPROXY_LB1_SERVER_HOST: VM_ADDRESS,
      ONEGATE_HAPROXY_LB1_SERVER_PORT: "443",
    },
    "exactly the dynamic-backend attributes of load balancer 1",
  );
  const unit = await read("etc/systemd/system/slm-copilot-onegate.service");
  t.match(
    unit,
    /^ExecStop=\/bin\/bash -c 'source "\/etc\/one-appliance\/service.d\/appliance.sh" && onegate_deregister'$/m,
    "the shutdown unit's ExecStop deregisters",
  );
  t.match(unit, /^RemainAfterExit=yes$/m, "and it stays active, so systemd stops it at shutdown");
  t.ok(
    register.calls.includes("systemctl start --no-block slm-copilot-onegate.service"),
    "the unit is started, not waited for",
  );
  t.ok(register.calls.includes("systemctl enable --no-reload slm-copilot-onegate.service"), "and enabled");
  const report = await read(REPORT);
  t.match(report, /^load_balancer = 192\.0\.2\.100:443 \(VRouter HAProxy LB1\)$/m);
  t.match(report, /^onegate_registered = yes$/m);
  for (const [name, text] of [
    ["stderr", register.stderr],
    ["log", await read(LOG)],
    ["report", report],
  ] as const)
    t.notMatch(text, TOKEN, `the OneGate token is not in the ${name}`);

  // The unit's own ExecStop command, as systemd runs it at shutdown: no context in the environment
  // (only one_env), no driver settings. Here it sources this checkout's script.
  const stop = /^ExecStop=\/bin\/bash -c '(.*)'$/m.exec(unit)?.[1] ?? "";
  const deregister = await step(
    `umask 0022; set +e; bash -c ${JSON.stringify(stop.replace("/etc/one-appliance/service.d", APPLIANCE))}`,
  );
  t.match(deregister.stderr, /OneGate: deregistered from load balancer 1/, "ExecStop deregisters");
  t.equal(deregister.code, 0, deregister.stderr);
  t.same(
    onegate.calls.slice(1).map((c) => [c.method, c.path, c.type, c.body, c.tokenOk]),
    ["IP", "PORT", "SERVER_HOST", "SERVER_PORT"].map((name) => [
      "PUT",
      "/vm",
      "2",
      `ONEGATE_HAPROXY_LB1_${name}`,
      true,
    ]),
    "one erase (PUT /vm?type=2) per attribute",
  );
  t.same([...(onegate.attributes.get("42") ?? [])], [], "OneGate holds none of them any more");
  t.notOk(await exists(join(root, "var/lib/slm-copilot/onegate-registered")), "the VM knows it left");
  // A context change that drops the load balancer: the next bootstrap leaves it.
  await step("onegate_register", POOL);
  t.equal(onegate.attributes.get("42")?.size, 4, "registered again");
  await step("service_configure");
  const dropped = await step("onegate_register");
  t.match(dropped.stderr, /OneGate: the context no longer names load balancer 1: leaving it/);
  t.same([...(onegate.attributes.get("42") ?? [])], [], "the old attributes are erased");
  t.equal(onegate.calls.length, 10, "one registration, four erases");
  const again = await step("onegate_deregister");
  t.equal(onegate.calls.length, 10, "a second stop calls nothing");
  t.match(again.stderr, /OneGate: not registered, nothing to remove/);
});

t.test("bad load balancer values are refused, named, and nothing is registered", async (t) => {
  const onegate = await startOneGateStandIn(TOKEN);
  t.teardown(onegate.close);
  const { step, read } = await scratch(onegate.endpoint);
  const bad = {
    ONEAPP_COPILOT_LB_IP: "192.0.2.300$(touch /tmp/slmc-pwned-lb)",
    ONEAPP_COPILOT_LB_PORT: "70000",
    ONEAPP_COPILOT_LB_INDEX: "12",
  };
  const configure = await step("service_configure", bad);
  t.equal(configure.code, 0, "a bad value is not a failed boot");
  t.match(
    configure.stderr,
    /\[ERROR\] ONEAPP_COPILOT_LB_IP='192\.0\.2\.300\$\(touch \/tmp\/slmc-pwned-lb\)' is not an IPv4 address/,
  );
  t.match(
    configure.stderr,
    /\[ERROR\] ONEAPP_COPILOT_LB_PORT='70000' is not a port from 1 to 65535; using 443/,
  );
  t.match(
    configure.stderr,
    /\[ERROR\] ONEAPP_COPILOT_LB_INDEX='12' is not a load balancer number from 0 to 9; using 0/,
  );
  t.notOk(await exists("/tmp/slmc-pwned-lb"), "the value was never executed");
  const register = await step("onegate_register; write_report", bad);
  t.equal(register.code, 0, register.stderr);
  t.same(onegate.calls, [], "OneGate is not called");
  const report = await read(REPORT);
  t.match(report, /^error = ONEAPP_COPILOT_LB_IP='.*' is not an IPv4 address/m, "the report says why");
  t.match(report, /^pool = none/m);
});

t.test(
  "OneGate unreachable or refusing the token: a clear error in the log and the report, no crash",
  async (t) => {
    const closed = await freePort();
    const unreachable = await scratch(`http://127.0.0.1:${closed}`);
    t.equal((await unreachable.step("service_configure", POOL)).code, 0);
    const down = await unreachable.step("onegate_register; install_onegate_unit; write_report", POOL);
    t.equal(down.code, 0, "bootstrap goes on: the VM still serves on its own address");
    t.match(
      down.stderr,
      new RegExp(
        `\\[ERROR\\] OneGate registration with load balancer 192\\.0\\.2\\.100:443 failed: http://127\\.0\\.0\\.1:${closed}/vm: curl: \\(7\\) Failed to connect`,
      ),
    );
    const report = await unreachable.read(REPORT);
    t.match(
      report,
      /^error = OneGate registration with load balancer 192\.0\.2\.100:443 failed: .*Failed to connect/m,
    );
    t.match(report, /^onegate_registered = no/m);

    const onegate = await startOneGateStandIn("another-token");
    t.teardown(onegate.close);
    const refused = await scratch(onegate.endpoint);
    await refused.step("service_configure", POOL);
    const denied = await refused.step("onegate_register; write_report", POOL);
    t.equal(denied.code, 0);
    t.same(
      onegate.calls.map((c) => [c.tokenOk, c.status]),
      [[false, 401]],
      "the stand-in refused the token",
    );
    t.match(denied.stderr, /\[ERROR\] OneGate registration .* failed: .*returned error: 401/);
    t.notMatch(denied.stderr + (await refused.read(REPORT)), TOKEN, "the token is not printed");

    const noToken = await scratch(onegate.endpoint, "");
    await noToken.step("service_configure", POOL);
    const missing = await noToken.step("onegate_register", POOL);
    t.match(
      missing.stderr,
      /no OneGate token \(TOKENTXT\) in the context: set TOKEN="YES" in the VM template's CONTEXT/,
    );
  },
);

t.test("no load balancer in the context: no OneGate call", async (t) => {
  const onegate = await startOneGateStandIn(TOKEN);
  t.teardown(onegate.close);
  const { step, read } = await scratch(onegate.endpoint);
  await step("service_configure");
  const register = await step("onegate_register; write_report");
  t.equal(register.code, 0, register.stderr);
  t.same(onegate.calls, []);
  t.match(await read(REPORT), /^pool = none \(ONEAPP_COPILOT_LB_IP empty\)$/m);
});

async function certificate(dir: string, name: string, days = 30): Promise<{ cert: string; key: string }> {
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    String(days),
    "-subj",
    `/CN=${name}`,
    "-addext",
    `subjectAltName=DNS:${name}`,
    "-keyout",
    join(dir, `${name}.key`),
    "-out",
    join(dir, `${name}.crt`),
  ]);
  const b64 = async (file: string) => (await readFile(join(dir, file))).toString("base64");
  return { cert: await b64(`${name}.crt`), key: await b64(`${name}.key`) };
}

t.test(
  "the pool's shared certificate: served when it is a valid pair, refused with the reason otherwise",
  async (t) => {
    const onegate = await startOneGateStandIn(TOKEN);
    t.teardown(onegate.close);
    const { root, step, read } = await scratch(onegate.endpoint);
    const dir = await mkdtemp(join(tmpdir(), "slmc-pool-cert-"));
    const pool = await certificate(dir, "copilot.pool.example.org");
    const other = await certificate(dir, "other.example.org");
    const shared = {
      ONEAPP_COPILOT_TLS_CERT: pool.cert,
      ONEAPP_COPILOT_TLS_KEY: pool.key,
      ONEAPP_COPILOT_DOMAIN: "copilot.pool.example.org",
    };

    const served = await step("service_configure; write_report", shared);
    t.equal(served.code, 0, served.stderr);
    const site = await read("etc/nginx/sites-available/slm-copilot.conf");
    t.match(
      site,
      new RegExp(`ssl_certificate ${root}/etc/slm-copilot/tls/provided\\.crt;`),
      "nginx serves the given certificate",
    );
    t.match(site, new RegExp(`ssl_certificate_key ${root}/etc/slm-copilot/tls/provided\\.key;`));
    t.equal(
      (await run("stat", ["-c", "%a", join(root, "etc/slm-copilot/tls/provided.key")])).stdout.trim(),
      "600",
      "the key is 0600",
    );
    t.equal(
      await read("etc/slm-copilot/tls/provided.crt"),
      await readFile(join(dir, "copilot.pool.example.org.crt"), "utf8"),
      "the certificate as given",
    );
    const report = await read(REPORT);
    t.match(report, /^mode = provided$/m);
    t.match(report, /^endpoint = https:\/\/copilot\.pool\.example\.org$/m, "the pool's name is the endpoint");
    t.notOk(await exists(join(root, "etc/letsencrypt")), "no ACME request for a provided certificate");
    const keyText = await readFile(join(dir, "copilot.pool.example.org.key"), "utf8");
    const keyBody = keyText.split("\n")[1] ?? "";
    for (const text of [served.stderr, await read(LOG), report]) {
      t.notMatch(text, pool.key, "the key (base64) is not printed");
      t.notMatch(text, keyBody, "nor its PEM");
    }
    t.same(
      (await step("service_configure", shared)).stderr.match(/wrote \S+provided/g),
      null,
      "unchanged next boot",
    );

    const cases: [string, Record<string, string>, RegExp][] = [
      [
        "a key of another certificate",
        { ...shared, ONEAPP_COPILOT_TLS_KEY: other.key },
        /ONEAPP_COPILOT_TLS_KEY is not the key of ONEAPP_COPILOT_TLS_CERT/,
      ],
      [
        "not a certificate",
        { ...shared, ONEAPP_COPILOT_TLS_CERT: Buffer.from("hello").toString("base64") },
        /ONEAPP_COPILOT_TLS_CERT is not a PEM certificate/,
      ],
      ["not base64", { ...shared, ONEAPP_COPILOT_TLS_CERT: "%%%" }, /ONEAPP_COPILOT_TLS_CERT is not base64/],
      [
        "the key alone",
        { ONEAPP_COPILOT_TLS_KEY: pool.key },
        /ONEAPP_COPILOT_TLS_CERT and ONEAPP_COPILOT_TLS_KEY go together: only one is set/,
      ],
    ];
    for (const [name, env, expected] of cases) {
      const refused = await step("service_configure; write_report", env);
      t.equal(refused.code, 0, `${name}: not a failed boot`);
      t.match(
        refused.stderr,
        new RegExp(`\\[ERROR\\] ${expected.source}; serving the appliance's own certificate`),
        name,
      );
      t.match(await read(REPORT), /^mode = self-signed$/m, `${name}: the appliance's own certificate serves`);
      t.notMatch(refused.stderr, pool.key, `${name}: the key is not printed`);
    }
  },
);
