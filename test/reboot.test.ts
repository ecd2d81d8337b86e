// The reboot command's comparison: snapshots parse, identical ones show no drift, and every kind of
// drift (rendered file, secret, certificate, socket, unit) is reported, files as a line diff.
import t from "tap";
import { parseCommandLine } from "../src/cli/args.ts";
import { drift, lineDiff, parseSnapshot } from "../suites/reboot.ts";

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
  t.throws(() => parseCommandLine(["reboot", "h", "--count", "0"], {}), /--count must be at least 1/);
});
