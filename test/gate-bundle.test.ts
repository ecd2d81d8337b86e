// The gate's evidence bundle on disk: every file it promises, SHA256SUMS that sha256sum -c accepts, an
// ssh-keygen signature; and verifyBundle() naming each kind of tampering (a file modified, added or
// removed, SHA256SUMS rewritten, the wrong key, no signature). Also verdict.md's table and fixes.
import t from "tap";
import { execFile } from "node:child_process";
import { appendFile, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  BundleError,
  bundleFiles,
  sumsFor,
  verifyBundle,
  writeBundle,
  type BundleContents,
} from "../src/gate/bundle.ts";
import { evaluate, type Verdict } from "../src/gate/evaluate.ts";
import { BUNDLE, resolvePointer } from "../src/gate/layout.ts";
import { renderVerdictMarkdown } from "../src/gate/verdict-md.ts";
import { healthyInputs, result, testPolicy } from "./gate-fixtures.ts";

const run = promisify(execFile);
const dir = await mkdtemp(join(tmpdir(), "slmc-bundle-"));
t.teardown(() => rm(dir, { recursive: true, force: true }));

const SECRET = "s3cret-pw-xyz";

async function keypair(name: string): Promise<{ key: string; pub: string }> {
  const key = join(dir, name);
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key], { timeout: 15_000 });
  return { key, pub: await readFile(`${key}.pub`, "utf8") };
}

function contents(inputs = healthyInputs()): BundleContents {
  const policy = testPolicy();
  return {
    verdict: evaluate(policy, inputs, ["/policies/release-policy.yaml"]),
    policy: { policy, sources: ["/policies/release-policy.yaml"] },
    inputs,
    tool: { name: "slmc-check", version: "9.9.9", runtime: "node" },
  };
}

let serial = 0;
async function signedBundle(signWith?: string): Promise<string> {
  const out = join(dir, `bundle-${++serial}`);
  await writeBundle(out, contents(), { signWith });
  return out;
}

const kinds = (r: Awaited<ReturnType<typeof verifyBundle>>) => r.problems.map((p) => `${p.kind} ${p.file}`);

const signer = await keypair("signer");
const stranger = await keypair("stranger");

t.test(
  "the bundle holds every promised file, each pointer resolves in it, sha256sum -c accepts it",
  async (t) => {
    const out = join(dir, "complete");
    const written = await writeBundle(out, contents(), { signWith: signer.key });
    t.same(written.sort(), [
      "SHA256SUMS",
      "SHA256SUMS.sig",
      "bench/1-short.html",
      "bench/1-short.json",
      "bench/2-client-first-request.html",
      "bench/2-client-first-request.json",
      "checks/report.json",
      "checks/report.junit.xml",
      "checks/report.tap",
      "image/manifest.json",
      "policy.json",
      "reboot/report.json",
      "soak/report.json",
      "soak/timeline.json",
      "target/build-record.json",
      "verdict.json",
      "verdict.md",
      "versions.json",
    ]);
    const verdict = JSON.parse(await readFile(join(out, BUNDLE.verdictJson), "utf8")) as Verdict;
    t.equal(verdict.passed, true);
    for (const clause of verdict.clauses) {
      const file = JSON.parse(await readFile(join(out, clause.evidence!.file), "utf8")) as unknown;
      t.not(
        resolvePointer(file, clause.evidence!.pointer),
        undefined,
        `${clause.id} → ${clause.evidence!.file}`,
      );
    }
    const policy = JSON.parse(await readFile(join(out, BUNDLE.policy), "utf8"));
    t.same(policy.sources, ["/policies/release-policy.yaml"], "the policy as used names its files");
    t.equal(policy.policy.recovery.max_seconds, 30, "resolved values");
    const versions = JSON.parse(await readFile(join(out, BUNDLE.versions), "utf8"));
    t.equal(versions.gate.version, "9.9.9");
    t.equal(versions.target.build.version, "0.1.0");
    t.equal(versions.image.sha256, "a".repeat(64), "the image the build id tied the VM to");
    t.equal(versions.reports.length, 5, "each report's own tool version");
    t.match(await readFile(join(out, BUNDLE.checksTap), "utf8"), /^TAP version 14\n/);
    t.match(await readFile(join(out, BUNDLE.checksJunit), "utf8"), /<testsuites /);
    t.match(await readFile(join(out, "bench/1-short.html"), "utf8"), /<html/i);
    const sums = await run("sha256sum", ["-c", "--strict", BUNDLE.sums], { cwd: out, timeout: 15_000 });
    t.match(sums.stdout, /checks\/report\.json: OK/);
    t.notMatch(sums.stdout, /FAILED/);
    t.equal(
      (await readFile(join(out, BUNDLE.sums), "utf8")).trim().split("\n").length,
      16,
      "every file but the sums and signature",
    );
    const checked = await verifyBundle(out, { publicKey: signer.pub });
    t.same(checked, { ok: true, signature: "verified", problems: [] });
    t.same(
      await verifyBundle(out),
      { ok: true, signature: "well-formed", problems: [] },
      "without a key: only the form",
    );
  },
);

