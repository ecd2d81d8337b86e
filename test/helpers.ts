import type { Test } from "tap";
import type { Access } from "../src/core/access.ts";
import type { CheckResult } from "../src/core/check.ts";
import { createContext, runSuites } from "../src/core/runner.ts";
import { createProbes } from "../src/probes/index.ts";
import { SUITES } from "../suites/index.ts";
import { startSimulator, type Simulator, type SimulatorOptions } from "../fixtures/simulator.ts";

export async function simulator(t: Test, options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = await startSimulator(options);
  t.teardown(() => sim.close());
  await sim.ready;
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

export async function runAgainst(access: Access, suiteNames?: string[]): Promise<Map<string, CheckResult>> {
  const suites = suiteNames
    ? SUITES.filter((s) => suiteNames.includes(s.name))
    : SUITES.filter((s) => !s.requiresVm);
  const results = await runSuites(suites, createContext(access, createProbes(access)));
  return new Map(results.map((r) => [r.id, r]));
}
