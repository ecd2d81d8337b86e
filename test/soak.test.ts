// The soak's parts that need no VM: which steps a plan makes, how load failures are attributed to
// the soak's own disruptions, the figures and progress lines, and the --ui page and its state feed.
// The soak itself runs against the lab VM in test/lab.test.ts.
import t from "tap";
import type { CheckResult } from "../src/core/check.ts";
import { progressLine } from "../src/commands/soak.ts";
import { SoakTimeline, type SoakPlan } from "../src/soak/timeline.ts";
import { serveUi, uiApp } from "../src/soak/ui.ts";
import { describeFigures, figuresFrom, soakSuite, stepOf } from "../suites/soak.ts";

const plan: SoakPlan = { reboots: 3, killEvery: 2, loadStreams: 1, readyBudgetS: 60 };

function result(
  id: string,
  status: CheckResult["status"],
  evidence: Record<string, unknown> = {},
): CheckResult {
  return {
    id,
    suite: "soak",
    requirement: "X",
    title: id,
    status,
    duration_ms: 1,
    message: `${id} ${status}`,
    evidence,
  };
}

t.test("a plan becomes kill, reboot and load steps", async (t) => {
  const suite = soakSuite(plan, new SoakTimeline(plan), () => undefined);
  const ids = suite.checks.map((c) => c.id);
  t.same(ids, [
    "soak.cycle-1.reboot",
    "soak.cycle-2.kill-local-ai",
    "soak.cycle-2.kill-nginx",
    "soak.cycle-2.reboot",
    "soak.cycle-3.reboot",
    "soak.load",
  ]);
  // Each step's cycle and kind are data the timeline and figures read, not parsed from its id.
  t.same(
    ids.map((id) => suite.steps.get(id)),
    [
      { id: "soak.cycle-1.reboot", cycle: 1, kind: "reboot" },
      { id: "soak.cycle-2.kill-local-ai", cycle: 2, kind: "kill", unit: "local-ai" },
      { id: "soak.cycle-2.kill-nginx", cycle: 2, kind: "kill", unit: "nginx" },
      { id: "soak.cycle-2.reboot", cycle: 2, kind: "reboot" },
      { id: "soak.cycle-3.reboot", cycle: 3, kind: "reboot" },
      { id: "soak.load", cycle: 0, kind: "load" },
    ],
  );
  t.throws(() => stepOf(suite, "soak.cycle-9.reboot"), /soak\.cycle-9\.reboot is not a step of this soak/);
  const noLoad = soakSuite(
    { ...plan, killEvery: 0, loadStreams: 0 },
    new SoakTimeline(plan),
    () => undefined,
  );
  t.same(
    noLoad.checks.map((c) => c.id),
    ["soak.cycle-1.reboot", "soak.cycle-2.reboot", "soak.cycle-3.reboot"],
  );
});

t.test("load failures count only outside the soak's own disruptions", async (t) => {
  const timeline = new SoakTimeline(plan);
  timeline.steps.push(
    {
      id: "soak.cycle-1.kill-local-ai",
      cycle: 1,
      kind: "kill",
      startMs: 1000,
      endMs: 5000,
      status: "pass",
      detail: "",
    },
    {
      id: "soak.cycle-1.reboot",
      cycle: 1,
      kind: "reboot",
      startMs: 6000,
      endMs: 60000,
      status: "pass",
      detail: "",
    },
  );
  t.ok(timeline.duringDisruption({ startMs: 500, endMs: 1500 }), "started before the kill, ended during it");
  t.ok(timeline.duringDisruption({ startMs: 59000, endMs: 61000 }), "overlaps the reboot's end");
  t.notOk(timeline.duringDisruption({ startMs: 5100, endMs: 5900 }), "between two steps");
  t.notOk(timeline.duringDisruption({ startMs: 60001, endMs: 62000 }), "after the reboot step finished");

  const load = soakSuite(plan, timeline, () => undefined).checks.at(-1)!;
  const healthy = {
    streams: 1,
    startError: null,
    requests: 10,
    completed: 8,
    interruptedByDisruption: 2,
    unexpectedFailures: [],
  };
  t.match(load.judge(healthy), {
    status: "pass",
    message:
      /8 of 10 streamed requests completed over 1 stream\(s\); 2 cut by the soak's own kills and reboots/,
  });
  t.match(
    load.judge({
      ...healthy,
      completed: 7,
      unexpectedFailures: [{ startMs: 5100, endMs: 5900, status: 502, error: "HTTP 502" }],
    }).message,
    /1 of 10 streamed requests failed outside any kill or reboot \(first at 5\.1 s: HTTP 502\)/,
  );
  t.match(load.judge({ ...healthy, completed: 0 }).message, /none of 10 streamed requests completed/);
  t.match(
    load.judge({ ...healthy, startError: "could not learn the model id: 401" }).message,
    /could not start: could not learn the model id/,
  );
});

