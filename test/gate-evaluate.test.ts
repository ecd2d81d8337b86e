// The gate's verdict on recorded evidence: every clause kind passes on a healthy appliance's evidence
// and fails, naming what to fix, when the one thing it guards is broken or its evidence is missing.
import t from "tap";
import {
  evaluate,
  parseBuildManifest,
  parseBuildRecord,
  verdictExitCode,
  type Clause,
  type GateInputs,
  type Verdict,
} from "../src/gate/evaluate.ts";
import { benchFile, BUNDLE, resolvePointer } from "../src/gate/layout.ts";
import { BUILD_ID, healthyInputs, report, result, SHA, testPolicy } from "./gate-fixtures.ts";

function clause(verdict: Verdict, id: string): Clause {
  const found = verdict.clauses.find((c) => c.id === id);
  if (!found) throw new Error(`no clause ${id} in ${verdict.clauses.map((c) => c.id).join(", ")}`);
  return found;
}

/** The bundle's JSON files as evaluate() expects them to be written. */
function filesOf(inputs: GateInputs): Record<string, unknown> {
  const files: Record<string, unknown> = {
    [BUNDLE.checksJson]: inputs.checks,
    [BUNDLE.rebootJson]: inputs.reboot,
    [BUNDLE.soakJson]: inputs.soak,
    [BUNDLE.buildRecord]: inputs.build,
    [BUNDLE.buildManifest]: inputs.manifest,
  };
  (inputs.bench ?? []).forEach((r, i) => (files[benchFile(r, i, "json")] = r));
  return files;
}

const failing = (verdict: Verdict) => verdict.clauses.filter((c) => c.status === "fail").map((c) => c.id);

t.test("healthy evidence: every clause passes, and every pointer leads to what was measured", async (t) => {
  const inputs = healthyInputs();
  const verdict = evaluate(testPolicy(), inputs, ["/p/release-policy.yaml"]);
  t.same(failing(verdict), [], "no clause fails");
  t.equal(verdict.passed, true);
  t.equal(verdictExitCode(verdict), 0);
  t.equal(verdict.policy.sources[0], "/p/release-policy.yaml");
  const ids = verdict.clauses.map((c) => c.id);
  for (const id of [
    "target",
    "appliance.version",
    "appliance.image-sha256",
    "appliance.build-id",
    "appliance.release-build",
    "checks.tls.protocol",
    "checks.tls.certificate",
    "checks.clients.cline-shaped-request",
    "checks.system.recovery-nginx",
    "reboot.cycles",
    "reboot.cycle-1",
    "reboot.cycle-2",
    "soak.plan",
    "soak.steps",
    "bench.short.c1.decode_tok_s_p50",
    "bench.short.c1.ttft_p90_ms",
    "bench.client-first-request.c1.decode_tok_s_p50",
    "bench.client-first-request.c1.ttft_p90_ms",
    "recovery.local-ai",
    "recovery.nginx",
    "boot.to-ready",
  ])
    t.ok(ids.includes(id), `clause ${id}`);
  const files = filesOf(inputs);
  for (const c of verdict.clauses) {
    t.ok(c.evidence, `${c.id} has an evidence pointer`);
    const target = resolvePointer(files[c.evidence!.file], c.evidence!.pointer);
    t.not(target, undefined, `${c.id}: ${c.evidence!.file}#${c.evidence!.pointer} resolves`);
    if (typeof target === "number")
      t.equal(target, c.measured, `${c.id}: the pointer holds the measured value`);
    if (Array.isArray(target) && c.id.startsWith("reboot.cycle-"))
      t.equal(target.length, c.measured, `${c.id}: the pointer holds the drift items counted`);
  }
  t.equal(clause(verdict, "recovery.local-ai").measured, 14, "the worst of system and soak recoveries");
  t.equal(clause(verdict, "boot.to-ready").measured, 45, "the worst boot of reboot and soak cycles");
  t.equal(clause(verdict, "bench.short.c1.decode_tok_s_p50").measured, 12);
});

t.test("a skipped required check fails the gate and says how to waive it", async (t) => {
  const inputs = healthyInputs();
  inputs.checks!.checks[3] = result("clients.continue-shaped-request", "IDE-04", {}, "skip");
  const verdict = evaluate(testPolicy(), inputs);
  const c = clause(verdict, "checks.clients.continue-shaped-request");
  t.equal(c.status, "fail");
  t.equal(c.measured, "skip");
  t.match(c.message, /skipped .*a required check must run.*checks\.waivers/);
  t.equal(verdict.passed, false);
  t.equal(verdictExitCode(verdict), 1);
});

