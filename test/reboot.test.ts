// The reboot command's comparison: snapshots parse, identical ones show no drift, and every kind of
// drift (rendered file, secret, certificate, socket, unit) is reported, files as a line diff.
import t from "tap";
import { parseCommandLine, type CliOptions } from "../src/cli/args.ts";
import { applyNewPassword } from "../src/commands/check.ts";
import { maskerFor } from "../src/commands/run.ts";
import type { Access } from "../src/core/access.ts";
import type { CheckContext, CheckResult } from "../src/core/check.ts";
import type { RequestSpec } from "../src/probes/index.ts";
import { rebootCycleCheck } from "../suites/reboot/check.ts";
import { lineDiff } from "../suites/reboot/diff.ts";
import { contextChangeDrift, drift } from "../suites/reboot/drift.ts";
import { parseSnapshot } from "../suites/reboot/snapshot.ts";

const SNAPSHOT = [
  "@@file /etc/nginx/sites-available/slm-copilot.conf",
  "server {",
  "    listen *:443 ssl;",
  "}",
  "@@file /var/lib/local-ai/models/devstral-small-2.yaml",
  "context_size: 32768",
  "@@digest /var/lib/slm-copilot/password 1111111111111111111111111111111111111111111111111111111111111111",
  "@@cert AA:BB",
  "@@listen 0.0.0.0:443",
  "@@listen 127.0.0.1:8080",
  "@@unit local-ai.service enabled active",
].join("\n");

t.test("identical snapshots: no drift", async (t) => {
  t.same(drift(parseSnapshot(SNAPSHOT), parseSnapshot(SNAPSHOT)), []);
  t.match(
    parseSnapshot(SNAPSHOT).files["/var/lib/local-ai/models/devstral-small-2.yaml"],
    "context_size: 32768",
  );
});

t.test("every kind of drift is reported", async (t) => {
  const changed = SNAPSHOT.replace("context_size: 32768", "context_size: 32768\ncontext_size: 32768")
    .replace("1111111111111111", "2222222222222222")
    .replace("AA:BB", "CC:DD")
    .replace("@@listen 127.0.0.1:8080", "@@listen 0.0.0.0:8080")
    .replace("enabled active", "enabled failed");
  const found = drift(parseSnapshot(SNAPSHOT), parseSnapshot(changed));
  t.match(found.join("\n"), /devstral-small-2\.yaml changed:\n\+context_size: 32768/);
  t.match(found.join("\n"), /password changed \(secret: digest 111111111111… → 222222222222…\)/);
  t.notMatch(found.join("\n"), /1111111111111111111111/, "secret digests are abbreviated");
  t.match(found.join("\n"), /certificate changed: AA:BB → CC:DD/);
  t.match(
    found.join("\n"),
    /listening sockets changed: \[0\.0\.0\.0:443 127\.0\.0\.1:8080\] → \[0\.0\.0\.0:443 0\.0\.0\.0:8080\]/,
  );
  t.match(found.join("\n"), /local-ai\.service: "enabled active" → "enabled failed"/);
});

t.test(
  "an engine backend's loopback port picked by the kernel is not drift; anything else about it is",
  async (t) => {
    const withBackend = (listen: string) =>
      parseSnapshot(
        SNAPSHOT.replace("@@listen 127.0.0.1:8080", `@@listen 127.0.0.1:8080\n@@listen ${listen}`),
      );
    t.same(
      drift(withBackend("127.0.0.1:43053"), withBackend("127.0.0.1:33513")),
      [],
      "llama.cpp's server on a new free loopback port after the reboot",
    );
    t.same(drift(withBackend("[::1]:43053"), withBackend("[::1]:60999")), [], "the same on ::1");
    t.match(
      drift(withBackend("127.0.0.1:43053"), withBackend("0.0.0.0:33513")).join("\n"),
      /listening sockets changed: \[0\.0\.0\.0:443 127\.0\.0\.1:8080 127\.0\.0\.1:ephemeral\] → \[0\.0\.0\.0:33513 0\.0\.0\.0:443 127\.0\.0\.1:8080\]/,
      "a backend that now listens on every address is drift",
    );
    t.match(
      drift(withBackend("127.0.0.1:43053"), parseSnapshot(SNAPSHOT)).join("\n"),
      /listening sockets changed/,
      "a backend socket that is gone is drift",
    );
    t.match(
      drift(withBackend("127.0.0.1:9100"), withBackend("127.0.0.1:9101")).join("\n"),
      /listening sockets changed: .*127\.0\.0\.1:9100.* → .*127\.0\.0\.1:9101/,
      "a fixed loopback port (below the ephemeral range) that moved is drift",
    );
  },
);

t.test("line diff marks additions and removals", async (t) => {
  t.same(lineDiff("a\nb\nc", "a\nc\nd"), ["-b", "+d"]);
  t.same(lineDiff("x", "x"), []);
});

