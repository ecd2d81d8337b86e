// The release build: the release and lab Packer templates share packer/scripts/ (no copies), the
// plugin block stays out of what Packer 1.6.6 loads, build.sh's guards fail the way they should
// (missing dependency, unverified pins, bad checksum), and build.sh runs end to end in the lab with
// LAB STAND-IN inputs (Debian lab base for the Ubuntu image, packaged fixtures for one-apps and
// one-context, the LocalAI stand-in and a generated model): compressed image, checksums that match,
// virtual size, filled marketplace YAML; a second run reuses every verified download.
import t from "tap";
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { appendFile, cp, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";

const ROOT = resolve(import.meta.dirname, "..");
const BUILD = join(ROOT, "build.sh");
const execFileAsync = promisify(execFile);

// One Packer build under TCG (about 2 minutes on 2 cores) plus the guards.
t.setTimeout(1_200_000);

interface Result {
  code: number | null;
  output: string;
  seconds: number;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Result> {
  const started = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", fail);
    child.on("close", (code) => done({ code, output, seconds: (Date.now() - started) / 1000 }));
  });
}

function hashFile(path: string, algorithm: "sha256" | "md5"): Promise<string> {
  return new Promise((done, fail) => {
    const hash = createHash(algorithm);
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", fail)
      .on("end", () => done(hash.digest("hex")));
  });
}