t.test("a waived skip (with its reason) passes the gate; a waiver never covers a failure", async (t) => {
  const inputs = healthyInputs();
  inputs.checks!.checks[3] = result("clients.continue-shaped-request", "IDE-04", {}, "skip");
  const waivers = [
    { check: "clients.continue-shaped-request", reason: "Continue CLI not installable offline" },
  ];
  const policy = testPolicy({ checks: { must_pass: ["SEC-01", "IDE-04"], waivers } });
  const verdict = evaluate(policy, inputs);
  const c = clause(verdict, "checks.clients.continue-shaped-request");
  t.equal(c.status, "waived");
  t.match(c.message, /waived: Continue CLI not installable offline/);
  t.equal(verdict.passed, true);
  t.equal(verdict.summary.waived, 1);

  inputs.checks!.checks[3] = result("clients.continue-shaped-request", "IDE-04", {}, "fail");
  const failed = evaluate(policy, inputs);
  t.equal(clause(failed, "checks.clients.continue-shaped-request").status, "fail");
  t.equal(failed.passed, false);
});

t.test(
  "a failed or errored required check fails; a requirement selector takes every check of it",
  async (t) => {
    const inputs = healthyInputs();
    inputs.checks!.checks[1] = result("tls.certificate", "SEC-01", {}, "error");
    const verdict = evaluate(testPolicy(), inputs);
    t.same(failing(verdict), ["checks.tls.certificate"]);
    t.match(clause(verdict, "checks.tls.certificate").message, /^error: error message of tls\.certificate/);
  },
);

t.test("a required check the report does not have fails as missing evidence", async (t) => {
  const policy = testPolicy({ checks: { must_pass: ["SEC-01", "one.status"] } });
  const verdict = evaluate(policy, healthyInputs());
  const c = clause(verdict, "checks.one.status");
  t.equal(c.status, "fail");
  t.match(c.message, /no evidence: .*no check with id or requirement one\.status/);
  t.equal(verdict.passed, false);
});

t.test("drift in one reboot cycle fails that cycle and the cycle count", async (t) => {
  const inputs = healthyInputs();
  inputs.reboot!.checks[1] = result(
    "reboot.cycle-2",
    "ONE-04",
    { secondsToReady: 40, drift: ["/etc/nginx/sites-enabled/slm-copilot changed"] },
    "fail",
  );
  const verdict = evaluate(testPolicy(), inputs);
  t.same(failing(verdict).sort(), ["reboot.cycle-2", "reboot.cycles"]);
  t.match(clause(verdict, "reboot.cycle-2").message, /1 item\(s\) drifted.*sites-enabled.*same files/);
  t.equal(clause(verdict, "reboot.cycles").measured, 1);
  t.match(clause(verdict, "reboot.cycles").message, /run `slmc-check reboot <host> --count 2`/);
});

t.test("too few reboot cycles fail even when each passed", async (t) => {
  const inputs = healthyInputs();
  inputs.reboot = report([inputs.reboot!.checks[0]!]);
  const verdict = evaluate(testPolicy(), inputs);
  t.same(failing(verdict), ["reboot.cycles"]);
});

t.test("bench: decode p50 below the floor fails; TTFT p90 above the ceiling fails", async (t) => {
  const slowDecode = healthyInputs();
  const level = slowDecode.bench![0]!.levels[0]!.aggregate;
  level.distributions.decode_tok_s = { ...level.distributions.decode_tok_s!, p50: 9.5 };
  let verdict = evaluate(testPolicy(), slowDecode);
  t.same(failing(verdict), ["bench.short.c1.decode_tok_s_p50"]);
  t.match(
    clause(verdict, "bench.short.c1.decode_tok_s_p50").message,
    /decode_tok_s p50 9\.5: below 10 tok\/s; check the VM's CPU/,
  );

  const slowFirstToken = healthyInputs();
  const client = slowFirstToken.bench![1]!.levels[0]!.aggregate;
  client.distributions.ttft_ms = { ...client.distributions.ttft_ms!, p90: 5001 };
  verdict = evaluate(testPolicy(), slowFirstToken);
  t.same(failing(verdict), ["bench.client-first-request.c1.ttft_p90_ms"]);
  t.match(clause(verdict, "bench.client-first-request.c1.ttft_p90_ms").message, /above 5000 ms/);
});

