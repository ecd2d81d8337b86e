// `scripts/marketplace.ts fill --evidence DIR`: the listing is filled only from a gate bundle that
// verifies, whose verdict passed and whose image is the built one; each refusal exits 1, says why and
// writes no listing. The bundles are written here with writeBundle from the gate's test evidence.
import t from "tap";
import { execFile } from "node:child_process";
import { access, appendFile, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { writeBundle } from "../src/gate/bundle.ts";
import { evaluate, type GateInputs } from "../src/gate/evaluate.ts";
import { healthyInputs, SHA, testPolicy } from "./gate-fixtures.ts";

const ROOT = resolve(import.meta.dirname, "..");
const DIR = join(ROOT, "marketplace");
const TEMPLATE = join(DIR, (await readdir(DIR)).find((n) => /^[0-9a-f-]{36}\.yaml$/.test(n)) ?? "missing");
const work = await mkdtemp(join(tmpdir(), "slmc-market-evidence-"));
t.teardown(() => rm(work, { recursive: true, force: true }));
const runFile = promisify(execFile);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await runFile(
      "node",
      ["--import", "tsx", join(ROOT, "scripts/marketplace.ts"), ...args],
      { cwd: ROOT, timeout: 60_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

let serial = 0;
async function bundle(inputs: GateInputs = healthyInputs()): Promise<string> {
  const out = join(work, `bundle-${++serial}`);
  const policy = testPolicy();
  await writeBundle(out, {
    verdict: evaluate(policy, inputs, ["/p/release-policy.yaml"]),
    policy: { policy, sources: ["/p/release-policy.yaml"] },
    inputs,
    tool: { name: "slmc-check", version: "9.9.9", runtime: "node" },
  });
  return out;
}

const checksumFile = join(work, "slm-copilot-0.1.0.qcow2.sha256");
await writeFile(checksumFile, `${SHA}  slm-copilot-0.1.0.qcow2\n`);

function fill(out: string, evidence: string, ...extra: string[]): Promise<Result> {
  return cli(
    "fill",
    TEMPLATE,
    out,
    "--url",
    "https://images.example.org/slm-copilot-0.1.0.qcow2",
    "--md5",
    "b".repeat(32),
    "--size",
    String(25 * 1024 ** 3),
    "--version",
    "0.1.0-release-20261130",
    "--creation-time",
    "1796030000",
    "--publisher-email",
    "maintainers@example.org",
    "--evidence",
    evidence,
    "--checksum-file",
    checksumFile,
    ...extra,
  );
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

t.test("a verified, passing bundle of the built image fills the listing with its sha256", async (t) => {
  const out = join(work, "filled.yaml");
  const result = await fill(out, await bundle());
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /evidence bundle .* verifies, its verdict passed, its image is a{64}/);
  const listing = parse(await readFile(out, "utf8")) as { images: { checksum: { sha256: string } }[] };
  t.equal(
    listing.images[0]?.checksum.sha256,
    SHA,
    "the sha256 comes from the checksum file the gate matched",
  );
});

t.test("a bundle that does not verify is refused, naming the tampered file", async (t) => {
  const evidence = await bundle();
  await appendFile(join(evidence, "verdict.json"), " ");
  const out = join(work, "tampered.yaml");
  const result = await fill(out, evidence);
  t.equal(result.code, 1);
  t.match(result.stderr, /refusing to fill .* from the evidence bundle/);
  t.match(result.stderr, /does not verify .*\n.*modified verdict\.json/);
  t.notOk(await exists(out), "no listing written");
});

t.test("a bundle whose verdict failed is refused, naming the failed clauses", async (t) => {
  const inputs = healthyInputs();
  inputs.build!.version = "0.0.9";
  const out = join(work, "failed.yaml");
  const result = await fill(out, await bundle(inputs));
  t.equal(result.code, 1);
  t.match(result.stderr, /the gate's verdict in .* did not pass \(policy test; failed: appliance\.version\)/);
  t.notOk(await exists(out));
});

t.test("a bundle of another image, or of no identified image, is refused", async (t) => {
  const other = healthyInputs();
  other.manifest!.sha256 = "c".repeat(64);
  const out = join(work, "other.yaml");
  // The policy pins SHA: this verdict also fails; the image mismatch is reported on its own line.
  let result = await fill(out, await bundle(other));
  t.equal(result.code, 1);
  t.match(result.stderr, /the gated image has sha256 c{64} \(build .*\), the built image has a{64}/);

  const unidentified = healthyInputs();
  delete unidentified.manifest;
  result = await fill(out, await bundle(unidentified));
  t.equal(result.code, 1);
  t.match(result.stderr, /names no image: the gate ran without --build-manifest/);
  t.notOk(await exists(out));
});

t.test("usage: --evidence needs the checksum file, and --sha256 must agree with it", async (t) => {
  const evidence = await bundle();
  const out = join(work, "usage.yaml");
  const noChecksum = await cli("fill", TEMPLATE, out, "--evidence", evidence);
  t.equal(noChecksum.code, 2);
  t.match(noChecksum.stderr, /fill --evidence needs --checksum-file/);
  const disagree = await fill(out, evidence, "--sha256", "d".repeat(64));
  t.equal(disagree.code, 2);
  t.match(disagree.stderr, /--sha256 d{64} is not the checksum file's a{64}/);
  t.notOk(await exists(out));
});
