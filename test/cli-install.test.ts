// `make install`: dist/slmc-check to $(DESTDIR)$(PREFIX)/bin, PREFIX /usr/local by default; the installed
// copy runs; without a built binary it says how to build one instead of installing nothing silently.
import t from "tap";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const ROOT = resolve(import.meta.dirname, "..");
const BINARY = join(ROOT, "dist/slmc-check");
const exec = promisify(execFile);

async function make(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec("make", ["--no-print-directory", ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

t.before(() => {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run "npm run build" first`);
});

t.test("make install puts dist/slmc-check in $(DESTDIR)$(PREFIX)/bin", async (t) => {
  const destdir = await mkdtemp(join(tmpdir(), "slmc-install-"));
  t.teardown(() => rm(destdir, { recursive: true, force: true }));
  const built = await stat(BINARY);
  for (const [prefix, args] of [
    ["/usr/local", []],
    ["/opt/slmc", ["PREFIX=/opt/slmc"]],
  ] as const) {
    const result = await make(["-C", ROOT, "install", `DESTDIR=${destdir}`, ...args]);
    t.equal(result.code, 0, `make install ${args.join(" ")}: ${result.stderr}`);
    const installed = join(destdir, prefix, "bin/slmc-check");
    const info = await stat(installed);
    t.equal(info.mode & 0o777, 0o755, `${prefix}/bin/slmc-check is executable`);
    t.equal(info.size, built.size, "the built binary");
    const version = await exec(installed, ["--version"], { timeout: 30_000 });
    t.match(version.stdout, /^slmc-check \d/, "the installed copy runs");
  }
});

t.test("make install without a built binary says how to build it", async (t) => {
  const empty = await mkdtemp(join(tmpdir(), "slmc-install-nobin-"));
  t.teardown(() => rm(empty, { recursive: true, force: true }));
  const result = await make(["-C", empty, "-f", join(ROOT, "Makefile"), "install", `DESTDIR=${empty}/root`]);
  t.not(result.code, 0);
  t.match(result.stderr, /dist\/slmc-check is missing: run "make build-cli" first/);
  t.notOk(existsSync(join(empty, "root/usr/local/bin/slmc-check")), "nothing installed");
});
