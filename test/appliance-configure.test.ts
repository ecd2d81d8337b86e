// service_configure (and bootstrap's report and banner) run whole in a scratch SLMC_ROOT, under the
// one-apps driver's shell settings (set -e, umask 0077), with systemctl, nginx and fail2ban-client
// replaced by recorders: which files each run writes and with which modes, what it restarts, and that a
// write that fails fails the step with the file named.
import t from "tap";
import { execFile } from "node:child_process";
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat as statFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { parseExposition } from "../src/probes/prometheus.ts";
import { enabledStateRecorder } from "./systemctl-stand-in.ts";

const run = promisify(execFile);
const APPLIANCE = resolve(import.meta.dirname, "../appliance");

interface Step {
  /** the files the step logged as written, relative to the scratch root */
  wrote: string[];
  /** systemctl, nginx and fail2ban-client calls, in order */
  calls: string[];
  stderr: string;
}

interface Scratch {
  root: string;
  /** the directory holding the recorders (put first on PATH) */
  bin: string;
  /** the environment every step runs with */
  env: Record<string, string>;
  /** runs the named appliance functions in order; rejects like the driver's step would fail */
  step(functions: string, env?: Record<string, string>): Promise<Step>;
}

async function scratch(): Promise<Scratch> {
  const dir = await mkdtemp(join(tmpdir(), "slmc-configure-"));
  const root = join(dir, "root");
  const bin = join(dir, "bin");
  const calls = join(dir, "calls");
  // What the image's packages create before configure first runs.
  for (const sub of ["etc/nginx/sites-enabled", "var/log/nginx"]) {
    await mkdir(join(root, sub), { recursive: true });
  }
  await mkdir(bin);
  // A VM with RAM to spare, whatever this machine has (the small-VM case: appliance-memory.test.ts).
  const meminfo = join(dir, "meminfo");
  await writeFile(meminfo, "MemTotal:       67108864 kB\nMemFree:        60000000 kB\n");
  // Recorders; every unit counts as active, so only a change restarts anything, and as enabled once
  // `systemctl enable` ran for it.
  for (const name of ["nginx", "fail2ban-client"]) {
    await writeFile(join(bin, name), `#!/bin/sh\necho "${name} $*" >>"${calls}"\n`, { mode: 0o755 });
  }
  await writeFile(join(bin, "systemctl"), enabledStateRecorder(calls, join(dir, "enabled")), { mode: 0o755 });
  const base = {
    PATH: `${bin}:${process.env.PATH ?? ""}`,
    SLMC_ROOT: root,
    SLMC_HOME: APPLIANCE,
    SLMC_MEMINFO: meminfo,
  };
  const step = async (functions: string, env: Record<string, string> = {}): Promise<Step> => {
    await writeFile(calls, "");
    const { stderr } = await run(
      "bash",
      ["-c", `umask 0077; set -e; source "$1/appliance.sh"; ${functions}`, "_", APPLIANCE],
      {
        env: { ...base, ...env },
        timeout: 60_000,
      },
    );
    const wrote = [...stderr.matchAll(/\[INFO\] wrote (\S+)$/gm)].map((match) =>
      (match[1] ?? "").replace(`${root}/`, ""),
    );
    return { wrote: wrote.sort(), calls: (await readFile(calls, "utf8")).trim().split("\n"), stderr };
  };
  return { root, bin, env: base, step };
}

const stat = async (root: string, files: string[]): Promise<string[]> =>
  (await run("stat", ["-c", "%a %G", ...files.map((file) => join(root, file))])).stdout.trim().split("\n");

const MODEL_CONFIG = "var/lib/local-ai/models/devstral-small-2.yaml";
const LOCALAI_UNIT = "etc/systemd/system/local-ai.service";
const MODEL = [MODEL_CONFIG, LOCALAI_UNIT];
const BEARER_MAP = "etc/nginx/slm-copilot.bearer-map";
const HTPASSWD = "etc/nginx/slm-copilot.htpasswd";
const PASSWORD = "var/lib/slm-copilot/password";
const CREDENTIALS = [BEARER_MAP, HTPASSWD, PASSWORD];
const FAIL2BAN_FILTER = "etc/fail2ban/filter.d/slm-copilot-auth.conf";
const FAIL2BAN = [
  FAIL2BAN_FILTER,
  "etc/fail2ban/jail.d/slm-copilot-auth.local",
  "etc/fail2ban/jail.d/slm-copilot-sshd-journal.local",
];

