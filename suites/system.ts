// INFER-04 / INFER-08, seen from inside the VM over SSH: units enabled and active with the designed
// restart policies, recovery after kill -9 measured end to end, and the engine bound to loopback only
// (checked from both sides: a TCP connect alone proves nothing behind NAT or slirp).
import { performance } from "node:perf_hooks";
import { fail, pass, type CheckContext, type Suite } from "../src/core/check.ts";
import { defineCheck } from "./requirements.ts";
import { authorization, chatBody, modelId, SHORT_PROMPT } from "../src/core/requests.ts";

export const RECOVERY_LIMIT_S = 30;
const ENGINE_PORT = 8080;
const ALLOWED_PUBLIC_PORTS = [22, 80, 443];

interface UnitState {
  unit: string;
  UnitFileState: string;
  ActiveState: string;
  Restart: string;
  MainPID: number;
  NRestarts: number;
}

export async function unitState(ctx: CheckContext, unit: string): Promise<UnitState> {
  const result = await ctx.probes.ssh(
    `systemctl show -p UnitFileState,ActiveState,Restart,MainPID,NRestarts ${unit}`,
  );
  const fields = Object.fromEntries(
    result.stdout
      .trim()
      .split("\n")
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
  return {
    unit,
    UnitFileState: fields.UnitFileState ?? "",
    ActiveState: fields.ActiveState ?? "",
    Restart: fields.Restart ?? "",
    MainPID: Number(fields.MainPID ?? 0),
    NRestarts: Number(fields.NRestarts ?? 0),
  };
}

const DESIGNED_RESTART: Record<string, string[]> = {
  "local-ai.service": ["always"],
  "nginx.service": ["on-failure", "always"],
};

const services = defineCheck({
  id: "system.services",
  requirement: "INFER-04",
  title: "local-ai and nginx are enabled, active, and restart on failure as designed",
  needs: ["ssh"],
  observe: async (ctx) => ({
    units: [await unitState(ctx, "local-ai.service"), await unitState(ctx, "nginx.service")],
  }),
  judge: ({ units }) => {
    const problems = units.flatMap((u) => [
      ...(u.UnitFileState === "enabled"
        ? []
        : [`${u.unit} is ${u.UnitFileState || "not installed"}, not enabled`]),
      ...(u.ActiveState === "active" ? [] : [`${u.unit} is ${u.ActiveState}`]),
      ...((DESIGNED_RESTART[u.unit] ?? []).includes(u.Restart)
        ? []
        : [`${u.unit} has Restart=${u.Restart} (designed: ${DESIGNED_RESTART[u.unit]?.join(" or ")})`]),
    ]);
    return problems.length
      ? fail(`${problems.join("; ")}`)
      : pass(units.map((u) => `${u.unit} enabled, active, Restart=${u.Restart}`).join("; "));
  },
});

async function servesCompletion(ctx: CheckContext, model: string): Promise<boolean> {
  const response = await ctx.probes
    .https({
      method: "POST",
      path: "/v1/chat/completions",
      headers: { ...authorization(ctx), "content-type": "application/json" },
      body: chatBody(ctx, model, SHORT_PROMPT, false).replace(/"max_tokens":\d+/, '"max_tokens":4'),
      timeoutMs: 10_000,
    })
    .catch(() => undefined);
  return response?.status === 200;
}

type Recovery = {
  unit: string;
  killedPid: number;
  newPid: number;
  restartsBefore: number;
  restartsAfter: number;
  secondsToNewProcessReady: number | null;
  secondsToServingOverHttps: number | null;
  limitSeconds: number;
  budgetSeconds: number;
  /** Set when the wait stopped early: systemd left the unit down with Restart=no, so nothing restarts it. */
  leftDown?: { atS: number; activeState: string };
  /**
   * local-ai only: /health over HTTPS, then the engine's own /readyz inside the VM, each loop turn
   * while the engine restarts (at most MAX_HEALTH_SAMPLES). /health first: the engine only goes from
   * not ready to ready here, so a /readyz "not ready" taken after a /health 200 proves the 200 wrong.
   */
  healthDuringRecovery?: { atS: number; health: number | string; engineReadyz: string }[];
};

const MAX_HEALTH_SAMPLES = 200;

/** The samples in which /health said 200 while the engine itself was not ready. */
export function wrongHealthSamples(e: Pick<Recovery, "healthDuringRecovery">) {
  return (e.healthDuringRecovery ?? []).filter((s) => s.health === 200 && s.engineReadyz !== "200");
}

export type RecoverableUnit = "local-ai.service" | "nginx.service";

const READY_PROBES: Record<RecoverableUnit, string> = {
  "local-ai.service": `curl -s -o /dev/null -w '%{http_code}' -m 2 http://127.0.0.1:${ENGINE_PORT}/readyz`,
  "nginx.service": "curl -sk -o /dev/null -w '%{http_code}' -m 2 https://127.0.0.1/health",
};

/** How long a unit must stay down with Restart=no before the recovery wait stops early. */
const LEFT_DOWN_CONFIRM_S = 3;

function isDownForGood(activeState: string, restart: string) {
  return restart === "no" && (activeState === "failed" || activeState === "inactive");
}

/** True once the unit has been down with Restart=no for LEFT_DOWN_CONFIRM_S: waiting longer is pointless. */
function leftDown(activeState: string, restart: string, nowS: number, downSinceS: number | null) {
  return (
    isDownForGood(activeState, restart) && downSinceS !== null && nowS - downSinceS >= LEFT_DOWN_CONFIRM_S
  );
}

/** kill -9 of the unit's main process, then the time until it serves again (also used by the soak). */
export function recoveryCheck(unit: RecoverableUnit, id = `system.recovery-${unit.replace(".service", "")}`) {
  const short = unit.replace(".service", "");
  const readyProbe = READY_PROBES[unit];
  return defineCheck<Recovery>({
    id,
    requirement: "INFER-04",
    title: `after kill -9 of ${short}, a new process serves again within ${RECOVERY_LIMIT_S} s`,
    needs: ["ssh", "password"],
    timeoutMs: 180_000,
    observe: async (ctx): Promise<Recovery> => {
      const model = await modelId(ctx);
      const before = await unitState(ctx, unit);
      const budget = RECOVERY_LIMIT_S * 3;
      const evidence: Recovery = {
        unit,
        killedPid: before.MainPID,
        newPid: 0,
        restartsBefore: before.NRestarts,
        restartsAfter: before.NRestarts,
        secondsToNewProcessReady: null,
        secondsToServingOverHttps: null,
        limitSeconds: RECOVERY_LIMIT_S,
        budgetSeconds: budget,
      };
      if (!Number.isSafeInteger(before.MainPID) || before.MainPID <= 0) return evidence;
      await ctx.probes.ssh(`kill -9 ${before.MainPID}`);
      const started = performance.now();
      const elapsed = () => Math.round((performance.now() - started) / 100) / 10;
      let downSince: number | null = null;
      const watchHealth = unit === "local-ai.service";
      if (watchHealth) evidence.healthDuringRecovery = [];
      while (elapsed() < budget && evidence.secondsToNewProcessReady === null) {
        const health = watchHealth
          ? await ctx.probes.https({ path: "/health", timeoutMs: 5_000 }).then(
              (r) => r.status,
              (error: Error) => `error: ${error.message}`,
            )
          : undefined;
        const probe = await ctx.probes.ssh(
          `pid=$(systemctl show -p MainPID --value ${unit}); state=$(systemctl show -p ActiveState --value ${unit}); restart=$(systemctl show -p Restart --value ${unit}); code=$(${readyProbe}); echo "$pid $state $restart $code"`,
          10_000,
        );
        const [pid = "0", state = "", restart = "", code = ""] = probe.stdout.trim().split(/\s+/);
        if (health !== undefined && (evidence.healthDuringRecovery?.length ?? 0) < MAX_HEALTH_SAMPLES)
          evidence.healthDuringRecovery?.push({ atS: elapsed(), health, engineReadyz: code });
        if (Number(pid) > 0 && Number(pid) !== before.MainPID && code === "200") {
          evidence.newPid = Number(pid);
          evidence.secondsToNewProcessReady = elapsed();
        } else if (leftDown(state, restart, elapsed(), downSince)) {
          evidence.leftDown = { atS: elapsed(), activeState: state };
          break;
        } else {
          downSince = isDownForGood(state, restart) ? (downSince ?? elapsed()) : null;
          await new Promise((wait) => setTimeout(wait, 250));
        }
      }
      while (!evidence.leftDown && elapsed() < budget && evidence.secondsToServingOverHttps === null) {
        if (await servesCompletion(ctx, model)) evidence.secondsToServingOverHttps = elapsed();
        else await new Promise((wait) => setTimeout(wait, 250));
      }
      evidence.restartsAfter = (await unitState(ctx, unit)).NRestarts;
      return evidence;
    },
    judge: (e) => {
      if (!e.killedPid) return fail(`${e.unit} has no main process to kill: it is not running`);
      if (e.secondsToNewProcessReady === null && e.leftDown)
        return fail(
          `${e.unit} did not come back after kill -9 of PID ${e.killedPid}: systemd left it ${e.leftDown.activeState} with Restart=no (seen for ${LEFT_DOWN_CONFIRM_S} s, ${e.leftDown.atS} s after the kill), so nothing restarts it: set Restart=always in the unit`,
        );
      if (e.secondsToNewProcessReady === null)
        return fail(
          `${e.unit} did not come back within ${e.budgetSeconds} s after kill -9 of PID ${e.killedPid}: set Restart= in the unit`,
        );
      if (e.secondsToServingOverHttps === null)
        return fail(
          `${e.unit} restarted (PID ${e.newPid}) but authenticated completions over HTTPS did not work within ${e.budgetSeconds} s`,
        );
      const wrong = wrongHealthSamples(e);
      if (wrong.length)
        return fail(
          `/health answered 200 while the engine's own /readyz answered ${wrong[0]?.engineReadyz || "nothing"} (${wrong[0]?.atS} s after kill -9 of ${e.unit}, ${wrong.length} time(s)); /health must pass the engine's readiness through (proxy_pass to its /readyz), not answer on its own`,
        );
      const verdict = `killed PID ${e.killedPid}; new PID ${e.newPid} ready after ${e.secondsToNewProcessReady} s, serving over HTTPS after ${e.secondsToServingOverHttps} s`;
      return e.secondsToServingOverHttps > e.limitSeconds
        ? fail(`${verdict}: over the ${e.limitSeconds} s limit`)
        : pass(verdict);
    },
  });
}

interface Listener {
  address: string;
  port: number;
  process: string;
}

export function parseListeners(ssOutput: string): Listener[] {
  return ssOutput
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const columns = line.trim().split(/\s+/);
      const local = columns[3] ?? "";
      const cut = local.lastIndexOf(":");
      const processName = /users:\(\("([^"]+)"/.exec(line)?.[1] ?? "?";
      return {
        address: local
          .slice(0, cut)
          .replace(/^\[|\]$/g, "")
          .replace(/%.*$/, ""),
        port: Number(local.slice(cut + 1)),
        process: processName,
      };
    });
}