t.test("bench: failed requests in a gated level, a missing level or prompt set fail", async (t) => {
  const partial = healthyInputs();
  partial.bench![0]!.levels[0]!.aggregate.failed = 2;
  let verdict = evaluate(testPolicy(), partial);
  t.match(
    clause(verdict, "bench.short.c1.decode_tok_s_p50").message,
    /2 of 5 requests failed.*must complete/,
  );
  t.equal(clause(verdict, "bench.short.c1.decode_tok_s_p50").status, "fail");

  const policy = testPolicy({
    bench: { levels: [{ prompt_set: "short", concurrency: 8, decode_tok_s_p50: 1, ttft_p90_ms: 1 }] },
  });
  verdict = evaluate(policy, healthyInputs());
  t.same(failing(verdict), ["bench.short.c8.decode_tok_s_p50", "bench.short.c8.ttft_p90_ms"]);
  t.match(
    clause(verdict, "bench.short.c8.ttft_p90_ms").message,
    /no evidence.*--prompt-set short --concurrency 8/,
  );
  t.equal(clause(verdict, "bench.short.c8.ttft_p90_ms").evidence, null);

  const noBench = healthyInputs();
  delete noBench.bench;
  t.equal(evaluate(testPolicy(), noBench).passed, false);
});

t.test("recovery after kill -9: too slow, or never, fails naming the step", async (t) => {
  const slow = healthyInputs();
  slow.soak!.checks[0] = result("soak.cycle-1.kill-local-ai", "INFER-04", {
    secondsToServingOverHttps: 31.5,
  });
  let verdict = evaluate(testPolicy(), slow);
  t.same(failing(verdict), ["recovery.local-ai"]);
  const c = clause(verdict, "recovery.local-ai");
  t.equal(c.measured, 31.5);
  t.match(c.message, /soak\.cycle-1\.kill-local-ai: 31\.5 s, over 30 s; the unit must restart/);
  t.same(c.evidence, { file: BUNDLE.soakJson, pointer: "/checks/0/evidence/secondsToServingOverHttps" });

  const never = healthyInputs();
  never.checks!.checks[5] = result(
    "system.recovery-nginx",
    "INFER-04",
    { secondsToServingOverHttps: null },
    "fail",
  );
  verdict = evaluate(testPolicy(), never);
  t.match(clause(verdict, "recovery.nginx").message, /system\.recovery-nginx: recovery never measured/);
  t.equal(clause(verdict, "recovery.nginx").status, "fail");
});

t.test("boot-to-ready over the limit, or a cycle that never got ready, fails", async (t) => {
  const slow = healthyInputs();
  slow.reboot!.checks[0]!.evidence.secondsToReady = 61;
  let verdict = evaluate(testPolicy(), slow);
  t.same(failing(verdict), ["boot.to-ready"]);
  t.match(clause(verdict, "boot.to-ready").message, /reboot\.cycle-1: 61 s, over 60 s/);

  const never = healthyInputs();
  never.soak!.checks[2]!.evidence.secondsToReady = null;
  verdict = evaluate(testPolicy(), never);
  t.equal(clause(verdict, "boot.to-ready").status, "fail");
  t.match(clause(verdict, "boot.to-ready").message, /soak\.cycle-1\.reboot: boot-to-ready never measured/);
});

t.test("the wrong appliance version or image checksum fails", async (t) => {
  const wrongVersion = healthyInputs();
  wrongVersion.build!.version = "0.0.9";
  let verdict = evaluate(testPolicy(), wrongVersion);
  t.same(failing(verdict), ["appliance.version"]);
  t.match(
    clause(verdict, "appliance.version").message,
    /built as version 0\.0\.9, the policy releases 0\.1\.0/,
  );

  t.equal(SHA.length, 64);
});