t.test(
  "configure: changed on the first run, unchanged on the second, and a changed value rewrites and restarts only what depends on it",
  async (t) => {
    const { root, bin, step } = await scratch();
    const first = await step("service_configure");
    t.same(
      first.wrote,
      [
        BEARER_MAP,
        HTPASSWD,
        "etc/nginx/sites-available/slm-copilot.conf",
        "etc/slm-copilot/tls/self-signed.names",
        LOCALAI_UNIT,
        ...FAIL2BAN,
        "var/lib/local-ai/chat-templates/devstral-small-2.jinja",
        MODEL_CONFIG,
        "var/lib/slm-copilot/effective.env",
        "var/lib/slm-copilot/load-balancer.env",
        PASSWORD,
        ...METRICS,
      ].sort(),
      "the first configure writes every file",
    );
    t.same(
      await stat(root, [
        ...CREDENTIALS,
        "var/lib/slm-copilot/effective.env",
        "etc/nginx/sites-available/slm-copilot.conf",
        ...MODEL,
        FAIL2BAN_FILTER,
      ]),
      ["600 root", "640 www-data", "600 root", "600 root", "644 root", "644 root", "644 root", "644 root"],
      "each file has the appliance's mode (the htpasswd file readable by the nginx workers' group)",
    );
    t.ok(first.calls.includes("systemctl restart local-ai.service"), "new engine files: the engine restarts");
    t.ok(first.calls.includes("systemctl restart fail2ban.service"), "new jail files: fail2ban restarts");

    const second = await step("service_configure");
    t.same(second.wrote, [], "a second configure with the same context writes nothing");
    t.same(
      second.calls.filter((call) => / restart /.test(call)),
      [],
      "and restarts nothing (the engine and fail2ban only checked for being active)",
    );
    t.ok(second.calls.includes("systemctl reload nginx.service"), "nginx is reloaded on every configure");
    t.notOk(second.calls.includes("systemctl daemon-reload"), "and systemd is not reloaded: no unit changed");
    t.ok(
      second.calls.every((call) => !/^systemctl enable /.test(call) || / --no-reload /.test(call)),
      "enabling a unit never reloads systemd either (seconds per call on a small VM)",
    );
    t.ok(first.calls.includes("systemctl daemon-reload"), "a new engine unit: systemd is reloaded");
    // A unit systemd says is stale (a drop-in written by someone else): reloaded though nothing changed.
    const recorder = await readFile(join(bin, "systemctl"), "utf8");
    await writeFile(
      join(bin, "systemctl"),
      recorder.replace(
        "\n",
        '\n[ "$*" = "show -p NeedDaemonReload --value local-ai.service" ] && echo yes\n',
      ),
    );
    const stale = await step("service_configure");
    await writeFile(join(bin, "systemctl"), recorder);
    t.ok(stale.calls.includes("systemctl daemon-reload"), "a stale engine unit: systemd is reloaded");

    const context = await step("service_configure", { ONEAPP_COPILOT_CONTEXT_SIZE: "16384" });
    t.same(
      context.wrote,
      [...MODEL, "var/lib/slm-copilot/effective.env"].sort(),
      "context size: engine files",
    );
    t.ok(
      context.calls.includes("systemctl restart local-ai.service"),
      "the engine restarts for the new size",
    );
    t.notOk(context.calls.includes("systemctl restart fail2ban.service"), "fail2ban is left alone");
    t.match(
      await readFile(join(root, MODEL_CONFIG), "utf8"),
      /^context_size: 16384$/m,
      "the new value is in the model config",
    );

    const password = await step("service_configure", {
      ONEAPP_COPILOT_CONTEXT_SIZE: "16384",
      ONEAPP_COPILOT_PASSWORD: "Changed.Password-16",
    });
    t.same(password.wrote, [...CREDENTIALS].sort(), "a new password: the credential files only");
    t.match(password.stderr, /\[INFO\] API password changed/);
    t.notOk(password.calls.includes("systemctl restart local-ai.service"), "the engine is left alone");
  },
);