export function isLoopback(address: string): boolean {
  return address.startsWith("127.") || address === "::1";
}

const bindingInside = defineCheck({
  id: "system.binding-inside",
  requirement: "INFER-08",
  title: `inside the VM, port ${ENGINE_PORT} listens on loopback only, and nothing public beyond ssh, 80, 443`,
  needs: ["ssh"],
  observe: async (ctx) => {
    const listeners = parseListeners((await ctx.probes.ssh("ss -ltnpH")).stdout);
    return { listeners, allowedPublicPorts: ALLOWED_PUBLIC_PORTS };
  },
  judge: ({ listeners, allowedPublicPorts }) => {
    const engine = listeners.filter((l) => l.port === ENGINE_PORT);
    if (!engine.length) return fail(`nothing listens on port ${ENGINE_PORT}: is local-ai running?`);
    const problems: string[] = [];
    const exposed = engine.filter((l) => !isLoopback(l.address));
    if (exposed.length)
      problems.push(
        `the engine listens on ${exposed.map((l) => `${l.address}:${l.port} (${l.process})`).join(", ")}: run it with --address 127.0.0.1:${ENGINE_PORT}`,
      );
    const extra = listeners.filter(
      (l) => !isLoopback(l.address) && l.port !== ENGINE_PORT && !allowedPublicPorts.includes(l.port),
    );
    if (extra.length)
      problems.push(
        `unexpected public listeners: ${extra.map((l) => `${l.address}:${l.port} (${l.process})`).join(", ")}; only ssh, 80 and 443 may listen beyond loopback`,
      );
    if (problems.length) return fail(problems.join("; "));
    return pass(
      `engine on ${engine.map((l) => l.address).join(", ")} only; public listeners: ${[...new Set(listeners.filter((l) => !isLoopback(l.address)).map((l) => l.port))].join(", ")}`,
    );
  },
});

const bindingOutside = defineCheck({
  id: "system.binding-outside",
  requirement: "INFER-08",
  title: "from the harness, the engine port gives no HTTP answer",
  observe: async (ctx) => {
    const port = ctx.access.enginePort ?? ENGINE_PORT;
    const outcome = await ctx.probes
      .httpTo(port, { path: "/v1/models", timeoutMs: 3000 })
      .then((response) => ({ answered: true, status: response.status, detail: `HTTP ${response.status}` }))
      .catch((error: Error) => ({ answered: false, status: 0, detail: error.message }));
    return {
      port,
      ...outcome,
      note: "a completed TCP connect is not enough: NAT or QEMU slirp accept and then reset",
    };
  },
  judge: (e) =>
    e.answered
      ? fail(
          `the engine answered ${e.detail} on port ${e.port} from outside the VM: it must listen on 127.0.0.1 only`,
        )
      : pass(`no HTTP answer on port ${e.port} (${e.detail})`),
});

export const systemSuite: Suite = {
  requiresVm: true,
  name: "system",
  title: "System (SSH)",
  checks: [
    services,
    bindingInside,
    bindingOutside,
    recoveryCheck("local-ai.service"),
    recoveryCheck("nginx.service"),
  ],
};
