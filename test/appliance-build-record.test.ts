// The image's build record (/etc/slm-copilot/build-record.json): `service install` writes it with
// write_build_record, here run in a scratch SLMC_ROOT under the one-apps driver's shell settings. The
// record it writes is read back by the gate's parser and judged against a build manifest, so the file
// the provisioner writes and the file the gate expects cannot drift apart.
import t from "tap";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { evaluate, parseBuildRecord } from "../src/gate/evaluate.ts";
import { policySchema } from "../src/gate/policy.ts";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "..");
const APPLIANCE = join(ROOT, "appliance");
const RECORD = "etc/slm-copilot/build-record.json";
const MODEL_FILE = "Devstral-Small-2-24B-Instruct-2512-Q4_K_M.gguf";

const sha256 = (data: string) => createHash("sha256").update(data).digest("hex");

async function scratch(): Promise<string> {
  const root = join(await mkdtemp(join(tmpdir(), "slmc-record-")), "root");
  await mkdir(join(root, "usr/local/bin"), { recursive: true });
  await mkdir(join(root, "var/lib/local-ai/models"), { recursive: true });
  await writeFile(join(root, "usr/local/bin/local-ai"), "engine bytes\n", { mode: 0o755 });
  await writeFile(join(root, "var/lib/local-ai/models", MODEL_FILE), "GGUF model bytes\n");
  return root;
}

function install(root: string, env: Record<string, string>) {
  return run(
    "bash",
    ["-c", `umask 0077; set -e; source "$1/appliance.sh"; write_build_record`, "_", APPLIANCE],
    { env: { PATH: process.env.PATH ?? "", SLMC_ROOT: root, SLMC_HOME: APPLIANCE, ...env }, timeout: 60_000 },
  );
}

const BUILD = {
  SLMC_BUILD_ID: "slm-copilot-0.1.0-20261130T093000Z-0123456789abcdef-a1b2c3d4",
  SLMC_IMAGE_VERSION: "0.1.0",
  SLMC_BUILD_TIME: "2026-11-30T09:30:00Z",
  SLMC_BUILD_PROFILE: "release",
  SLMC_LOCALAI_VERSION: "v4.9.0",
};

const policy = policySchema.parse({ name: "t", appliance: { version: "0.1.0" } });

t.test("the provisioner writes the record the gate reads: version, build id, engine and model", async (t) => {
  const root = await scratch();
  const { stderr } = await install(root, BUILD);
  t.match(stderr, new RegExp(`\\[INFO\\] wrote ${root}/${RECORD}`));
  t.equal(
    ((await stat(join(root, RECORD))).mode & 0o777).toString(8),
    "644",
    "world-readable: SSH as any user reads it",
  );
  const text = await readFile(join(root, RECORD), "utf8");
  const record = parseBuildRecord(text, RECORD);
  t.same(record, {
    name: "slm-copilot",
    version: "0.1.0",
    build_id: BUILD.SLMC_BUILD_ID,
    built_at: "2026-11-30T09:30:00Z",
    profile: "release",
    stand_ins: null,
    engine: { name: "LocalAI", version: "v4.9.0", sha256: sha256("engine bytes\n") },
    model: { file: MODEL_FILE, sha256: sha256("GGUF model bytes\n") },
  });

  const manifest = {
    version: "0.1.0",
    build_id: BUILD.SLMC_BUILD_ID,
    sha256: "c".repeat(64),
    file: "x.qcow2",
  };
  let verdict = evaluate(policy, { build: record, manifest });
  const tie = verdict.clauses.find((c) => c.id === "appliance.build-id");
  t.equal(tie?.status, "pass", "its build id matches the manifest of the same build");
  t.equal(verdict.image?.sha256, "c".repeat(64), "and the verdict names that build's image");
  verdict = evaluate(policy, { build: record, manifest: { ...manifest, build_id: "another-build" } });
  t.equal(
    verdict.clauses.find((c) => c.id === "appliance.build-id")?.status,
    "fail",
    "another build's manifest fails",
  );
  t.equal(verdict.image, null);

  t.equal(
    (await install(root, BUILD)).stderr.includes("wrote"),
    false,
    "a second run with the same build writes nothing",
  );
});

t.test("a stand-in build says so; a build without an id warns and records null", async (t) => {
  const root = await scratch();
  const { stderr } = await install(root, {
    ...BUILD,
    SLMC_BUILD_ID: "",
    SLMC_BUILD_PROFILE: "lab",
    SLMC_BUILD_STAND_INS: "LAB STAND-IN: LocalAI stand-in binary",
    SLMC_MODEL_SHA256: "D".repeat(64),
  });
  t.match(stderr, /\[WARN\] SLMC_BUILD_ID is not set: the build record carries no build id/);
  t.match(stderr, /\[WARN\] STAND-IN build \(lab\): LAB STAND-IN: LocalAI stand-in binary/);
  const record = parseBuildRecord(await readFile(join(root, RECORD), "utf8"), RECORD);
  t.equal(record.build_id, null);
  t.equal(record.stand_ins, "LAB STAND-IN: LocalAI stand-in binary");
  t.equal(record.model?.sha256, "d".repeat(64), "the verified sha256 the build was given, lower case");
  const verdict = evaluate(policy, { build: record });
  t.equal(
    verdict.clauses.find((c) => c.id === "appliance.release-build")?.status,
    "fail",
    "a release policy refuses it",
  );
});

t.test("without the engine binary the step fails naming it, and writes no record", async (t) => {
  const root = await scratch();
  await run("rm", [join(root, "usr/local/bin/local-ai")]);
  await t.rejects(install(root, BUILD), { code: 1, stderr: /local-ai: No such file or directory/ });
  await t.rejects(stat(join(root, RECORD)), { code: "ENOENT" });
});

t.test("both Packer templates hand the build's identity to the provisioner", async (t) => {
  for (const template of ["packer/release/slm-copilot.pkr.hcl", "packer/lab/slm-copilot-lab.pkr.hcl"]) {
    const text = await readFile(join(ROOT, template), "utf8");
    for (const name of ["SLMC_BUILD_ID", "SLMC_BUILD_PROFILE", "SLMC_BUILD_STAND_INS", "SLMC_BUILD_TIME"])
      t.match(text, new RegExp(`"${name}=`), `${template} sets ${name}`);
  }
  const lab = await readFile(join(ROOT, "packer/lab/slm-copilot-lab.pkr.hcl"), "utf8");
  t.match(lab, /"SLMC_BUILD_STAND_INS=LAB STAND-IN: /, "the lab build names its stand-ins");
});
