// Gate policies: the release and lab policies the repository ships are valid and say what they mean;
// a bad policy is refused with the key that is wrong; `extends:` merges, and refuses loops and depth.
import t from "tap";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { deepMerge, loadPolicy, MAX_EXTENDS_DEPTH, PolicyError } from "../src/gate/policy.ts";
import { REQUIREMENTS } from "../suites/requirements.ts";

const ROOT = resolve(import.meta.dirname, "..");
const RELEASE = join(ROOT, "release-policy.yaml");
const LAB = join(ROOT, "fixtures/lab/lab-policy.yaml");

const dir = await mkdtemp(join(tmpdir(), "slmc-policy-"));
t.teardown(() => rm(dir, { recursive: true, force: true }));

async function policyFile(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

async function loadError(file: string): Promise<string> {
  try {
    await loadPolicy(file);
  } catch (error) {
    if (error instanceof PolicyError) return error.message;
    throw error;
  }
  throw new Error(`${file} loaded, an error was expected`);
}

const LEVEL = "{ prompt_set: short, concurrency: 1, decode_tok_s_p50: 4, ttft_p90_ms: 5000 }";

t.test("the release policy is valid and requires every requirement slmc-check knows", async (t) => {
  const { policy, sources } = await loadPolicy(RELEASE);
  t.same(sources, [RELEASE]);
  t.equal(policy.name, "release");
  t.equal(policy.stand_in, undefined, "the release policy gates a real appliance");
  t.same([...(policy.checks?.must_pass ?? [])].sort(), Object.keys(REQUIREMENTS).sort());
  t.same(
    policy.checks?.waivers.map((w) => w.check),
    ["api.health-readiness"],
    "a release waives only the readiness check that system.recovery-local-ai demonstrates",
  );
  t.same(
    policy.bench?.levels.map((l) => l.prompt_set),
    ["short", "short", "client-first-request"],
    "a short prompt and a real client's first request",
  );
  for (const key of ["reboot", "soak", "bench", "recovery", "boot", "appliance"] as const)
    t.equal(policy[key]?.required, true, `${key} is required`);
  t.equal(policy.recovery?.max_seconds, 30, "INFER-04's 30 s");
});

t.test("the lab policy extends the release one and says it is a stand-in", async (t) => {
  const { policy, sources } = await loadPolicy(LAB);
  t.same(sources, [LAB, RELEASE]);
  t.equal(policy.name, "lab");
  t.match(policy.stand_in, /lab VM .*stand-in/);
  t.equal(policy.reboot?.cycles, 1, "overridden");
  t.equal(policy.soak?.reboots, 1, "overridden");
  t.equal(policy.recovery?.max_seconds, 30, "inherited");
  t.same(policy.checks?.must_pass, (await loadPolicy(RELEASE)).policy.checks?.must_pass, "inherited whole");
  t.equal(policy.bench?.levels.length, 2, "a list replaces the release's list");
  t.equal(policy.appliance?.version, "0.1.0");
});

t.test("a bad value names its key", async (t) => {
  const file = await policyFile(
    "bad-level.yaml",
    `name: x\nbench:\n  levels:\n    - ${LEVEL}\n    - { prompt_set: short, concurrency: 2, decode_tok_s_p50: 4, ttft_p90_ms: -1 }\n`,
  );
  const message = await loadError(file);
  t.match(message, /^invalid policy \(.*bad-level\.yaml\):/);
  t.match(message, /\npolicy\.bench\.levels\[1\]\.ttft_p90_ms: expected a positive number$/);

  const text = await loadError(await policyFile("text.yaml", `name: x\nrecovery: { max_seconds: fast }\n`));
  t.match(text, /policy\.recovery\.max_seconds: expected a positive number/);
  const concurrency = await loadError(
    await policyFile(
      "conc.yaml",
      `name: x\nbench: { levels: [{ prompt_set: short, concurrency: 1.5, decode_tok_s_p50: 1, ttft_p90_ms: 1 }] }\n`,
    ),
  );
  t.match(concurrency, /policy\.bench\.levels\[0\]\.concurrency: expected a positive whole number/);
  const sha = await loadError(
    await policyFile("sha.yaml", `name: x\nappliance: { version: 1, image_sha256: abc }\n`),
  );
  t.match(sha, /policy\.appliance\.version: expected the appliance version/);
  t.match(sha, /policy\.appliance\.image_sha256: expected 64 lowercase hex digits/);
});

t.test("a waiver without a written reason is a schema error", async (t) => {
  for (const [name, waiver] of [
    ["no-reason", "{ check: one.banner }"],
    ["empty-reason", '{ check: one.banner, reason: "  " }'],
  ] as const) {
    const file = await policyFile(
      `${name}.yaml`,
      `name: x\nchecks:\n  must_pass: [ONE-08]\n  waivers: [${waiver}]\n`,
    );
    t.match(
      await loadError(file),
      /policy\.checks\.waivers\[0\]\.reason: a waiver needs a written reason/,
      name,
    );
  }
});

t.test(
  "an unknown key, a policy with no clause, not YAML, not a mapping: each refused by name",
  async (t) => {
    t.match(
      await loadError(await policyFile("typo.yaml", `name: x\nbench: { levles: [] }\n`)),
      /policy\.bench\.levles: unknown key/,
    );
    t.match(
      await loadError(await policyFile("empty.yaml", `name: x\n`)),
      /names no clause: give at least one of checks/,
    );
    t.match(
      await loadError(await policyFile("broken.yaml", `name: [x\n`)),
      /broken\.yaml" is not valid YAML/,
    );
    t.match(await loadError(await policyFile("list.yaml", `- a\n`)), /list\.yaml" must be a YAML mapping/);
    t.match(await loadError(join(dir, "absent.yaml")), /cannot read policy ".*absent\.yaml"/);
  },
);

t.test("extends: relative to the file, deep merge, a missing base named with who extends it", async (t) => {
  await policyFile(
    "base.yaml",
    `name: base\nrecovery: { max_seconds: 30 }\nboot: { max_seconds_to_ready: 600 }\n`,
  );
  const child = await policyFile(
    "child.yaml",
    `extends: base.yaml\nname: child\nboot: { required: false }\n`,
  );
  const { policy, sources } = await loadPolicy(child);
  t.same(sources, [child, join(dir, "base.yaml")]);
  t.same(policy.boot, { required: false, max_seconds_to_ready: 600 }, "merged key by key");
  t.same(policy.recovery, { required: true, max_seconds: 30 });

  const orphan = await policyFile("orphan.yaml", `extends: nowhere.yaml\nname: o\n`);
  t.match(await loadError(orphan), /cannot read policy ".*nowhere\.yaml" \(extended by ".*orphan\.yaml"\)/);
  const bad = await policyFile("bad-extends.yaml", `extends: 3\nname: o\n`);
  t.match(await loadError(bad), /policy\.extends: expected the path of a base policy file/);

  t.same(deepMerge({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, e: 2 }), {
    a: { b: 1, c: [3] },
    d: 1,
    e: 2,
  });
});

t.test("extends: a loop and a chain deeper than the bound are refused", async (t) => {
  await policyFile("loop-a.yaml", `extends: loop-b.yaml\nname: a\n`);
  await policyFile("loop-b.yaml", `extends: loop-a.yaml\nname: b\n`);
  t.match(
    await loadError(join(dir, "loop-a.yaml")),
    /policy extends itself: .*loop-a\.yaml → .*loop-b\.yaml → .*loop-a\.yaml/,
  );
  await policyFile("self.yaml", `extends: ./self.yaml\nname: s\n`);
  t.match(await loadError(join(dir, "self.yaml")), /policy extends itself/);

  const depth = MAX_EXTENDS_DEPTH + 2;
  for (let i = 0; i < depth; i++)
    await policyFile(
      `chain-${i}.yaml`,
      `${i + 1 < depth ? `extends: chain-${i + 1}.yaml\n` : ""}name: c${i}\nrecovery: { max_seconds: 1 }\n`,
    );
  t.match(
    await loadError(join(dir, "chain-0.yaml")),
    new RegExp(`extends more than ${MAX_EXTENDS_DEPTH} levels deep`),
  );
  // The bound itself is allowed: a chain of exactly MAX_EXTENDS_DEPTH + 1 files loads.
  const ok = await loadPolicy(join(dir, `chain-${depth - MAX_EXTENDS_DEPTH - 1}.yaml`));
  t.equal(ok.sources.length, MAX_EXTENDS_DEPTH + 1);
});
