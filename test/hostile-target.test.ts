// The compiled binary against targets that misbehave on purpose: memory stays bounded when a stream
// sends one endless line, and --deadline ends a run that a slow trickle keeps alive past --stream-idle.
// Needs `npm run build` first (the test command does it).
import t from "tap";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { simulator } from "./helpers.ts";

const BINARY = resolve(import.meta.dirname, "../dist/slmc-check");
const GNU_TIME = "/usr/bin/time";
export const RSS_LIMIT_KB = 200 * 1024;

interface Measured {
  code: number | null;
  stdout: string;
  ms: number;
  /** Peak resident set size of the binary, from wait4 (GNU time) or polled /proc VmHWM. */
  peakRssKb: number;
  source: string;
}

function vmHwmKb(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0; // exited between two polls
  }
}

/**
 * Runs the binary and measures its peak RSS two ways: GNU time's "Maximum resident set size" (exact,
 * from the kernel at exit) when /usr/bin/time exists, and VmHWM polled every 10 ms from /proc (a lower
 * bound). The larger of the two is reported.
 */
async function measure(args: string[], killAfterMs = 120_000): Promise<Measured> {
  const gnuTime = existsSync(GNU_TIME);
  // -o: GNU time's report in a file; on the shared stderr pipe it arrived cut short (the binary
  // leaves the pipe non-blocking).
  const timeReport = join(await mkdtemp(join(tmpdir(), "slmc-time-")), "time.txt");
  const [command, argv] = gnuTime ? [GNU_TIME, ["-v", "-o", timeReport, BINARY, ...args]] : [BINARY, args];
  return new Promise((done) => {
    const started = Date.now();
    const child = spawn(command, argv, { env: { PATH: process.env.PATH ?? "", NO_COLOR: "1" } });
    let stdout = "";
    let polled = 0;
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", () => {});
    const poll = setInterval(() => {
      // Under GNU time the binary is time's only child.
      let pid = child.pid ?? 0;
      if (gnuTime) {
        try {
          pid = Number(readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/)[0]);
        } catch {
          return;
        }
      }
      if (pid > 0) polled = Math.max(polled, vmHwmKb(pid));
    }, 10);
    const killer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    child.on("close", (code) => {
      clearInterval(poll);
      clearTimeout(killer);
      const report = gnuTime && existsSync(timeReport) ? readFileSync(timeReport, "utf8") : "";
      const timed = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(report)?.[1] ?? 0);
      const exit = gnuTime ? Number(/Exit status: (\d+)/.exec(report)?.[1] ?? code) : code;
      done({
        code: exit,
        stdout,
        ms: Date.now() - started,
        peakRssKb: Math.max(timed, polled),
        source: timed ? `GNU time (${timed} kB), /proc VmHWM polled (${polled} kB)` : "/proc VmHWM polled",
      });
    });
  });
}

if (!existsSync(BINARY)) {
  t.fail(`${BINARY} is missing: run "npm run build" first`);
} else {
  t.test("one 50 MB SSE line: the run names the limit and peak RSS stays under 200 MB", async (t) => {
    const sim = await simulator(t, { defects: ["huge-sse-line"] });
    const dir = await mkdtemp(join(tmpdir(), "slmc-hostile-"));
    await writeFile(join(dir, "ca.pem"), sim.certificatePem);
    await writeFile(join(dir, "pw"), `${sim.password}\n`);
    const result = await measure([
      sim.host,
      "--https-port",
      String(sim.httpsPort),
      "--http-port",
      String(sim.httpPort),
      "--ca",
      join(dir, "ca.pem"),
      "--password-file",
      join(dir, "pw"),
      "--no-ssh",
      "--suite",
      "streaming",
      "--suite",
      "clients",
      "--format",
      "json",
    ]);
    t.comment(`peak RSS ${Math.round(result.peakRssKb / 1024)} MB (${result.source}), ${result.ms} ms`);
    t.equal(result.code, 1, "the run fails");
    const report = JSON.parse(result.stdout) as { checks: { id: string; status: string; message: string }[] };
    const byId = new Map(report.checks.map((c) => [c.id, c]));
    t.match(byId.get("streaming.sse-format")?.message, /event larger than 1048576 bytes/);
    t.match(byId.get("clients.openai-sdk")?.message, /streaming failed: .*event larger than 1048576 bytes/);
    t.ok(result.peakRssKb > 0, "peak RSS was measured");
    t.ok(result.peakRssKb < RSS_LIMIT_KB, `peak RSS ${result.peakRssKb} kB < ${RSS_LIMIT_KB} kB`);
  });

  t.test("--deadline ends a run kept alive by a trickle that defeats --stream-idle", async (t) => {
    const result = await measure(
      ["demo", "--defect", "slow-trickle", "--suite", "streaming", "--deadline", "4", "--format", "json"],
      60_000,
    );
    t.equal(result.code, 1);
    t.ok(result.ms < 15_000, `finished in ${result.ms} ms (the demo's stream timeout is 30 s)`);
    const report = JSON.parse(result.stdout) as { checks: { id: string; status: string; message: string }[] };
    const [first, second] = report.checks;
    t.equal(first?.status, "error");
    t.match(first?.message, /could not observe: the run's --deadline of 4 s passed.*--stream-idle/);
    t.equal(second?.status, "skip");
    t.match(second?.message, /not run: the run's --deadline of 4 s passed/);
  });
}