t.test(
  "the image is tied by build id: the VM's build record against the build manifest, the sha256 from the manifest",
  async (t) => {
    const healthy = evaluate(testPolicy(), healthyInputs());
    t.equal(clause(healthy, "appliance.build-id").status, "pass");
    t.equal(clause(healthy, "appliance.build-id").measured, BUILD_ID);
    t.same(healthy.image, {
      build_id: BUILD_ID,
      sha256: SHA,
      file: "slm-copilot-0.1.0.qcow2",
      version: "0.1.0",
    });
    t.same(clause(healthy, "appliance.image-sha256").evidence, {
      file: BUNDLE.buildManifest,
      pointer: "/sha256",
    });

    // Another build's image booted (or another build's manifest given): the id differs.
    const otherBuild = healthyInputs();
    otherBuild.build!.build_id = BUILD_ID.replace("01020304", "0a0b0c0d");
    let verdict = evaluate(testPolicy(), otherBuild);
    t.same(failing(verdict), ["appliance.build-id", "appliance.image-sha256"]);
    t.match(
      clause(verdict, "appliance.build-id").message,
      /the VM was built as .*0a0b0c0d, the manifest is of build .*01020304: boot the image this manifest describes/,
    );
    t.match(clause(verdict, "appliance.image-sha256").message, /not tied to a manifest .* sha256 is unknown/);
    t.equal(verdict.image, null, "no image sha256 in the verdict when the tie does not hold");

    // Without a pinned sha256 the tie alone decides, and the verdict still names the image.
    const unpinned = testPolicy({ appliance: { version: "0.1.0" } });
    verdict = evaluate(unpinned, otherBuild);
    t.same(failing(verdict), ["appliance.build-id"]);
    t.equal(evaluate(unpinned, healthyInputs()).image?.sha256, SHA);

    // The right build, but the policy pins another image's sha256.
    const wrongImage = healthyInputs();
    wrongImage.manifest!.sha256 = "b".repeat(64);
    verdict = evaluate(testPolicy(), wrongImage);
    t.same(failing(verdict), ["appliance.image-sha256"]);
    t.match(clause(verdict, "appliance.image-sha256").message, /sha256 b{64} .* not the pinned one/);

    // An image built outside build.sh: no build id in its record.
    const noId = healthyInputs();
    noId.build!.build_id = null;
    verdict = evaluate(unpinned, noId);
    t.same(failing(verdict), ["appliance.build-id"]);
    t.match(clause(verdict, "appliance.build-id").message, /carries no build id/);

    // No manifest given: missing evidence, naming the flag.
    const noManifest = healthyInputs();
    delete noManifest.manifest;
    verdict = evaluate(unpinned, noManifest);
    t.same(failing(verdict), ["appliance.build-id"]);
    t.match(
      clause(verdict, "appliance.build-id").message,
      /^no evidence: no build manifest: pass --build-manifest/,
    );
  },
);

t.test("an image built from stand-ins fails a release policy and passes a lab policy", async (t) => {
  const lab = healthyInputs();
  lab.build = { ...lab.build!, profile: "lab", stand_ins: "one-apps, one-context, base image" };
  let verdict = evaluate(testPolicy(), lab);
  t.same(failing(verdict), ["appliance.release-build"]);
  t.match(
    clause(verdict, "appliance.release-build").message,
    /built with stand-ins \(one-apps, one-context, base image\)/,
  );
  t.same(clause(verdict, "appliance.release-build").evidence, {
    file: BUNDLE.buildRecord,
    pointer: "/stand_ins",
  });
  verdict = evaluate(testPolicy({ stand_in: "lab VM" }), lab);
  t.same(failing(verdict), []);
  t.match(clause(verdict, "appliance.release-build").message, /accepted by a lab policy: lab VM/);

  const profileOnly = healthyInputs();
  profileOnly.build!.profile = "lab";
  t.same(failing(evaluate(testPolicy(), profileOnly)), ["appliance.release-build"]);
});

t.test("soak: a smaller plan, a failed step or an interrupted soak fails", async (t) => {
  const small = healthyInputs();
  (small.soak!.soak as { plan: { reboots: number } }).plan.reboots = 0;
  t.same(failing(evaluate(testPolicy({ soak: { reboots: 1, kill_every: 1, load_streams: 1 } }), small)), [
    "soak.plan",
  ]);

  const broken = healthyInputs();
  broken.soak!.checks[3] = result("soak.load", "INFER-04", {}, "fail");
  const verdict = evaluate(testPolicy(), broken);
  t.same(failing(verdict), ["soak.steps"]);
  t.match(clause(verdict, "soak.steps").message, /first soak\.load: fail: fail message of soak\.load/);
  t.same(clause(verdict, "soak.steps").evidence, { file: BUNDLE.soakJson, pointer: "/checks/3" });

  const interrupted = healthyInputs();
  interrupted.soak!.interrupted = true;
  t.match(clause(evaluate(testPolicy(), interrupted), "soak.steps").message, /interrupted/);
});