const METRICS = [
  "etc/default/prometheus-node-exporter",
  "etc/default/prometheus-nginx-exporter",
  "etc/default/mtail",
  "etc/mtail/slm-copilot.mtail",
  "usr/local/sbin/slm-copilot-readiness",
  "etc/systemd/system/slm-copilot-readiness.service",
  "etc/systemd/system/slm-copilot-readiness.timer",
];
const METRIC_UNITS = [
  "prometheus-node-exporter.service",
  "prometheus-nginx-exporter.service",
  "mtail.service",
  "slm-copilot-readiness.timer",
];

t.test(
  "configure: the exporters listen on loopback only, are enabled, and restart only when their files change",
  async (t) => {
    const { root, step } = await scratch();
    // The image build's root `nginx -t` (umask 077) leaves the log 0600 root:root: mtail could not read it.
    await mkdir(join(root, "var/log/nginx"), { recursive: true });
    await writeFile(join(root, "var/log/nginx/slm-copilot-metrics.log"), "", { mode: 0o600 });
    await chmod(join(root, "var/log/nginx/slm-copilot-metrics.log"), 0o600);
    const first = await step("service_configure");
    const read = (file: string) => readFile(join(root, file), "utf8");
    t.match(
      await read("etc/default/prometheus-node-exporter"),
      /^ARGS="--web\.listen-address=127\.0\.0\.1:9100 --collector\.textfile\.directory=\/var\/lib\/prometheus\/node-exporter"$/m,
    );
    t.match(
      await read("etc/default/prometheus-nginx-exporter"),
      /^ARGS="-web\.listen-address=127\.0\.0\.1:9113 -nginx\.scrape-uri=http:\/\/127\.0\.0\.1:8081\/stub_status -nginx\.retries=20 -nginx\.retry-interval=5s"$/m,
    );
    const mtail = await read("etc/default/mtail");
    t.match(mtail, /^HOST=127\.0\.0\.1$/m);
    t.match(mtail, /^PORT=3903$/m);
    t.match(
      mtail,
      /^LOGS=\/var\/log\/nginx\/slm-copilot-metrics\.log$/m,
      "the path on the VM, not the scratch root",
    );
    t.match(
      await read("etc/systemd/system/slm-copilot-readiness.service"),
      /^ExecStart=\/usr\/local\/sbin\/slm-copilot-readiness$/m,
    );
    t.match(
      await read("usr/local/sbin/slm-copilot-readiness"),
      /OUT="\/var\/lib\/prometheus\/node-exporter\/slm-copilot\.prom"/,
    );
    const site = await read("etc/nginx/sites-available/slm-copilot.conf");
    t.match(site, /listen 127\.0\.0\.1:8081;/, "stub_status on loopback");
    for (const [path, port] of [
      ["nginx", 9113],
      ["requests", 3903],
      ["node", 9100],
    ] as const)
      t.match(
        site,
        new RegExp(
          `location = /metrics/${path} \\{[^}]*auth_basic \\$slmc_auth_realm;[^}]*proxy_pass http://127\\.0\\.0\\.1:${port}/metrics;`,
        ),
        `/metrics/${path} behind auth → 127.0.0.1:${port}`,
      );
    t.same(
      await stat(root, ["var/log/nginx/slm-copilot-metrics.log", "usr/local/sbin/slm-copilot-readiness"]),
      ["640 adm", "755 root"],
    );
    for (const unit of METRIC_UNITS) {
      t.ok(first.calls.includes(`systemctl enable --no-reload ${unit}`), `${unit} enabled`);
      t.ok(first.calls.includes(`systemctl restart ${unit}`), `${unit} started with its new files`);
    }
    const second = await step("service_configure");
    for (const unit of METRIC_UNITS) {
      t.ok(second.calls.includes(`systemctl is-enabled --quiet ${unit}`), `${unit}: asked whether enabled`);
      t.notOk(
        second.calls.includes(`systemctl enable --no-reload ${unit}`),
        `${unit} already enabled: not enabled again (update-rc.d costs seconds per boot)`,
      );
      t.notOk(second.calls.includes(`systemctl restart ${unit}`), `${unit} left running: nothing changed`);
    }
  },
);

