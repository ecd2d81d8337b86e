import type { Test } from "tap";
import type { Access } from "../src/core/access.ts";
import type { CheckResult } from "../src/core/check.ts";
import { createContext, runSuites } from "../src/core/runner.ts";
import { createProbes } from "../src/probes/index.ts";
import { SUITES } from "../suites/index.ts";
import { httpRequest } from "../src/probes/http.ts";
import { startSimulator, type Simulator, type SimulatorOptions } from "../src/sim/simulator.ts";

/** waitReady false: start checking while the stand-in engine is still loading its model. */
export async function simulator(
  t: Test,
  options: SimulatorOptions = {},
  waitReady = true,
): Promise<Simulator> {
  const sim = await startSimulator(options);
  t.teardown(() => sim.close());
  if (waitReady) await sim.ready;
  else await modelConfigured(sim);
  return sim;
}

export function accessFor(sim: Simulator, overrides: Partial<Access> = {}): Access {
  return {
    host: sim.host,
    httpsPort: sim.httpsPort,
    httpPort: sim.httpPort,
    user: sim.user,
    password: sim.password,
    ca: sim.certificatePem,
    caFile: "(simulator)",
    insecure: false,
    requestTimeoutMs: 5000,
    streamTimeoutMs: 15000,
    streamIdleTimeoutMs: 1500,
    maxTokens: 12,
    simulated: true,
    ...overrides,
  };
}

/** Runs the named suites (default: every suite without a VM); with `onlyChecks`, only those checks. */
export async function runAgainst(
  access: Access,
  suiteNames?: string[],
  onlyChecks?: string[],
): Promise<Map<string, CheckResult>> {
  const named = suiteNames
    ? SUITES.filter((s) => suiteNames.includes(s.name))
    : SUITES.filter((s) => !s.requiresVm);
  const suites = onlyChecks
    ? named.map((s) => ({ ...s, checks: s.checks.filter((c) => onlyChecks.includes(c.id)) }))
    : named;
  if (onlyChecks && suites.every((s) => s.checks.length === 0))
    throw new Error(`no check ${onlyChecks.join(", ")} in suites ${suiteNames?.join(", ") ?? "(all)"}`);
  const results = await runSuites(suites, createContext(access, createProbes(access)));
  return new Map(results.map((r) => [r.id, r]));
}

/** Until the stand-in has read its model YAML (listed, maybe still loading); at most 5 s. */
async function modelConfigured(sim: Simulator): Promise<void> {
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    const response = await httpRequest({
      scheme: "http",
      host: sim.host,
      port: sim.enginePort,
      method: "GET",
      path: "/v1/models",
      timeoutMs: 1000,
    }).catch(() => undefined);
    if (response && (JSON.parse(response.body.toString("utf8")) as { data: unknown[] }).data.length) return;
    await new Promise((wait) => setTimeout(wait, 20));
  }
  throw new Error("the stand-in engine listed no model within 5 s");
}
