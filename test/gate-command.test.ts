// `slmc-check gate` through the compiled binary: a healthy simulated target passes a checks+bench policy
// and its bundle verifies (sha256sum -c, gate --verify, the signature against the right key only); a
// defect fails the clause it breaks; evidence the target cannot give (no SSH: reboot) fails as missing;
// a bad policy, a non-empty evidence directory and an unreachable target get their exit codes.
// Needs `npm run build` first (the test command does it).
import t from "tap";
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, writeFile, appendFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { simulator } from "./helpers.ts";
import { freePort } from "../fixtures/ports.ts";
import { runProcess } from "./spawn.ts";

const BINARY = resolve(import.meta.dirname, "../dist/slmc-check");
const LAB_POLICY = resolve(import.meta.dirname, "../fixtures/lab/lab-policy.yaml");

const slmc = (args: string[], killAfterMs = 120_000) =>
  runProcess(BINARY, args, { NO_COLOR: "1", HOME: process.env.HOME ?? "/tmp" }, killAfterMs);

const HEALTHY_POLICY = `name: simulated
stand_in: the embedded simulator (slmc stand-in engine behind the simulated front)
checks:
  must_pass: [SEC-01, SEC-02, INFER-01, IDE-01]
bench:
  levels:
    - prompt_set: short
      concurrency: 1
      decode_tok_s_p50: 1
      ttft_p90_ms: 10000
`;

async function workdir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "slmc-gate-cmd-"));
}

async function allFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

function keypair(dir: string, name: string): { key: string; pub: string } {
  const key = join(dir, name);
  const made = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key]);
  if (made.status !== 0) throw new Error(`ssh-keygen: ${String(made.stderr)}`);
  return { key, pub: `${key}.pub` };
}

// Each test runs its own targets and directories; they mostly wait on the binary, so they run side by side.
t.jobs = 4;

t.test(
  "a healthy simulated target passes; the signed bundle verifies, and fails tampered or against another key",
  async (t) => {
    const dir = await workdir();
    const policy = join(dir, "policy.yaml");
    await writeFile(policy, HEALTHY_POLICY);
    const signer = keypair(dir, "signer");
    const stranger = keypair(dir, "stranger");
    const evidence = join(dir, "evidence");
    const gate = await slmc([
      "gate",
      "demo",
      "--policy",
      policy,
      "--evidence",
      evidence,
      "--sign",
      signer.key,
    ]);
    t.equal(gate.code, 0, gate.stdout + gate.stderr);
    t.match(gate.stdout, /gate PASSED \(policy simulated\)/);
    t.match(gate.stdout, /PASS +checks\.tls\.protocol/);
    t.match(gate.stdout, /PASS +bench\.short\.c1\.ttft_p90_ms/);
    t.match(gate.stderr, /gate: checks \[\d+\/\d+\] PASS /, "progress on stderr");
    const verdict = JSON.parse(await readFile(join(evidence, "verdict.json"), "utf8")) as {
      passed: boolean;
      target: { simulated: boolean };
    };
    t.equal(verdict.passed, true);
    t.equal(verdict.target.simulated, true);

    const sums = spawnSync("sha256sum", ["-c", "--quiet", "SHA256SUMS"], { cwd: evidence });
    t.equal(sums.status, 0, `sha256sum -c: ${String(sums.stdout)}${String(sums.stderr)}`);
    const verified = await slmc(["gate", "--verify", evidence, "--allowed-signer", signer.pub]);
    t.equal(verified.code, 0, verified.stdout + verified.stderr);
    t.match(verified.stdout, /intact \(signature: verified\)/);

    const wrongKey = await slmc(["gate", "--verify", evidence, "--allowed-signer", stranger.pub]);
    t.equal(wrongKey.code, 1, "another key's signature is refused");
    t.match(wrongKey.stdout, /SIGNATURE SHA256SUMS\.sig: /);

    await appendFile(join(evidence, "verdict.md"), "\nall good, trust me\n");
    const tampered = await slmc(["gate", "--verify", evidence]);
    t.equal(tampered.code, 1, "a modified file fails verification");
    t.match(tampered.stdout, /MODIFIED verdict\.md: /);
    t.notMatch(tampered.stdout, /MODIFIED (?!verdict\.md)/, "only the tampered file is named");
  },
);

