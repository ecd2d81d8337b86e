// Evidence of one healthy appliance for the gate's tests: a check report, a reboot report, a soak
// report, two bench runs, the VM's build record and the build's manifest, shaped as the commands write them. Each test breaks one
// thing in a fresh copy.
import type { BenchReport } from "../src/bench/report.ts";
import type { CheckResult, Report } from "../src/core/check.ts";
import type { GateInputs } from "../src/gate/evaluate.ts";
import { policySchema, type Policy } from "../src/gate/policy.ts";

export const HOST = "203.0.113.10";
export const SHA = "a".repeat(64);
export const BUILD_ID = "slm-copilot-0.1.0-20261130T090000Z-0123456789abcdef-01020304";

export function result(
  id: string,
  requirement: string,
  evidence: Record<string, unknown> = {},
  status: CheckResult["status"] = "pass",
): CheckResult {
  return {
    id,
    suite: id.split(".")[0]!,
    requirement,
    title: `title of ${id}`,
    status,
    duration_ms: 10,
    message: `${status} message of ${id}`,
    evidence,
  };
}

export function report(checks: CheckResult[], extra: Partial<Report> = {}): Report {
  return {
    tool: { name: "slmc-check", version: "1.0.0" },
    target: {
      host: HOST,
      https_port: 443,
      http_port: 80,
      user: "copilot",
      tls_verification: "CA file appliance.pem",
      simulated: false,
    },
    started_at: "2026-11-30T06:00:00.000Z",
    finished_at: "2026-11-30T06:01:00.000Z",
    notes: [],
    checks,
    summary: { passed: checks.length, failed: 0, skipped: 0, errored: 0 },
    ...extra,
  };
}

const cycle = (id: string, secondsToReady: number) =>
  result(id, "ONE-04", { secondsToSsh: 20, secondsToReady, drift: [] });

const recovery = (id: string, seconds: number) =>
  result(id, "INFER-04", { secondsToNewProcessReady: seconds - 1, secondsToServingOverHttps: seconds });

function bench(promptSet: string, decodeP50: number, ttftP90: number): BenchReport {
  const dist = (p50: number, p90: number) => ({ n: 5, min: p50, p50, p90, p99: p90, max: p90, mean: p50 });
  return {
    schema_version: 1,
    tool: { name: "slmc-check", version: "1.0.0", runtime: "node" },
    target: { host: HOST, https_port: 443, path: "/v1/chat/completions", simulated: false },
    started_at: "2026-11-30T06:10:00.000Z",
    finished_at: "2026-11-30T06:11:00.000Z",
    plan: {
      concurrencies: [1, 4],
      sweep: false,
      requests_per_level: 5,
      warmup: 1,
      max_tokens: 128,
      fixed_length: false,
      prompt_set: promptSet,
      prompts: ["p"],
      temperature: 0,
    },
    metadata: {},
    definitions: {},
    warmup: [],
    levels: [1, 4].map((concurrency) => ({
      aggregate: {
        concurrency,
        attempted: 5,
        completed: 5,
        failed: 0,
        duration_s: 10,
        agg_out_tok_s: 10,
        req_per_s: 0.5,
        distributions: {
          decode_tok_s: dist(decodeP50 / concurrency, decodeP50 / concurrency + 1),
          ttft_ms: dist(ttftP90 / 2, ttftP90 * concurrency),
        },
      },
      samples: [],
    })),
    saturated_at: null,
    stopped_because: "plan finished",
    findings: [],
    notes: [],
  };
}

export function healthyInputs(): GateInputs {
  return {
    checks: report([
      result("tls.protocol", "SEC-01"),
      result("tls.certificate", "SEC-01"),
      result("clients.cline-shaped-request", "IDE-04"),
      result("clients.continue-shaped-request", "IDE-04"),
      recovery("system.recovery-local-ai", 12),
      recovery("system.recovery-nginx", 2),
    ]),
    reboot: report([cycle("reboot.cycle-1", 40), cycle("reboot.cycle-2", 42)]),
    soak: report(
      [
        recovery("soak.cycle-1.kill-local-ai", 14),
        recovery("soak.cycle-1.kill-nginx", 3),
        result("soak.cycle-1.reboot", "ONE-04", { secondsToSsh: 20, secondsToReady: 45, drift: [] }),
        result("soak.load", "INFER-04"),
      ],
      {
        soak: {
          plan: { reboots: 1, killEvery: 1, loadStreams: 1, readyBudgetS: 300 },
          figures: { cyclesPlanned: 1, cyclesCompleted: 1 },
          timeline: { steps: [] },
        },
      },
    ),
    bench: [bench("short", 12, 900), bench("client-first-request", 11, 4000)],
    build: { name: "slm-copilot", version: "0.1.0", build_id: BUILD_ID, profile: "release", stand_ins: null },
    manifest: {
      name: "slm-copilot",
      version: "0.1.0",
      build_id: BUILD_ID,
      file: "slm-copilot-0.1.0.qcow2",
      sha256: SHA,
    },
  };
}

export function testPolicy(overrides: Record<string, unknown> = {}): Policy {
  return policySchema.parse({
    name: "test",
    checks: { must_pass: ["SEC-01", "IDE-04", "system.recovery-nginx"] },
    reboot: { cycles: 2 },
    soak: { reboots: 1, kill_every: 1, load_streams: 1 },
    bench: {
      levels: [
        { prompt_set: "short", concurrency: 1, decode_tok_s_p50: 10, ttft_p90_ms: 1000 },
        { prompt_set: "client-first-request", concurrency: 1, decode_tok_s_p50: 10, ttft_p90_ms: 5000 },
      ],
    },
    recovery: { max_seconds: 30 },
    boot: { max_seconds_to_ready: 60 },
    appliance: { version: "0.1.0", image_sha256: SHA },
    ...overrides,
  });
}