t.test("reboot command line", async (t) => {
  t.match(parseCommandLine(["reboot", "10.0.0.5", "--count", "3", "--ssh-key", "k"], {}), {
    kind: "reboot",
    host: "10.0.0.5",
    options: { count: 3 },
  });
  t.throws(() => parseCommandLine(["reboot"], {}), /missing host/);
  t.throws(
    () => parseCommandLine(["reboot", "h", "--count", "0"], {}),
    /--count: expected a whole number 1-1000, got '0'/,
  );
});

const CONTEXT_BEFORE = [
  "@@file /etc/nginx/sites-available/slm-copilot.conf",
  "server { listen *:443 ssl; }",
  "@@file /etc/systemd/system/local-ai.service",
  "Environment=LOCALAI_THREADS=2",
  "ExecStart=/usr/local/bin/local-ai run --threads 2 --context-size 32768",
  "@@file /var/lib/local-ai/models/devstral-small-2.yaml",
  "context_size: 32768",
  "threads: 2",
  "@@digest /var/lib/slm-copilot/password 1111111111111111111111111111111111111111111111111111111111111111",
  "@@digest /etc/nginx/slm-copilot.htpasswd 3333333333333333333333333333333333333333333333333333333333333333",
  "@@digest /etc/one-appliance/config 5555555555555555555555555555555555555555555555555555555555555555",
  "@@cert AA:BB",
  "@@listen 0.0.0.0:443",
].join("\n");

t.test("context change: the expected settings change, nothing else", async (t) => {
  const after = CONTEXT_BEFORE.replace(/32768/g, "16384")
    .replace("1111111111111111", "2222222222222222")
    .replace("3333333333333333", "4444444444444444")
    .replace("5555555555555555", "6666666666666666");
  const outcome = contextChangeDrift(parseSnapshot(CONTEXT_BEFORE), parseSnapshot(after), [
    "password",
    "context-size",
  ]);
  t.same(outcome.unexplained, [], "password files, report, YAML and unit lines explained");
  t.same(outcome.applied, ["password", "context_size 32768 → 16384"]);
  t.same(outcome.notApplied, []);
});

t.test("context change: a change that did not happen, and one nobody asked for", async (t) => {
  const after = CONTEXT_BEFORE.replace("context_size: 32768", "context_size: 32768")
    .replace(/threads 2/, "threads 4")
    .replace("threads: 2", "threads: 4")
    .replace("AA:BB", "CC:DD")
    .replace("5555555555555555", "6666666666666666");
  const outcome = contextChangeDrift(parseSnapshot(CONTEXT_BEFORE), parseSnapshot(after), ["context-size"]);
  t.same(outcome.notApplied, ["context_size still 32768"]);
  const text = outcome.unexplained.map((item) => item.text).join("\n");
  t.match(text, /devstral-small-2\.yaml changed:\n-threads: 2\n\+threads: 4/, "threads were not expected");
  t.match(text, /local-ai\.service changed:/);
  t.match(text, /certificate changed: AA:BB → CC:DD/);
  t.notMatch(text, /one-appliance\/config/, "the report may change with any expected change");
  const password = contextChangeDrift(parseSnapshot(CONTEXT_BEFORE), parseSnapshot(CONTEXT_BEFORE), [
    "password",
  ]);
  t.same(password.notApplied, ["password"], "an expected password change that did not happen");
});

t.test("context change verdicts", async (t) => {
  const check = rebootCycleCheck({
    id: "reboot.context-change",
    cycle: 1,
    count: 1,
    readyBudgetS: 60,
    expected: ["password"],
  });
  const base = {
    cycle: 1,
    bootIdBefore: "a",
    bootIdAfter: "b",
    secondsToSsh: 20,
    secondsToReady: 40,
    statusAfter: "bootstrap_success",
    drift: [],
    readyBudgetSeconds: 60,
    expectedChanges: ["password" as const],
    applied: ["password"],
    notApplied: [],
    passwordSwap: { newAccepted: 200, oldRefused: 401 },
    newPassword: "Changed.Password-7",
    effectiveConfig: null,
  };
  const configuration = {
    contextSource: "/var/run/one-context/context.sh.network" as const,
    contextVariable: "16384",
    threadsVariable: "",
    physicalCores: "4",
    yaml_ctx: "16384",
    yaml_threads: "4",
    cmdline: "local-ai run --context-size 16384 --threads 4",
    expectedContext: "16384",
    expectedThreads: "4",
  };
  t.match(check.judge(base), {
    status: "pass",
    message: /applied: password \(new password accepted, old refused\)/,
  });
  t.match(
    check.judge({ ...base, passwordSwap: { newAccepted: 200, oldRefused: 200 } }).message,
    /previous password still answers HTTP 200/,
  );
  t.match(
    check.judge({ ...base, passwordSwap: { newAccepted: 401, oldRefused: 401 } }).message,
    /new password is refused \(HTTP 401\)/,
  );
  t.match(
    check.judge({ ...base, applied: [], notApplied: ["password"] }).message,
    /new context was not applied: password/,
  );
  t.match(
    check.judge({ ...base, drift: ["certificate changed: A → B"] }).message,
    /drift beyond the expected change: certificate changed/,
  );
  t.equal(check.judge({ ...base, effectiveConfig: configuration }).status, "pass", "configuration as asked");
  t.match(
    check.judge({
      ...base,
      effectiveConfig: {
        ...configuration,
        yaml_ctx: "4096",
        cmdline: "local-ai run --context-size 4096 --threads 4",
      },
    }).message,
    /effective configuration: model YAML context_size 4096, expected 16384; running engine lacks --context-size 16384/,
  );
  t.match(
    check.judge({ ...base, bootIdAfter: null, secondsToSsh: null, secondsToReady: null, statusAfter: null })
      .message,
    /no new boot within 60 s .*the VM did not come back/,
  );
});

