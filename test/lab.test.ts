// End to end on the lab VM: the appliance built by Packer, booted under QEMU with a CONTEXT ISO, checked
// by the compiled slmc-check through real nginx; then report, log, banner, password and certificate
// persistence across a reboot; hostile context values; Let's Encrypt from pebble and its fallback.
// The engine inside is the LocalAI STAND-IN and the model a generated file (see README, "The lab").
import t, { type Test } from "tap";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  clientsInstalled,
  describeRun,
  runClientsAgainstAppliance,
  runProblems,
} from "../fixtures/clients/run.ts";
import { startPebble } from "../fixtures/lab/pebble.ts";
import { startOneGateStandIn } from "../fixtures/onegate-stand-in.ts";
import { runMarketplaceSpecs, type SpecRun } from "./marketplace-rspec/run.ts";
import {
  accessArgs,
  bootLab,
  failures,
  parseReport,
  ROOT,
  runSlmc,
  slmcCheck,
  type Lab,
  type SlmcRun,
  sshArgs,
} from "./lab-harness.ts";

// Builds and boots VMs under TCG: far beyond the runner's per-file timeout for ordinary tests.
t.setTimeout(3_300_000);

if (process.env.SLMC_SKIP_LAB === "1") {
  // A skip is reported as a skip: it never adds to "N passed".
  t.plan(0, "SLMC_SKIP_LAB=1: lab tests not run");
} else {
  await labTests();
}

interface SoakRun extends SlmcRun {
  json: {
    interrupted?: boolean;
    notes: string[];
    checks: { id: string; status: string; message: string }[];
    soak?: { figures: Record<string, unknown>; timeline: { state: string } };
  };
  seconds: number;
}

/** Runs `slmc-check soak`, handing each stderr line to onLine as it arrives (live progress, UI URL). */
async function slmcSoak(
  args: string[],
  jsonPath: string,
  onLine: (line: string, child: ChildProcess) => void,
): Promise<SoakRun> {
  const run = await runSlmc(
    ["soak", ...args, "--json", jsonPath, "--format", "json", "--max-tokens", "8"],
    1_200_000,
    onLine,
  );
  const parsed = parseReport(run);
  let json: SoakRun["json"] = { notes: [], checks: [] };
  try {
    json = JSON.parse(await readFile(jsonPath, "utf8")) as SoakRun["json"];
  } catch (error) {
    parsed.stderr += `\n(no JSON report at ${jsonPath}: ${(error as Error).message})`;
  }
  return { ...parsed, json, seconds: run.seconds };
}

function reportField(report: string, key: string): string | undefined {
  return new RegExp(`^${key} = (.*)$`, "m").exec(report)?.[1];
}

