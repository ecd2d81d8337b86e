// ONE-04 reboot idempotency: snapshot what the appliance renders and runs, reboot, prove the reboot
// happened (new boot_id), wait until this boot's configure + bootstrap finished, snapshot again and
// compare. Secrets are compared by digest only. Used by `slmc-check reboot <host> --count N`.
import { performance } from "node:perf_hooks";
import { fail, pass, type CheckContext, type Suite } from "../../src/core/check.ts";
import { effectiveConfig } from "../integration.ts";
import { defineCheck } from "../requirements.ts";
import { contextChangeDrift, drift, type ExpectedChange } from "./drift.ts";
import { takeSnapshot } from "./snapshot.ts";

type EffectiveConfigEvidence = Parameters<typeof effectiveConfig.judge>[0];

const CURRENT_STATUS =
  "if [ -e /run/one-context/context.sh.network ] && [ ! -d /run/one-context/one-context.lock ]; then cat /etc/one-appliance/status; else echo context_pending; fi";

async function waitFor<T>(budgetMs: number, attempt: () => Promise<T | undefined>): Promise<T | undefined> {
  const deadline = performance.now() + budgetMs;
  while (performance.now() < deadline) {
    const value = await attempt().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((wait) => setTimeout(wait, 2000));
  }
  return undefined;
}

interface CycleEvidence {
  cycle: number;
  bootIdBefore: string;
  bootIdAfter: string | null;
  secondsToSsh: number | null;
  secondsToReady: number | null;
  statusAfter: string | null;
  drift: string[];
  readyBudgetSeconds: number;
  expectedChanges: ExpectedChange[];
  applied: string[];
  notApplied: string[];
  /** After an expected password change: the new password is accepted and the old one refused. */
  passwordSwap: { newAccepted: number; oldRefused: number | null } | null;
  /**
   * The password the appliance uses after an expected password change. Checks never change the run's
   * access: `slmc-check reboot` applies it for the checks that follow (the report masks it).
   */
  newPassword: string | null;
  /** What one.effective-config observes after a context/threads change; judged with this cycle. */
  effectiveConfig: EffectiveConfigEvidence | null;
  [key: string]: unknown;
}

export interface CycleOptions {
  id: string;
  cycle: number;
  count: number;
  readyBudgetS: number;
  /** A context change is expected to take effect with this reboot (see contextChangeDrift). */
  expected?: ExpectedChange[];
  /** Told when the cycle enters a phase, for live progress and the soak timeline. */
  onPhase?: (phase: "reboot" | "wait-ssh" | "wait-ready" | "compare") => void;
}

async function modelsStatus(ctx: CheckContext, password: string): Promise<number> {
  const response = await ctx.probes.https({
    path: "/v1/models",
    headers: { authorization: `Bearer ${password}` },
    timeoutMs: 15_000,
  });
  return response.status;
}

/** The new password (read on the appliance) opens the API and the previous one no longer does. */
async function observePasswordSwap(
  ctx: CheckContext,
): Promise<Pick<CycleEvidence, "passwordSwap" | "newPassword">> {
  const previous = ctx.access.password;
  const current = (await ctx.probes.ssh("cat /var/lib/slm-copilot/password")).stdout.trim();
  const newAccepted = await modelsStatus(ctx, current);
  const oldRefused = previous ? await modelsStatus(ctx, previous) : null;
  return { passwordSwap: { newAccepted, oldRefused }, newPassword: current || null };
}

