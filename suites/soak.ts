// The reboot-loop soak (`slmc-check soak`): per cycle, optional kill -9 of LocalAI and nginx with
// measured recovery, then a reboot cycle with drift comparison; a light streaming load may run
// throughout and is judged last: a request may fail only while the soak itself broke service.
import { fail, pass, type Check, type CheckResult, type Suite } from "../src/core/check.ts";
import { defineCheck } from "./requirements.ts";
import { median } from "../src/bench/metrics.ts";
import type { RunningLoad } from "../src/soak/load.ts";
import type { LoadSample, SoakPlan, SoakStep, SoakTimeline } from "../src/soak/timeline.ts";
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

const KILLED_UNITS = ["local-ai", "nginx"] as const;

/** The soak's checks, and for each check id the step it is (cycle, kind, unit) for the timeline. */
export interface SoakSuite extends Suite {
  steps: ReadonlyMap<string, SoakStep>;
}

export function soakSuite(
  plan: SoakPlan,
  timeline: SoakTimeline,
  load: () => RunningLoad | undefined,
): SoakSuite {
  const checks: Check<any>[] = [];
  const steps = new Map<string, SoakStep>();
  const add = (check: Check<any>, step: Omit<SoakStep, "id">) => {
    checks.push(check);
    steps.set(check.id, { id: check.id, ...step });
  };
  for (let cycle = 1; cycle <= plan.reboots; cycle++) {
    if (killsInCycle(plan, cycle))
      for (const unit of KILLED_UNITS)
        add(recoveryCheck(`${unit}.service`, `soak.cycle-${cycle}.kill-${unit}`), {
          cycle,
          kind: "kill",
          unit,
        });
    add(
      rebootCycleCheck({
        id: `soak.cycle-${cycle}.reboot`,
        cycle,
        count: plan.reboots,
        readyBudgetS: plan.readyBudgetS,
        onPhase: (phase) => timeline.phase(phase),
      }),
      { cycle, kind: "reboot" },
    );
  }
  if (plan.loadStreams > 0) add(loadCheck(timeline, load), { cycle: 0, kind: "load" });
  return { name: "soak", title: "Reboot-loop soak (SSH)", requiresVm: true, checks, steps };
}

/** The planned step a check id belongs to (every check of a SoakSuite has one). */
export function stepOf(suite: SoakSuite, id: string): SoakStep {
  const step = suite.steps.get(id);
  if (!step) throw new Error(`${id} is not a step of this soak`);
  return step;
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

export function figuresFrom(
  results: CheckResult[],
  suite: SoakSuite,
  plan: SoakPlan,
  timeline: SoakTimeline,
): SoakFigures {
  const of = (where: (step: SoakStep) => boolean) => results.filter((r) => where(stepOf(suite, r.id)));
  const numbers = (picked: CheckResult[], key: string) =>
    picked.filter((r) => typeof r.evidence[key] === "number").map((r) => r.evidence[key] as number);
  const reboots = of((step) => step.kind === "reboot");
  return {
    cyclesPlanned: plan.reboots,
    cyclesCompleted: reboots.filter((r) => typeof r.evidence.secondsToReady === "number").length,
    secondsToSsh: numbers(reboots, "secondsToSsh"),
    secondsToReady: numbers(reboots, "secondsToReady"),
    recoverySeconds: Object.fromEntries(
      KILLED_UNITS.map(
        (unit) =>
          [
            unit,
            numbers(
              of((step) => step.kind === "kill" && step.unit === unit),
              "secondsToServingOverHttps",
            ),
          ] as const,
      ).filter(([, values]) => values.length),
    ),
    loadRequests: timeline.load.length,
    loadCompleted: timeline.load.filter((s) => s.ok).length,
  };
}