t.test("an exporter that does not start is a configuration error, and configure goes on", async (t) => {
  const { root, bin, step } = await scratch();
  const calls = join(bin, "..", "calls");
  await writeFile(
    join(bin, "systemctl"),
    `#!/bin/sh\necho "systemctl $*" >>"${calls}"\n[ "$*" = "restart mtail.service" ] && exit 1\nexit 0\n`,
    { mode: 0o755 },
  );
  const result = await step("service_configure");
  t.ok(
    result.calls.includes("systemctl restart slm-copilot-readiness.timer"),
    "the units after it still start",
  );
  t.match(
    await readFile(join(root, "var/lib/slm-copilot/configure-errors"), "utf8"),
    /^mtail\.service did not start \(journalctl -u mtail\.service\); its metrics are missing from \/metrics\/\*$/m,
  );
  t.ok(result.wrote.includes("var/lib/slm-copilot/effective.env"), "configure finished");
});

t.test("the readiness probe writes slmc_engine_ready 1 while /readyz is 200 and 0 otherwise", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-readiness-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  let status = 503;
  const server = http.createServer((_req, res) => res.writeHead(status).end());
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  t.teardown(() => server.close());
  const out = join(dir, "slm-copilot.prom");
  const { stdout } = await run(join(APPLIANCE, "render-template.sh"), [
    join(APPLIANCE, "templates/slm-copilot-readiness.sh"),
    `ENGINE_PORT=${(server.address() as AddressInfo).port}`,
    `OUT=${out}`,
  ]);
  const probe = join(dir, "probe.sh");
  await writeFile(probe, stdout, { mode: 0o755 });
  await run(probe);
  t.match(await readFile(out, "utf8"), /^slmc_engine_ready 0$/m, "503: not ready");
  status = 200;
  await run(probe);
  const text = await readFile(out, "utf8");
  t.match(text, /^slmc_engine_ready 1$/m, "200: ready");
  t.match(text, /^slmc_engine_ready_probe_timestamp_seconds \d{10}$/m);
  t.same(parseExposition(text).problems, [], "node exporter's textfile collector can read it");
  server.close();
  await run(probe);
  t.match(await readFile(out, "utf8"), /^slmc_engine_ready 0$/m, "engine gone: not ready");
});

t.test("a write that fails fails configure with the file named, and nothing after it runs", async (t) => {
  const { root, step } = await scratch();
  await step("service_configure");

  // The unit's directory is a file: the engine's files cannot be written (was: the step aborted by
  // an exit inside the sourced script).
  const units = join(root, "etc/systemd/system");
  await rm(units, { recursive: true });
  await writeFile(units, "");
  const unit = await step("service_configure", { ONEAPP_COPILOT_CONTEXT_SIZE: "8192" }).then(
    () => undefined,
    (error: { code: number; stderr: string }) => error,
  );
  t.ok(unit, "configure fails");
  t.equal(unit?.code, 1, "with exit status 1");
  t.match(
    unit?.stderr,
    new RegExp(`\\[ERROR\\] could not write ${units}/local-ai\\.service: mkdir: cannot create directory`),
    "the error names the file and why",
  );
  t.notMatch(unit?.stderr, /restarting local-ai|configure finished/, "the engine is not restarted");
  await rm(units);
  await mkdir(units);

  // The bearer map (was: `|| true`, logged as written) cannot be replaced: a directory is in its way.
  const bearerMap = join(root, "etc/nginx/slm-copilot.bearer-map");
  await rm(bearerMap);
  await mkdir(bearerMap);
  const credentials = await step("service_configure").then(
    () => undefined,
    (error: { code: number; stderr: string }) => error,
  );
  t.equal(credentials?.code, 1, "configure fails");
  t.match(
    credentials?.stderr,
    new RegExp(`\\[ERROR\\] could not write ${bearerMap}: install: cannot overwrite directory`),
  );
  t.notMatch(credentials?.stderr, new RegExp(`wrote ${bearerMap}`), "not logged as written");
  t.notMatch(credentials?.stderr, /LocalAI: context size/, "the steps after it did not run");
});

