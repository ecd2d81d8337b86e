// scripts/llama-sid.sh: the cached Debian sid side root with llama.cpp-tools. Built once (about 30 s),
// reused by input hash afterwards; its wrapper runs llama-server through the root's own loader. An
// unreachable archive is exit 3 naming the mirror, and the tests that need the root skip with it.
import t from "tap";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../fixtures/ports.ts";
import {
  EXIT_UNREACHABLE,
  LLAMA_SID_SCRIPT,
  llamaSideRoot,
  runLlamaBench,
} from "../fixtures/engine/llama-sid.ts";
import { writeCachedModel } from "../fixtures/model-cache.ts";
import { runProcess } from "./spawn.ts";

t.test("an unreachable archive: exit 3, the message names the mirror, nothing cached", async (t) => {
  const cache = await mkdtemp(join(tmpdir(), "slmc-llama-sid-"));
  t.teardown(() => rm(cache, { recursive: true, force: true }));
  const mirror = `http://127.0.0.1:${await freePort()}/debian`;
  const run = await runProcess(LLAMA_SID_SCRIPT, ["build"], {
    SLMC_LAB_CACHE: cache,
    SLMC_LAB_MIRROR: mirror,
  });
  t.equal(run.code, EXIT_UNREACHABLE, run.stderr);
  t.match(run.stderr, `the Debian archive ${mirror} is unreachable`);
  t.match(run.stderr, /set SLMC_LAB_MIRROR/, "says what to change");
  t.equal(run.stdout, "", "no root path printed");
  t.same(await llamaSideRoot({ SLMC_LAB_CACHE: cache, SLMC_LAB_MIRROR: mirror }), {
    unreachable: run.stderr.trim(),
  });
});

t.test("a wrong command is a usage error", async (t) => {
  const run = await runProcess(LLAMA_SID_SCRIPT, ["bogus"]);
  t.equal(run.code, 2);
  t.match(run.stderr, /unknown command 'bogus'; usage: llama-sid.sh \[build\] \| run PROGRAM/);
});

const result = await llamaSideRoot();
if ("unreachable" in result) {
  t.pass(`skipped: the side root cannot be built: ${result.unreachable}`, { skip: true });
} else {
  const { root } = result;

  t.test("the root records its packages and runs Debian's llama-server without chroot", async (t) => {
    t.match(root.versions, /^llama\.cpp-tools \S+$/m);
    t.match(root.versions, /^libc6 \S+$/m);
    const version = await runProcess(root.run, ["llama-server", "--version"], {}, 30_000);
    t.equal(version.code, 0, version.stderr);
    t.match(version.stdout + version.stderr, /version: \S+ \(build \d+, commit Debian\)/);
    const missing = await runProcess(root.run, ["no-such-program"]);
    t.equal(missing.code, 2);
    t.match(missing.stderr, /no program usr\/bin\/no-such-program/);
  });

  t.test("llama-bench on a generated model reports tg and pp (the benchmark's baseline)", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "slmc-llama-bench-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const model = join(dir, "tiny.gguf");
    writeCachedModel({ path: model, size: "tiny", type: "q8_0", seed: 2 });
    const bench = await runLlamaBench(root, { model, threads: 1, nPrompt: 16, nGen: 8, repetitions: 1 });
    t.match(bench, { tg: { n: 8 }, pp: { n: 16 }, build: "Debian (" });
    t.ok(bench.tg.tokS > 0 && bench.pp.tokS > 0, `tg ${bench.tg.tokS}, pp ${bench.pp.tokS} tok/s`);
    t.not(bench.cpuBackend, "unknown", `ggml loaded its CPU backend ${bench.cpuBackend} outside the root`);
  });

  t.test("the tarball for an image runs from wherever it is extracted", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "slmc-llama-tarball-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const tarball = join(dir, "llama-sid.tar.gz");
    const made = await runProcess(LLAMA_SID_SCRIPT, ["tarball", tarball], {}, 300_000);
    t.equal(made.code, 0, made.stderr);
    t.equal(made.stdout.trim(), tarball);
    const target = join(dir, "opt", "llama-sid");
    await mkdir(target, { recursive: true });
    const extracted = await runProcess("tar", ["-C", target, "-xzf", tarball], {}, 300_000);
    t.equal(extracted.code, 0, extracted.stderr);
    const version = await runProcess(join(target, "run"), ["llama-server", "--version"], {}, 30_000);
    t.equal(version.code, 0, version.stderr);
    t.match(version.stdout + version.stderr, /commit Debian/);
  });

  t.test("a second build reuses the cache", async (t) => {
    const again = await runProcess(LLAMA_SID_SCRIPT, ["build"]);
    t.equal(again.code, 0, again.stderr);
    t.equal(again.stdout.trim(), root.dir, "the same directory");
    t.match(again.stderr, `cached in ${root.dir} (llama.cpp-tools ${root.llamaVersion})`);
    // Bound for a loaded 2-core host; a rebuild runs mmdebstrap for tens of seconds.
    t.ok(again.ms < 10_000, `took ${again.ms} ms`);
  });
}