t.test(
  "a defect and a stricter threshold fail the clauses they break, named in verdict.md, exit 1",
  async (t) => {
    const dir = await workdir();
    const policy = join(dir, "policy.yaml");
    await writeFile(policy, HEALTHY_POLICY.replace("ttft_p90_ms: 10000", "ttft_p90_ms: 0.001"));
    const evidence = join(dir, "evidence");
    const gate = await slmc([
      "gate",
      "demo",
      "--policy",
      policy,
      "--evidence",
      evidence,
      "--defect",
      "tls10-accepted",
    ]);
    t.equal(gate.code, 1, gate.stdout + gate.stderr);
    t.match(gate.stdout, /gate FAILED/);
    const lines = gate.stdout.split("\n");
    const firstPass = lines.findIndex((l) => l.startsWith("PASS"));
    const lastFail = lines.findLastIndex((l) => l.startsWith("FAIL"));
    t.ok(lastFail >= 0 && lastFail < firstPass, "failed clauses are printed first");
    const md = await readFile(join(evidence, "verdict.md"), "utf8");
    t.match(md, /\*\*FAIL\*\* \| checks\.tls\.legacy-versions-refused/, "the defect's clause is named");
    t.match(md, /\*\*FAIL\*\* \| bench\.short\.c1\.ttft_p90_ms/, "the threshold's clause is named");
    t.notMatch(md, /\*\*FAIL\*\* \| checks\.tls\.protocol/, "the checks the defect does not touch pass");
  },
);

t.test(
  "the shipped lab policy: the client-first-request level is measured (not missing), a stricter threshold fails it",
  async (t) => {
    const dir = await workdir();
    const evidence = join(dir, "evidence");
    const gate = await slmc(["gate", "demo", "--policy", LAB_POLICY, "--evidence", evidence]);
    t.equal(gate.code, 1, "the demo has no SSH: reboot, soak and build record stay missing");
    for (const metric of ["decode_tok_s_p50", "ttft_p90_ms"])
      t.match(
        gate.stdout,
        new RegExp(
          `^PASS +bench\\.client-first-request\\.c1\\.${metric}: \\w+ p\\d0 [\\d.]+ over 3 request`,
          "m",
        ),
        `bench.client-first-request.c1.${metric} measured and passed`,
      );
    t.notMatch(gate.stdout, /^FAIL +bench\./m, "no bench clause fails, none for missing evidence");
    t.notMatch(gate.stderr, /no prompt set "client-first-request"/);
    const verdict = JSON.parse(await readFile(join(evidence, "verdict.json"), "utf8")) as {
      clauses: { id: string; status: string; evidence?: unknown }[];
    };
    const bench = verdict.clauses.filter((c) => c.id.startsWith("bench."));
    t.same(
      bench.map((c) => `${c.id} ${c.status}`),
      [
        "bench.short.c1.decode_tok_s_p50 pass",
        "bench.short.c1.ttft_p90_ms pass",
        "bench.client-first-request.c1.decode_tok_s_p50 pass",
        "bench.client-first-request.c1.ttft_p90_ms pass",
      ],
      "the lab policy's 4 bench clauses all have evidence and pass",
    );
    const report = JSON.parse(
      await readFile(join(evidence, "bench/2-client-first-request.json"), "utf8"),
    ) as { plan: { prompt_set: string; prompt_tokens: Record<string, number>; cold_prefix: boolean } };
    t.equal(report.plan.prompt_set, "client-first-request");
    t.equal(report.plan.cold_prefix, true);
    const tokens = report.plan.prompt_tokens["cline-first-request"]!;
    t.ok(tokens >= 5000 && tokens <= 7000, `${tokens} prompt tokens: Cline's first request size`);

    const strict = join(dir, "strict.yaml");
    await writeFile(
      strict,
      `name: strict\nbench:\n  levels:\n    - prompt_set: client-first-request\n      concurrency: 1\n      decode_tok_s_p50: 1\n      ttft_p90_ms: 1\n`,
    );
    const strictEvidence = join(dir, "strict-evidence");
    const failed = await slmc(["gate", "demo", "--policy", strict, "--evidence", strictEvidence]);
    t.equal(failed.code, 1, failed.stdout + failed.stderr);
    const md = await readFile(join(strictEvidence, "verdict.md"), "utf8");
    t.match(md, /\*\*FAIL\*\* \| bench\.client-first-request\.c1\.ttft_p90_ms/, "the clause is named");
    t.notMatch(md, /\*\*FAIL\*\* \| bench\.client-first-request\.c1\.decode/, "decode still passes");
    t.match(md, /above 1 ms/, "verdict.md says the threshold it broke");
  },
);