async function labTests(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "slmc-lab-test-"));

  t.test("offline lab appliance: checks, report, log, banner, reboot, hostile context", async (t) => {
    const vm = await bootLab(t, "main", join(ROOT, "fixtures/lab/contexts/default.env"), "restricted");
    const certificate = join(dir, "appliance.crt");
    await writeFile(certificate, await vm.ssh("cat /etc/slm-copilot/tls/self-signed.crt"));
    const args = await accessArgs(vm, dir, ["--ca", certificate]);

    const first = await slmcCheck(args);
    t.equal(first.code, 0, `slmc-check passes through real nginx:\n${failures(first)}\n${first.stderr}`);
    t.ok(first.report.checks.length >= 18, "the whole HTTPS/SSE suite ran");

    const withSsh = await slmcCheck([
      "127.0.0.1",
      "--https-port",
      vm.env.LAB_HTTPS_PORT ?? "",
      "--http-port",
      vm.env.LAB_HTTP_PORT ?? "",
      "--engine-port",
      vm.env.LAB_ENGINE_PORT ?? "",
      "--ca",
      certificate,
      ...sshArgs(vm, join(dir, "known_hosts")),
      "--expect-offline",
      "--outbound-probe",
      "http://10.0.2.2:9/",
    ]);
    t.equal(
      withSsh.code,
      0,
      `with only an SSH key, every suite passes (SSH, recovery, binding, integration):\n${failures(withSsh)}\n${withSsh.stderr}`,
    );
    const ids = withSsh.report.checks.map((c) => c.id);
    for (const id of [
      "system.recovery-local-ai",
      "system.recovery-nginx",
      "system.binding-inside",
      "system.binding-outside",
      "one.cline-snippet",
      "one.client-snippets",
      "host.serves-offline",
      "posture.secrets",
      "posture.sandboxing",
      "posture.proxy-config",
    ])
      t.ok(ids.includes(id), `${id} ran`);
    t.match(
      withSsh.report.checks.find((c) => c.id === "system.recovery-local-ai")?.message,
      /serving over HTTPS after [\d.]+ s/,
      "recovery time is measured",
    );
    // INFER-09 over SSH: /health watched while the engine restarted, paired with the engine's own /readyz.
    const recovery = withSsh.report.checks.find((c) => c.id === "system.recovery-local-ai") as
      | { evidence?: { healthDuringRecovery?: { health: number | string; engineReadyz: string }[] } }
      | undefined;
    const samples = recovery?.evidence?.healthDuringRecovery ?? [];
    t.ok(samples.length > 0, "/health was observed during the local-ai recovery window");
    t.ok(
      samples.some((s) => s.engineReadyz !== "200" && s.health !== 200),
      `the window caught the engine not ready, and /health said so: ${JSON.stringify(samples.slice(0, 5))}`,
    );
    t.match(
      withSsh.report.checks.find((c) => c.id === "host.serves-offline")?.message,
      /no outbound network and the appliance serves/,
    );

    // The real clients our users run, configured from the appliance's report and its certificate:
    // Continue CLI answers; Cline CLI executes the stand-in's read of its scratch file, then answers.
    if (clientsInstalled().installed || process.env.SLMC_REQUIRE_CLIENTS === "1") {
      const clients = await runClientsAgainstAppliance({
        report: await vm.ssh("cat /etc/one-appliance/config"),
        caFile: certificate,
        httpsPort: Number(vm.env.LAB_HTTPS_PORT),
      });
      t.same(
        runProblems(clients.continue),
        [],
        `Continue CLI through the lab appliance: ${describeRun(clients.continue)}`,
      );
      t.same(
        runProblems(clients.cline, { requireRead: true }),
        [],
        `Cline CLI through the lab appliance, one tool call executed: ${describeRun(clients.cline)}`,
      );
    } else
      await t.test(
        "real clients through the lab appliance",
        { skip: "Cline and Continue CLIs not installed: run scripts/clients-deps.sh" },
        async () => undefined,
      );

    // The benchmark through the VM's nginx, with the in-VM baseline and the roofline over SSH.
    const benchJson = join(dir, "bench.json");
    const bench = await runSlmc(
      [
        "bench",
        "127.0.0.1",
        "--https-port",
        vm.env.LAB_HTTPS_PORT ?? "",
        "--ca",
        certificate,
        ...sshArgs(vm, join(dir, "known_hosts")),
        "--requests",
        "3",
        "--prompt-set",
        "short",
        "--json",
        benchJson,
        "--html",
        join(dir, "bench.html"),
      ],
      600_000,
    );
    t.equal(bench.code, 0, "bench through the lab VM's nginx: no finding", {
      stdout: bench.stdout,
      stderr: bench.stderr,
    });
    t.match(
      bench.stdout,
      /note: the target serves the slmc STAND-IN engine/,
      "the report names the stand-in",
    );
    const benchReport = JSON.parse(await readFile(benchJson, "utf8")) as {
      levels: { aggregate: { completed: number } }[];
      inside?: {
        internal: { completed: number; decode_tok_s_p50: number | null };
        proxy_overhead_ms: { ttft: number | null };
        decode_roofline_tok_s: number | null;
        decode_tok_s_pct_of_roofline: number | null;
        memory_read_bandwidth_gb_s: number | null;
        bandwidth_threads: number | null;
        host: { model_bytes: number | null; threads: number | null };
      };
    };
    t.equal(benchReport.levels[0]?.aggregate.completed, 3, "3 measured requests completed");
    t.equal(benchReport.inside?.internal.completed, 3, "the same prompt ran inside the VM on 127.0.0.1:8080");
    t.ok((benchReport.inside?.memory_read_bandwidth_gb_s ?? 0) > 0, "memory read bandwidth measured");
    t.equal(
      benchReport.inside?.bandwidth_threads,
      benchReport.inside?.host.threads,
      "read with as many threads as the engine runs (the model YAML's threads)",
    );
    t.ok((benchReport.inside?.host.model_bytes ?? 0) > 0, "model file size read");
    t.ok((benchReport.inside?.decode_roofline_tok_s ?? 0) > 0, "decode roofline computed");
    t.type(benchReport.inside?.proxy_overhead_ms.ttft, "number", "proxy overhead on TTFT");
    t.comment(`bench inside: ${JSON.stringify(benchReport.inside)}`);

    const report = await vm.ssh("cat /etc/one-appliance/config");
    t.equal((await vm.ssh("stat -c %a /etc/one-appliance/config")).trim(), "600", "report is mode 0600");
    const password = (await vm.ssh("cat /var/lib/slm-copilot/password")).trim();
    t.match(password, /^[A-Za-z0-9]{16}$/, "a 16-character password was generated");
    t.equal(reportField(report, "api_password"), password, "the report carries the password");
    t.equal(reportField(report, "api_username"), "copilot");
    t.equal(reportField(report, "mode"), "self-signed");
    t.equal(reportField(report, "context_size"), "32768", "empty context size means the default");
    t.equal(reportField(report, "local-ai"), "active");
    t.equal(reportField(report, "nginx"), "active");
    t.match(report, /\[Configuration errors\]\nnone = true/);
    // Brute-force protection: the default rate limit, the jail running, and the wrong credentials the
    // two slmc-check runs above sent on purpose counted by fail2ban from nginx's failed-auth log, with
    // no ban (a few conformance runs stay under the 60-failure threshold).
    t.equal(reportField(report, "rate_limit"), "600 requests/min per client address, burst 300");
    t.equal(reportField(report, "fail2ban"), "active", "fail2ban runs (installed from the image, offline)");
    const jail = await vm.ssh("fail2ban-client status slm-copilot-auth");
    t.match(jail, /Total failed:\s+([1-9]\d*)/, `the jail counted the harness's wrong credentials:\n${jail}`);
    t.match(jail, /Currently banned:\s+0/, "and banned nobody");
    t.match(
      await vm.ssh("tail -n 1 /var/log/nginx/slm-copilot-auth.log"),
      /^\S+ client=10\.0\.2\.2 status=401 scheme=(Basic|Bearer)$/m,
      "failed authentications logged with the client address, never the secret",
    );
    t.equal(
      (
        await vm.ssh(`grep -c -F -e '${password}' /var/log/nginx/*.log 2>/dev/null | grep -v ':0$' | wc -l`)
      ).trim(),
      "0",
      "the password is in no log",
    );
    const cline = JSON.parse(
      /\[Cline settings\.json\]\n(\{[\s\S]*?\n\})/.exec(report)?.[1] ?? "{}",
    ) as Record<string, string>;
    t.equal(cline["cline.openAiApiKey"], password, "the Cline snippet parses and carries the key");
    t.equal(cline["cline.openAiModelId"], "devstral-small-2");

    const log = await vm.ssh("cat /var/log/one-appliance/slm-copilot.log");
    for (const stage of [
      "== install",
      "== configure",
      "== LocalAI: context size 32768",
      "== generating a self-signed certificate",
      "== bootstrap",
    ])
      t.match(
        log,
        new RegExp(
          `^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ \\[INFO\\] ${stage.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`,
          "m",
        ),
        `log has a timestamped "${stage}" entry`,
      );
    t.match(await vm.ssh("cat /etc/motd"), /All set and ready to serve/, "motd says ready");
    t.match(
      await vm.ssh("sh /etc/profile.d/slm-copilot-banner.sh"),
      /SLM-Copilot: https:\/\/10\.0\.2\.15 +model devstral-small-2/,
    );
    t.match(await vm.ssh("ss -ltnH"), /127\.0\.0\.1:8080/, "LocalAI listens on loopback");
    t.notMatch(
      await vm.ssh("ss -ltnH"),
      /(0\.0\.0\.0|\*|\[::\]):8080/,
      "LocalAI does not listen on all interfaces",
    );

    // marketplace/tests (the community certification specs) run unchanged through the vm_handler shim,
    // each rspec example a tap assertion; then against two sabotaged states, the examples each breaks.
    await t.test("marketplace certification specs (rspec, vm_handler shim)", async (t) => {
      const target = {
        sshPort: vm.env.LAB_SSH_PORT ?? "",
        sshKey: vm.env.LAB_SSH_KEY ?? "",
        timeoutMs: 900_000,
      };
      const examples = (run: SpecRun) => Object.fromEntries(run.examples.map((e) => [e.description, e]));
      const clean = await runMarketplaceSpecs(target);
      t.equal(clean.problem, "", `rspec ran: ${clean.output.slice(-2000)}`);
      t.equal(clean.examples.length, 9, `every example ran: ${clean.summary}`);
      for (const example of clean.examples)
        t.equal(example.status, "passed", `${example.description}: ${example.message}`);
      t.equal(clean.code, 0, "rspec exits 0");

      // Expected failures per sabotage: the example's description and what its message must say.
      const expectFailures = (run: SpecRun, expected: Record<string, RegExp>) => {
        const byName = examples(run);
        t.equal(run.examples.length, 9, `every example ran: ${run.summary}`);
        for (const example of run.examples) {
          const pattern = expected[example.description];
          if (pattern) {
            t.equal(example.status, "failed", `sabotaged: ${example.description} fails`);
            t.match(example.message, pattern, `${example.description}: says why`);
          } else t.equal(example.status, "passed", `untouched: ${example.description}: ${example.message}`);
        }
        t.same(
          Object.keys(expected).filter((name) => !byName[name]),
          [],
          "every expected failure names an example",
        );
        t.not(run.code, 0, "rspec exits non-zero");
      };

      await vm.ssh(
        "cp -a /etc/one-appliance/config /root/slmc-cert-config.bak && cp -a /etc/one-appliance/status /root/slmc-cert-status.bak",
      );
      await vm.ssh(
        "echo bootstrap_failure >/etc/one-appliance/status && chmod 0644 /etc/one-appliance/config && " +
          "sed -i 's/^api_password = .*/api_password = not-the-password-1/' /etc/one-appliance/config",
      );
      expectFailures(await runMarketplaceSpecs(target), {
        "reaches bootstrap_success within the deploy budget":
          /the appliance reported bootstrap_failure after \d+ s/,
        "accepts the password from the report, as Basic and as Bearer":
          /with the report's user and password \(Basic\) answered 401, want 200/,
        "completes a small chat through nginx": /POST \/v1\/chat\/completions answered 401, want 200/,
        "writes the report with the connection details, readable by root only":
          /\/etc\/one-appliance\/config is mode\/owner 644 root; it holds the password: chmod 600/,
      });
      await vm.ssh(
        "cp -a /root/slmc-cert-config.bak /etc/one-appliance/config && cp -a /root/slmc-cert-status.bak /etc/one-appliance/status",
      );

      await vm.ssh("systemctl stop nginx.service");
      expectFailures(await runMarketplaceSpecs(target), {
        "runs local-ai and nginx as enabled, active services":
          /nginx\.service is inactive enabled \(want: active enabled\)/,
        "listens publicly on 443 and 80, and the engine on 127.0.0.1:8080 only":
          /nothing listens on all addresses on port 443 \(listeners: none\): is nginx running\?/,
        "answers /health with 200 and no credentials":
          /\/health without credentials answered 000 \(no HTTP answer\)/,
        "redirects HTTP on port 80 to HTTPS": /answered 000 \(no HTTP answer\), want 301/,
        "refuses the API without valid credentials (401)":
          /with no credentials answered 000 \(no HTTP answer\), want 401/,
        "accepts the password from the report, as Basic and as Bearer":
          /\(Basic\) answered 000 \(no HTTP answer\)/,
        "completes a small chat through nginx": /answered 000 \(no HTTP answer\), want 200/,
        "writes the report with the connection details, readable by root only":
          /sha256_fingerprint is not the certificate served on 127\.0\.0\.1:443 \(none\)/,
      });
      await vm.ssh("systemctl start nginx.service");
      t.equal((await vm.ssh("systemctl is-active nginx.service")).trim(), "active", "nginx restored");
      t.equal(
        (await vm.ssh("cat /etc/one-appliance/status; stat -c %a /etc/one-appliance/config")).trim(),
        "bootstrap_success\n600",
        "status and report restored",
      );
    });

    const fingerprint = reportField(report, "sha256_fingerprint");
    const rebootTarget = [
      "127.0.0.1",
      "--https-port",
      vm.env.LAB_HTTPS_PORT ?? "",
      "--http-port",
      vm.env.LAB_HTTP_PORT ?? "",
      "--ca",
      certificate,
      ...sshArgs(vm, join(dir, "known_hosts")),
    ];

    // Ctrl-C once: the step in flight finishes, the rest is skipped, the JSON report is valid.
    const once = await slmcSoak(
      [...rebootTarget, "--reboots", "2"],
      join(dir, "soak-int1.json"),
      (line, child) => {
        if (/kill-local-ai: started/.test(line)) child.kill("SIGINT");
      },
    );
    t.equal(once.code, 130, "interrupted soak exits 130", { stderr: once.stderr });
    t.equal(once.json.interrupted, true, "the report says it was interrupted");
    t.match(
      once.json.checks[0],
      { id: "soak.cycle-1.kill-local-ai", status: "pass" },
      "the step in flight finished",
    );
    t.ok(
      once.json.checks.slice(1).every((c) => c.status === "skip" && /interrupted/.test(c.message)),
      "every later step is reported as not run",
    );
    t.match(once.stderr, /interrupted: finishing "soak\.cycle-1\.kill-local-ai"/);
    // Twice: stop now, still with a report.
    let interrupts = 0;
    const twice = await slmcSoak(
      [...rebootTarget, "--reboots", "2"],
      join(dir, "soak-int2.json"),
      (line, child) => {
        if (/kill-local-ai: started/.test(line) && interrupts++ === 0) {
          child.kill("SIGINT");
          setTimeout(() => child.kill("SIGINT"), 300);
        }
      },
    );
    t.equal(twice.code, 130);
    t.match(twice.json.notes.join("\n"), /stopped by a second Ctrl-C during soak\.cycle-1\.kill-local-ai/);
    t.equal(twice.json.soak?.timeline.state, "interrupted");
    t.ok(twice.seconds < 30, `a second Ctrl-C stops at once (${twice.seconds} s)`);
    // The killed engine restarts on its own; let it finish before the soak kills it again.
    await vm.ssh(
      "for i in $(seq 90); do curl -sf -o /dev/null -m 2 http://127.0.0.1:8080/readyz && break; sleep 1; done",
    );

    // Injection aimed at the harness: one-context writes these values unescaped into one_env, so
    // anything that sourced it would run them as root. slmc-check must read them as data only. The
    // 3-cycle soak, every suite over SSH, the reboot check and the bench all run with this context.
    await vm.lab("context", join(ROOT, "fixtures/lab/contexts/injection.env"));
    await vm.lab("reboot");
    const markers = async () =>
      (await vm.ssh("ls /root/slmc-pwned-* /tmp/slmc-pwned-* 2>/dev/null || true")).trim();
    t.equal(await markers(), "", "the appliance ran no injected command");
    t.match(
      await vm.ssh("cat /run/one-context/one_env"),
      /export ONEAPP_COPILOT_CONTEXT_SIZE="\$\(touch \/root\/slmc-pwned-context-size\)"/,
      "one_env holds the payload unescaped, as the real one-context writes it",
    );
    const injectedReport = await vm.ssh("cat /etc/one-appliance/config");
    t.equal(
      reportField(injectedReport, "api_password"),
      password,
      "the injected password is refused, ours kept",
    );

    // The 3-cycle soak: kill -9 of both services and a reboot per cycle, one stream of load, --ui.
    const pages: { status: number; body: string }[] = [];
    const soak = await slmcSoak(
      [...rebootTarget, "--reboots", "3", "--kill-every", "1", "--load", "1", "--ui"],
      join(dir, "soak.json"),
      (line) => {
        const url = /live soak view on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(line)?.[1];
        if (url)
          void Promise.all([fetch(url), fetch(`${url}state`)]).then(async (responses) => {
            for (const response of responses)
              pages.push({ status: response.status, body: await response.text() });
          });
      },
    );
    t.equal(soak.code, 0, `3-cycle soak passes:\n${failures(soak)}\n${soak.stderr}`);
    const soakIds = soak.json.checks.filter((c) => c.status === "pass").map((c) => c.id);
    for (const cycle of [1, 2, 3])
      for (const step of ["kill-local-ai", "kill-nginx", "reboot"])
        t.ok(soakIds.includes(`soak.cycle-${cycle}.${step}`), `cycle ${cycle} ${step} passed`);
    t.ok(soakIds.includes("soak.load"), "the streaming load only failed during the soak's own disruptions");
    t.match(
      soak.json.notes.join("\n"),
      /soak: 3 of 3 reboot cycles completed; time to SSH median [\d.]+ s .*time to ready median [\d.]+ s .*local-ai recovery median [\d.]+ s .*nginx recovery median [\d.]+ s/,
      "measured recovery and reboot times are in the report",
    );
    t.comment(soak.json.notes.find((n) => n.startsWith("soak:")) ?? "");
    t.match(soak.stderr, /cycle 2\/3 {2}reboot: waiting for SSH/, "live progress names cycle and phase");
    t.equal(pages.length, 2, "the --ui page and its state feed answered during the soak");
    t.match(pages[0]?.body, /<svg id="timeline"/);
    t.match(JSON.parse(pages[1]?.body ?? "{}"), { plan: { reboots: 3, killEvery: 1, loadStreams: 1 } });
    t.equal(await markers(), "", "no marker after the soak");

    const afterReboot = await vm.ssh("cat /etc/one-appliance/config");
    t.equal(
      afterReboot,
      injectedReport,
      "report identical after three reboots (password, fingerprint, settings)",
    );
    t.equal(
      (await vm.ssh("cat /var/lib/slm-copilot/password")).trim(),
      password,
      "password kept across reboots",
    );
    t.equal(reportField(afterReboot, "sha256_fingerprint"), fingerprint, "certificate kept across reboots");
    const injected = await slmcCheck([
      ...rebootTarget,
      "--engine-port",
      vm.env.LAB_ENGINE_PORT ?? "",
      "--expect-offline",
      "--outbound-probe",
      "http://10.0.2.2:9/",
    ]);
    t.equal(
      injected.code,
      0,
      `every suite passes after three reboots, with injection in the context:\n${failures(injected)}`,
    );
    t.match(
      injected.report.checks.find((c) => c.id === "one.effective-config")?.message,
      /context size 32768, threads \d+, in the YAML and the running process/,
      "effective-config judges the refused values as their defaults",
    );
    t.equal(await markers(), "", "no marker after all suites over SSH");
    const injectedReboot = await slmcCheck(["reboot", ...rebootTarget]);
    t.equal(injectedReboot.code, 0, `reboot with injection in the context:\n${failures(injectedReboot)}`);
    t.equal(await markers(), "", "no marker after reboot");
    const injectedBench = await runSlmc(
      [
        "bench",
        "127.0.0.1",
        "--https-port",
        vm.env.LAB_HTTPS_PORT ?? "",
        "--ca",
        certificate,
        ...sshArgs(vm, join(dir, "known_hosts")),
        "--requests",
        "2",
        "--prompt-set",
        "short",
        "--json",
        join(dir, "bench-injection.json"),
        "--html",
        join(dir, "bench-injection.html"),
      ],
      600_000,
    );
    t.equal(injectedBench.code, 0, "bench with injection in the context", { stderr: injectedBench.stderr });
    t.equal(await markers(), "", "no marker after bench (with the in-VM baseline over SSH)");

    // Context change: a new password and context size take effect after reboot, nothing else moves.
    const changed = join(dir, "changed.env");
    await writeFile(
      changed,
      "ONEAPP_COPILOT_PASSWORD='Changed.Password-7'\nONEAPP_COPILOT_CONTEXT_SIZE='16384'\n",
    );
    await vm.lab("context", changed);
    const change = await slmcCheck(["reboot", ...rebootTarget, "--expect-change", "password,context-size"]);
    t.equal(
      change.code,
      0,
      `context change applied, nothing else drifted:\n${failures(change)}\n${change.stderr}`,
    );
    t.match(
      change.report.checks[0]?.message,
      /applied: password, context_size 32768 → 16384 \(new password accepted, old refused\); everything else identical/,
    );
    const changedReport = await vm.ssh("cat /etc/one-appliance/config");
    t.equal(reportField(changedReport, "context_size"), "16384");
    t.equal(
      reportField(changedReport, "sha256_fingerprint"),
      fingerprint,
      "certificate kept across the change",
    );
    const newPassword = (await vm.ssh("cat /var/lib/slm-copilot/password")).trim();
    t.equal(newPassword, "Changed.Password-7");

    await vm.lab("context", join(ROOT, "fixtures/lab/contexts/bad-values.env"));
    await vm.lab("reboot");
    const hostile = await vm.ssh("cat /etc/one-appliance/config");
    t.match(
      hostile,
      /error = ONEAPP_COPILOT_CONTEXT_SIZE='32k' is not a whole number from 2048 to 262144; using 32768/,
    );
    t.match(hostile, /error = ONEAPP_COPILOT_THREADS='-4' is not a whole number/);
    t.match(
      hostile,
      /error = ONEAPP_COPILOT_DOMAIN='copilot\.example\.org; touch \/tmp\/slmc-pwned-domain' is not a valid DNS name/,
    );
    t.match(hostile, /error = ONEAPP_COPILOT_PASSWORD is rejected/);
    t.match(
      hostile,
      /error = ONEAPP_COPILOT_RATE_LIMIT='600\$\(touch \/tmp\/slmc-pwned-rate\)' is not 0 \(off\) or a whole number of requests per minute from 60 to 60000; using 600/,
    );
    t.equal(reportField(hostile, "rate_limit"), "600 requests/min per client address, burst 300");
    t.match(hostile, /error = ONEAPP_COPILOT_ACME_SERVER=.* is not an https:\/\/ URL/);
    t.match(
      hostile,
      /error = ONEAPP_COPILOT_ACME_EMAIL='(very-long-value-){3}very-long-va' is not an e-mail address/,
      "a 4 kB value is refused and quoted short",
    );
    t.equal(reportField(hostile, "api_password"), newPassword, "a rejected password keeps the previous one");
    t.equal(reportField(hostile, "context_size"), "32768");
    t.match(
      await vm.ssh("grep -c '\\[ERROR\\]' /var/log/one-appliance/slm-copilot.log"),
      /^[1-9]/m,
      "errors are in the log",
    );
    t.equal(
      (await vm.ssh("ls /tmp/slmc-pwned-* 2>/dev/null | wc -l")).trim(),
      "0",
      "no injected command ran",
    );
    t.equal(
      (await vm.ssh("cat /etc/one-appliance/status")).trim(),
      "bootstrap_success",
      "the appliance still comes up",
    );
    const third = await slmcCheck(await accessArgs(vm, dir, ["--ca", certificate]));
    t.equal(third.code, 0, `still serving with safe values:\n${failures(third)}`);
  });

  t.test("sabotaged appliances are flagged by the right check", async (t) => {
    const vm = await bootLab(t, "sabotage", join(ROOT, "fixtures/lab/contexts/default.env"), "restricted");
    const certificate = join(dir, "sabotage.crt");
    await writeFile(certificate, await vm.ssh("cat /etc/slm-copilot/tls/self-signed.crt"));
    const ssh = [
      "127.0.0.1",
      "--https-port",
      vm.env.LAB_HTTPS_PORT ?? "",
      "--http-port",
      vm.env.LAB_HTTP_PORT ?? "",
      "--engine-port",
      vm.env.LAB_ENGINE_PORT ?? "",
      "--ca",
      certificate,
      ...sshArgs(vm, join(dir, "known_hosts_sabotage")),
    ];
    const verdict = (run: SlmcRun, id: string) => run.report.checks.find((c) => c.id === id);

    // Live sabotage: engine on all interfaces without restarts, and an extra public listener.
    const sabotage = (name: string) => readFile(join(ROOT, "fixtures/lab/sabotage", name), "utf8");
    await vm.ssh(`bash -s <<'SABOTAGE'\n${await sabotage("live.sh")}SABOTAGE`);
    const live = await slmcCheck([...ssh, "--suite", "system"]);
    t.equal(live.code, 1, "the sabotaged VM fails the gate");
    t.match(
      verdict(live, "system.binding-inside")?.message,
      /the engine listens on 0\.0\.0\.0:8080/,
      "LocalAI on 0.0.0.0: binding-inside",
    );
    t.match(
      verdict(live, "system.binding-inside")?.message,
      /unexpected public listeners: 0\.0\.0\.0:9999 \(python3\)/,
      "an extra open port: binding-inside",
    );
    t.match(
      verdict(live, "system.binding-outside")?.message,
      /the engine answered HTTP \d+ on port/,
      "LocalAI on 0.0.0.0: binding-outside",
    );
    t.match(
      verdict(live, "system.services")?.message,
      /local-ai\.service has Restart=no/,
      "Restart=no: services",
    );
    t.match(
      verdict(live, "system.recovery-local-ai")?.message,
      /did not come back after kill -9 of PID \d+: systemd left it (failed|inactive) with Restart=no .*set Restart=always/,
      "Restart=no: recovery, judged without waiting out the 90 s budget",
    );

    // Boot-time sabotage in the installed service script: new password and certificate every boot,
    // and a configure that appends to a file it renders.
    await vm.ssh("rm -f /etc/systemd/system/local-ai.service.d/sabotage.conf; systemctl stop sabotage-port");
    await vm.ssh(
      `cat >>/etc/one-appliance/service.d/appliance.sh <<'SABOTAGE'\n${await sabotage("appliance-overrides.sh")}SABOTAGE`,
    );
    const reboot = await slmcCheck(["reboot", ...ssh]);
    t.equal(reboot.code, 1, "drift fails the reboot check");
    const drift = verdict(reboot, "reboot.cycle-1")?.message ?? "";
    t.match(
      drift,
      /\/var\/lib\/slm-copilot\/password changed \(secret: digest/,
      "password regenerated every boot",
    );
    t.match(drift, /certificate changed: /, "certificate regenerated every boot");
    t.match(
      drift,
      /devstral-small-2\.yaml changed:\n\+# configured \d+/,
      "configure appends to a file on every run",
    );
    t.notMatch(drift, /api_password = /, "no secret in the diff");

    // This sabotaged appliance made itself a new certificate at boot: trust that one from now on.
    await writeFile(certificate, await vm.ssh("cat /etc/slm-copilot/tls/self-signed.crt"));

    // What the integration checks read, broken one thing each.
    await vm.ssh(`bash -s <<'SABOTAGE'\n${await sabotage("integration.sh")}SABOTAGE`);
    const integration = await slmcCheck([...ssh, "--suite", "integration"]);
    t.equal(integration.code, 1);
    t.match(verdict(integration, "one.status")?.message, /status is "configure_failure"/, "status marker");
    t.match(
      verdict(integration, "one.cline-snippet")?.message,
      /a chat completion with the snippet's settings answered 401/,
      "Cline snippet with a stale key",
    );
    t.match(
      verdict(integration, "one.client-snippets")?.message,
      /Cline CLI: the key in `cline auth -k` is not the report's api_password \(a stale snippet/,
      "Cline CLI command with a stale key",
    );
    t.match(
      verdict(integration, "one.log")?.message,
      /lines without a timestamp, e\.g\. "configure done"/,
      "unstamped log line",
    );
    t.match(verdict(integration, "one.banner")?.message, /no SLM-Copilot banner/, "banner removed");
    t.match(
      verdict(integration, "one.effective-config")?.message,
      /model YAML context_size 4096, expected 32768/,
      "model YAML edited behind the running engine",
    );

    // The posture inside the VM, weakened one thing per check. Last before the final reboot (which never
    // comes back), so nothing after it depends on a restore.
    await vm.ssh(`bash -s <<'SABOTAGE'\n${await sabotage("posture.sh")}SABOTAGE`);
    const posture = await slmcCheck([...ssh, "--suite", "posture"]);
    t.equal(posture.code, 1, "the weakened posture fails the gate");
    const secretLines = verdict(posture, "posture.secrets")?.message ?? "";
    t.match(
      secretLines,
      /^\/etc\/slm-copilot\/tls\/self-signed\.key \(self-signed TLS private key\) is mode 0644 root:root: group root has access, other users have access; readable by root only: chown root:root \/etc\/slm-copilot\/tls\/self-signed\.key && chmod 600 /m,
      "a world-readable TLS key, named with its fix",
    );
    t.match(
      secretLines,
      /^\/etc\/nginx\/slm-copilot\.bearer-map \(bearer map \(the password as a regex\)\) is mode 0640 root:local-ai: group local-ai has access/m,
      "the bearer map readable by the engine's group",
    );
    t.match(
      secretLines,
      /^\/etc\/letsencrypt\/archive\/copilot\.lab\.test\/privkey1\.pem \(private key\) is mode 0644 root:root: group root has access, other users have access/m,
      "a certbot key readable by everyone",
    );
    t.equal(secretLines.split("\n").length, 3, "one line per file, and only the broken ones");
    t.match(
      verdict(posture, "posture.privileges")?.message,
      /local-ai\.service has User=root: the engine must run as local-ai[\s\S]*runs with uid 0/,
      "the engine as root: unit and process",
    );
    const sandbox = verdict(posture, "posture.sandboxing")?.message ?? "";
    t.match(
      sandbox,
      /local-ai\.service runs with ProtectSystem=no, shipped ProtectSystem=full/,
      "ProtectSystem",
    );
    t.match(
      sandbox,
      /local-ai\.service runs with NoNewPrivileges=no, shipped NoNewPrivileges=yes/,
      "NoNewPrivileges",
    );
    const proxy = verdict(posture, "posture.proxy-config")?.message ?? "";
    t.match(
      proxy,
      /location \/ \([^)]*443[^)]*\): proxy_read_timeout 60s \(set in location \/\)/,
      "read timeout",
    );
    t.match(proxy, /proxy_buffering on \(set in location \/\) holds streamed tokens back/, "buffering");
    t.match(
      verdict(posture, "posture.body-size")?.message,
      /client_max_body_size 1m \(set in server\)/,
      "body size",
    );
    t.match(
      verdict(posture, "posture.tls-config")?.message,
      /ssl_protocols TLSv1 TLSv1\.1 TLSv1\.2 TLSv1\.3 \(set in server\): ssl_protocols TLSv1\.2 TLSv1\.3/,
      "protocols",
    );
    t.match(
      verdict(posture, "posture.engine-flags")?.message,
      /runs with --address 0\.0\.0\.0:8080: ExecStart in local-ai\.service must say --address 127\.0\.0\.1:8080/,
      "engine flags",
    );

    // A VM that never comes back (sshd masked for the next boot): a bounded wait and a clear verdict.
    await vm.ssh("systemctl mask ssh.service ssh.socket >/dev/null 2>&1; true");
    const started = Date.now();
    const gone = await slmcCheck(["reboot", ...ssh, "--ready-timeout", "45"]);
    const waited = (Date.now() - started) / 1000;
    t.equal(gone.code, 1, `a VM that never comes back fails the reboot check:\n${gone.stderr}`);
    t.match(
      verdict(gone, "reboot.cycle-1")?.message,
      /no new boot within 45 s \(boot_id still [0-9a-f-]+ or SSH unreachable\): the VM did not come back/,
    );
    t.ok(waited < 120, `the wait is bounded (${waited.toFixed(0)} s for a 45 s budget)`);
  });

  t.test("Let's Encrypt from pebble, then the fallback to self-signed", async (t) => {
    const httpPortFile = join(dir, "le.env");
    // The http-01 port must be known before boot: boot first with a plain context, then start pebble
    // against the forwarded HTTP port, then switch the context and reboot.
    const vm = await bootLab(t, "acme", join(ROOT, "fixtures/lab/contexts/default.env"), "open");
    const pebble = await startPebble({ httpChallengePort: Number(vm.env.LAB_HTTP_PORT) });
    t.teardown(() => pebble.stop());
    await vm.ssh(
      `cat > /usr/local/share/ca-certificates/slmc-lab-pebble.crt <<'PEM'\n${pebble.listenerCaPem}PEM\nupdate-ca-certificates >/dev/null`,
    );
    await writeFile(
      httpPortFile,
      `ONEAPP_COPILOT_DOMAIN='copilot.lab.test'\nONEAPP_COPILOT_ACME_SERVER='${pebble.guestDirectoryUrl}'\nONEAPP_COPILOT_ACME_EMAIL='ops@lab.test'\nONEAPP_COPILOT_PASSWORD='New.Password-42'\n`,
    );
    await vm.lab("context", httpPortFile);
    await vm.lab("reboot");
    const report = await vm.ssh("cat /etc/one-appliance/config");
    t.equal(reportField(report, "mode"), "letsencrypt", `certificate obtained from pebble:\n${report}`);
    t.equal(reportField(report, "endpoint"), "https://copilot.lab.test");
    t.equal(
      reportField(report, "api_password"),
      "New.Password-42",
      "a changed password takes effect at the next configure",
    );
    const root = join(dir, "pebble-root.pem");
    await writeFile(root, await pebble.issuingRootPem());
    const run = await slmcCheck(
      await accessArgs(vm, dir, [
        "--ca",
        root,
        "--servername",
        "copilot.lab.test",
        "--suite",
        "tls",
        "--suite",
        "auth",
      ]),
    );
    t.equal(
      run.code,
      0,
      `the pebble-issued chain verifies for copilot.lab.test:\n${failures(run)}\n${run.stderr}`,
    );
    // certbot's keys (the served live/ key, its archive/ file) are secrets too: judged, root only.
    const acmePosture = await slmcCheck([
      ...(await accessArgs(vm, dir, ["--ca", root, "--servername", "copilot.lab.test"])),
      ...sshArgs(vm, join(dir, "known_hosts_acme")),
      "--suite",
      "posture",
    ]);
    const acmeSecrets = acmePosture.report.checks.find((c) => c.id === "posture.secrets");
    t.equal(acmeSecrets?.status, "pass", `certbot's keys are root's only:\n${acmeSecrets?.message}`);
    t.match(
      acmeSecrets?.message,
      /\/etc\/letsencrypt\/live\/copilot\.lab\.test\/privkey\.pem 0600 root:root/,
      "the served key (live/, a symlink) is judged by what it points to",
    );
    t.match(
      acmeSecrets?.message,
      /\/etc\/letsencrypt\/archive\/copilot\.lab\.test\/privkey1\.pem 0600 root:root/,
      "its archive file is judged on its own",
    );
    t.ok(
      await vm.ssh("test -x /etc/letsencrypt/renewal-hooks/deploy/slm-copilot.sh && echo yes"),
      "renewal hook installed",
    );
    // This VM has outbound network (it reaches pebble on the host): offline operation, when demanded, fails.
    const online = await slmcCheck([
      ...(await accessArgs(vm, dir, ["--ca", root, "--servername", "copilot.lab.test"])),
      ...sshArgs(vm, join(dir, "known_hosts_acme")),
      "--suite",
      "host",
      "--expect-offline",
      "--outbound-probe",
      pebble.guestDirectoryUrl,
    ]);
    t.match(
      online.report.checks.find((c) => c.id === "host.serves-offline")?.message,
      /--expect-offline, but the VM reached https:\/\/10\.0\.2\.2:\d+\/dir \(HTTP 200\)/,
      "outbound network is flagged when offline operation is demanded",
    );

    // The same boot joins a OneFlow pool: OneGate (a STAND-IN on the host, reached as 10.0.2.2 like
    // pebble) gets the VRouter's HAProxy backend attributes once the model is ready, and loses them at
    // shutdown.
    const oneGate = await startOneGateStandIn("lab-onegate-token");
    t.teardown(() => oneGate.close());
    const oneGatePort = new URL(oneGate.endpoint).port;
    await writeFile(
      httpPortFile,
      [
        "ONEAPP_COPILOT_DOMAIN='other.lab.test'",
        "ONEAPP_COPILOT_ACME_SERVER='https://10.0.2.2:1/dir'",
        `ONEGATE_ENDPOINT='http://10.0.2.2:${oneGatePort}'`,
        "TOKENTXT='lab-onegate-token'",
        "VMID='42'",
        "ONEAPP_COPILOT_LB_IP='10.0.2.50'",
        "ONEAPP_COPILOT_LB_PORT='8443'",
        "ONEAPP_COPILOT_LB_INDEX='1'",
        "",
      ].join("\n"),
    );
    await vm.lab("context", httpPortFile);
    await vm.lab("reboot");
    const fallback = await vm.ssh("cat /etc/one-appliance/config");
    t.equal(reportField(fallback, "mode"), "self-signed", "ACME unreachable: self-signed");
    t.match(fallback, /error = Let's Encrypt failed for other\.lab\.test/);
    t.equal(reportField(fallback, "nginx"), "active");
    const selfSigned = join(dir, "fallback.crt");
    await writeFile(selfSigned, await vm.ssh("cat /etc/slm-copilot/tls/self-signed.crt"));
    const after = await slmcCheck(await accessArgs(vm, dir, ["--ca", selfSigned]));
    t.equal(after.code, 0, `service up on the fallback certificate:\n${failures(after)}`);
    t.match(await readFile(selfSigned, "utf8"), /BEGIN CERTIFICATE/);

    t.equal(reportField(fallback, "onegate_registered"), "yes", `registered through OneGate:\n${fallback}`);
    const registered = Object.fromEntries(oneGate.attributes.get("42") ?? new Map<string, string>());
    t.same(
      registered,
      {
        ONEGATE_HAPROXY_LB1_IP: "10.0.2.50",
        ONEGATE_HAPROXY_LB1_PORT: "8443",
        ONEGATE_HAPROXY_LB1_SERVER_HOST: "10.0.2.15",
        ONEGATE_HAPROXY_LB1_SERVER_PORT: "443",
      },
      "the VRouter's dynamic backend attributes, with the VM's own address and nginx's port",
    );
    t.ok(
      oneGate.calls.every((call) => call.tokenOk && call.vmid === "42"),
      `every OneGate call carried the context's token and VM id: ${JSON.stringify(oneGate.calls.map((c) => [c.method, c.type, c.vmid, c.tokenOk, c.status]))}`,
    );
    t.notMatch(
      await vm.ssh("cat /var/log/one-appliance/slm-copilot.log"),
      /lab-onegate-token/,
      "the OneGate token is not in the appliance log",
    );
    const keptPassword = (await vm.ssh("cat /var/lib/slm-copilot/password")).trim();
    // Shutdown: the unit's ExecStop erases each attribute (onegate vm update --erase).
    await vm.ssh("systemctl poweroff --no-block").catch(() => "");
    const deadline = Date.now() + 120_000;
    while ((oneGate.attributes.get("42")?.size ?? 0) > 0 && Date.now() < deadline)
      await new Promise((done) => setTimeout(done, 2000));
    t.same(
      Object.fromEntries(oneGate.attributes.get("42") ?? new Map<string, string>()),
      {},
      `deregistered at shutdown: ${JSON.stringify(oneGate.calls.filter((c) => c.type === "2").map((c) => c.body))}`,
    );

    // Too small for the model (what a generic template may give): resized to 1536 MiB the appliance
    // must not crash-loop; it says what to resize to, in the log, the report and /health. Resized back,
    // the next boot starts the engine and nothing was lost.
    await vm.lab("resize", "1536");
    const small = await bootStatus(vm);
    t.equal(small, "bootstrap_failure", "a VM too small for the model: bootstrap fails, once");
    const needed = /^needed_mib = (\d+)/m.exec(await vm.ssh("cat /etc/one-appliance/config"))?.[1];
    t.ok(Number(needed) > 1536, `the report states what the model needs: ${needed} MiB`);
    t.match(
      await vm.ssh("grep ERROR /var/log/one-appliance/slm-copilot.log | tail -n 5"),
      /not enough memory for the model: the VM has \d+ MiB of RAM, the model needs \d+ MiB .*LocalAI is not started: resize the VM to at least \d+ GiB of RAM/,
      "the log says what to resize to",
    );
    t.equal(
      (
        await vm.ssh(
          "systemctl is-enabled local-ai.service || true; systemctl is-active local-ai.service || true; systemctl show -p NRestarts --value local-ai.service; systemctl is-active nginx.service",
        )
      ).trim(),
      "disabled\ninactive\n0\nactive",
      "LocalAI is not started (no OOM restart loop); nginx is up",
    );
    t.match(
      await vm.ssh("curl -sk -w ' %{http_code}' https://127.0.0.1/health"),
      /\{"status":"insufficient_memory","memory_mib":\d+,"needed_mib":\d+,"resize_to_gib":\d+\}\s+503$/,
      "/health answers 503 insufficient_memory with the size to resize to",
    );
    const waited = await slmcCheck(await accessArgs(vm, dir, ["--ca", selfSigned, "--wait-ready", "300"]));
    t.equal(waited.code, 1, "--wait-ready stops at the first insufficient_memory answer");
    t.match(
      waited.report.checks.find((c) => c.id === "preflight.ready")?.message,
      /insufficient_memory: the VM has \d+ MiB of RAM, the model needs \d+ MiB: resize the VM to at least \d+ GiB/,
    );
    await vm.lab("resize", "6144");
    t.equal(await bootStatus(vm), "bootstrap_success", "resized back: the next boot starts the engine");
    const resized = await slmcCheck(await accessArgs(vm, dir, ["--ca", selfSigned, "--suite", "api"]));
    t.equal(resized.code, 0, `serving again after the resize, same certificate:\n${failures(resized)}`);
    t.equal(
      (await vm.ssh("cat /var/lib/slm-copilot/password")).trim(),
      keptPassword,
      "the password survived both resizes",
    );
  });
}

/** The one-apps status of the current boot (as lab.sh wait-ready reads it), once it is final. */
async function bootStatus(vm: Lab): Promise<string> {
  const current =
    "if [ -e /run/one-context/context.sh.network ] && [ ! -d /run/one-context/one-context.lock ]; then cat /etc/one-appliance/status; else echo context_pending; fi";
  const deadline = Date.now() + 600_000;
  let status = "";
  while (Date.now() < deadline) {
    status = (await vm.ssh(current).catch(() => "")).trim();
    if (status === "bootstrap_success" || status.endsWith("_failure")) return status;
    await new Promise((done) => setTimeout(done, 3000));
  }
  return `not final within 600 s (last: ${status || "no answer"})`;
}
