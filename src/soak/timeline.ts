// What a soak run has done so far: one entry per step (crash injection, reboot cycle, load verdict)
// and one sample per load request. Fed by the runner's listener and the load loop; read by the live
// terminal lines, the --ui page and the report. Holds no secrets.
import { performance } from "node:perf_hooks";
import type { CheckResult } from "../core/check.ts";

/** One soak step as planned: which check, in which cycle, doing what (never parsed from the id). */
export interface SoakStep {
  id: string;
  /** 1-based reboot cycle; 0 for the load verdict after the last cycle. */
  cycle: number;
  kind: "kill" | "reboot" | "load";
  /** For a kill: the service killed ("local-ai", "nginx"). */
  unit?: string;
}

export interface TimelineStep {
  id: string;
  cycle: number;
  kind: SoakStep["kind"];
  startMs: number;
  endMs: number | null;
  status: "running" | CheckResult["status"];
  /** Current sub-phase while running (e.g. "wait-ssh"), the verdict message once finished. */
  detail: string;
}

export interface LoadSample {
  startMs: number;
  endMs: number;
  ok: boolean;
  /** HTTP status, 0 when no response arrived. */
  status: number;
  contentChunks: number;
  error: string | null;
}

export interface TimelineView {
  startedAt: string;
  elapsedMs: number;
  plan: SoakPlan;
  state: "running" | "interrupting" | "finished" | "interrupted";
  cycle: number;
  failures: number;
  steps: TimelineStep[];
  load: LoadSample[];
}

export interface SoakPlan {
  reboots: number;
  killEvery: number;
  loadStreams: number;
  readyBudgetS: number;
}

type Listener = (step: TimelineStep, event: "started" | "phase" | "finished") => void;

export class SoakTimeline {
  readonly startedAt = new Date();
  readonly steps: TimelineStep[] = [];
  readonly load: LoadSample[] = [];
  state: TimelineView["state"] = "running";
  private readonly origin = performance.now();
  private readonly listeners: Listener[] = [];

  constructor(readonly plan: SoakPlan) {}

  now(): number {
    return Math.round(performance.now() - this.origin);
  }

  onStep(listener: Listener): void {
    this.listeners.push(listener);
  }

  stepStarted({ id, cycle, kind }: SoakStep): void {
    const step: TimelineStep = {
      id,
      cycle,
      kind,
      startMs: this.now(),
      endMs: null,
      status: "running",
      detail: "",
    };
    this.steps.push(step);
    this.emit(step, "started");
  }

  phase(detail: string): void {
    const step = this.current();
    if (!step) return;
    step.detail = detail;
    this.emit(step, "phase");
  }

  stepFinished({ cycle, kind }: SoakStep, result: CheckResult): void {
    const step = this.steps.findLast((s) => s.id === result.id && s.status === "running");
    if (!step) {
      // Skipped without starting (interrupted run): still part of the timeline.
      const at = this.now();
      const skipped: TimelineStep = {
        id: result.id,
        cycle,
        kind,
        startMs: at,
        endMs: at,
        status: result.status,
        detail: result.message,
      };
      this.steps.push(skipped);
      this.emit(skipped, "finished");
      return;
    }
    step.endMs = this.now();
    step.status = result.status;
    step.detail = result.message;
    this.emit(step, "finished");
  }

  current(): TimelineStep | undefined {
    return this.steps.findLast((s) => s.status === "running");
  }

  failures(): number {
    return this.steps.filter((s) => s.status === "fail" || s.status === "error").length;
  }

  /** Intervals during which the soak itself broke service on purpose (kill -9, reboot). */
  disruptions(): [number, number][] {
    return this.steps
      .filter((s) => s.kind === "kill" || s.kind === "reboot")
      .map((s) => [s.startMs, s.endMs ?? Number.POSITIVE_INFINITY]);
  }

  /** A failed request is expected when its lifetime overlaps a disruption the soak caused. */
  duringDisruption(sample: Pick<LoadSample, "startMs" | "endMs">): boolean {
    return this.disruptions().some(([from, to]) => sample.startMs <= to && sample.endMs >= from);
  }

  view(): TimelineView {
    return {
      startedAt: this.startedAt.toISOString(),
      elapsedMs: this.now(),
      plan: this.plan,
      state: this.state,
      cycle: this.current()?.cycle ?? this.steps.at(-1)?.cycle ?? 0,
      failures: this.failures(),
      steps: this.steps,
      load: this.load,
    };
  }

  private emit(step: TimelineStep, event: "started" | "phase" | "finished"): void {
    for (const listener of this.listeners) listener(step, event);
  }
}
