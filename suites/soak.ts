// The reboot-loop soak (`slmc-check soak`): per cycle, optional kill -9 of LocalAI and nginx with
// measured recovery, then a reboot cycle with drift comparison; a light streaming load may run
// throughout and is judged last: a request may fail only while the soak itself broke service.
import { fail, pass, type Check, type CheckResult, type Suite } from "../src/core/check.ts";
import { defineCheck } from "./requirements.ts";
import { median } from "../src/bench/metrics.ts";
import type { RunningLoad } from "../src/soak/load.ts";
import type { LoadSample, SoakPlan, SoakTimeline } from "../src/soak/timeline.ts";
import { rebootCycleCheck } from "./reboot/check.ts";
import { recoveryCheck } from "./system.ts";

export function killsInCycle(plan: SoakPlan, cycle: number): boolean {
  return plan.killEvery > 0 && cycle % plan.killEvery === 0;
}

interface LoadEvidence {
  streams: number;
  startError: string | null;
  requests: number;
  completed: number;
  interruptedByDisruption: number;
  unexpectedFailures: Pick<LoadSample, "startMs" | "endMs" | "status" | "error">[];
  [key: string]: unknown;
}

function loadCheck(timeline: SoakTimeline, load: () => RunningLoad | undefined): Check<LoadEvidence> {
  return defineCheck<LoadEvidence>({
    id: "soak.load",
    requirement: "INFER-04",
    title: "the streaming load only failed while the soak itself killed or rebooted something",
    observe: async () => {
      const running = load();
      await running?.stop();
      const samples = [...timeline.load];
      const failed = samples.filter((s) => !s.ok);
      const unexpected = failed.filter((s) => !timeline.duringDisruption(s));
      return {
        streams: running?.streams ?? 0,
        startError: running ? running.startError : "the load was never started",
        requests: samples.length,
        completed: samples.length - failed.length,
        interruptedByDisruption: failed.length - unexpected.length,
        unexpectedFailures: unexpected.map(({ startMs, endMs, status, error }) => ({
          startMs,
          endMs,
          status,
          error,
        })),
      };
    },
    judge: (e) => {
      if (e.startError) return fail(`the streaming load could not start: ${e.startError}`);
      if (e.unexpectedFailures.length) {
        const first = e.unexpectedFailures[0]!;
        return fail(
          `${e.unexpectedFailures.length} of ${e.requests} streamed requests failed outside any kill or reboot (first at ${(first.startMs / 1000).toFixed(1)} s: ${first.error})`,
        );
      }
      if (e.completed === 0) return fail(`none of ${e.requests} streamed requests completed`);
      return pass(
        `${e.completed} of ${e.requests} streamed requests completed over ${e.streams} stream(s); ${e.interruptedByDisruption} cut by the soak's own kills and reboots, none failed otherwise`,
      );
    },
  });
}

export function soakSuite(
  plan: SoakPlan,
  timeline: SoakTimeline,
  load: () => RunningLoad | undefined,
): Suite {
  const checks: Check<any>[] = [];
  for (let cycle = 1; cycle <= plan.reboots; cycle++) {
    if (killsInCycle(plan, cycle))
      checks.push(
        recoveryCheck("local-ai.service", `soak.cycle-${cycle}.kill-local-ai`),
        recoveryCheck("nginx.service", `soak.cycle-${cycle}.kill-nginx`),
      );
    checks.push(
      rebootCycleCheck({
        id: `soak.cycle-${cycle}.reboot`,
        cycle,
        count: plan.reboots,
        readyBudgetS: plan.readyBudgetS,
        onPhase: (phase) => timeline.phase(phase),
      }),
    );
  }
  if (plan.loadStreams > 0) checks.push(loadCheck(timeline, load));
  return { name: "soak", title: "Reboot-loop soak (SSH)", requiresVm: true, checks };
}

export interface SoakFigures {
  cyclesPlanned: number;
  cyclesCompleted: number;
  secondsToSsh: number[];
  secondsToReady: number[];
  recoverySeconds: Record<string, number[]>;
  loadRequests: number;
  loadCompleted: number;
}

export function describeFigures(figures: SoakFigures): string {
  const spread = (values: number[]) =>
    values.length
      ? `median ${median(values)} s (min ${Math.min(...values)}, max ${Math.max(...values)}, n=${values.length})`
      : "not measured";
  const recovery = Object.entries(figures.recoverySeconds)
    .map(([unit, values]) => `${unit} recovery ${spread(values)}`)
    .join("; ");
  return [
    `soak: ${figures.cyclesCompleted} of ${figures.cyclesPlanned} reboot cycles completed`,
    `time to SSH ${spread(figures.secondsToSsh)}`,
    `time to ready ${spread(figures.secondsToReady)}`,
    ...(recovery ? [recovery] : []),
    ...(figures.loadRequests
      ? [`load ${figures.loadCompleted}/${figures.loadRequests} requests completed`]
      : []),
  ].join("; ");
}

export function figuresFrom(results: CheckResult[], plan: SoakPlan, timeline: SoakTimeline): SoakFigures {
  const numbers = (id: RegExp, key: string) =>
    results
      .filter((r) => id.test(r.id) && typeof r.evidence[key] === "number")
      .map((r) => r.evidence[key] as number);
  const reboots = results.filter((r) => /^soak\.cycle-\d+\.reboot$/.test(r.id));
  return {
    cyclesPlanned: plan.reboots,
    cyclesCompleted: reboots.filter((r) => typeof r.evidence.secondsToReady === "number").length,
    secondsToSsh: numbers(/\.reboot$/, "secondsToSsh"),
    secondsToReady: numbers(/\.reboot$/, "secondsToReady"),
    recoverySeconds: Object.fromEntries(
      ["local-ai", "nginx"]
        .map((unit) => [unit, numbers(new RegExp(`\\.kill-${unit}$`), "secondsToServingOverHttps")] as const)
        .filter(([, values]) => values.length),
    ),
    loadRequests: timeline.load.length,
    loadCompleted: timeline.load.filter((s) => s.ok).length,
  };
}
