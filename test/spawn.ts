// One child process run to its end for tests: its exit code, output and duration, killed after a bound.
import { spawn } from "node:child_process";

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `command` (in `cwd`, default this process's) with PATH plus `env` (nothing else inherited);
 * SIGKILL after `killAfterMs`. */
export function runProcess(
  command: string,
  args: string[],
  env: Record<string, string> = {},
  killAfterMs = 60_000,
  cwd?: string,
): Promise<Run> {
  return new Promise((done) => {
    const started = Date.now();
    const child = spawn(command, args, {
      env: { PATH: process.env.PATH ?? "", ...env },
      ...(cwd ? { cwd } : {}),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}