t.test("the load check stops the load and attributes each failure", async (t) => {
  const timeline = new SoakTimeline(plan);
  timeline.steps.push({
    id: "soak.cycle-1.reboot",
    cycle: 1,
    kind: "reboot",
    startMs: 1000,
    endMs: 2000,
    status: "pass",
    detail: "",
  });
  timeline.load.push(
    { startMs: 0, endMs: 900, ok: true, status: 200, contentChunks: 3, error: null },
    { startMs: 950, endMs: 1100, ok: false, status: 0, contentChunks: 0, error: "socket hang up" },
    { startMs: 2100, endMs: 2200, ok: false, status: 503, contentChunks: 0, error: "HTTP 503" },
  );
  let stopped = false;
  const running = { streams: 1, startError: null, stop: async () => void (stopped = true) };
  const check = soakSuite(plan, timeline, () => running).checks.at(-1)!;
  const evidence = await check.observe({} as never);
  t.ok(stopped, "the load was stopped before judging");
  t.match(evidence, { requests: 3, completed: 1, interruptedByDisruption: 1 });
  t.match(
    check.judge(evidence).message,
    /1 of 3 streamed requests failed outside any kill or reboot \(first at 2\.1 s: HTTP 503\)/,
  );
});

t.test("figures and progress lines", async (t) => {
  const timeline = new SoakTimeline(plan);
  const results = [
    result("soak.cycle-1.reboot", "pass", { secondsToSsh: 20, secondsToReady: 40 }),
    result("soak.cycle-2.kill-local-ai", "pass", { secondsToServingOverHttps: 3.5 }),
    result("soak.cycle-2.kill-nginx", "pass", { secondsToServingOverHttps: 2.5 }),
    result("soak.cycle-2.reboot", "pass", { secondsToSsh: 30, secondsToReady: 62 }),
    result("soak.cycle-3.reboot", "fail", { secondsToSsh: null, secondsToReady: null }),
  ];
  const figures = figuresFrom(
    results,
    soakSuite(plan, timeline, () => undefined),
    plan,
    timeline,
  );
  t.match(figures, {
    cyclesPlanned: 3,
    cyclesCompleted: 2,
    secondsToSsh: [20, 30],
    secondsToReady: [40, 62],
  });
  t.same(figures.recoverySeconds, { "local-ai": [3.5], nginx: [2.5] });
  t.match(
    describeFigures(figures),
    /soak: 2 of 3 reboot cycles completed; time to SSH median 25 s \(min 20, max 30, n=2\); time to ready median 51 s .*local-ai recovery median 3\.5 s/,
  );

  const lines: string[] = [];
  timeline.onStep((step, event) => lines.push(progressLine(step, event, timeline)));
  const reboot = { id: "soak.cycle-2.reboot", cycle: 2, kind: "reboot" as const };
  timeline.stepStarted(reboot);
  timeline.phase("wait-ssh");
  timeline.stepFinished(reboot, result("soak.cycle-2.reboot", "fail"));
  t.match(lines[0], /cycle 2\/3 {2}reboot: started/);
  t.match(lines[1], /cycle 2\/3 {2}reboot: waiting for SSH \(new boot_id\)/);
  t.match(
    lines[2],
    /cycle 2\/3 {2}reboot: fail in [\d.]+ s: soak\.cycle-2\.reboot fail {2}\[failures so far: 1\]/,
  );
});

t.test("the --ui page and its state feed", async (t) => {
  const timeline = new SoakTimeline(plan);
  timeline.stepStarted({ id: "soak.cycle-1.kill-local-ai", cycle: 1, kind: "kill", unit: "local-ai" });
  const app = uiApp(() => timeline.view());
  const page = await app.request("/");
  t.equal(page.status, 200);
  const html = await page.text();
  t.match(html, /<svg id="timeline"/);
  t.notMatch(html, /(src|href)="https?:/, "no external assets: the page opens offline");
  const state = (await (await app.request("/state")).json()) as {
    steps: { id: string; status: string }[];
    plan: SoakPlan;
  };
  t.same(state.plan, plan);
  t.match(state.steps, [{ id: "soak.cycle-1.kill-local-ai", status: "running" }]);

  const served = await serveUi(() => timeline.view(), 0);
  t.teardown(() => served.close());
  t.equal(served.host, "127.0.0.1", "loopback only");
  const live = await fetch(`http://127.0.0.1:${served.port}/state`);
  t.equal(live.headers.get("cache-control"), "no-store");
  t.match(await live.json(), { state: "running", cycle: 1 });
});
