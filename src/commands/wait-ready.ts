// --wait-ready: before the checks, wait until the appliance serves (GET /health 200) and, with SSH,
// until one-apps reports bootstrap_success. A fresh VM answers refused connections, then 503 while the
// model loads, then 200; the checks would fail on each of those for the wrong reason.
import type { Access } from "../core/access.ts";
import { EXIT } from "../cli/exit-codes.ts";
import { createProbes } from "../probes/index.ts";
import { ConnectError } from "../probes/http.ts";
import type { SshSession } from "../probes/ssh.ts";
import { PreflightError } from "./preflight.ts";

/** The one command sent: constant, and it only reads the one-apps status file. */
export const STATUS_COMMAND = "cat /etc/one-appliance/status 2>/dev/null || echo status-file-missing";
const POLL_INTERVAL_MS = 2_000;

export interface WaitClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: WaitClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface Waiter {
  /** Absolute end of the wait (ms, on `clock`). */
  readonly until: number;
  readonly totalS: number;
  log(line: string): void;
  clock: WaitClock;
}

export function startWait(totalS: number, log: (line: string) => void, clock = realClock): Waiter {
  return { until: clock.now() + totalS * 1000, totalS, log, clock };
}

function elapsed(waiter: Waiter): string {
  const spent = waiter.totalS - Math.max(0, waiter.until - waiter.clock.now()) / 1000;
  return `${Math.round(spent)} s of ${waiter.totalS} s`;
}

function timedOut(waiter: Waiter, what: string, lastSeen: string): PreflightError {
  return new PreflightError(
    `--wait-ready ${waiter.totalS}: the appliance was not ready in time (${what}); last seen: ${lastSeen}. ` +
      `A first boot downloads and loads the model: read /var/log/one-appliance/{configure,bootstrap}.log on the VM, or raise --wait-ready.`,
    EXIT.unreachable,
    "preflight.ready",
    { waitedS: waiter.totalS, waitingFor: what, lastSeen },
  );
}

/**
 * The appliance's answer on a VM too small for its model (appliance.sh health_override_line): the
 * engine is held until the VM is resized, so waiting cannot help.
 */
function insufficientMemory(body: Buffer): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body.subarray(0, 4096).toString("utf8"));
  } catch {
    return undefined;
  }
  const v = value as {
    status?: unknown;
    memory_mib?: unknown;
    needed_mib?: unknown;
    resize_to_gib?: unknown;
  };
  if (v?.status !== "insufficient_memory") return undefined;
  const n = (x: unknown) => (typeof x === "number" ? String(x) : "?");
  return `the VM has ${n(v.memory_mib)} MiB of RAM, the model needs ${n(v.needed_mib)} MiB: resize the VM to at least ${n(v.resize_to_gib)} GiB (the appliance does not start its engine until then)`;
}

/**
 * Polls GET /health (each poll bounded by --timeout) until it answers 200. A certificate the run does
 * not trust ends the wait at once: waiting would not change it, and preflight then says what to do.
 */
export async function waitForHealth(access: Access, waiter: Waiter): Promise<void> {
  const probes = createProbes(access);
  const where = `https://${access.host}:${access.httpsPort}/health`;
  let lastSeen = "nothing yet";
  for (;;) {
    try {
      const response = await probes.https({ path: "/health" });
      if (response.status === 200) {
        waiter.log(`ready: ${where} answered 200 after ${elapsed(waiter)}`);
        return;
      }
      const memory = response.status === 503 ? insufficientMemory(response.body) : undefined;
      if (memory)
        throw new PreflightError(
          `--wait-ready: ${where} says insufficient_memory: ${memory}`,
          EXIT.checkFailed,
          "preflight.ready",
          { status: 503, body: "insufficient_memory" },
        );
      lastSeen = `HTTP ${response.status} ${response.statusText}`.trim();
    } catch (error) {
      if (error instanceof PreflightError) throw error;
      if (error instanceof ConnectError && error.kind === "tls-untrusted") return;
      lastSeen = (error as Error).message;
    }
    waiter.log(`waiting for ${where}: ${lastSeen} (${elapsed(waiter)})`);
    const left = waiter.until - waiter.clock.now();
    if (left <= 0) throw timedOut(waiter, `GET /health 200`, lastSeen);
    await waiter.clock.sleep(Math.min(POLL_INTERVAL_MS, left));
  }
}

/** Polls the one-apps status file over SSH until it says bootstrap_success; a *_failure ends the wait. */
export async function waitForBootstrap(session: SshSession, access: Access, waiter: Waiter): Promise<void> {
  let lastSeen = "nothing yet";
  for (;;) {
    try {
      const status = (await session.exec(STATUS_COMMAND, access.requestTimeoutMs)).stdout
        .trim()
        .slice(0, 200);
      if (status === "bootstrap_success") {
        waiter.log(`ready: the appliance reports bootstrap_success after ${elapsed(waiter)}`);
        return;
      }
      lastSeen = `status "${status}"`;
      // A failed configure or bootstrap is final for this boot; the checks say what is wrong.
      if (status.endsWith("_failure")) {
        waiter.log(`the appliance reports ${status}: running the checks`);
        return;
      }
    } catch (error) {
      lastSeen = (error as Error).message;
    }
    waiter.log(`waiting for bootstrap_success (/etc/one-appliance/status): ${lastSeen} (${elapsed(waiter)})`);
    const left = waiter.until - waiter.clock.now();
    if (left <= 0) throw timedOut(waiter, "bootstrap_success", lastSeen);
    await waiter.clock.sleep(Math.min(POLL_INTERVAL_MS, left));
  }
}