t.test(
  "bootstrap's report and banner: written once, the banner reads the report where the driver puts it",
  async (t) => {
    const { root, step } = await scratch();
    await step("service_configure");
    // The one-apps driver names the report (ONE_SERVICE_REPORT); here, somewhere unusual.
    const report = join(root, "srv/one-apps/report");
    const driver = { ONE_SERVICE_REPORT: report };
    const banner = join(root, "etc/profile.d/slm-copilot-banner.sh");
    const first = await step("write_report; write_banner", driver);
    t.same(first.wrote, ["etc/profile.d/slm-copilot-banner.sh", "srv/one-apps/report"]);
    t.same(await stat(root, ["srv/one-apps/report", "etc/profile.d/slm-copilot-banner.sh"]), [
      "600 root",
      "644 root",
    ]);
    t.same((await step("write_report; write_banner", driver)).wrote, [], "unchanged on the next boot");
    const text = await readFile(banner, "utf8");
    t.equal(text.split(`'${report}'`).length, 4, "the banner reads the report path the script uses");
    t.notMatch(text, /one-appliance\/config/, "no literal path of its own");
    const { stdout } = await run("sh", [banner]);
    t.match(
      stdout,
      /^SLM-Copilot: https:\/\/\S+ {2}model devstral-small-2$/m,
      "it shows the report's endpoint",
    );
    t.match(stdout, new RegExp(`credentials: ${report}$`, "m"));

    await rm(join(root, "srv/one-apps"), { recursive: true });
    await writeFile(join(root, "srv/one-apps"), "");
    await t.rejects(
      step("write_report", driver),
      { code: 1, stderr: new RegExp(`could not write ${report}: mkdir: cannot create directory`) },
      "a report that cannot be written fails bootstrap, naming it",
    );
  },
);

t.test("the tuning override (slmc-check tune) goes through configure and its removal restores", async (t) => {
  const { root, step } = await scratch();
  const threads = async () => /^threads: (\d+)$/m.exec(await readFile(join(root, MODEL_CONFIG), "utf8"))?.[1];
  await step("service_configure", { ONEAPP_COPILOT_THREADS: "2" });
  t.equal(await threads(), "2", "the context's count before tuning");
  await mkdir(join(root, "etc/slm-copilot"), { recursive: true });
  await writeFile(join(root, "etc/slm-copilot/tune-threads"), "1\n");
  const tuned = await step("service_configure", { ONEAPP_COPILOT_THREADS: "2" });
  t.equal(await threads(), "1", "the override's count in the model YAML");
  t.ok(tuned.wrote.includes(MODEL_CONFIG) && tuned.wrote.includes(LOCALAI_UNIT), "engine files rewritten");
  t.ok(tuned.calls.includes("systemctl restart local-ai.service"), "the engine restarts with it");
  await rm(join(root, "etc/slm-copilot/tune-threads"));
  const restored = await step("service_configure", { ONEAPP_COPILOT_THREADS: "2" });
  t.equal(await threads(), "2", "override removed: the context's count again");
  t.ok(restored.calls.includes("systemctl restart local-ai.service"), "and the engine restarts");
});

