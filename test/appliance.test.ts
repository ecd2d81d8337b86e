// The appliance's bash, exercised directly: templates render completely, the renderer refuses
// mistakes, and context validation falls back to safe values with a clear error (no injection).
import t, { type Test } from "tap";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { clientSnippetProblems, parseClientSnippets, reportFields } from "../suites/integration.ts";
import { enableStateCases } from "./systemctl-stand-in.ts";

const run = promisify(execFile);
const APPLIANCE = resolve(import.meta.dirname, "../appliance");
const RENDER = join(APPLIANCE, "render-template.sh");
// Where appliance.sh keeps these files, relative to its SLMC_ROOT (the tests' scratch directory).
const STATE = {
  errors: "var/lib/slm-copilot/configure-errors",
  warnings: "var/lib/slm-copilot/configure-warnings",
  effective: "var/lib/slm-copilot/effective.env",
  password: "var/lib/slm-copilot/password",
  log: "var/log/one-appliance/slm-copilot.log",
  report: "etc/one-appliance/config",
};

const TEMPLATE_KEYS: Record<string, string[]> = {
  "model.yaml": [
    "MODEL_NAME=m",
    "CONTEXT_SIZE=4096",
    "THREADS=2",
    "MODEL_FILE=m.gguf",
    "CHAT_TEMPLATE_FILE=/t/chat.jinja",
  ],
  "local-ai.service": [
    "ENGINE_PORT=8080",
    "LOCALAI_HOME=/h",
    "MODEL_NAME=m",
    "THREADS=2",
    "LOCALAI_BIN=/b",
    "MODELS_PATH=/m",
    "BACKENDS_PATH=/k",
    "CONTEXT_SIZE=4096",
  ],
  "nginx-site.conf": [
    "BEARER_MAP=/b",
    "LISTEN_ADDRESS=*",
    "HTTP_PORT=80",
    "HTTPS_PORT=443",
    "ACME_WEBROOT=/a",
    "TLS_CERT=/c",
    "TLS_KEY=/k",
    "ENGINE_PORT=8080",
    "HTPASSWD=/h",
    "ACCESS_LOG=/l/a",
    "AUTH_LOG=/l/f",
    "RATE_LIMIT_ZONE=# off",
    "RATE_LIMIT=# off",
    "RETRY_AFTER=1",
    "CANONICAL_HOST=$slmc_server_host",
    "OWN_HOSTS=",
    "HEALTH_OVERRIDE=# memory suffices",
    "STUB_STATUS_PORT=8081",
    "METRICS_LOG=/var/log/nginx/slm-copilot-metrics.log",
    "NGINX_EXPORTER_PORT=9113",
    "MTAIL_PORT=3903",
    "NODE_EXPORTER_PORT=9100",
  ],
  "fail2ban-jail.conf": ["AUTH_LOG=/var/log/nginx/slm-copilot-auth.log"],
  "mtail.default": ["PORT=3903", "METRICS_LOG=/var/log/nginx/slm-copilot-metrics.log"],
  "prometheus-nginx-exporter.default": ["PORT=9113", "STUB_STATUS_PORT=8081"],
  "prometheus-node-exporter.default": ["PORT=9100", "TEXTFILE_DIR=/var/lib/prometheus/node-exporter"],
  "slm-copilot-readiness.sh": ["ENGINE_PORT=8080", "OUT=/var/lib/prometheus/node-exporter/slm-copilot.prom"],
  "slm-copilot-readiness.service": ["PROBE=/usr/local/sbin/slm-copilot-readiness"],
  "login-banner.sh": ["REPORT=/etc/one-appliance/config"],
  "slm-copilot-onegate.service": ["APPLIANCE=/etc/one-appliance/service.d/appliance.sh"],
  "slm-copilot-retune.sh": ["SERVICE_SCRIPT=/etc/one-appliance/service.d/appliance.sh"],
};

