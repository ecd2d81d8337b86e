// The release build: the release and lab Packer templates share packer/scripts/ (no copies), the
// plugin block stays out of what Packer 1.6.6 loads, build.sh's guards fail the way they should
// (missing dependency, unverified pins, bad checksum), and build.sh runs end to end in the lab with
// LAB STAND-IN inputs (Debian lab base for the Ubuntu image, packaged fixtures for one-apps and
// one-context, the LocalAI stand-in and a generated model): compressed image, checksums that match,
// virtual size, filled marketplace YAML; a second run reuses every verified download; the image boots
// and passes slmc-check's HTTPS suites. On that one VM (SSH through the context's SSH_PUBLIC_KEY) the
// release flow follows: the gate with the lab policy, gate --verify, the listing filled from the bundle
// by build.sh --evidence; then tune, and a fleet run of the VM beside a healthy and a failing simulator.
import t, { type Test } from "tap";
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { appendFile, cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import type { TuneOutcome } from "../src/commands/tune.ts";
import type { Verdict } from "../src/gate/evaluate.ts";
import type { FleetReport } from "../src/reporters/fleet.ts";
import { labEntry, simulatorEntry, writeInventory } from "./fleet-inventory.ts";
import { simulator } from "./helpers.ts";
import { runProcess, type Run } from "./spawn.ts";

const ROOT = resolve(import.meta.dirname, "..");
const BUILD = join(ROOT, "build.sh");
const SLMC = join(ROOT, "dist/slmc-check");
const execFileAsync = promisify(execFile);
/** The password the built image's context sets (masked in every evidence file). */
const BOOT_PASSWORD = "release-boot-pw-1";

// One Packer build under TCG (about 2 minutes on 2 cores), one boot of the result on which the gate
// (a reboot, a soak with one more), tune and a fleet run follow, plus the guards.
t.setTimeout(2_400_000);

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

/** The compiled slmc-check with PATH only, killed after killAfterS (each step has its own bound). */
function slmcCheck(args: string[], killAfterS: number): Promise<Run> {
  return runProcess(SLMC, args, { NO_COLOR: "1" }, killAfterS * 1000);
}

async function newKey(path: string, comment: string): Promise<void> {
  await execFileAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
}

/** ssh to root on the VM's forwarded port with this key only, no agent, no host key kept. */
function sshArgs(key: string, port: number): string[] {
  return [
    ...["-i", key, "-p", String(port), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"],
    ...["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10"],
    "root@127.0.0.1",
  ];
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function hashFile(path: string, algorithm: "sha256" | "md5"): Promise<string> {
  return new Promise((done, fail) => {
    const hash = createHash(algorithm);
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", fail)
      .on("end", () => done(hash.digest("hex")));
  });
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
  });
}

interface BootedImage {
  https: number;
  http: number;
  ssh: number;
  engine: number;
  secondsToHealthy: number;
}

// Boots the built image the way OpenNebula would (CONTEXT CD-ROM with the operator's SSH_PUBLIC_KEY, no
// outbound network), with the lab base's external kernel (the Debian stand-in keeps it outside the
// image), and waits for /health.
async function bootImage(
  t: Test,
  image: string,
  work: string,
  env: Record<string, string>,
  sshPublicKey: string,
): Promise<BootedImage> {
  const dir = join(work, "boot");
  await mkdir(join(dir, "ctx"), { recursive: true });
  await writeFile(
    join(dir, "ctx/context.sh"),
    "# Context variables generated by OpenNebula (slmc release-build test)\nNETWORK='YES'\n" +
      `SSH_PUBLIC_KEY='${sshPublicKey.trim()}'\nONEAPP_COPILOT_PASSWORD='${BOOT_PASSWORD}'\n`,
  );
  await execFileAsync("genisoimage", [
    "-quiet",
    "-o",
    join(dir, "context.iso"),
    "-V",
    "CONTEXT",
    "-J",
    "-R",
    join(dir, "ctx"),
  ]);
  await execFileAsync("qemu-img", [
    "create",
    "-q",
    "-f",
    "qcow2",
    "-F",
    "qcow2",
    "-b",
    image,
    join(dir, "disk.qcow2"),
  ]);
  const [https, http, ssh, engine] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const pidfile = join(dir, "qemu.pid");
  t.teardown(async () => {
    const pid = Number(await readFile(pidfile, "utf8").catch(() => "0"));
    if (pid > 0) {
      try {
        process.kill(pid);
      } catch {
        // already gone
      }
    }
  });
  const started = Date.now();
  // 6 GiB: host.memory-disk wants the model, its KV cache at the default 32768 tokens (2.66 GiB) and
  // 2 GiB of runtime, as on a real VM (4 GiB fails it).
  await execFileAsync("qemu-system-x86_64", [
    ...[
      "-accel",
      env.SLMC_PACKER_ACCELERATOR ?? "tcg",
      "-cpu",
      "max",
      "-smp",
      "2",
      "-m",
      "6144",
      "-display",
      "none",
      "-vga",
      "none",
    ],
    ...["-daemonize", "-pidfile", pidfile, "-serial", `file:${join(dir, "serial.log")}`],
    ...[
      "-kernel",
      env.SLMC_BUILD_KERNEL ?? "",
      "-initrd",
      env.SLMC_BUILD_INITRD ?? "",
      "-append",
      "root=/dev/vda rw console=ttyS0",
    ],
    ...[
      "-drive",
      `file=${join(dir, "disk.qcow2")},if=virtio,format=qcow2`,
      "-cdrom",
      join(dir, "context.iso"),
    ],
    "-netdev",
    `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${https}-:443,hostfwd=tcp:127.0.0.1:${http}-:80,hostfwd=tcp:127.0.0.1:${ssh}-:22,hostfwd=tcp:127.0.0.1:${engine}-:8080`,
    ...["-device", "virtio-net-pci,netdev=n0"],
  ]);
  for (;;) {
    const health = await run("curl", [
      "-sk",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "--max-time",
      "3",
      `https://127.0.0.1:${https}/health`,
    ]);
    if (health.output === "200") break;
    if (Date.now() - started > 600_000)
      throw new Error(`no /health 200 within 600 s; serial log: ${join(dir, "serial.log")}`);
    await new Promise((done) => setTimeout(done, 3000));
  }
  return { https, http, ssh, engine, secondsToHealthy: (Date.now() - started) / 1000 };
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
    t.match(unverified.output, /SLMC_PUBLISHER_EMAIL=VERIFY-BEFORE-RELEASE/);
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

    // The built image is an appliance: it boots from a CONTEXT CD-ROM without network, serves every
    // HTTPS check, regenerated its SSH host keys, and no longer trusts the build key.
    const settings = Object.fromEntries(
      env
        .split("\n")
        .filter((line) => /^[A-Z_]+=/.test(line))
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
    const operatorKey = join(work, "operator_key");
    await newKey(operatorKey, "slmc-release-operator");
    const vm = await bootImage(t, image, work, settings, await readFile(`${operatorKey}.pub`, "utf8"));
    // /health answers once nginx and the engine are up; configure (the exporters) and bootstrap (the
    // report) go on behind it under TCG. Every check below judges the finished appliance.
    const readyBy = Date.now() + 600_000;
    for (;;) {
      const status = await runProcess(
        "ssh",
        [...sshArgs(operatorKey, vm.ssh), "cat /etc/one-appliance/status"],
        {},
        60_000,
      );
      if (status.stdout.trim() === "bootstrap_success") break;
      if (status.stdout.trim().endsWith("_failure") || Date.now() > readyBy)
        throw new Error(`the built image did not reach bootstrap_success: ${status.stdout}${status.stderr}`);
      await new Promise((done) => setTimeout(done, 3000));
    }
    t.comment(`built image: /health 200 after ${vm.secondsToHealthy.toFixed(0)} s`);
    const password = join(work, "pw");
    await writeFile(password, `${BOOT_PASSWORD}\n`);
    const slmc = await run(SLMC, [
      ...["127.0.0.1", "--https-port", String(vm.https), "--http-port", String(vm.http)],
      ...[
        "--insecure",
        "--no-ssh",
        "--password-file",
        password,
        "--format",
        "json",
        "--out",
        join(work, "slmc.json"),
      ],
    ]);
    t.equal(slmc.code, 0, slmc.output.slice(-3000));
    const report = JSON.parse(await readFile(join(work, "slmc.json"), "utf8")) as {
      summary: Record<string, number>;
    };
    const summary = report.summary;
    t.ok(
      (summary.passed ?? 0) >= 18 && summary.failed === 0,
      `slmc-check on the built image: ${JSON.stringify(summary)}`,
    );
    const keys = await run("ssh-keyscan", ["-T", "30", "-p", String(vm.ssh), "127.0.0.1"]);
    t.match(
      keys.output,
      /^\[127\.0\.0\.1\]:[0-9]+ (ssh-ed25519|ecdsa-sha2-nistp256|ssh-rsa) AAAA/m,
      "sshd serves host keys generated on first boot",
    );
    const login = await run("ssh", [...sshArgs(settings.SLMC_BUILD_SSH_KEY ?? "", vm.ssh), "true"]);
    t.equal(login.code, 255, "the build key is refused");
    t.match(login.output, /Permission denied/);

    // The context's SSH_PUBLIC_KEY is root's key now, as one-context makes it (here its lab stand-in).
    const onVm = (command: string) =>
      runProcess("ssh", [...sshArgs(operatorKey, vm.ssh), command], {}, 120_000);
    const contextLog = await onVm("cat /var/log/one-context-lab.log");
    t.equal(contextLog.code, 0, `the context's SSH key logs in as root: ${contextLog.stderr}`);
    t.match(contextLog.stdout, /SSH_PUBLIC_KEY: 1 key\(s\) added to \/root\/\.ssh\/authorized_keys/);
    const certificate = join(work, "appliance.pem");
    const served = await onVm("cat /etc/slm-copilot/tls/self-signed.crt");
    t.equal(served.code, 0, served.stderr);
    await writeFile(certificate, served.stdout);
    const https = ["127.0.0.1", "--https-port", String(vm.https), "--ca", certificate];
    const ssh = [
      "--ssh-port",
      String(vm.ssh),
      "--ssh-key",
      operatorKey,
      "--known-hosts",
      join(work, "known_hosts"),
    ];

    // The release flow on this VM: gate (lab policy), verify, then the listing filled from the bundle.
    const signingKey = join(work, "signing_key");
    await newKey(signingKey, "slmc-release-signer");
    const evidence = join(work, "evidence");
    const gate = await slmcCheck(
      [
        "gate",
        ...https,
        ...["--http-port", String(vm.http), "--engine-port", String(vm.engine)],
        ...ssh,
        ...["--policy", join(ROOT, "fixtures/lab/lab-policy.yaml"), "--evidence", evidence],
        ...["--build-manifest", join(out, "manifest.json"), "--sign", signingKey, "--deadline", "1200"],
      ],
      1500,
    );
    t.comment(`gate: ${(gate.ms / 1000).toFixed(0)} s`);
    t.equal(gate.code, 0, `the lab gate passes:\n${gate.stdout.slice(-4000)}\n${gate.stderr.slice(-2000)}`);
    const verdict = JSON.parse(await readFile(join(evidence, "verdict.json"), "utf8")) as Verdict;
    t.comment(`gate verdict: passed ${verdict.passed}, ${JSON.stringify(verdict.summary)}`);
    t.equal(verdict.passed, true, "verdict.json: passed");
    t.same(
      verdict.clauses
        .filter((c) => c.required && c.status !== "pass" && c.status !== "waived")
        .map((c) => `${c.id}: ${c.message}`),
      [],
      "every required clause holds",
    );
    t.same(
      verdict.clauses.filter((c) => c.status === "waived").map((c) => c.id),
      ["checks.api.health-readiness"],
      "only the lab policy's one waiver was used",
    );
    const clause = (id: string) => verdict.clauses.find((c) => c.id === id);
    for (const id of ["target", "reboot.cycles", "soak.plan", "soak.steps", "appliance.build-id"])
      t.equal(clause(id)?.status, "pass", `${id} was judged on evidence from this VM, and holds`);
    t.ok(
      verdict.clauses.some((c) => c.id.startsWith("bench.") && c.status === "pass"),
      "bench clauses were measured",
    );
    t.match(
      verdict.target.stand_in,
      /^lab VM .*not LocalAI with Devstral$/,
      "the verdict says: a lab stand-in",
    );
    t.match(
      clause("appliance.release-build")?.message,
      /^stand-in build \(base image: Debian bookworm lab image .*\), accepted by a lab policy/,
      "the build record's stand-ins, accepted only because the policy is a lab policy",
    );
    t.match(await readFile(join(evidence, "verdict.md"), "utf8"), /Lab stand-in, not a release target/);
    t.same(
      verdict.image,
      { ...verdict.image, build_id: manifest.build_id, sha256 },
      "the verdict names the image that was built (the VM's build id is the manifest's)",
    );
    const leaked: string[] = [];
    for (const file of await readdir(evidence, { recursive: true, withFileTypes: true }))
      if (file.isFile() && (await readFile(join(file.parentPath, file.name), "utf8")).includes(BOOT_PASSWORD))
        leaked.push(file.name);
    t.same(leaked, [], "the appliance password is masked in every file of the bundle");
    const verified = await slmcCheck(
      ["gate", "--verify", evidence, "--allowed-signer", `${signingKey}.pub`],
      60,
    );
    t.equal(verified.code, 0, `gate --verify: ${verified.stdout}${verified.stderr}`);

    t.match(first.output, /no --evidence: the listing is filled but NOT gated/, "ungated before");
    const fill = await run(BUILD, [...args, "--evidence", evidence, "--allowed-signer", `${signingKey}.pub`]);
    t.equal(fill.code, 0, fill.output.slice(-3000));
    t.match(fill.output, /Packer: reusing/, "the build is reused, not redone");
    t.match(
      fill.output,
      new RegExp(`evidence bundle ${escape(evidence)} verifies, its verdict passed, its image is ${sha256}`),
    );
    t.match(fill.output, new RegExp(`marketplace: .*release schema passed; gated by ${escape(evidence)}\\)`));
    t.notMatch(fill.output, /NOT gated/);
    const gated = parse(await readFile(join(out, listingName), "utf8").catch(() => "{}")) as Partial<
      typeof listing
    >;
    t.equal(gated.images?.[0]?.checksum.sha256, verdict.image?.sha256, "the listing names the gated image");
    t.equal(await hashFile(image, "sha256"), sha256, "the gated image is the published one");

    // tune on the gated VM: each thread count through the appliance's retune script, then the original.
    const threadsBefore = Number(
      (await onVm("sed -n 's/^threads: //p' /var/lib/local-ai/models/*.yaml | head -n1")).stdout,
    );
    t.ok(threadsBefore >= 1, `the model YAML's threads: ${threadsBefore}`);
    const tune = await slmcCheck(
      ["tune", ...https, ...ssh, "--yes", "--format", "json", "--ready-timeout", "300"],
      900,
    );
    t.comment(`tune: ${(tune.ms / 1000).toFixed(0)} s`);
    t.equal(
      tune.code,
      0,
      `tune measured and restored:\n${tune.stdout.slice(-2000)}\n${tune.stderr.slice(-2000)}`,
    );
    const outcome = JSON.parse(tune.stdout || "{}") as Partial<TuneOutcome>;
    t.equal(outcome.vcpus, 2, "the VM's 2 vCPUs");
    t.equal(outcome.original, threadsBefore);
    t.same(
      outcome.run?.measurements.map((m) => m.threads),
      [1, 2],
      "measured at 1 and 2 threads",
    );
    for (const m of outcome.run?.measurements ?? [])
      t.ok(
        (m.prefill_tok_s ?? 0) > 0 && (m.decode_tok_s ?? 0) > 0,
        `${m.threads} threads: prefill ${m.prefill_tok_s} tok/s, decode ${m.decode_tok_s} tok/s`,
      );
    t.equal(outcome.run?.restored, true, "restored");
    t.equal(outcome.restoredThreads, threadsBefore, "the original thread count read back");
    const retunes = await onVm(
      "grep -o 'retune finished: threads [0-9]*' /var/log/one-appliance/slm-copilot.log",
    );
    t.same(
      retunes.stdout
        .trim()
        .split("\n")
        .map((line) => Number(line.split(" ").pop())),
      [1, 2, threadsBefore],
      "the appliance's log: retune applied 1, then 2, then the original count",
    );
    const settled = await onVm(
      "if [ -e /etc/slm-copilot/tune-threads ]; then echo override-left; fi; grep '^THREADS=' /var/lib/slm-copilot/effective.env",
    );
    t.equal(
      settled.stdout,
      `THREADS=${threadsBefore}\n`,
      "no override left; effective.env records the original",
    );
    const quick = await slmcCheck(
      [
        ...https,
        ...["--password-file", password, "--no-ssh", "--suite", "api", "--suite", "streaming"],
        ...["--format", "json", "--max-tokens", "8"],
      ],
      300,
    );
    const after = JSON.parse(quick.stdout || "{}") as { summary?: Record<string, number> };
    t.equal(quick.code, 0, `slmc-check after tune: ${quick.stdout.slice(-2000)}${quick.stderr.slice(-1000)}`);
    t.ok((after.summary?.passed ?? 0) > 0 && after.summary?.failed === 0, JSON.stringify(after.summary));

    // A fleet run: this VM, a healthy simulator and one that redirects with 302.
    const fleetDir = join(work, "fleet");
    await mkdir(fleetDir);
    const healthy = await simulator(t, { defects: [] });
    const broken = await simulator(t, { defects: ["redirect-302"] });
    const inventory = await writeInventory(
      fleetDir,
      [
        labEntry(
          {
            LAB_HTTPS_PORT: String(vm.https),
            LAB_HTTP_PORT: String(vm.http),
            LAB_ENGINE_PORT: String(vm.engine),
            LAB_SSH_PORT: String(vm.ssh),
            LAB_SSH_KEY: operatorKey,
          },
          { certificate, password, knownHosts: join(work, "known_hosts") },
          "release-vm",
          "lab",
        ),
        await simulatorEntry(healthy, fleetDir, "sim-healthy", "sim"),
        await simulatorEntry(broken, fleetDir, "sim-redirect", "sim"),
      ],
      { suite: ["tls", "auth", "cors", "redirect"], timeout: 15 },
    );
    const fleet = await slmcCheck(
      ["fleet", inventory, "--format", "json", "--out", join(fleetDir, "fleet.json")],
      600,
    );
    t.equal(fleet.code, 1, `a failing host makes the fleet run exit 1: ${fleet.stderr.slice(-2000)}`);
    const matrix = JSON.parse(await readFile(join(fleetDir, "fleet.json"), "utf8")) as FleetReport;
    const host = (name: string) => matrix.hosts.find((h) => h.name === name);
    const notPassing = (name: string) =>
      (host(name)?.report.checks ?? [])
        .filter((c) => c.status !== "pass")
        .map((c) => `${c.id}: ${c.message}`);
    t.equal(host("release-vm")?.verdict, "pass", `the VM passes: ${notPassing("release-vm").join("; ")}`);
    t.equal(host("sim-redirect")?.verdict, "fail", "the simulator fails");
    t.equal(host("release-vm")?.cells["SEC-09"], "pass", "the VM's redirect cell");
    t.equal(host("sim-redirect")?.cells["SEC-09"], "fail", "the simulator's redirect cell");
    t.match(notPassing("sim-redirect").join("\n"), /302, not a permanent 301/, "and says what to fix");
    // The exact matrix: every cell of the VM and of the healthy simulator passes; the broken one fails
    // exactly its redirect cell.
    const cells = (name: string) => host(name)?.cells ?? {};
    const requirements = Object.keys(cells("release-vm")).sort();
    t.ok(requirements.length >= 4, `the matrix has a row per requirement: ${requirements.join(", ")}`);
    const only = (failing: string[]) =>
      Object.fromEntries(requirements.map((r) => [r, failing.includes(r) ? "fail" : "pass"]));
    t.same(cells("release-vm"), only([]), "the VM: every cell passes");
    t.same(cells("sim-healthy"), only([]), "the healthy simulator: every cell passes");
    t.same(cells("sim-redirect"), only(["SEC-09"]), "the 302 simulator: only SEC-09 fails");
    t.same(matrix.summary, { hosts: 3, pass: 2, fail: 1, unreachable: 0 });
  },
);
