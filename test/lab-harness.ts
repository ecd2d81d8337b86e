// What the lab VM tests share: scripts/lab.sh under a run directory of their own (and the engine the
// VM runs), booting a VM with a CONTEXT file, and running the compiled slmc-check against it with its
// JSON report parsed. Used by test/lab.test.ts (the synthetic engine) and test/lab-real-engine.test.ts
// (real llama.cpp).
import type { Test } from "tap";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

export const ROOT = resolve(import.meta.dirname, "..");
export const LAB = join(ROOT, "scripts/lab.sh");
export const SLMC = join(ROOT, "dist/slmc-check");
const execFileAsync = promisify(execFile);

/** The engine the lab image runs (lab.sh's SLMC_LAB_ENGINE). */
export type LabEngine = "synthetic" | "llama-server";

export interface Lab {
  run: string;
  engine: LabEngine;
  env: Record<string, string>;
  ssh(command: string): Promise<string>;
  lab(...args: string[]): Promise<string>;
}

/** `scripts/lab.sh ARGS` for the VM of run directory `run`; lab.sh refuses the other engine's VM. */
export async function lab(engine: LabEngine, run: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(LAB, args, {
    env: { ...process.env, SLMC_LAB_RUN: run, SLMC_LAB_ENGINE: engine },
    timeout: 1_500_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

/** Boots the lab image (`lab.sh up`) in .lab/NAME, brought down at the end of the test. */
export async function bootLab(
  t: Test,
  name: string,
  context: string,
  net: "restricted" | "open",
  engine: LabEngine = "synthetic",
): Promise<Lab> {
  const run = join(ROOT, ".lab", name);
  const labCommand = (...args: string[]) => lab(engine, run, ...args);
  await labCommand("down");
  t.teardown(() => labCommand("down").then(() => undefined));
  await labCommand("up", context, net);
  const env = Object.fromEntries(
    (await labCommand("env"))
      .trim()
      .split("\n")
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
  return { run, engine, env, ssh: (command) => labCommand("ssh", command), lab: labCommand };
}

export interface SlmcRun {
  code: number | null;
  report: { checks: { id: string; status: string; message: string }[]; summary: Record<string, number> };
  stderr: string;
}

export interface Spawned {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs the compiled slmc-check, handing each stderr line to onLine as it arrives; killed after timeoutMs. */
export function runSlmc(
  args: string[],
  timeoutMs: number,
  onLine: (line: string, child: ChildProcess) => void = () => undefined,
): Promise<Spawned> {
  return new Promise((done) => {
    const started = Date.now();
    const child = spawn(SLMC, args, { env: { PATH: process.env.PATH ?? "" } });
    let stdout = "";
    let stderr = "";
    let pending = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
      pending += d;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) onLine(line, child);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

export function parseReport(run: Spawned): SlmcRun {
  try {
    return { code: run.code, report: JSON.parse(run.stdout) as SlmcRun["report"], stderr: run.stderr };
  } catch {
    return {
      code: run.code,
      report: { checks: [], summary: {} },
      stderr: `${run.stderr}\n(unparsable stdout: ${run.stdout.slice(0, 300)})`,
    };
  }
}

/** `slmc-check ARGS --format json` with --max-tokens 8 (reboot sends no completion: none), killed after 300 s. */
export async function slmcCheck(args: string[], timeoutMs = 300_000): Promise<SlmcRun> {
  const tokens = args[0] === "reboot" ? [] : ["--max-tokens", "8"];
  return parseReport(await runSlmc([...args, "--format", "json", ...tokens], timeoutMs));
}

export function failures(run: SlmcRun): string {
  return run.report.checks
    .filter((c) => c.status !== "pass")
    .map((c) => `${c.id}: ${c.status}: ${c.message}`)
    .join("\n");
}

/** The target arguments for the VM: its forwarded ports and a file holding the appliance's password. */
export async function accessArgs(vm: Lab, dir: string, extra: string[] = []): Promise<string[]> {
  const password = join(dir, `${vm.run.split("/").pop()}-password`);
  await writeFile(password, (await vm.ssh("cat /var/lib/slm-copilot/password")).trim() + "\n");
  return [
    "127.0.0.1",
    "--https-port",
    vm.env.LAB_HTTPS_PORT ?? "",
    "--http-port",
    vm.env.LAB_HTTP_PORT ?? "",
    "--password-file",
    password,
    ...extra,
  ];
}

/** The SSH arguments for the VM: its forwarded SSH port, the lab's key and a known_hosts file of the caller's. */
export function sshArgs(vm: Lab, knownHosts: string): string[] {
  return [
    "--ssh-port",
    vm.env.LAB_SSH_PORT ?? "",
    "--ssh-key",
    vm.env.LAB_SSH_KEY ?? "",
    "--known-hosts",
    knownHosts,
  ];
}