t.test("every template with placeholders renders completely with the keys configure passes", async (t) => {
  const templates = await readdir(join(APPLIANCE, "templates"));
  t.ok(templates.includes("nginx-site.conf"), "the templates directory was read");
  for (const name of templates) {
    const text = await readFile(join(APPLIANCE, "templates", name), "utf8");
    // Jinja chat templates are installed verbatim, never rendered (chat-template.test.ts covers them).
    if (!text.includes("{{") || name.endsWith(".jinja")) continue;
    t.ok(TEMPLATE_KEYS[name], `${name} has its keys listed in this test`);
    const { stdout } = await run(RENDER, [
      join(APPLIANCE, "templates", name),
      ...(TEMPLATE_KEYS[name] ?? []),
    ]);
    t.notMatch(stdout, /\{\{|[A-Z0-9_]\}\}|\{ \{/, `${name}: no placeholder left`);
  }
  const yaml = (
    await run(RENDER, [join(APPLIANCE, "templates/model.yaml"), ...(TEMPLATE_KEYS["model.yaml"] ?? [])])
  ).stdout;
  t.match(yaml, /^name: m$/m);
  t.match(yaml, /^context_size: 4096$/m);
});

t.test("the renderer refuses missing, unknown and multi-line values", async (t) => {
  const template = join(APPLIANCE, "templates/model.yaml");
  const keys = TEMPLATE_KEYS["model.yaml"] ?? [];
  await t.rejects(run(RENDER, [template, ...keys.slice(1)]), /no value for \{\{MODEL_NAME\}\}/);
  await t.rejects(run(RENDER, [template, ...keys, "NOPE=1"]), /has no placeholder \{\{NOPE\}\}/);
  await t.rejects(run(RENDER, [template, ...keys.slice(1), "MODEL_NAME=a\nb"]), /contains a newline/);
  const { stdout } = await run(RENDER, [
    template,
    ...keys.slice(1),
    "MODEL_NAME=$(touch /tmp/x) & \\1 ${HOME}",
  ]);
  t.match(stdout, /^name: \$\(touch \/tmp\/x\) & \\1 \$\{HOME\}$/m, "values are inserted literally");
});

async function appliance(
  script: string,
  env: Record<string, string> = {},
): Promise<{ stdout: string; errors: string }> {
  const result = await applianceWithLog(script, env);
  return { stdout: result.stdout, errors: result.errors };
}

async function applianceWithLog(
  script: string,
  env: Record<string, string> = {},
): Promise<{ stdout: string; errors: string; warnings: string; log: string }> {
  const root = await mkdtemp(join(tmpdir(), "slmc-appliance-"));
  const { stdout } = await run(
    "bash",
    [
      "-c",
      `set -euo pipefail; source "$1/appliance.sh"; mkdir -p "$SLMC_STATE_DIR" "$SLMC_LOG_DIR"; : >"$SLMC_ERRORS_FILE"; : >"$SLMC_WARNINGS_FILE"; : >"$SLMC_LOG"; ${script}`,
      "_",
      APPLIANCE,
    ],
    { env: { PATH: process.env.PATH ?? "", SLMC_ROOT: root, ...env } },
  );
  const text = (path: string) => readFile(join(root, path), "utf8");
  return {
    stdout: stdout.trim(),
    errors: await text(STATE.errors),
    warnings: await text(STATE.warnings),
    log: await text(STATE.log),
  };
}

t.test("the tuning override (slmc-check tune) wins over ONEAPP_COPILOT_THREADS while valid", async (t) => {
  const withOverride = (value: string) =>
    applianceWithLog(
      `mkdir -p "$SLMC_CONFIG_DIR"; printf '%s\\n' "$TUNE_VALUE" >"$SLMC_TUNE_THREADS_FILE"; effective_threads`,
      { ONEAPP_COPILOT_THREADS: "6", TUNE_VALUE: value },
    );
  const one = await withOverride("1");
  t.equal(one.stdout, "1", "a valid override is the thread count");
  t.match(one.log, /threads 1 from the tuning override .*tune-threads/);
  t.equal(one.errors, "", "an override is no configuration error");
  for (const bad of ["0", "100000", "$(id)", "2x", ""]) {
    const ignored = await withOverride(bad);
    t.equal(ignored.stdout, "6", `override ${JSON.stringify(bad)} ignored: ONEAPP_COPILOT_THREADS applies`);
    if (bad !== "")
      t.match(
        ignored.log,
        /tuning override .*tune-threads ignored: .* is not a whole number from 1 to \d+ \(vCPUs\)/,
      );
  }
  t.equal(
    (await appliance("effective_threads", { ONEAPP_COPILOT_THREADS: "6" })).stdout,
    "6",
    "no override file: the context value",
  );
});

t.test("context validation: defaults, accepted values, rejected values", async (t) => {
  t.same(await appliance("effective_context_size", { ONEAPP_COPILOT_CONTEXT_SIZE: "" }), {
    stdout: "32768",
    errors: "",
  });
  t.same(await appliance("effective_context_size", { ONEAPP_COPILOT_CONTEXT_SIZE: "16384" }), {
    stdout: "16384",
    errors: "",
  });
  for (const bad of ["32k", "-1", "1024", "999999999", "1e5", " 4096"]) {
    const result = await appliance("effective_context_size", { ONEAPP_COPILOT_CONTEXT_SIZE: bad });
    t.equal(result.stdout, "32768", `context size ${JSON.stringify(bad)} falls back`);
    t.match(
      result.errors,
      /ONEAPP_COPILOT_CONTEXT_SIZE=.* is not a whole number from 2048 to 262144; using 32768/,
    );
  }
  t.equal((await appliance("effective_threads", { ONEAPP_COPILOT_THREADS: "6" })).stdout, "6");
  t.match(
    (await appliance("effective_threads", { ONEAPP_COPILOT_THREADS: "0" })).errors,
    /is not a whole number from 1 to 512/,
  );
  t.equal(
    (await appliance("effective_domain", { ONEAPP_COPILOT_DOMAIN: "Copilot.Example.ORG" })).stdout,
    "copilot.example.org",
  );
  for (const bad of ["a b.org", "x.org;reboot", "$(id).org", "-x.org", "x"]) {
    const result = await appliance("effective_domain", { ONEAPP_COPILOT_DOMAIN: bad });
    t.equal(result.stdout, "", `domain ${JSON.stringify(bad)} refused`);
    t.match(result.errors, /is not a valid DNS name; using a self-signed certificate/);
  }
  t.match(
    (await appliance("effective_acme_server", { ONEAPP_COPILOT_ACME_SERVER: "http://x/dir" })).errors,
    /is not an https:\/\/ URL/,
  );
  t.equal(
    (await appliance("effective_acme_server", { ONEAPP_COPILOT_ACME_SERVER: "https://10.0.2.2:14000/dir" }))
      .stdout,
    "https://10.0.2.2:14000/dir",
  );
});

t.test("rate limit: default 600/min, 0 = off, bad values refused with a clear error", async (t) => {
  t.same(await appliance("effective_rate_limit"), { stdout: "600", errors: "" }, "empty: the default");
  t.same(await appliance("effective_rate_limit", { ONEAPP_COPILOT_RATE_LIMIT: "0" }), {
    stdout: "0",
    errors: "",
  });
  t.same(await appliance("effective_rate_limit", { ONEAPP_COPILOT_RATE_LIMIT: "1200" }), {
    stdout: "1200",
    errors: "",
  });
  t.equal((await appliance("effective_rate_limit", { ONEAPP_COPILOT_RATE_LIMIT: "060" })).stdout, "60");
  for (const bad of ["59", "60001", "-1", "10r/s", "600 ", "1e3", "$(touch /tmp/slmc-rate-pwned)", "off"]) {
    const result = await appliance("effective_rate_limit", { ONEAPP_COPILOT_RATE_LIMIT: bad });
    t.equal(result.stdout, "600", `rate limit ${JSON.stringify(bad)} falls back to 600`);
    t.match(
      result.errors,
      /^ONEAPP_COPILOT_RATE_LIMIT='.*' is not 0 \(off\) or a whole number of requests per minute from 60 to 60000; using 600\n$/,
    );
  }
  await t.rejects(run("test", ["-e", "/tmp/slmc-rate-pwned"]), "nothing was executed");
  t.equal(
    (await appliance("rate_limit_zone_line 600")).stdout,
    "limit_req_zone $binary_remote_addr zone=slmc_per_client:10m rate=600r/m;",
  );
  t.equal(
    (await appliance("rate_limit_line 600")).stdout,
    "limit_req zone=slmc_per_client burst=300 nodelay;",
  );
  t.equal((await appliance("retry_after_seconds 600")).stdout, "1");
  t.match((await appliance("rate_limit_zone_line 0")).stdout, /^# per-client rate limiting is off/);
  t.match((await appliance("rate_limit_line 0")).stdout, /^# no limit_req/);
});

t.test(
  "redirect names: the certificate's names as map entries, the domain or the arrival address otherwise",
  async (t) => {
    const entries = (await appliance("own_host_map_entries copilot.example.org")).stdout;
    t.match(entries, /"localhost" "localhost"; /);
    t.match(entries, /"127\.0\.0\.1" "127\.0\.0\.1";/);
    t.match(entries, /"copilot\.example\.org" "copilot\.example\.org";/);
    t.notMatch(entries, /[{}$\n]/, "nothing but names, quotes and semicolons");
    t.equal((await appliance("canonical_host copilot.example.org")).stdout, "copilot.example.org");
    t.equal((await appliance("canonical_host ''")).stdout, "$slmc_server_host");
  },
);

t.test("passwords: accepted, generated once, hostile ones refused without running anything", async (t) => {
  t.equal(
    (await appliance("effective_password", { ONEAPP_COPILOT_PASSWORD: "Good.Pass-123" })).stdout,
    "Good.Pass-123",
  );
  t.match((await appliance("effective_password")).stdout, /^[A-Za-z0-9]{16}$/, "generated when empty");
  const kept = await appliance('printf KeptPassword1 >"$SLMC_PASSWORD_FILE"; effective_password', {
    ONEAPP_COPILOT_PASSWORD: 'x"$(touch /tmp/slmc-unit-pwned)"',
  });
  t.equal(kept.stdout, "KeptPassword1", "a rejected password keeps the previous one");
  t.match(kept.errors, /ONEAPP_COPILOT_PASSWORD is rejected/);
  t.notMatch(kept.errors, /touch/, "the rejected value is not echoed");
  await t.rejects(run("test", ["-e", "/tmp/slmc-unit-pwned"]), "nothing was executed");
  t.equal((await appliance("bearer_map_line 'a.b-C'")).stdout, '"~^Bearer\\ a\\.b\\-C$" off;');
});

t.test(
  "a chosen password shorter than 16 characters is accepted with a warning (log and report), never shown",
  async (t) => {
    const short = await applianceWithLog("effective_password", { ONEAPP_COPILOT_PASSWORD: "Short.Pw-12" });
    t.equal(short.stdout, "Short.Pw-12", "accepted");
    t.equal(short.errors, "", "not an error");
    t.match(
      short.warnings,
      /^ONEAPP_COPILOT_PASSWORD is only 11 characters long: accepted, but use at least 16/,
    );
    t.match(short.log, /\[WARN\] ONEAPP_COPILOT_PASSWORD is only 11 characters long/);
    t.notMatch(short.log + short.warnings, /Short\.Pw-12/, "the password itself is not logged");
    const long = await applianceWithLog("effective_password", {
      ONEAPP_COPILOT_PASSWORD: "Long.Enough-Pass16",
    });
    t.equal(long.warnings, "", "16 or more: no warning");
    t.equal((await applianceWithLog("effective_password")).warnings, "", "generated: no warning");
  },
);

t.test(
  "write_file and render_to are only called as plain statements, where set -e sees them fail",
  async (t) => {
    const script = (await readFile(join(APPLIANCE, "appliance.sh"), "utf8")).replaceAll("\\\n", " ");
    const calls = script
      .split("\n")
      .filter((line) => /\b(write_file|render_to)\b/.test(line))
      .filter((line) => !/^\s*#/.test(line) && !/^(write_file|render_to)\(\)/.test(line));
    t.ok(calls.length >= 15, `${calls.length} calls found`);
    for (const line of calls) {
      t.match(line, /^\s*(write_file|render_to) /, `a statement of its own: ${line.trim()}`);
      t.notMatch(
        line,
        /\|\||&&|\|\s*(write_file|render_to)/,
        `not under ||, && or in a pipe: ${line.trim()}`,
      );
    }
  },
);

t.test("write_file under the driver's umask 0077 creates readable parent directories", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-umask-"));
  const target = join(dir, "new/sub/file.conf");
  await run(
    "bash",
    [
      "-c",
      `set -euo pipefail; umask 0077; source "$1/appliance.sh"; write_file "$2" 0644 <<<x`,
      "_",
      APPLIANCE,
      target,
    ],
    { env: { PATH: process.env.PATH ?? "", SLMC_ROOT: dir } },
  );
  const { stdout } = await run("stat", ["-c", "%a", join(dir, "new"), join(dir, "new/sub"), target]);
  t.same(stdout.trim().split("\n"), ["755", "755", "644"]);
});

t.test(
  "configure_fail2ban: the jail passes fail2ban-client --test on Debian's configuration, idempotently",
  {
    skip: existsSync("/usr/bin/fail2ban-client")
      ? false
      : "fail2ban is not installed (make test installs it as root)",
  },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "slmc-fail2ban-"));
    const root = join(dir, "root");
    const fail2ban = join(root, "etc/fail2ban");
    const authLog = join(root, "var/log/nginx/slm-copilot-auth.log");
    await cp("/etc/fail2ban", fail2ban, { recursive: true });
    await mkdir(join(root, "var/log/nginx"), { recursive: true });
    await mkdir(join(dir, "bin"));
    // systemctl stand-in: records each call; fail2ban counts as active once restarted.
    await writeFile(
      join(dir, "bin/systemctl"),
      [
        "#!/bin/sh",
        `echo "$*" >>"${dir}/systemctl.calls"`,
        'case "$1" in',
        `  is-active) test -e "${dir}/active" ;;`,
        `  restart) touch "${dir}/active" ;;`,
        ...enableStateCases(join(dir, "enabled")),
        "esac",
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    const configure = () =>
      run(
        "bash",
        [
          "-c",
          `set -euo pipefail; source "$1/appliance.sh"; mkdir -p "$SLMC_STATE_DIR"; : >"$SLMC_ERRORS_FILE"; configure_fail2ban`,
          "_",
          APPLIANCE,
        ],
        {
          env: {
            PATH: `${join(dir, "bin")}:${process.env.PATH ?? ""}`,
            SLMC_ROOT: root,
            SLMC_HOME: APPLIANCE,
          },
        },
      );
    await configure();
    t.equal(await readFile(join(root, STATE.errors), "utf8"), "", "no configuration error");
    const log = await readFile(join(root, STATE.log), "utf8");
    t.match(log, /\[INFO\] fail2ban configuration test passed/);
    t.same(
      log
        .trim()
        .split("\n")
        .filter((line) => !/^\d{4}-\d\d-\d\dT/.test(line)),
      [],
      "every log line is timestamped (ONE-07)",
    );
    t.ok(existsSync(authLog), "the failed-auth log exists before fail2ban reads it");
    const jail = await readFile(join(fail2ban, "jail.d/slm-copilot-auth.local"), "utf8");
    t.match(jail, new RegExp(`^logpath = ${authLog}$`, "m"));
    const { stdout } = await run("fail2ban-client", ["-c", fail2ban, "-d"]);
    for (const line of [
      "['add', 'slm-copilot-auth', 'auto']",
      "['set', 'slm-copilot-auth', 'maxretry', 60]",
      "['set', 'slm-copilot-auth', 'findtime', '10m']",
      "['set', 'slm-copilot-auth', 'bantime', '1h']",
      "['set', 'slm-copilot-auth', 'addaction', 'nftables-multiport']",
      "['start', 'slm-copilot-auth']",
    ])
      t.ok(stdout.includes(line), `fail2ban loads ${line}`);
    t.match(stdout, /\['port', '80,443'\]/);
    t.equal(
      (await readFile(join(dir, "systemctl.calls"), "utf8")).trim(),
      "is-enabled --quiet fail2ban.service\nenable --no-reload fail2ban.service\nrestart fail2ban.service",
      "new files: fail2ban enabled and restarted",
    );
    await configure();
    t.equal(
      (await readFile(join(dir, "systemctl.calls"), "utf8")).trim().split("\n").slice(3).join("\n"),
      "is-enabled --quiet fail2ban.service\nis-active --quiet fail2ban.service",
      "a second configure changes nothing, restarts nothing and does not enable again",
    );
    if (!existsSync("/var/log/auth.log")) {
      await rm(join(fail2ban, "jail.d/slm-copilot-sshd-journal.local"));
      await t.rejects(
        run("fail2ban-client", ["-c", fail2ban, "--test"]),
        /Have not found any log file for sshd jail/,
        "without the sshd journal drop-in, Debian's fail2ban does not start on a journal-only system",
      );
    }
  },
);

t.test(
  "render_model_config installs the chat template verbatim and the model YAML points llama.cpp at it, idempotently",
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "slmc-model-"));
    // home: what SLMC_HOME holds on the image (render-template.sh and templates/).
    const configure = (home = APPLIANCE) =>
      run(
        "bash",
        [
          "-c",
          `set -euo pipefail; source "$1/appliance.sh"; render_model_config 8192 4; echo "$WRITTEN"`,
          "_",
          APPLIANCE,
        ],
        { env: { PATH: process.env.PATH ?? "", SLMC_ROOT: dir, SLMC_HOME: home } },
      );
    t.match(
      await readFile(resolve(APPLIANCE, "../packer/scripts/install-appliance.sh"), "utf8"),
      /install -m 0644 "\$\{SOURCE\}"\/templates\/\* "\$\{HOME_DIR\}\/templates\/"/,
      "the image build ships every template, the chat template included, into SLMC_TEMPLATES",
    );
    t.equal((await configure()).stdout.trim(), "changed", "first run: changed");
    const installed = join(dir, "var/lib/local-ai/chat-templates/devstral-small-2.jinja");
    t.equal(
      await readFile(installed, "utf8"),
      await readFile(join(APPLIANCE, "templates/devstral-small-2.jinja"), "utf8"),
      "the template is installed byte for byte",
    );
    const { stdout: mode } = await run("stat", ["-c", "%a", installed]);
    t.equal(mode.trim(), "644", "readable by the engine's user");
    const yaml = parse(
      await readFile(join(dir, "var/lib/local-ai/models/devstral-small-2.yaml"), "utf8"),
    ) as {
      options: string[];
      template: { use_tokenizer_template: boolean };
      function: { grammar: { disable: boolean } };
      context_size: number;
      prompt_cache_all?: boolean;
      prompt_cache_path?: string;
      flash_attention: string;
      cache_type_k: string;
      cache_type_v: string;
    };
    t.same(yaml.options, [
      "parallel:1",
      "cache_ram:0",
      "use_jinja:true",
      `--chat-template-file:${installed}`,
    ]);
    // Prefix reuse across a conversation's turns: cache_prompt on, one slot, no host-RAM copies
    // (RAM = model + one context of q8_0 KV, as host.memory-disk computes it).
    t.equal(yaml.prompt_cache_all, true, "prompt_cache_all: true (llama.cpp cache_prompt per request)");
    t.notOk("prompt_cache_path" in yaml, "no prompt_cache_path: the llama-cpp backend ignores it");
    t.same(
      [yaml.flash_attention, yaml.cache_type_k, yaml.cache_type_v],
      ["on", "q8_0", "q8_0"],
      "q8_0 KV cache (needs flash attention), the type the RAM arithmetic assumes",
    );
    t.equal(yaml.template.use_tokenizer_template, true);
    t.equal(yaml.function.grammar.disable, true);
    t.equal(yaml.context_size, 8192);
    t.equal(
      (await configure()).stdout.trim(),
      "unchanged",
      "second run: nothing changed, so no engine restart",
    );
    await writeFile(installed, "stale");
    t.equal((await configure()).stdout.trim(), "changed", "a changed template counts as a change (restart)");
    const incomplete = await mkdtemp(join(tmpdir(), "slmc-no-templates-"));
    await mkdir(join(incomplete, "templates"));
    await cp(RENDER, join(incomplete, "render-template.sh"));
    await cp(join(APPLIANCE, "templates/model.yaml"), join(incomplete, "templates/model.yaml"));
    await t.rejects(
      configure(incomplete),
      { code: 1, stderr: /devstral-small-2\.jinja is missing: the image is incomplete, rebuild it/ },
      "a missing template fails the step",
    );
    t.match(
      await readFile(join(dir, STATE.log), "utf8"),
      /devstral-small-2\.jinja is missing: the image is incomplete/,
    );
  },
);