t.test("missing evidence fails every clause that needs it (never a pass)", async (t) => {
  const verdict = evaluate(testPolicy(), {});
  t.equal(verdict.passed, false);
  t.equal(verdict.summary.passed, 0, "nothing passes without evidence");
  for (const c of verdict.clauses) {
    t.equal(c.status, "fail", `${c.id} fails`);
    t.match(c.message, /^no evidence: /, `${c.id} says the evidence is missing`);
    t.equal(c.evidence, null);
  }
  for (const key of ["checks", "reboot", "soak", "bench", "build", "manifest"] as const) {
    const inputs = healthyInputs();
    delete inputs[key];
    const v = evaluate(testPolicy(), inputs);
    t.equal(v.passed, false, `without ${key} the gate fails`);
    t.ok(
      v.clauses.some((c) => c.status === "fail" && c.message.startsWith("no evidence")),
      `without ${key} a clause names the missing evidence`,
    );
  }
});

t.test("a clause the policy marks not required is shown but does not fail the gate", async (t) => {
  const inputs = healthyInputs();
  inputs.build!.version = "0.0.9";
  const verdict = evaluate(testPolicy({ appliance: { version: "0.1.0", required: false } }), inputs);
  t.equal(clause(verdict, "appliance.version").status, "fail");
  t.equal(clause(verdict, "appliance.version").required, false);
  t.equal(verdict.passed, true);
  t.equal(verdict.summary.failed_required, 0);
});

t.test("simulated or mixed-host evidence fails a release policy; a lab policy says stand-in", async (t) => {
  const simulated = healthyInputs();
  simulated.checks!.target.simulated = true;
  let verdict = evaluate(testPolicy(), simulated);
  t.same(failing(verdict), ["target"]);
  t.match(clause(verdict, "target").message, /simulated appliance: gate a real appliance VM/);
  verdict = evaluate(testPolicy({ stand_in: "lab VM with one-apps stand-ins" }), simulated);
  t.equal(clause(verdict, "target").status, "pass");
  t.equal(verdict.target.stand_in, "lab VM with one-apps stand-ins");
  t.match(clause(verdict, "target").message, /lab stand-in/);

  const mixed = healthyInputs();
  mixed.bench![1]!.target.host = "198.51.100.1";
  verdict = evaluate(testPolicy(), mixed);
  t.same(failing(verdict), ["target"]);
  t.same(clause(verdict, "target").evidence, {
    file: "bench/2-client-first-request.json",
    pointer: "/target",
  });
});

t.test(
  "the build record is parsed from the VM's JSON, with the source named when it is not one",
  async (t) => {
    const record = parseBuildRecord(
      JSON.stringify({
        name: "slm-copilot",
        version: "0.1.0",
        build_id: BUILD_ID,
        profile: "release",
        engine: { name: "LocalAI", version: "v4.9.0", sha256: SHA },
        extra: 1,
      }),
      "/etc/x.json",
    );
    t.equal(record.version, "0.1.0");
    t.equal(record.extra, 1, "fields the gate does not judge are kept for the bundle");
    t.throws(() => parseBuildRecord("{", "/etc/x.json"), /the build record \/etc\/x\.json is not JSON/);
    t.throws(() => parseBuildRecord('{"name":"x"}', "/etc/x.json"), /not a build record: version: /);
    t.throws(() => parseBuildRecord("[]", "/etc/x.json"), /not a build record: \(top level\)/);
    t.equal(
      parseBuildManifest(JSON.stringify({ version: "0.1.0", build_id: BUILD_ID, sha256: SHA }), "m").build_id,
      BUILD_ID,
    );
    t.throws(
      () =>
        parseBuildManifest(
          JSON.stringify({ version: "0.1.0", build_id: BUILD_ID, sha256: "x" }),
          "out/manifest.json",
        ),
      /the build manifest out\/manifest\.json is not build\.sh's manifest\.json: sha256: expected 64 lowercase hex digits/,
    );
  },
);
