// `lab.sh prune` (also run after every image build): in SLMC_LAB_CACHE it keeps the SLMC_LAB_KEEP most
// recently used images of each kind (base, synthetic appliance, llama-server appliance) and any image a
// process holds open (a running VM's disk is backed by it), removes the rest, and leaves everything
// else (the llama.cpp side roots, Packer's cache) alone. No VM: the cache is a scratch directory.
import t from "tap";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runProcess } from "./spawn.ts";

const LAB = resolve(import.meta.dirname, "../scripts/lab.sh");

async function cacheWith(names: string[]): Promise<string> {
  const cache = await mkdtemp(join(tmpdir(), "slmc-lab-cache-"));
  t.teardown(() => rm(cache, { recursive: true, force: true }));
  // Oldest first: each directory one minute more recent than the one before.
  const start = Date.now() / 1000 - 3600;
  for (const [index, name] of names.entries()) {
    const dir = join(cache, name);
    await mkdir(dir);
    await writeFile(join(dir, "disk.qcow2"), name);
    await utimes(dir, start + index * 60, start + index * 60);
  }
  return cache;
}

t.test("prune keeps the newest of each kind and any image in use", async (t) => {
  const cache = await cacheWith([
    "base-0000000000000001",
    "appliance-00000000000000a1",
    "appliance-llama-server-00000000000000b1",
    "base-0000000000000002",
    "appliance-00000000000000a2",
    "base-0000000000000003",
    "appliance-00000000000000a3",
    "appliance-llama-server-00000000000000b2",
    "base-0000000000000004",
    "appliance-00000000000000a4",
    "base-0000000000000005",
    "llama-sid-0000000000000001",
    "packer-cache",
  ]);
  // The oldest base image is open, as a running VM holds its disk's backing file. The holder says
  // "open" once it holds the file; prune runs only then (bounded: 10 s).
  const holder = spawn("sh", [
    "-c",
    'exec 3<"$1"; echo open; sleep 60',
    "_",
    join(cache, "base-0000000000000001/disk.qcow2"),
  ]);
  t.teardown(() => holder.kill("SIGKILL"));
  const opened = await new Promise<boolean>((done) => {
    const timer = setTimeout(() => done(false), 10_000);
    holder.stdout.once("data", () => {
      clearTimeout(timer);
      done(true);
    });
  });
  t.ok(opened, "the holder opened the image");

  const run = await runProcess(LAB, ["prune"], { SLMC_LAB_CACHE: cache, SLMC_LAB_KEEP: "3" });
  t.equal(run.code, 0, run.stderr);
  t.same((await readdir(cache)).sort(), [
    "appliance-00000000000000a2",
    "appliance-00000000000000a3",
    "appliance-00000000000000a4",
    "appliance-llama-server-00000000000000b1",
    "appliance-llama-server-00000000000000b2",
    "base-0000000000000001",
    "base-0000000000000003",
    "base-0000000000000004",
    "base-0000000000000005",
    "llama-sid-0000000000000001",
    "packer-cache",
  ]);
  t.match(run.stderr, /kept \S+\/base-0000000000000001: in use/, "the image in use is kept, saying why");
  t.match(run.stderr, /pruned \S+\/base-0000000000000002 \(/, "each removal is named with its size");
  t.match(run.stderr, /pruned \S+\/appliance-00000000000000a1 \(/);

  const again = await runProcess(LAB, ["prune"], { SLMC_LAB_CACHE: cache, SLMC_LAB_KEEP: "3" });
  t.equal(again.code, 0);
  t.notMatch(again.stderr, /pruned/, "a second prune removes nothing");
});

t.test("a bad SLMC_LAB_KEEP is refused before anything is removed", async (t) => {
  const cache = await cacheWith(["base-0000000000000001", "base-0000000000000002"]);
  const run = await runProcess(LAB, ["prune"], { SLMC_LAB_CACHE: cache, SLMC_LAB_KEEP: "0" });
  t.equal(run.code, 1);
  t.match(run.stderr, /SLMC_LAB_KEEP='0' must be a whole number of at least 1/);
  t.ok(existsSync(join(cache, "base-0000000000000001")), "nothing removed");
});

t.test("a missing cache is nothing to prune", async (t) => {
  const run = await runProcess(LAB, ["prune"], { SLMC_LAB_CACHE: join(tmpdir(), "slmc-no-such-cache-dir") });
  t.equal(run.code, 0, run.stderr);
});
