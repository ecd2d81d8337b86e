// Verdicts of the SSH-side checks on recorded observations (the lab test runs them for real): each
// failure path a sabotaged appliance would take, and its message.
import t from "tap";
import { systemSuite, parseListeners } from "../suites/system.ts";
import { hostSuite, kvCacheBytes } from "../suites/host.ts";
import {
  clientSnippetProblems,
  integrationSuite,
  parseClientSnippets,
  reportFields,
  shellWords,
} from "../suites/integration.ts";

const check = (suite: typeof systemSuite, id: string) => {
  const found = suite.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id}`);
  return found;
};

const SS = `LISTEN 0 511 0.0.0.0:443 0.0.0.0:* users:(("nginx",pid=600,fd=7))
LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=500,fd=3))
LISTEN 0 4096 127.0.0.1:8080 0.0.0.0:* users:(("local-ai",pid=700,fd=9))
LISTEN 0 4096 127.0.0.53%lo:53 0.0.0.0:* users:(("systemd-resolve",pid=300,fd=14))
LISTEN 0 511 [::]:443 [::]:* users:(("nginx",pid=600,fd=8))`;

t.test("binding inside: healthy, engine exposed, extra public port", async (t) => {
  const judge = check(systemSuite, "system.binding-inside").judge;
  t.equal(judge({ listeners: parseListeners(SS), allowedPublicPorts: [22, 80, 443] }).status, "pass");
  const exposed = judge({
    listeners: parseListeners(SS.replace("127.0.0.1:8080", "0.0.0.0:8080")),
    allowedPublicPorts: [22, 80, 443],
  });
  t.equal(exposed.status, "fail");
  t.match(
    exposed.message,
    /the engine listens on 0\.0\.0\.0:8080 \(local-ai\): run it with --address 127\.0\.0\.1:8080/,
  );
  const extra = judge({
    listeners: parseListeners(
      `${SS}\nLISTEN 0 4096 0.0.0.0:5355 0.0.0.0:* users:(("systemd-resolve",pid=300,fd=12))`,
    ),
    allowedPublicPorts: [22, 80, 443],
  });
  t.match(extra.message, /unexpected public listeners: 0\.0\.0\.0:5355 \(systemd-resolve\)/);
});

t.test("services: Restart=no and a disabled unit are named", async (t) => {
  const judge = check(systemSuite, "system.services").judge;
  const units = [
    {
      unit: "local-ai.service",
      UnitFileState: "enabled",
      ActiveState: "active",
      Restart: "no",
      MainPID: 1,
      NRestarts: 0,
    },
    {
      unit: "nginx.service",
      UnitFileState: "disabled",
      ActiveState: "active",
      Restart: "on-failure",
      MainPID: 2,
      NRestarts: 0,
    },
  ];
  const verdict = judge({ units });
  t.equal(verdict.status, "fail");
  t.match(verdict.message, /local-ai\.service has Restart=no \(designed: always\)/);
  t.match(verdict.message, /nginx\.service is disabled, not enabled/);
});

t.test("recovery: too slow, never back", async (t) => {
  const judge = check(systemSuite, "system.recovery-local-ai").judge;
  const base = {
    unit: "local-ai.service",
    killedPid: 10,
    newPid: 11,
    restartsBefore: 0,
    restartsAfter: 1,
    limitSeconds: 30,
    budgetSeconds: 90,
  };
  t.equal(judge({ ...base, secondsToNewProcessReady: 3, secondsToServingOverHttps: 4 }).status, "pass");
  t.match(
    judge({ ...base, secondsToNewProcessReady: 35, secondsToServingOverHttps: 36 }).message,
    /over the 30 s limit/,
  );
  t.match(
    judge({ ...base, newPid: 0, secondsToNewProcessReady: null, secondsToServingOverHttps: null }).message,
    /did not come back within 90 s after kill -9 of PID 10/,
  );
  t.match(
    judge({
      ...base,
      newPid: 0,
      secondsToNewProcessReady: null,
      secondsToServingOverHttps: null,
      leftDown: { atS: 3.4, activeState: "failed" },
    }).message,
    /did not come back after kill -9 of PID 10: systemd left it failed with Restart=no .*set Restart=always/,
    "a unit systemd will never restart is judged at once, with the fix",
  );
});

t.test("recovery: /health during the restart window must follow the engine's own /readyz", async (t) => {
  const judge = check(systemSuite, "system.recovery-local-ai").judge;
  const base = {
    unit: "local-ai.service",
    killedPid: 10,
    newPid: 11,
    restartsBefore: 0,
    restartsAfter: 1,
    limitSeconds: 30,
    budgetSeconds: 90,
    secondsToNewProcessReady: 3,
    secondsToServingOverHttps: 4,
  };
  const honest = [
    { atS: 0.1, health: 502, engineReadyz: "000" },
    { atS: 1.2, health: 503, engineReadyz: "503" },
    { atS: 3, health: 200, engineReadyz: "200" },
  ];
  t.equal(judge({ ...base, healthDuringRecovery: honest }).status, "pass");
  const lying = [
    { atS: 0.1, health: 200, engineReadyz: "000" },
    { atS: 1.2, health: 200, engineReadyz: "503" },
    { atS: 3, health: 200, engineReadyz: "200" },
  ];
  const verdict = judge({ ...base, healthDuringRecovery: lying });
  t.equal(verdict.status, "fail");
  t.match(
    verdict.message,
    /\/health answered 200 while the engine's own \/readyz answered 000 \(0\.1 s after kill -9 of local-ai\.service, 2 time\(s\)\).*proxy_pass/,
  );
});

t.test("host fitness: no AVX2, too little RAM", async (t) => {
  t.match(
    check(hostSuite, "host.cpu-flags").judge({
      avx2: false,
      avx512f: false,
      fma: false,
      modelName: "QEMU Virtual CPU",
      vcpus: 4,
    }).message,
    /host-passthrough/,
  );
  const memory = check(hostSuite, "host.memory-disk").judge({
    memTotalGiB: 16,
    modelGiB: 13.35,
    contextSize: 32768,
    kvCacheQ8GiB: 2.66,
    overheadGiB: 2,
    neededGiB: 18.01,
    diskFreeGiB: 10,
    formula: "",
  });
  t.match(memory.message, /16 GiB RAM < 18\.01 GiB needed .*lower ONEAPP_COPILOT_CONTEXT_SIZE/);
  t.equal(
    Math.round((kvCacheBytes(32768, "f16") / 1024 ** 3) * 100) / 100,
    5,
    "f16 KV at 32K = 5.0 GiB (reference table)",
  );
});

t.test("report: mode and fingerprint mismatches", async (t) => {
  const judge = check(integrationSuite, "one.report").judge;
  t.match(
    judge({ mode: "644", present: [], missing: [], reportFingerprint: "A", servedFingerprint: "A" }).message,
    /mode 644.*chmod 600/,
  );
  t.match(
    judge({ mode: "600", present: [], missing: [], reportFingerprint: "A", servedFingerprint: "B" }).message,
    /fingerprint A is not the served certificate's B/,
  );
  t.same(reportFields("[X]\nendpoint = https://h\napi_password = p\n"), {
    endpoint: "https://h",
    api_password: "p",
  });
});

// A report as write_report writes it (self-signed certificate), for the client-snippet verdicts.
const REPORT = `[Connection info]
endpoint = https://203.0.113.10
api_base_url = https://203.0.113.10/v1
api_username = copilot
api_password = Pass.Word-1234567

