// Stopping `slmc-check gate` early, through the compiled binary against the embedded simulator: SIGINT
// or SIGTERM lets the check in flight finish, skips the rest, writes a bundle that verifies and whose
// verdict says "interrupted", and exits 130; a second signal stops at once with the same kind of
// bundle; --deadline stops the same way but exits 1 (the verdict fails). Needs `npm run build` first.
import t from "tap";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runProcess } from "./spawn.ts";

const BINARY = resolve(import.meta.dirname, "../dist/slmc-check");
const ENV = { NO_COLOR: "1", HOME: process.env.HOME ?? "/tmp" };
const work = await mkdtemp(join(tmpdir(), "slmc-gate-stop-"));
t.teardown(() => rm(work, { recursive: true, force: true }));

const POLICY = join(work, "policy.yaml");
await writeFile(
  POLICY,
  `name: simulated
stand_in: the embedded simulator
checks:
  must_pass: [SEC-01, INFER-01]
bench:
  levels:
    - prompt_set: short
      concurrency: 1
      decode_tok_s_p50: 1
      ttft_p90_ms: 10000
`,
);

interface Stopped {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `gate demo` and sends `signals[0]` once `trigger` shows on stderr; each further signal once the
 * gate has said it is stopping (two at once would merge into one). SIGKILL after 120 s.
 */
function gateStopped(
  evidence: string,
  signals: NodeJS.Signals[],
  trigger = /gate: checks \[1\/\d+\]/,
  extra: string[] = [],
): Promise<Stopped> {
  return new Promise((done) => {
    const child = spawn(BINARY, ["gate", "demo", "--policy", POLICY, "--evidence", evidence, ...extra], {
      env: { PATH: process.env.PATH ?? "", ...ENV },
    });
    let stdout = "";
    let stderr = "";
    let sent = 0;
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => {
      stderr += d;
      const due = sent === 0 ? trigger.test(stderr) : /finishing the step in flight/.test(stderr);
      if (due && sent < signals.length) child.kill(signals[sent++]);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

interface VerdictFile {
  passed: boolean;
  interrupted: string | null;
  clauses: { id: string; status: string; message: string }[];
}

async function verdictOf(evidence: string): Promise<VerdictFile> {
  return JSON.parse(await readFile(join(evidence, "verdict.json"), "utf8")) as VerdictFile;
}

async function verifies(evidence: string): Promise<boolean> {
  return (await runProcess(BINARY, ["gate", "--verify", evidence], ENV)).code === 0;
}

t.test(
  "SIGINT: the check in flight finishes, the rest is skipped, the bundle says interrupted, exit 130",
  async (t) => {
    const evidence = join(work, "sigint");
    const run = await gateStopped(evidence, ["SIGINT"]);
    t.equal(run.code, 130, run.stderr);
    t.match(run.stderr, /interrupted \(SIGINT\): finishing the step in flight/);
    t.match(run.stderr, /bench: not run \(interrupted \(SIGINT\)\)/, "the later stage is not started");
    const verdict = await verdictOf(evidence);
    t.equal(verdict.interrupted, "interrupted (SIGINT)");
    t.equal(verdict.passed, false);
    const complete = verdict.clauses.find((c) => c.id === "gate.complete");
    t.equal(complete?.status, "fail");
    t.match(complete?.message, /^interrupted \(SIGINT\): what ran is in this bundle/);
    const report = JSON.parse(await readFile(join(evidence, "checks/report.json"), "utf8")) as {
      interrupted?: boolean;
      checks: { status: string; message: string }[];
    };
    t.equal(report.interrupted, true, "the check report says it was interrupted");
    t.ok(
      report.checks.some((c) => c.status === "skip" && /^not run: interrupted \(SIGINT\)/.test(c.message)),
      "the checks after the interrupt are skips that say why",
    );
    t.match(run.stdout, /FAIL +gate\.complete: interrupted \(SIGINT\)/);
    t.match(await readFile(join(evidence, "verdict.md"), "utf8"), /\*\*gate\.complete\*\*: interrupted/);
    t.ok(await verifies(evidence), "the bundle verifies");
  },
);

t.test("SIGTERM twice: stops at once, still with a verifying bundle that says why, exit 130", async (t) => {
  const evidence = join(work, "sigterm");
  // The stream that stalls (60 s, the default --stream-idle) is in flight when the signals come: only the second one ends it.
  const run = await gateStopped(evidence, ["SIGTERM", "SIGTERM"], /PASS api\.chat-completion/, [
    "--defect",
    "stalled-stream",
  ]);
  t.equal(run.code, 130, run.stderr);
  t.notMatch(run.stderr, /streaming\.sse-format/, "the stalled check was still in flight");
  const verdict = await verdictOf(evidence);
  t.match(verdict.interrupted, /^stopped by a second SIGTERM/);
  t.equal(verdict.passed, false);
  t.ok(await verifies(evidence), "the bundle verifies");
});

t.test("--deadline: the run stops like an interrupt, and the failed verdict exits 1", async (t) => {
  const evidence = join(work, "deadline");
  const run = await runProcess(
    BINARY,
    ["gate", "demo", "--policy", POLICY, "--evidence", evidence, "--deadline", "0.5"],
    ENV,
    120_000,
  );
  t.equal(run.code, 1, run.stderr);
  t.match(run.stderr, /--deadline of 0\.5 s passed: finishing the step in flight/);
  const verdict = await verdictOf(evidence);
  t.equal(verdict.interrupted, "the gate's --deadline of 0.5 s passed");
  t.equal(verdict.clauses.find((c) => c.id === "gate.complete")?.status, "fail");
  t.ok(await verifies(evidence));
});