t.test(
  "a real target without SSH: checks pass, reboot fails as missing evidence, no password in the bundle",
  async (t) => {
    const sim = await simulator(t);
    const dir = await workdir();
    const caFile = join(dir, "ca.pem");
    const passwordFile = join(dir, "password");
    await writeFile(caFile, sim.certificatePem);
    await writeFile(passwordFile, `${sim.password}\n`);
    const policy = join(dir, "policy.yaml");
    await writeFile(
      policy,
      `name: no-ssh\nchecks:\n  must_pass: [SEC-01, INFER-01]\nreboot:\n  cycles: 1\nappliance:\n  version: 0.1.0\n`,
    );
    const evidence = join(dir, "evidence");
    const gate = await slmc([
      "gate",
      "127.0.0.1",
      "--https-port",
      String(sim.httpsPort),
      "--http-port",
      String(sim.httpPort),
      "--ca",
      caFile,
      "--password-file",
      passwordFile,
      "--no-ssh",
      "--policy",
      policy,
      "--evidence",
      evidence,
    ]);
    t.equal(gate.code, 1, gate.stdout + gate.stderr);
    t.match(gate.stdout, /FAIL +reboot\.cycles: no evidence: .*slmc-check reboot/);
    t.match(gate.stdout, /FAIL +appliance\.version: no evidence: /);
    t.match(gate.stdout, /PASS +checks\.tls\.protocol/);
    t.match(gate.stderr, /reboot: needs SSH \(--ssh-key FILE\)/);
    const verdict = JSON.parse(await readFile(join(evidence, "verdict.json"), "utf8")) as {
      clauses: { id: string; status: string }[];
    };
    t.notOk(
      verdict.clauses.some((c) => c.id.startsWith("reboot") && c.status !== "fail"),
      "no reboot clause passes",
    );
    const files = await allFiles(evidence);
    t.ok(files.length > 5, `${files.length} files in the bundle`);
    for (const file of files)
      t.notOk((await readFile(file, "utf8")).includes(sim.password), `${file}: no password`);
    t.notOk(gate.stdout.includes(sim.password) || gate.stderr.includes(sim.password), "no password printed");
  },
);

t.test("usage errors exit 2 and run nothing; an unreachable target exits 3", async (t) => {
  const dir = await workdir();
  const bad = join(dir, "bad.yaml");
  await writeFile(
    bad,
    `name: bad\nbench:\n  levels:\n    - prompt_set: short\n      concurrency: 1\n      decode_tok_s_p50: 1\n      ttft_p90_ms: -5\n`,
  );
  const badRun = await slmc(["gate", "demo", "--policy", bad, "--evidence", join(dir, "e1")]);
  t.equal(badRun.code, 2, badRun.stderr);
  t.match(badRun.stderr, /policy\.bench\.levels\[0\]\.ttft_p90_ms/, "the bad key is named");
  const typo = join(dir, "typo.yaml");
  await writeFile(typo, `name: typo\nchecks:\n  must_pas: [SEC-01]\n`);
  const typoRun = await slmc(["gate", "demo", "--policy", typo, "--evidence", join(dir, "e2")]);
  t.equal(typoRun.code, 2);
  t.match(typoRun.stderr, /must_pas/, "the unknown key is named");

  const good = join(dir, "good.yaml");
  await writeFile(good, HEALTHY_POLICY);
  const used = join(dir, "used");
  await mkdir(used);
  await writeFile(join(used, "old-verdict.json"), "{}");
  const full = await slmc(["gate", "demo", "--policy", good, "--evidence", used]);
  t.equal(full.code, 2, full.stderr);
  t.match(full.stderr, /--evidence ".*used" is not empty/);
  t.same(await readdir(used), ["old-verdict.json"], "nothing written into it");

  const manifest = join(dir, "manifest.json");
  await writeFile(manifest, JSON.stringify({ version: "0.1.0", build_id: "b1", sha256: "not-hex" }));
  for (const [file, said] of [
    [
      manifest,
      /--build-manifest: the build manifest ".*manifest\.json" is not build\.sh's manifest\.json: sha256: expected 64 lowercase hex digits/,
    ],
    [join(dir, "absent.json"), /--build-manifest: .*absent\.json.*ENOENT/],
  ] as const) {
    const run = await slmc([
      "gate",
      "demo",
      "--policy",
      good,
      "--evidence",
      join(dir, "e5"),
      "--build-manifest",
      file,
    ]);
    t.equal(run.code, 2, run.stderr);
    t.match(run.stderr, said, "a manifest that cannot be used is named before anything runs");
  }

  const noPolicy = await slmc(["gate", "demo", "--evidence", join(dir, "e3")]);
  t.equal(noPolicy.code, 2);
  t.match(noPolicy.stderr, /the gate needs --policy FILE/);

  const port = await freePort();
  const unreachable = await slmc([
    "gate",
    "127.0.0.1",
    "--https-port",
    String(port),
    "--no-ssh",
    "--policy",
    good,
    "--evidence",
    join(dir, "e4"),
  ]);
  t.equal(unreachable.code, 3, unreachable.stderr);
  t.match(unreachable.stderr, /target unreachable/);

  const missingBundle = await slmc(["gate", "--verify", join(dir, "nothing-here")]);
  t.equal(missingBundle.code, 1, missingBundle.stdout + missingBundle.stderr);
});