t.test(
  "retune (what slmc-check tune runs as root) re-applies only the threads and never reads a hostile one_env",
  async (t) => {
    const { root, bin, env, step } = await scratch();
    const work = join(root, "..");
    const threads = async () =>
      /^threads: (\d+)$/m.exec(await readFile(join(root, MODEL_CONFIG), "utf8"))?.[1];
    const effective = async (key: string) =>
      new RegExp(`^${key}=(.*)$`, "m").exec(
        await readFile(join(root, "var/lib/slm-copilot/effective.env"), "utf8"),
      )?.[1];
    // The VM's owner put a command substitution in a context value; one-context writes it unescaped.
    const oneEnv = join(root, "run/one-context/one_env");
    await mkdir(join(root, "run/one-context"), { recursive: true });
    await writeFile(oneEnv, 'export ONEAPP_COPILOT_THREADS="$(touch MARKER)"\n');
    const marker = join(work, "MARKER");
    const markerExists = () =>
      statFile(marker).then(
        () => true,
        () => false,
      );
    await run("bash", ["-c", 'set -a; . "$1"', "_", oneEnv], { cwd: work });
    t.ok(await markerExists(), "control: sourcing that one_env runs the owner's command");
    await rm(marker);

    await step("service_configure", { ONEAPP_COPILOT_THREADS: "2" });
    t.equal(await effective("CONTEXT_THREADS"), "2", "configure records the context's count");
    const installed = await step("install_retune_script");
    t.same(
      installed.wrote,
      ["usr/local/sbin/slm-copilot-retune"],
      "service install puts the script in place",
    );
    t.same(await stat(root, ["usr/local/sbin/slm-copilot-retune"]), ["755 root"]);
    await mkdir(join(root, "etc/one-appliance/service.d"), { recursive: true });
    await copyFile(join(APPLIANCE, "appliance.sh"), join(root, "etc/one-appliance/service.d/appliance.sh"));
    // The engine answers /readyz at once (retune waits for it as bootstrap does).
    await writeFile(join(bin, "curl"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const retune = async () => {
      await writeFile(join(work, "calls"), "");
      const { stdout, stderr } = await run(join(root, "usr/local/sbin/slm-copilot-retune"), [], {
        cwd: work,
        env: { ...env, SLMC_READY_TIMEOUT_S: "4" },
        timeout: 60_000,
      }).catch((error: { stdout: string; stderr: string }) => error);
      const calls = (await readFile(join(work, "calls"), "utf8")).trim().split("\n");
      return { stdout, stderr, calls };
    };

    await mkdir(join(root, "etc/slm-copilot"), { recursive: true });
    await writeFile(join(root, "etc/slm-copilot/tune-threads"), "1\n");
    const tuned = await retune();
    t.match(tuned.stdout, /^retune-exit=0$/m, tuned.stderr);
    t.equal(await threads(), "1", "the override's count in the model YAML");
    t.ok(tuned.calls.includes("systemctl restart local-ai.service"), "the engine restarts with it");
    t.equal(await effective("THREADS"), "1", "effective.env (the report's source) says so");
    t.equal(await effective("CONTEXT_THREADS"), "2", "the context's count is kept");
    t.match(
      await readFile(join(root, "etc/one-appliance/config"), "utf8"),
      /^threads = 1$/m,
      "report rewritten",
    );
    t.notOk(await markerExists(), "the hostile one_env was not sourced");

    await rm(join(root, "etc/slm-copilot/tune-threads"));
    const restored = await retune();
    t.match(restored.stdout, /^retune-exit=0$/m, restored.stderr);
    t.equal(await threads(), "2", "override removed: CONTEXT_THREADS again");
    t.ok(restored.calls.includes("systemctl restart local-ai.service"), "and the engine restarts");
    t.equal(await effective("THREADS"), "2");
    const again = await retune();
    t.notOk(again.calls.includes("systemctl restart local-ai.service"), "nothing changed: no restart");
    t.notOk(await markerExists(), "still no marker");

    // An engine that never gets ready fails retune, with its exit status printed.
    await writeFile(join(bin, "curl"), "#!/bin/sh\nexit 7\n", { mode: 0o755 });
    await writeFile(join(root, "etc/slm-copilot/tune-threads"), "1\n");
    const late = await run(join(root, "usr/local/sbin/slm-copilot-retune"), [], {
      cwd: work,
      env: { ...env, SLMC_READY_TIMEOUT_S: "0" },
    }).catch((error: { code: number; stdout: string; stderr: string }) => error);
    t.match(late.stdout, /^retune-exit=1$/m, "not ready: retune-exit=1");
    t.match(late.stderr, /LocalAI did not report ready within 0 s/);
    await rm(join(root, "etc/slm-copilot/tune-threads"));

    // effective.env from a configure that predates CONTEXT_THREADS: refused, saying what to run.
    const envFile = join(root, "var/lib/slm-copilot/effective.env");
    await writeFile(envFile, (await readFile(envFile, "utf8")).replace(/^CONTEXT_THREADS=.*\n/m, ""));
    const old = await run(join(root, "usr/local/sbin/slm-copilot-retune"), [], { cwd: work, env }).catch(
      (error: { stdout: string; stderr: string }) => error,
    );
    t.match(old.stdout, /^retune-exit=1$/m);
    t.match(old.stderr, /records no CONTEXT_THREADS: run \/etc\/one-appliance\/service configure once/);
    t.notOk(await markerExists(), "no marker at any point");
  },
);