async function writeReport(t: Test, tlsMode: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "slmc-report-"));
  const root = join(dir, "root");
  await mkdir(join(dir, "bin"));
  await mkdir(join(root, "var/lib/slm-copilot"), { recursive: true });
  await writeFile(join(dir, "bin/systemctl"), "#!/bin/sh\necho active\n", { mode: 0o755 });
  await writeFile(
    join(root, STATE.effective),
    `CONTEXT_SIZE=32768\nTHREADS=4\nDOMAIN=copilot.example.org\nTLS_MODE=${tlsMode}\nRATE_LIMIT=600\n` +
      "MEMORY_STATE=ok\nMEMORY_TOTAL_MIB=32000\nMEMORY_NEEDED_MIB=18000\nMEMORY_ADVICE=\n",
  );
  await writeFile(join(root, STATE.password), "12345678901234567");
  await run(
    "bash",
    [
      "-c",
      `set -euo pipefail; source "$1/appliance.sh"; endpoint_host() { echo 203.0.113.10; }; tls_fingerprint() { echo AA:BB; }; write_report`,
      "_",
      APPLIANCE,
    ],
    { env: { PATH: `${join(dir, "bin")}:${process.env.PATH ?? ""}`, SLMC_ROOT: root } },
  );
  const { stdout: mode } = await run("stat", ["-c", "%a", join(root, STATE.report)]);
  t.equal(mode.trim(), "600", "the report stays 0600");
  // Paths in the report as the appliance (SLMC_ROOT empty) writes them.
  return (await readFile(join(root, STATE.report), "utf8")).replaceAll(root, "");
}