export function rebootCycleCheck(options: CycleOptions) {
  const { cycle, count, readyBudgetS } = options;
  const expected = options.expected ?? [];
  const phase = options.onPhase ?? (() => undefined);
  return defineCheck<CycleEvidence>({
    id: options.id,
    requirement: "ONE-04",
    title: expected.length
      ? `reboot with a new context: ${expected.join(", ")} change, everything else identical`
      : `reboot ${cycle} of ${count}: new boot_id, ready again, nothing drifted`,
    needs: ["ssh"],
    timeoutMs: readyBudgetS * 2000 + 120_000,
    observe: async (ctx) => {
      const session = ctx.probes.sshSession;
      const before = await takeSnapshot(ctx);
      const bootIdBefore = (await ctx.probes.ssh("cat /proc/sys/kernel/random/boot_id")).stdout.trim();
      const evidence: CycleEvidence = {
        cycle,
        bootIdBefore,
        bootIdAfter: null,
        secondsToSsh: null,
        secondsToReady: null,
        statusAfter: null,
        drift: [],
        readyBudgetSeconds: readyBudgetS,
        expectedChanges: expected,
        applied: [],
        notApplied: [],
        passwordSwap: null,
        newPassword: null,
        effectiveConfig: null,
      };
      phase("reboot");
      await ctx.probes.ssh("systemctl reboot", 10_000).catch(() => undefined);
      session?.drop();
      const started = performance.now();
      const seconds = () => Math.round((performance.now() - started) / 100) / 10;
      await new Promise((wait) => setTimeout(wait, 3000));
      phase("wait-ssh");
      const bootId = await waitFor(readyBudgetS * 1000, async () => {
        const id = (await ctx.probes.ssh("cat /proc/sys/kernel/random/boot_id", 10_000)).stdout.trim();
        return id && id !== bootIdBefore ? id : (session?.drop(), undefined);
      });
      if (!bootId) return evidence;
      evidence.bootIdAfter = bootId;
      evidence.secondsToSsh = seconds();
      phase("wait-ready");
      const status = await waitFor(readyBudgetS * 1000, async () => {
        const s = (await ctx.probes.ssh(CURRENT_STATUS, 10_000)).stdout.trim();
        return s === "bootstrap_success" || s.endsWith("_failure") ? s : undefined;
      });
      evidence.statusAfter = status ?? null;
      if (status !== "bootstrap_success") return evidence;
      evidence.secondsToReady = seconds();
      phase("compare");
      const after = await takeSnapshot(ctx);
      if (!expected.length) {
        evidence.drift = drift(before, after);
        return evidence;
      }
      const outcome = contextChangeDrift(before, after, expected);
      evidence.drift = outcome.unexplained.map((item) => item.text);
      evidence.applied = outcome.applied;
      evidence.notApplied = outcome.notApplied;
      if (expected.includes("password")) Object.assign(evidence, await observePasswordSwap(ctx));
      if (expected.some((change) => change !== "password"))
        evidence.effectiveConfig = await effectiveConfig.observe(ctx);
      return evidence;
    },
    judge: (e) => {
      if (!e.bootIdAfter)
        return fail(
          `no new boot within ${e.readyBudgetSeconds} s (boot_id still ${e.bootIdBefore} or SSH unreachable): the VM did not come back`,
        );
      if (e.statusAfter !== "bootstrap_success")
        return fail(
          `rebooted (SSH after ${e.secondsToSsh} s) but the appliance reached ${e.statusAfter ?? "nothing"} within ${e.readyBudgetSeconds} s`,
        );
      const problems: string[] = [];
      if (e.notApplied.length) problems.push(`the new context was not applied: ${e.notApplied.join(", ")}`);
      if (e.passwordSwap && e.passwordSwap.newAccepted !== 200)
        problems.push(`the new password is refused (HTTP ${e.passwordSwap.newAccepted})`);
      if (
        e.passwordSwap?.oldRefused !== undefined &&
        e.passwordSwap?.oldRefused !== null &&
        e.passwordSwap.oldRefused !== 401
      )
        problems.push(`the previous password still answers HTTP ${e.passwordSwap.oldRefused} (expected 401)`);
      const configuration = e.effectiveConfig ? effectiveConfig.judge(e.effectiveConfig) : undefined;
      if (configuration && configuration.status !== "pass")
        problems.push(`effective configuration: ${configuration.message}`);
      if (e.drift.length)
        problems.push(
          `${e.expectedChanges.length ? "drift beyond the expected change" : "drift after reboot"}: ${e.drift.join("; ")}`,
        );
      if (problems.length) return fail(problems.join("; "));
      const times = `SSH after ${e.secondsToSsh} s, ready after ${e.secondsToReady} s`;
      if (e.expectedChanges.length)
        return pass(
          `new boot_id; ${times}; applied: ${e.applied.join(", ")}${e.passwordSwap ? " (new password accepted, old refused)" : ""}; everything else identical`,
        );
      return pass(`new boot_id; ${times}; configuration, secrets, certificate, sockets and units unchanged`);
    },
  });
}

export function rebootSuite(count: number, readyBudgetS: number, expected: ExpectedChange[] = []): Suite {
  const checks = Array.from({ length: count }, (_, index) =>
    rebootCycleCheck({
      id: expected.length && count === 1 ? "reboot.context-change" : `reboot.cycle-${index + 1}`,
      cycle: index + 1,
      count,
      readyBudgetS,
      expected: index === 0 ? expected : [],
    }),
  );
  return { name: "reboot", title: "Reboot idempotency (SSH)", requiresVm: true, checks };
}
