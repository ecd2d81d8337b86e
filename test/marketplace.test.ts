// The marketplace listing (marketplace/<uuid>.yaml) and the certification harness files: the checked-in
// draft passes the schema, the release mode refuses its placeholders, build.sh's `fill` produces a
// listing the release mode accepts, and each rule of the schema rejects the mistake it exists for.
import t from "tap";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import {
  applianceParams,
  consistencyIssues,
  harnessMetadataSchema,
  listingSchema,
  userInput,
  type Listing,
} from "../src/schemas/marketplace.ts";

const ROOT = resolve(import.meta.dirname, "..");
const DIR = join(ROOT, "marketplace");
const listingFile = join(
  DIR,
  (await readdir(DIR)).find((name) => /^[0-9a-f-]{36}\.yaml$/.test(name)) ?? "missing",
);
const draft: unknown = parse(await readFile(listingFile, "utf8"));
const params = applianceParams(await readFile(join(ROOT, "appliance/appliance.sh"), "utf8"));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Result> {
  return new Promise((done) => {
    execFile(
      "node",
      ["--import", "tsx", join(ROOT, "scripts/marketplace.ts"), ...args],
      { cwd: ROOT },
      (error, stdout, stderr) =>
        done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const FILL = {
  url: "https://images.example.org/slm-copilot-0.1.0.qcow2",
  sha256: "a".repeat(64),
  md5: "b".repeat(32),
  size: String(25 * 1024 ** 3),
  version: "0.1.0-release-20261122",
  "creation-time": "1795305600",
  "publisher-email": "maintainers@example.org",
};

function fillArgs(overrides: Partial<typeof FILL> = {}): string[] {
  return Object.entries({ ...FILL, ...overrides }).flatMap(([key, value]) => [`--${key}`, value]);
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

t.test("the checked-in listing passes in draft mode and names every appliance parameter", async (t) => {
  t.ok(params.length >= 6, `appliance.sh declares ${params.length} parameters`);
  t.ok(
    params.every((p) => p.startsWith("ONEAPP_COPILOT_")),
    "all ONEAPP_COPILOT_*",
  );
  const parsed = listingSchema("draft").safeParse(draft);
  t.ok(parsed.success, parsed.success ? "draft valid" : JSON.stringify(parsed.error.issues));
  const result = await cli("check");
  t.equal(result.code, 0, result.stderr);
  const listing = draft as Listing;
  const tpl = listing.opennebula_template;
  t.equal(tpl.cpu_model.model, "host-passthrough");
  t.equal(tpl.memory, "32768", "32 GB RAM");
  t.equal(tpl.vcpu, "16", "16 vCPU");
  t.match(listing.description, /50 GB/, "the description asks for the 50 GB disk");
  t.same(
    Object.keys(tpl.user_inputs)
      .map((k) => k.toUpperCase())
      .sort(),
    [...params].sort(),
    "a user input per parameter",
  );
});

t.test("release mode refuses the checked-in placeholders, one issue per field", async (t) => {
  const parsed = listingSchema("release").safeParse(draft);
  t.notOk(parsed.success);
  const paths = parsed.success ? [] : parsed.error.issues.map((issue) => issue.path.join("."));
  for (const field of [
    "version",
    "publisher_email",
    "creation_time",
    "images.0.url",
    "images.0.size",
    "images.0.checksum.sha256",
    "images.0.checksum.md5",
  ]) {
    t.ok(paths.includes(field), `${field} flagged`);
  }
  const result = await cli("check", "--release");
  t.equal(result.code, 1);
  t.match(result.stderr, /images\.0\.checksum\.sha256/);
});

t.test("fill writes a listing the release mode accepts, with the values given", async (t) => {
  const out = join(await mkdtemp(join(tmpdir(), "slmc-market-")), "filled.yaml");
  const result = await cli("fill", listingFile, out, ...fillArgs());
  t.equal(result.code, 0, result.stderr);
  const filled = parse(await readFile(out, "utf8")) as Listing;
  t.equal(filled.images[0]?.checksum.sha256, FILL.sha256);
  t.equal(filled.images[0]?.size, 25 * 1024 ** 3, "size is a number");
  t.equal(filled.creation_time, 1795305600);
  t.equal((await cli("check", "--release", out)).code, 0, "release check of the filled copy");
  t.match(await readFile(out, "utf8"), /# Community marketplace listing/, "comments kept");
});

t.test("fill refuses bad values, and the release mode refuses any leftover placeholder", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-market-"));
  const badSha = await cli(
    "fill",
    listingFile,
    join(dir, "a.yaml"),
    ...fillArgs({ sha256: "not-a-checksum" }),
  );
  t.equal(badSha.code, 1);
  t.match(badSha.stderr, /checksum\.sha256: 64 hex digits/);
  const badSize = await cli("fill", listingFile, join(dir, "b.yaml"), ...fillArgs({ size: "25G" }));
  t.equal(badSize.code, 2);
  t.match(badSize.stderr, /IMAGE_VIRTUAL_SIZE@@ must be a whole number/);
  const missing = await cli("fill", listingFile, join(dir, "c.yaml"), "--url", FILL.url);
  t.equal(missing.code, 2);
  const leftover = join(dir, "leftover.yaml");
  const ok = join(dir, "ok.yaml");
  t.equal((await cli("fill", listingFile, ok, ...fillArgs())).code, 0);
  await writeFile(leftover, (await readFile(ok, "utf8")).replace("Devstral Small 2 24B", "@@MODEL@@"));
  const result = await cli("check", "--release", leftover);
  t.equal(result.code, 1);
  t.match(result.stderr, /description: placeholder left in a release listing/);
});

t.test("each listing rule rejects its mistake", async (t) => {
  const base = draft as Listing;
  const cases: [string, (l: Listing) => void, RegExp][] = [
    [
      "no host-passthrough",
      (l) => ((l.opennebula_template.cpu_model as { model: string }).model = "qemu64"),
      /cpu_model/,
    ],
    [
      "literal context value",
      (l) => (l.opennebula_template.context.oneapp_copilot_domain = "example.org"),
      /must reference \$ONEAPP_COPILOT_DOMAIN/,
    ],
    ["no SSH key in context", (l) => delete l.opennebula_template.context.ssh_public_key, /SSH_PUBLIC_KEY/],
    [
      "input missing from inputs_order",
      (l) => (l.opennebula_template.inputs_order = "ONEAPP_COPILOT_PASSWORD"),
      /is missing/,
    ],
    [
      "context variable without input",
      (l) => delete l.opennebula_template.user_inputs.oneapp_copilot_threads,
      /without a user input/,
    ],
    ["not sovereign", (l) => (l.description = "x".repeat(300)), /European sovereign/],
    ["unknown top-level field", (l) => ((l as Record<string, unknown>).disks = []), /disks/],
    [
      "DISK in the template",
      (l) => ((l.opennebula_template as Record<string, unknown>).disk = { size: "51200" }),
      /second, image-less disk/,
    ],
  ];
  for (const [name, mutate, expected] of cases) {
    const listing = clone(base);
    mutate(listing);
    const parsed = listingSchema("draft").safeParse(listing);
    t.notOk(parsed.success, name);
    t.match(parsed.success ? "" : JSON.stringify(parsed.error.issues), expected, name);
  }
});

t.test("user inputs: five fields, known types, list options without commas in labels, ranges", async (t) => {
  t.ok(userInput.safeParse("O|text|A description| |").success);
  t.ok(userInput.safeParse("O|list|Size|8192,16384,32768|32768").success);
  t.ok(userInput.safeParse("O|range|Context|2048..262144|32768").success);
  t.notOk(
    userInput.safeParse("O|list|Size|32768 (32K, default),8192|8192").success,
    "label with a comma and spaces",
  );
  t.notOk(userInput.safeParse("O|list|Size|8192,16384|4096").success, "default not an option");
  t.notOk(userInput.safeParse("O|range|Context|2048..262144|1024").success, "default outside range");
  t.notOk(userInput.safeParse("O|text|missing a field|").success, "four fields");
  t.notOk(userInput.safeParse("X|text|d| |").success, "neither M nor O");
  t.notOk(userInput.safeParse("O|color|d| |").success, "unknown type");
});

t.test("cross-file consistency: appliance parameters, harness params and context.yaml", async (t) => {
  const listing = draft as Listing;
  const harness = harnessMetadataSchema.parse(parse(await readFile(join(DIR, "metadata.yaml"), "utf8")));
  const context = parse(await readFile(join(DIR, "context.yaml"), "utf8")) as Record<string, unknown>;
  t.same(consistencyIssues(listing, params, harness, context), [], "the checked-in files agree");
  const issues = consistencyIssues(listing, [...params, "ONEAPP_COPILOT_NEW"], harness, {
    ...context,
    ONEAPP_TYPO: "",
  });
  t.match(issues.join("\n"), /ONEAPP_COPILOT_NEW \(appliance.sh\) has no user input/);
  t.match(issues.join("\n"), /context.yaml ONEAPP_TYPO/);
  const doubled = clone(harness);
  doubled[":app"][":context"][":params"][":ONEAPP_COPILOT_THREADS"] = "2";
  t.match(
    consistencyIssues(listing, params, doubled, context).join("\n"),
    /becomes ONEAPP_ONEAPP_COPILOT_THREADS/,
  );
});
