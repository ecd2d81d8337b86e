// The reboot command's comparison: snapshots parse, identical ones show no drift, and every kind of
// drift (rendered file, secret, certificate, socket, unit) is reported, files as a line diff.
import t from "tap";
import { parseCommandLine } from "../src/cli/args.ts";
import type { Access } from "../src/core/access.ts";
import { contextChangeDrift, drift, lineDiff, parseSnapshot, rebootCycleCheck } from "../suites/reboot.ts";

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
    effectiveConfig: null,
  };
  const access = {} as Access;
  t.match(check.judge(base, access), {
    status: "pass",
    message: /applied: password \(new password accepted, old refused\)/,
  });
  t.match(
    check.judge({ ...base, passwordSwap: { newAccepted: 200, oldRefused: 200 } }, access).message,
    /previous password still answers HTTP 200/,
  );
  t.match(
    check.judge({ ...base, passwordSwap: { newAccepted: 401, oldRefused: 401 } }, access).message,
    /new password is refused \(HTTP 401\)/,
  );
  t.match(
    check.judge({ ...base, applied: [], notApplied: ["password"] }, access).message,
    /new context was not applied: password/,
  );
  t.match(
    check.judge({ ...base, drift: ["certificate changed: A → B"] }, access).message,
    /drift beyond the expected change: certificate changed/,
  );
  t.match(
    check.judge({ ...base, effectiveConfig: "model YAML context_size 4096, expected 16384" }, access).message,
    /effective configuration: model YAML context_size 4096/,
  );
  t.match(
    check.judge(
      { ...base, bootIdAfter: null, secondsToSsh: null, secondsToReady: null, statusAfter: null },
      access,
    ).message,
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