async function trackedFiles(): Promise<string[]> {
  const { stdout } = await execFileAsync("git", ["-C", ROOT, "ls-files", "-co", "--exclude-standard"], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout.split("\n").filter((line) => line !== "");
}

function scriptsReferenced(template: string): string[] {
  return [
    ...new Set([...template.matchAll(/packer\/scripts\/([A-Za-z0-9._-]+)/g)].map((m) => m[1] as string)),
  ].sort();
}

async function readTemplates(dir: string, exclude: string[] = []): Promise<string> {
  const names = (await readdir(join(ROOT, dir))).filter(
    (n) => n.endsWith(".pkr.hcl") && !exclude.includes(n),
  );
  return (await Promise.all(names.map((n) => readFile(join(ROOT, dir, n), "utf8")))).join("\n");
}

t.test("release and lab templates run the same packer/scripts/*, and no copy of them exists", async (t) => {
  const release = await readTemplates("packer/release");
  const lab = await readTemplates("packer/lab");
  const shared = (await readdir(join(ROOT, "packer/scripts"))).sort();
  t.ok(shared.length >= 2, `packer/scripts holds ${shared.join(", ")}`);
  t.same(scriptsReferenced(release), shared, "the release template runs every shared script");
  t.same(scriptsReferenced(lab), shared, "the lab template runs every shared script");
  const digests = new Map<string, string>();
  for (const name of shared) digests.set(await hashFile(join(ROOT, "packer/scripts", name), "sha256"), name);
  const copies: string[] = [];
  for (const file of await trackedFiles()) {
    if (file.startsWith("packer/scripts/") || file.startsWith("node_modules/")) continue;
    const path = join(ROOT, file);
    const sameName = shared.includes(basename(file));
    const sameContent = await hashFile(path, "sha256")
      .then((digest) => digests.has(digest))
      .catch(() => false);
    if (sameName || sameContent) copies.push(file);
  }
  t.same(copies, [], "no file elsewhere has the name or the content of a shared script");
  // The seam the lab swaps: only the one-context installer differs (stand-in package vs real .deb).
  t.match(release, /packer\/release\/scripts\/install-one-context\.sh/);
  t.match(lab, /packer\/lab\/install-lab-context\.sh/);
});

t.test(
  "required_plugins lives only in plugins.pkr.hcl, which Packer 1.6.6 refuses and lint leaves out",
  async (t) => {
    const plugins = await readFile(join(ROOT, "packer/release/plugins.pkr.hcl"), "utf8");
    t.match(plugins, /required_plugins\s*{[\s\S]*source\s*=\s*"github.com\/hashicorp\/qemu"/);
    const code = (await readTemplates("packer/release", ["plugins.pkr.hcl"])).replace(/^\s*#.*$/gm, "");
    t.notMatch(code, /required_plugins/, "no required_plugins block in the files Packer 1.6.6 loads");
    const lint = await run(join(ROOT, "scripts/lint.sh"), ["packer"]);
    t.equal(lint.code, 0, lint.output);
    const { stdout } = await execFileAsync("packer", ["version"]);
    if (!/v1\.6\./.test(stdout)) {
      t.comment(`packer ${stdout.trim()}: the 1.6.6 rejection is not observable here`);
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), "slmc-plugins-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await cp(join(ROOT, "packer/release"), dir, { recursive: true });
    const withPlugins = await run("packer", ["validate", "-syntax-only", dir]);
    t.not(withPlugins.code, 0, "Packer 1.6.6 rejects the directory WITH plugins.pkr.hcl");
    t.match(withPlugins.output, /required_plugins/);
  },
);

t.test(
  "build.sh guards: missing dependency, failed download, unverified pins (exit codes 3, 5, 2)",
  async (t) => {
    const bin = await mkdtemp(join(tmpdir(), "slmc-path-"));
    t.teardown(() => rm(bin, { recursive: true, force: true }));
    // Everything on PATH except packer.
    for (const dir of ["/usr/local/bin", "/usr/bin", "/bin"]) {
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (name === "packer") continue;
        await symlink(join(dir, name), join(bin, name)).catch(() => undefined);
      }
    }
    const inputs = await mkdtemp(join(tmpdir(), "slmc-guard-"));
    t.teardown(() => rm(inputs, { recursive: true, force: true }));
    const config = join(inputs, "ok.env");
    await writeFile(
      config,
      (await readFile(join(ROOT, "packer/release/release.env"), "utf8"))
        .replace(/VERIFY-BEFORE-RELEASE/g, "0".repeat(64))
        .replace(/SLMC_IMAGE_PUBLISH_URL=.*/, "SLMC_IMAGE_PUBLISH_URL=https://images.example.org/x.qcow2")
        .replace(/SLMC_PUBLISHER_EMAIL=.*/, "SLMC_PUBLISHER_EMAIL=a@example.org"),
    );
    const missing = await run(
      BUILD,
      ["--config", config, "--cache", join(inputs, "c"), "--output", join(inputs, "o")],
      {
        ...process.env,
        PATH: bin,
      },
    );
    t.equal(missing.code, 3, "exit 3: missing dependency");
    t.match(missing.output, /MISSING\s+packer/);
    t.match(missing.output, /install them with: sudo apt-get install -y packer/);
    t.match(missing.output, /ok\s+qemu-img\s+[0-9]+\.[0-9]+/, "present tools are listed with their versions");

    const unreachable = join(inputs, "unreachable.env");
    await writeFile(
      unreachable,
      (await readFile(config, "utf8")).replace(
        /SLMC_BASE_IMAGE_URL=.*/,
        `SLMC_BASE_IMAGE_URL=file://${inputs}/no-such.img`,
      ),
    );
    const failed = await run(BUILD, [
      "--config",
      unreachable,
      "--cache",
      join(inputs, "c"),
      "--output",
      join(inputs, "o"),
    ]);
    t.equal(failed.code, 5, "exit 5: the download failed");
    t.match(failed.output, /base image: download of file:\/\/.*no-such\.img failed/);

    const unverified = await run(BUILD, ["--cache", join(inputs, "c"), "--output", join(inputs, "o")]);
    t.equal(unverified.code, 2, "exit 2: the pinned release.env still says VERIFY-BEFORE-RELEASE");
    t.match(
      unverified.output,
      /refusing to build with unverified pins .*SLMC_BASE_IMAGE_SHA256=VERIFY-BEFORE-RELEASE/,
    );
    t.match(unverified.output, /SLMC_MODEL_SHA256=VERIFY-BEFORE-RELEASE/);
  },
);

const skipLab = process.env.SLMC_SKIP_LAB === "1";

t.test(
  "build.sh end to end in the lab with STAND-IN inputs, then resumed",
  { skip: skipLab && "SLMC_SKIP_LAB=1" },
  async (t) => {
    const work = await mkdtemp(join(tmpdir(), "slmc-release-"));
    t.teardown(() => rm(work, { recursive: true, force: true }));
    const made = await run(join(ROOT, "packer/lab/make-release-inputs.sh"), [join(work, "inputs")]);
    t.equal(made.code, 0, made.output);
    const config = join(work, "inputs/lab-stand-in.env");
    const cache = join(work, "cache");
    const out = join(work, "out");
    const args = ["--config", config, "--cache", cache, "--output", out];

    // A download whose sha256 differs from the pin is refused (exit 4) and not kept.
    const bad = join(work, "bad.env");
    const env = await readFile(config, "utf8");
    await writeFile(bad, env.replace(/^SLMC_ONE_APPS_SHA256=.*$/m, `SLMC_ONE_APPS_SHA256=${"f".repeat(64)}`));
    const refused = await run(BUILD, [
      "--config",
      bad,
      "--cache",
      join(work, "bad-cache"),
      "--output",
      join(work, "bad-out"),
    ]);
    t.equal(refused.code, 4, "exit 4: checksum mismatch");
    t.match(
      refused.output,
      /one-apps: checksum mismatch for file:\/\/.*expected sha256 f{64}, got [0-9a-f]{64}; the file was deleted, nothing was built/,
    );
    t.notOk(
      (await readdir(join(work, "bad-cache/downloads"))).some((n) => n.startsWith("one-apps")),
      "the bad download is not in the cache",
    );
    await rm(join(work, "bad-cache"), { recursive: true, force: true });

    const first = await run(BUILD, args);
    t.equal(first.code, 0, first.output.slice(-4000));
    t.comment(`first build: ${first.seconds.toFixed(0)} s`);
    for (const step of [1, 2, 3, 4, 5, 6, 7, 8, 9])
      t.match(first.output, new RegExp(`== \\[${step}/9\\]`), `step ${step} ran`);
    t.match(first.output, /profile lab-stand-in: STAND-IN inputs/, "says its inputs are stand-ins up front");
    t.match(first.output, /STAND-IN build, NOT a release image/, "and in its final report");
    t.match(first.output, /cloud-init seed: attached, but the lab-stand-in base has no cloud-init/);
    t.match(first.output, /install-one-context: one-context-lab-stand-in 0.0.0-lab installed/);
    t.match(first.output, /pre-warm: model loaded/, "service install ran in the build VM");
    t.match(first.output, /cleanup: build key, host keys, machine-id, apt caches and logs removed/);

    const image = join(out, "slm-copilot-LAB-STAND-IN-0.1.0.qcow2");
    const sha256 = await hashFile(image, "sha256");
    const md5 = await hashFile(image, "md5");
    t.equal(
      await readFile(`${image}.sha256`, "utf8"),
      `${sha256}  ${basename(image)}\n`,
      "sha256 file matches the image",
    );
    t.equal(
      await readFile(`${image}.md5`, "utf8"),
      `${md5}  ${basename(image)}\n`,
      "md5 file matches the image",
    );
    const make = await run("make", ["--no-print-directory", "checksum", `BUILD_OUT=${out}`]);
    t.equal(make.code, 0, make.output);
    t.match(make.output, /qcow2: OK[\s\S]*qcow2: OK/, "make checksum verifies sha256 and md5");

    const { stdout: info } = await execFileAsync("qemu-img", ["info", "--output=json", image]);
    const virtualSize = (JSON.parse(info) as { "virtual-size": number })["virtual-size"];
    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8")) as Record<
      string,
      unknown
    >;
    t.equal(manifest.virtual_size, virtualSize, `manifest virtual size ${virtualSize} = qemu-img's`);
    t.match(
      first.output,
      new RegExp(`virtual size ${virtualSize} bytes`),
      "build.sh reports the virtual size it measured",
    );
    t.equal(manifest.sha256, sha256);
    t.equal(manifest.profile, "lab-stand-in");
    t.match(manifest.stand_ins, /Debian bookworm lab image/);
    const packerImage = join(cache, "packer-output/slm-copilot-LAB-STAND-IN.qcow2");
    const { stdout: raw } = await execFileAsync("qemu-img", ["info", "--output=json", packerImage]);
    const rawSize = (JSON.parse(raw) as { "actual-size": number })["actual-size"];
    t.ok(
      (manifest.file_size as number) < rawSize * 0.8,
      `compressed ${manifest.file_size} bytes < 80% of Packer's ${rawSize}`,
    );

    const listingName = (await readdir(out)).find((n) => n.endsWith(".yaml")) ?? "missing.yaml";
    const listing = parse(await readFile(join(out, listingName), "utf8")) as {
      images: { size: number; checksum: { sha256: string; md5: string } }[];
    };
    t.same(
      listing.images[0],
      { ...listing.images[0], size: virtualSize, checksum: { sha256, md5 } },
      "listing filled",
    );
    const release = await run("node", [
      "--import",
      "tsx",
      "scripts/marketplace.ts",
      "check",
      "--release",
      join(out, listingName),
    ]);
    t.equal(release.code, 0, release.output);

    // Resumable: the second run reuses the verified downloads (and the Packer image, inputs unchanged).
    const second = await run(BUILD, args);
    t.equal(second.code, 0, second.output.slice(-3000));
    t.comment(`second run: ${second.seconds.toFixed(1)} s`);
    for (const name of ["base image", "one-apps", "one-context"]) {
      t.match(second.output, new RegExp(`${name}: reusing verified download`), `${name} reused`);
    }
    t.notMatch(second.output, /downloading/, "nothing downloaded again");
    t.match(second.output, /Packer: reusing/);
    t.ok(second.seconds < 60, `second run took ${second.seconds.toFixed(1)} s`);
    t.equal(await hashFile(image, "sha256"), sha256, "same artifact");

    // A cached download that no longer verifies is fetched again, not trusted.
    const cachedOneApps = join(
      cache,
      "downloads",
      (await readdir(join(cache, "downloads"))).find((n) => n.startsWith("one-apps")) ?? "x",
    );
    await appendFile(cachedOneApps, "tampered");
    const third = await run(BUILD, args);
    t.equal(third.code, 0, third.output.slice(-3000));
    t.match(third.output, /one-apps: cached .* no longer matches its sha256; downloading again/);
    t.match(third.output, /one-apps: verified sha256/);
  },
);
