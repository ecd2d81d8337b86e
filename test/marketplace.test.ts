// The marketplace listing (marketplace/<uuid>.yaml) and the certification harness files: the checked-in
// draft passes the schema, the release mode refuses its placeholders, build.sh's `fill` produces a
// listing the release mode accepts, and each rule of the schema rejects the mistake it exists for.
import t from "tap";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer, type AddressInfo } from "node:net";
import { join, relative, resolve } from "node:path";
import { parse } from "yaml";
import {
  applianceParams,
  consistencyIssues,
  harnessMetadataSchema,
  listingSchema,
  userInput,
  type Listing,
} from "../src/schemas/marketplace.ts";
import { listedSpecs, runMarketplaceSpecs, SHIM, specListProblems } from "./marketplace-rspec/run.ts";

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

// The tests share no state and mostly wait on child processes and sockets: they run side by side.
t.jobs = 4;

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

// The certification specs (marketplace/tests.yaml, marketplace/tests/*) without a VM: they parse, the
// list names exactly the files present, and the vm_handler shim offers what they call. The lab test runs
// them against the appliance (test/lab.test.ts, "marketplace certification specs").
const ruby = await new Promise<boolean>((done) => execFile("ruby", ["--version"], (error) => done(!error)));
const rspec = await new Promise<boolean>((done) => execFile("rspec", ["--version"], (error) => done(!error)));
const SPEC_DIR = join(DIR, "tests");

function rubyCheck(file: string): Promise<Result> {
  return new Promise((done) =>
    execFile("ruby", ["-wc", file], (error, stdout, stderr) =>
      done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

t.test("tests.yaml lists exactly the spec files in marketplace/tests", async (t) => {
  const present = (await readdir(SPEC_DIR)).filter((name) => name.endsWith(".rb"));
  t.ok(present.length > 0, "there is a spec file");
  t.same(specListProblems(await listedSpecs(), present), [], "tests.yaml and tests/ agree");
  t.same(specListProblems(["00-a.rb", "00-a.rb"], ["00-a.rb", "01-b.rb"]), [
    "tests/01-b.rb is not listed in tests.yaml, so it never runs",
    "tests.yaml lists 00-a.rb more than once",
  ]);
  t.same(specListProblems(["00-gone.rb"], []), ["tests.yaml lists 00-gone.rb, which is not in tests/"]);
  const dir = await mkdtemp(join(tmpdir(), "slmc-market-"));
  await writeFile(join(dir, "tests.yaml"), "00-a.rb: yes\n");
  await t.rejects(listedSpecs(dir), /tests\.yaml must be a YAML list of file names/);
});

t.test(
  "the spec files and the shim parse (ruby -c)",
  { skip: ruby ? false : "ruby not installed: apt-get install ruby-rspec" },
  async (t) => {
    const files = [
      ...(await readdir(SPEC_DIR)).filter((name) => name.endsWith(".rb")).map((name) => join(SPEC_DIR, name)),
      SHIM,
    ];
    for (const file of files) {
      const result = await rubyCheck(file);
      t.equal(result.code, 0, `${file}: ${result.stderr}`);
      t.equal(result.stderr, "", `${file}: no warnings`);
    }
    const broken = join(await mkdtemp(join(tmpdir(), "slmc-market-")), "broken.rb");
    await writeFile(broken, (await readFile(files[0] ?? "", "utf8")).replace(/\nend\s*$/, "\n"));
    t.not((await rubyCheck(broken)).code, 0, "a spec missing its last `end` is refused");
  },
);

t.test("the shim offers what the specs call, with clitester's signatures", async (t) => {
  const shim = await readFile(SHIM, "utf8");
  const defs: Record<string, string[]> = {};
  // Public methods of each class of the shim: its defs and attr_readers, up to `private`.
  for (const [, name, body] of shim.matchAll(/class (\w+)\n([\s\S]*?)\n {4}end\n/g)) {
    const open = (body as string).split(/^ {8}private$/m)[0] as string;
    defs[name as string] = [
      ...[...open.matchAll(/^ {8}def (?:self\.)?(\w+[?!]?)/gm)].map((m) => m[1] as string),
      ...[...open.matchAll(/^ {8}attr_reader (.*)$/gm)].flatMap((m) =>
        (m[1] as string).split(",").map((s) => s.trim().replace(/^:/, "")),
      ),
    ];
  }
  t.ok(defs.VM?.includes("ssh"), "VM#ssh");
  t.ok(defs.SafeExec?.includes("run"), "SafeExec.run");
  t.match(
    shim,
    /def ssh\(cmd, _stderr = false, options = \{\}, user = 'root', _xpath_ip = ''\)/,
    "VM#ssh(cmd, stderr, options, user, xpath_ip) as in clitester's VM.rb",
  );
  t.match(shim, /RSpec\.shared_context 'vm_handler'/, "the shared context the specs include");
  const specs = await Promise.all(
    (await readdir(SPEC_DIR))
      .filter((n) => n.endsWith(".rb"))
      .map((n) => readFile(join(SPEC_DIR, n), "utf8")),
  );
  for (const spec of specs) {
    t.match(
      spec,
      /^require_relative '\.\.\/\.\.\/\.\.\/lib\/community\/app_handler'/,
      "loads app_handler as the harness lays it out",
    );
    t.match(spec, /include_context\('vm_handler'\)/);
    for (const [, method] of spec.matchAll(/@info\[:vm\]\.(\w+[?!]?)/g))
      t.ok(defs.VM?.includes(method as string), `@info[:vm].${method} is defined by the shim`);
    for (const [, method] of spec.matchAll(
      /\.(stdout|stderr|status|exitstatus|success\?|fail\?|expect_success|expect_fail)\b/g,
    ))
      t.ok(defs.SafeExec?.includes(method as string), `result.${method} is defined by the shim`);
  }
});

t.test(
  "against an unreachable VM every example runs and fails on SSH, none on a missing method",
  { skip: rspec ? false : "rspec not installed: apt-get install ruby-rspec" },
  async (t) => {
    const closedPort = await new Promise<number>((done) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => done(port));
      });
    });
    const key = join(await mkdtemp(join(tmpdir(), "slmc-market-")), "key");
    await writeFile(key, "not a key\n");
    const started = Date.now();
    const run = await runMarketplaceSpecs({ sshPort: String(closedPort), sshKey: key, timeoutMs: 120_000 });
    t.equal(run.problem, "", run.output.slice(-2000));
    t.equal(run.examples.length, 9, run.summary);
    t.not(run.code, 0, "rspec exits non-zero");
    for (const example of run.examples) {
      t.equal(example.status, "failed", `${example.description} fails`);
      t.match(
        example.exceptionClass,
        /^(RSpec::Expectations::ExpectationNotMetError|RuntimeError)$/,
        `${example.description}: an expectation or the spec's own verdict, not a broken interface: ${example.exceptionClass}: ${example.message}`,
      );
    }
    t.match(
      run.examples[0]?.message,
      /SSH into the VM failed 3 times in a row \(exit 255\)/,
      "the deploy wait gives up on a VM that stopped answering SSH",
    );
    t.match(
      run.examples[1]?.message,
      /local-ai\.service is nothing \(the command exited 255: .*Connection refused/,
      "a failed command is named with its exit status",
    );
    t.ok(Date.now() - started < 60_000, "and does not sit out the deploy budget");

    const noPort = await runMarketplaceSpecs({ sshPort: "", sshKey: key, timeoutMs: 60_000 });
    t.equal(noPort.examples.length, 9);
    t.ok(
      noPort.examples.every((e) => /LAB_SSH_PORT must be a port number, not ""/.test(e.message)),
      `the shim names the missing setting: ${noPort.examples[0]?.message}`,
    );
  },
);