[Model]
model_id = devstral-small-2

[TLS]
mode = self-signed
sha256_fingerprint = AA:BB
ca_certificate = /etc/slm-copilot/tls/self-signed.crt
ca_certificate_fetch = scp root@203.0.113.10:/etc/slm-copilot/tls/self-signed.crt slm-copilot-ca.pem

[Cline settings.json]
{
  "cline.apiProvider": "openai"
}

[Continue config.yaml]
# Save as config.yaml in the directory holding slm-copilot-ca.pem (ca_certificate_fetch above); run there:
#   cn --config config.yaml -p "Say hello."
name: SLM-Copilot
version: 1.0.0
schema: v1
models:
  - name: SLM-Copilot devstral-small-2
    provider: openai
    model: devstral-small-2
    apiBase: https://203.0.113.10/v1
    apiKey: "Pass.Word-1234567"
    roles:
      - chat
      - edit
      - apply
    requestOptions:
      caBundlePath: slm-copilot-ca.pem

[Cline CLI]
# Run in one directory (the one holding slm-copilot-ca.pem): the first command once, the second per prompt.
cline auth -p openai -k 'Pass.Word-1234567' -m devstral-small-2 -b https://203.0.113.10/v1 --data-dir slm-copilot-cline
CLINE_SESSION_BACKEND_MODE=local NODE_EXTRA_CA_CERTS=slm-copilot-ca.pem cline --data-dir slm-copilot-cline --json -t 600 "Say hello in one sentence."