t.test("tampering: each kind is found and named", async (t) => {
  const modified = await signedBundle(signer.key);
  await appendFile(join(modified, BUNDLE.checksJson), " ");
  let r = await verifyBundle(modified, { publicKey: signer.pub });
  t.equal(r.ok, false);
  t.same(kinds(r), ["modified checks/report.json"]);
  t.match(
    r.problems[0]!.message,
    /does not match its sha256 in SHA256SUMS: modified after the gate wrote it/,
  );

  const added = await signedBundle(signer.key);
  await mkdir(join(added, "extra"));
  await writeFile(join(added, "extra/notes.txt"), "looks fine to me");
  r = await verifyBundle(added, { publicKey: signer.pub });
  t.same(kinds(r), ["extra extra/notes.txt"]);
  t.match(r.problems[0]!.message, /not listed in SHA256SUMS/);

  const removed = await signedBundle(signer.key);
  await unlink(join(removed, "soak/timeline.json"));
  r = await verifyBundle(removed, { publicKey: signer.pub });
  t.same(kinds(r), ["missing soak/timeline.json"]);

  const resummed = await signedBundle(signer.key);
  await writeFile(join(resummed, BUNDLE.verdictMd), "# Gate verdict: PASS\n");
  const files = bundleFiles(contents()).map((f) => ({ path: f.path, data: f.text }));
  const forged = files.map((f) =>
    f.path === BUNDLE.verdictMd ? { ...f, data: "# Gate verdict: PASS\n" } : f,
  );
  await writeFile(join(resummed, BUNDLE.sums), sumsFor(forged));
  r = await verifyBundle(resummed, { publicKey: signer.pub });
  t.same(kinds(r), ["signature SHA256SUMS.sig"], "hashes agree, the signature over SHA256SUMS does not");
  t.equal(r.signature, "bad");
  t.equal((await verifyBundle(resummed)).signature, "bad", "found without a key too");

  const wrongKey = await signedBundle(signer.key);
  r = await verifyBundle(wrongKey, { publicKey: stranger.pub });
  t.same(kinds(r), ["signature SHA256SUMS.sig"]);
  t.match(r.problems[0]!.message, /not valid for the given public key/);

  const unsigned = await signedBundle();
  t.same(kinds(await verifyBundle(unsigned, { publicKey: signer.pub })), ["unsigned SHA256SUMS.sig"]);
  t.same(
    await verifyBundle(unsigned),
    { ok: true, signature: "absent", problems: [] },
    "no key asked: unsigned is fine",
  );

  const noSums = await signedBundle();
  await unlink(join(noSums, BUNDLE.sums));
  t.same(kinds(await verifyBundle(noSums)), ["missing SHA256SUMS"]);

  const garbled = await signedBundle();
  await appendFile(join(garbled, BUNDLE.sums), "not a sum line\n");
  t.same(kinds(await verifyBundle(garbled)), ["malformed SHA256SUMS"]);
});

t.test("writeBundle refuses a used directory and a key it cannot sign with", async (t) => {
  const used = await signedBundle();
  await t.rejects(
    writeBundle(used, contents()),
    new BundleError(`the evidence directory "${used}" is not empty: give a new directory for each gate run`),
  );
  await t.rejects(
    writeBundle(join(dir, "nokey"), contents(), { signWith: join(dir, "absent-key") }),
    /cannot sign with ".*absent-key"/,
  );
});