t.test("reboot and soak command lines", async (t) => {
  t.match(
    parseCommandLine(["reboot", "h", "--ssh-key", "k", "--expect-change", "password,context-size"], {}),
    {
      options: { expectChange: ["password", "context-size"] },
    },
  );
  t.throws(
    () => parseCommandLine(["reboot", "h", "--expect-change", "password,colour"], {}),
    /--expect-change: unknown "colour"; choose from password, context-size, threads/,
  );
  t.throws(
    () => parseCommandLine(["h", "--expect-change", "password"], {}),
    /--expect-change only applies to "slmc-check reboot <host>"/,
  );
  t.match(
    parseCommandLine(
      ["soak", "h", "--reboots", "5", "--kill-every", "2", "--load", "1", "--ui", "--json", "r.json"],
      {},
    ),
    {
      kind: "soak",
      host: "h",
      options: { reboots: 5, killEvery: 2, load: 1, ui: true, json: "r.json" },
    },
  );
  t.match(parseCommandLine(["soak", "h"], {}), { options: { reboots: 3, killEvery: 1, load: 0, ui: false } });
  t.throws(() => parseCommandLine(["soak"], {}), /missing host: run "slmc-check soak <host> --reboots N"/);
  t.throws(
    () => parseCommandLine(["soak", "h", "--reboots", "0"], {}),
    /--reboots: expected a whole number 1-1000, got '0'/,
  );
  t.throws(
    () => parseCommandLine(["soak", "h", "--load", "many"], {}),
    /--load: expected a whole number 0-16, got 'many'/,
  );
  t.throws(
    () => parseCommandLine(["h", "--reboots", "3"], {}),
    /--reboots only applies to "slmc-check soak <host>"/,
  );
  t.throws(
    () => parseCommandLine(["soak", "h", "--count", "3"], {}),
    /--count only applies to "slmc-check reboot <host>"/,
  );
});

t.test("a password change: the check reports the new password, the reboot command applies it", async (t) => {
  const after = SNAPSHOT.replace(/1{64}/, "2".repeat(64));
  let bootId = "boot-a";
  let snapshots = 0;
  const ssh = async (command: string) => {
    if (command.startsWith("bash -c")) return { stdout: snapshots++ === 0 ? SNAPSHOT : after };
    if (command === "systemctl reboot") return ((bootId = "boot-b"), { stdout: "" });
    if (command.includes("boot_id")) return { stdout: `${bootId}\n` };
    if (command.includes("/etc/one-appliance/status")) return { stdout: "bootstrap_success\n" };
    if (command === "cat /var/lib/slm-copilot/password") return { stdout: "Changed.Password-7\n" };
    throw new Error(`unexpected command ${command}`);
  };
  const https = async (spec: RequestSpec) => ({
    status: spec.headers?.authorization === "Bearer Changed.Password-7" ? 200 : 401,
  });
  // Frozen: a check that assigned to its access would throw here.
  const access = Object.freeze({ user: "copilot", password: "Old.Password-1" }) as Access;
  const ctx = { access, probes: { ssh, https }, memo: () => Promise.reject() } as unknown as CheckContext;
  const check = rebootCycleCheck({
    id: "reboot.context-change",
    cycle: 1,
    count: 1,
    readyBudgetS: 30,
    expected: ["password"],
  });
  const evidence = await check.observe(ctx);
  t.equal(evidence.newPassword, "Changed.Password-7", "the new password is evidence");
  t.same(evidence.passwordSwap, { newAccepted: 200, oldRefused: 401 });
  t.match(check.judge(evidence), { status: "pass", message: /applied: password/ });

  const runAccess = { user: "copilot", password: "Old.Password-1" } as Access;
  const mask = maskerFor(runAccess, { showSecrets: false } as CliOptions);
  const listener = applyNewPassword(runAccess).listener!;
  const result = (evidence: Record<string, unknown>) =>
    ({ id: "reboot.context-change", evidence }) as unknown as CheckResult;
  listener.checkFinished!(result({ passwordSwap: null, newPassword: null }));
  t.equal(runAccess.password, "Old.Password-1", "no new password: the access is kept");
  t.equal(mask("Old.Password-1"), "********");
  listener.checkFinished!(result(evidence));
  t.equal(runAccess.password, "Changed.Password-7", "later checks authenticate with the new password");
  t.equal(
    mask(JSON.stringify({ old: "Old.Password-1", new: "Changed.Password-7" })),
    '{"old":"********","new":"********"}',
    "the report masks both passwords",
  );
});