[Test with curl]
curl -k -H 'Authorization: Bearer Pass.Word-1234567' https://203.0.113.10/v1/models
`;

t.test(
  "client snippets: a healthy report passes, stale or wrong snippets fail with what to fix",
  async (t) => {
    const judge = check(integrationSuite, "one.client-snippets").judge;
    const problems = (report: string) => clientSnippetProblems(parseClientSnippets(report));
    t.same(problems(REPORT), [], "the report as written has no problem");
    t.equal(judge({ problems: [], status: 200 }).status, "pass");
    t.match(
      judge({ problems: [], status: 401 }).message,
      /a chat completion with the Continue snippet's apiBase, apiKey and model answered 401/,
    );
    const parsed = parseClientSnippets(REPORT);
    t.match(parsed.cline, {
      env: { CLINE_SESSION_BACKEND_MODE: "local", NODE_EXTRA_CA_CERTS: "slm-copilot-ca.pem" },
    });
    t.same(shellWords(`A=1 cline -k 'a b' "c \\"d\\"" e\\ f`), ["A=1", "cline", "-k", "a b", 'c "d"', "e f"]);

    const staleCline = REPORT.replace("-k 'Pass.Word-1234567'", "-k 'stale-key-from-an-old-boot'");
    const stale = judge({ problems: problems(staleCline), status: 200 });
    t.equal(stale.status, "fail");
    t.match(
      stale.message,
      /Cline CLI: the key in `cline auth -k` is not the report's api_password \(a stale snippet: reboot the VM/,
    );
    t.notMatch(stale.message, /Pass\.Word|stale-key/, "no key in the message");

    t.match(
      problems(REPORT.replace("apiBase: https://203.0.113.10/v1", "apiBase: https://10.0.0.9/v1")).join("; "),
      /Continue: apiBase "https:\/\/10\.0\.0\.9\/v1" is not the report's api_base_url https:\/\/203\.0\.113\.10\/v1/,
    );
    t.match(
      problems(REPORT.replace('apiKey: "Pass.Word-1234567"', 'apiKey: "old"')).join("; "),
      /Continue: apiKey is not the report's api_password/,
    );
    t.match(
      problems(REPORT.replace(/\n {4}requestOptions:\n.*\n/, "\n")).join("; "),
      /Continue: requestOptions\.caBundlePath is null, not the fetched certificate slm-copilot-ca\.pem: Continue refuses/,
    );
    t.match(
      problems(REPORT.replace("NODE_EXTRA_CA_CERTS=slm-copilot-ca.pem ", "")).join("; "),
      /Cline CLI: the run's NODE_EXTRA_CA_CERTS is null, not the fetched certificate slm-copilot-ca\.pem/,
    );
    t.match(
      problems(REPORT.replace("CLINE_SESSION_BACKEND_MODE=local ", "")).join("; "),
      /the run lacks CLINE_SESSION_BACKEND_MODE=local/,
    );
    t.match(
      problems(REPORT.replace(/ca_certificate.*\n/g, "")).join("; "),
      /the report does not say where the appliance's CA certificate is.*how to fetch/,
    );
    t.match(
      problems(REPORT.replace("model: devstral-small-2", "model: [unclosed")).join("; "),
      /Continue: the Continue config\.yaml is not YAML/,
    );
    const old = REPORT.slice(0, REPORT.indexOf("[Continue config.yaml]"));
    t.match(problems(old).join("; "), /no \[Continue config\.yaml\] section.*no \[Cline CLI\] section/);
    const letsEncrypt = REPORT.replace("mode = self-signed", "mode = letsencrypt")
      .replace(/ca_certificate.*\n/g, "")
      .replace(/\n {4}requestOptions:\n.*\n/, "\n")
      .replace("NODE_EXTRA_CA_CERTS=slm-copilot-ca.pem ", "");
    t.same(problems(letsEncrypt), [], "Let's Encrypt: no CA file needed anywhere");
  },
);