t.test("a key with a passphrase and no agent fails at once, saying so, without prompting", async (t) => {
  const key = join(dir, "locked");
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "correct horse", "-f", key], { timeout: 15_000 });
  const started = Date.now();
  const saved = process.env.SSH_AUTH_SOCK;
  delete process.env.SSH_AUTH_SOCK;
  try {
    await t.rejects(
      writeBundle(join(dir, "locked-bundle"), contents(), { signWith: key }),
      /cannot sign with ".*locked": .*passphrase.*\(a key with a passphrase signs through ssh-agent: ssh-add it first\)$/,
    );
  } finally {
    if (saved !== undefined) process.env.SSH_AUTH_SOCK = saved;
  }
  t.ok(Date.now() - started < 10_000, "no wait for a passphrase nobody can type");
});

t.test("the mask reaches every file of the bundle", async (t) => {
  const inputs = healthyInputs();
  inputs.checks!.checks.push(result("auth.leaky", "SEC-03", { header: `Bearer ${SECRET}` }));
  inputs.checks!.notes.push(`password ${SECRET} from the appliance`);
  const out = join(dir, "masked");
  const written = await writeBundle(out, contents(inputs), {
    mask: (text) => text.replaceAll(SECRET, "********"),
  });
  for (const file of written) t.notMatch(await readFile(join(out, file), "utf8"), SECRET, `${file} masked`);
  t.match(await readFile(join(out, BUNDLE.checksJunit), "utf8"), /password \*{8} from the appliance/);
  t.equal((await verifyBundle(out)).ok, true, "the sums are over the masked files");
});

t.test(
  "verdict.md: failing clauses first, each with what to fix; stand-in said; cells escaped",
  async (t) => {
    const inputs = healthyInputs();
    inputs.build!.version = "0.0|9";
    inputs.reboot!.checks[1] = result(
      "reboot.cycle-2",
      "ONE-04",
      { secondsToReady: 40, drift: ["a changed"] },
      "fail",
    );
    const policy = testPolicy({ stand_in: "lab VM", boot: { max_seconds_to_ready: 60, required: false } });
    inputs.reboot!.checks[0]!.evidence.secondsToReady = 70;
    const md = renderVerdictMarkdown(evaluate(policy, inputs, ["/p/lab.yaml", "/p/release.yaml"]));
    t.match(md, /^# Gate verdict: FAIL\n/);
    t.match(
      md,
      /Policy \*\*test\*\* \(`\/p\/lab\.yaml` extending `\/p\/release\.yaml`\), target 203\.0\.113\.10\./,
    );
    t.match(md, /> \*\*Lab stand-in, not a release target:\*\* lab VM/);
    const rows = md.split("\n").filter((line) => /^\| (\*\*FAIL|fail|pass|waived)/.test(line));
    const firstPass = rows.findIndex((row) => row.startsWith("| pass"));
    t.ok(firstPass > 0, "some rows pass");
    t.ok(
      rows.slice(0, firstPass).every((row) => !row.startsWith("| pass")),
      "every failure above every pass",
    );
    t.match(
      rows[0],
      /^\| \*\*FAIL\*\* \| appliance\.version: .* \| 0\.0\\\|9 \| 0\.1\.0 \| `target\/build-record\.json#\/version` \|$/,
    );
    t.match(
      rows[firstPass - 1],
      /^\| fail \(not required\) \| boot\.to-ready/,
      "a failure that is not required after the required ones",
    );
    t.match(md, /## What to fix\n\n- \*\*appliance\.version\*\*: the VM was built as version 0\.0\\\|9/);
    t.match(md, /- \*\*reboot\.cycle-2\*\*: 1 item\(s\) drifted across the reboot: a changed/);
    t.match(md, /- \*\*boot\.to-ready\*\* \(not required\): reboot\.cycle-1: 70 s, over 60 s/);
    const healthy = renderVerdictMarkdown(evaluate(testPolicy(), healthyInputs()));
    t.match(healthy, /^# Gate verdict: PASS\n/);
    t.notMatch(healthy, /What to fix|Lab stand-in/);
  },
);