t.test("the report's Continue config.yaml and Cline CLI commands match its connection info", async (t) => {
  const report = await writeReport(t, "self-signed");
  const fields = reportFields(report);
  t.equal(fields.api_password, "12345678901234567", "the report's own fields are unchanged");
  t.equal(fields.ca_certificate, "/etc/slm-copilot/tls/self-signed.crt", "where the CA PEM lives");
  t.equal(
    fields.ca_certificate_fetch,
    "scp root@203.0.113.10:/etc/slm-copilot/tls/self-signed.crt slm-copilot-ca.pem",
    "how an operator gets it",
  );
  const snippets = parseClientSnippets(report);
  t.same(clientSnippetProblems(snippets), [], "every snippet carries the report's URL, model, key and CA");
  t.match(snippets.continue, {
    apiKey: "12345678901234567",
    caBundlePath: "slm-copilot-ca.pem",
    roles: ["chat", "edit", "apply"],
  });
  t.equal(
    typeof (snippets.continue as { apiKey: unknown }).apiKey,
    "string",
    "an all-digit key stays a string",
  );
  t.match(
    report,
    /^cline auth -p openai -k '12345678901234567' -m devstral-small-2 -b https:\/\/203\.0\.113\.10\/v1 --data-dir slm-copilot-cline$/m,
  );
  t.match(
    report,
    /^CLINE_SESSION_BACKEND_MODE=local NODE_EXTRA_CA_CERTS=slm-copilot-ca\.pem cline --data-dir slm-copilot-cline --json -t 600 "/m,
  );

  const trusted = await writeReport(t, "letsencrypt");
  t.same(clientSnippetProblems(parseClientSnippets(trusted)), [], "Let's Encrypt: snippets are complete too");
  t.notMatch(trusted, /caBundlePath|NODE_EXTRA_CA_CERTS/, "no CA file for a publicly trusted certificate");
  t.match(reportFields(trusted).ca_certificate, /^none needed/);
});
