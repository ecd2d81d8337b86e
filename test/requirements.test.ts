// Every check names a requirement of suites/requirements.ts: the type system refuses any other id
// (RequirementId), and this test walks every suite the binary can run (the registry, reboot, context
// change, soak) in case a check was built around the suites' defineCheck. Unused ids are listed.
import t from "tap";
import type { Suite } from "../src/core/check.ts";
import { SoakTimeline, type SoakPlan } from "../src/soak/timeline.ts";
import { SUITES } from "../suites/index.ts";
import { rebootSuite } from "../suites/reboot/check.ts";
import { defineCheck, REQUIREMENTS } from "../suites/requirements.ts";
import { soakSuite } from "../suites/soak.ts";

function everySuite(): Suite[] {
  const plan: SoakPlan = { reboots: 2, killEvery: 1, loadStreams: 1, readyBudgetS: 60 };
  return [
    ...SUITES,
    rebootSuite(2, 60),
    rebootSuite(1, 60, ["password", "context-size"]),
    soakSuite(plan, new SoakTimeline(plan), () => undefined),
  ];
}

function unknownRequirements(suites: Suite[]): string[] {
  return suites.flatMap((suite) =>
    suite.checks
      .filter((check) => !Object.hasOwn(REQUIREMENTS, check.requirement))
      .map((check) => `${check.id} names ${check.requirement}, which suites/requirements.ts does not list`),
  );
}

t.test("a requirement id outside the table is refused", async (t) => {
  const stray = {
    id: "x.stray",
    requirement: "SEC-99",
    title: "stray",
    observe: async () => ({}),
    judge: () => ({ status: "pass" as const, message: "" }),
  };
  // @ts-expect-error SEC-99 is not a RequirementId: a typo does not compile
  defineCheck(stray);
  t.same(unknownRequirements([{ name: "x", title: "x", checks: [stray] }]), [
    "x.stray names SEC-99, which suites/requirements.ts does not list",
  ]);
});

t.test("every check of every suite names a requirement of the table", async (t) => {
  const suites = everySuite();
  const checks = suites.flatMap((suite) => suite.checks);
  t.ok(checks.length > 50, `${checks.length} checks walked`);
  t.same(unknownRequirements(suites), []);
  t.same(
    checks.filter((check) => check.judge.length > 1).map((check) => check.id),
    [],
    "every judge takes the evidence alone",
  );
  const used = new Set(checks.map((check) => check.requirement));
  const unused = Object.keys(REQUIREMENTS).filter((id) => !used.has(id));
  t.comment(
    unused.length ? `requirements no check verifies: ${unused.join(", ")}` : "every requirement is verified",
  );
});