t.test(
  "the shim's commands are bounded: a timeout ends them, output is capped",
  { skip: ruby ? false : "ruby not installed: apt-get install ruby-rspec" },
  async (t) => {
    const top = await mkdtemp(join(tmpdir(), "slmc-market-"));
    await mkdir(join(top, "tests"), { recursive: true });
    await writeFile(join(top, "metadata.yaml"), await readFile(join(DIR, "metadata.yaml"), "utf8"));
    const probe = join(top, "tests", "probe.rb");
    await writeFile(
      probe,
      `require_relative ${JSON.stringify(relative(join(top, "tests"), SHIM).replace(/\.rb$/, ""))}
started = Time.now
slow = SafeExec.run('sleep 20 | cat', 1, 1, true)
puts "slow #{slow.exitstatus} #{slow.stdout.inspect} #{(Time.now - started).round} #{slow.stderr}"
big = SafeExec.run('head -c 10000000 /dev/zero')
puts "big #{big.exitstatus} #{big.stdout.bytesize}"
`,
    );
    const result = await new Promise<Result>((done) =>
      execFile("ruby", [probe], { timeout: 60_000 }, (error, stdout, stderr) =>
        done({ code: error ? 1 : 0, stdout, stderr }),
      ),
    );
    t.equal(result.code, 0, result.stderr);
    t.match(
      result.stdout,
      /^slow -1 nil [12] Timeout Reached for: 'sleep 20 | cat'$/m,
      "killed after its 1 s timeout, status -1, no stdout (as SafeExec)",
    );
    t.match(result.stdout, /^big 0 4194304$/m, "10 MB of output: 4 MiB kept, the rest drained");
  },
);
