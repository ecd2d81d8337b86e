// ONE-04 reboot idempotency: snapshot what the appliance renders and runs, reboot, prove the reboot
// happened (new boot_id), wait until this boot's configure + bootstrap finished, snapshot again and
// compare. Secrets are compared by digest only. Used by `slmc-check reboot <host> --count N`.
import { performance } from "node:perf_hooks";
import { defineCheck, fail, pass, type CheckContext, type Suite } from "../src/core/check.ts";
import { shellQuote } from "../src/probes/ssh.ts";
import { effectiveConfig } from "./integration.ts";

const CONTENT_FILES = [
  "/etc/nginx/sites-available/slm-copilot.conf",
  "/etc/systemd/system/local-ai.service",
  "/etc/systemd/system/nginx.service.d/slm-copilot-restart.conf",
  "/var/lib/local-ai/models/devstral-small-2.yaml",
  "/var/lib/local-ai/chat-templates/devstral-small-2.jinja",
];
const SECRET_FILES = [
  "/var/lib/slm-copilot/password",
  "/etc/nginx/slm-copilot.htpasswd",
  "/etc/nginx/slm-copilot.bearer-map",
  "/etc/one-appliance/config",
];
const UNITS = ["local-ai.service", "nginx.service"];

export interface Snapshot {
  files: Record<string, string>;
  secretDigests: Record<string, string>;
  certificateFingerprint: string;
  listeners: string[];
  units: Record<string, string>;
}

const SNAPSHOT_SCRIPT = [
  ...CONTENT_FILES.map((f) => `echo "@@file ${f}"; cat ${f} 2>/dev/null || echo "(missing)"`),
  ...SECRET_FILES.map((f) => `echo "@@digest ${f} $(sha256sum ${f} 2>/dev/null | cut -c1-64)"`),
  `echo "@@cert $(openssl x509 -noout -fingerprint -sha256 -in "$(grep -m1 -oP 'ssl_certificate \\K[^;]+' /etc/nginx/sites-available/slm-copilot.conf)" 2>/dev/null | cut -d= -f2)"`,
  `ss -ltnH | awk '{print "@@listen " $4}' | sort -u`,
  ...UNITS.map(
    (u) =>
      `echo "@@unit ${u} $(systemctl is-enabled ${u} 2>/dev/null) $(systemctl is-active ${u} 2>/dev/null)"`,
  ),
].join("; ");

export function parseSnapshot(text: string): Snapshot {
  const snapshot: Snapshot = {
    files: {},
    secretDigests: {},
    certificateFingerprint: "",
    listeners: [],
    units: {},
  };
  let current: string | undefined;
  for (const line of text.split("\n")) {
    const [marker, key = "", ...rest] = line.split(" ");
    if (marker === "@@file") {
      current = key;
      snapshot.files[key] = "";
    } else if (marker === "@@digest") snapshot.secretDigests[key] = rest.join(" ");
    else if (marker === "@@cert") snapshot.certificateFingerprint = key;
    else if (marker === "@@listen") snapshot.listeners.push(key);
    else if (marker === "@@unit") snapshot.units[key] = rest.join(" ");
    else if (current !== undefined) snapshot.files[current] += `${line}\n`;
  }
  return snapshot;
}

/** Line diff of two texts, unified-style, for the evidence (small files: a plain LCS is enough). */
export function lineDiff(before: string, after: string): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      i++;
      j++;
    } else if (j < b.length && (i >= a.length || lcs[i]![j + 1]! > lcs[i + 1]![j]!)) out.push(`+${b[j++]}`);
    else out.push(`-${a[i++]}`);
  }
  return out;
}

export interface DriftItem {
  kind: "file" | "secret" | "certificate" | "listeners" | "unit";
  subject: string;
  text: string;
  /** For files: the changed lines, "+" or "-" prefixed. */
  lines?: string[];
}

export function driftItems(before: Snapshot, after: Snapshot): DriftItem[] {
  const found: DriftItem[] = [];
  for (const [file, text] of Object.entries(before.files))
    if (after.files[file] !== text) {
      const lines = lineDiff(text, after.files[file] ?? "");
      found.push({ kind: "file", subject: file, text: `${file} changed:\n${lines.join("\n")}`, lines });
    }
  for (const [file, digest] of Object.entries(before.secretDigests))
    if (after.secretDigests[file] !== digest)
      found.push({
        kind: "secret",
        subject: file,
        text: `${file} changed (secret: digest ${digest.slice(0, 12)}… → ${(after.secretDigests[file] ?? "").slice(0, 12)}…)`,
      });
  if (before.certificateFingerprint !== after.certificateFingerprint)
    found.push({
      kind: "certificate",
      subject: "certificate",
      text: `certificate changed: ${before.certificateFingerprint} → ${after.certificateFingerprint}`,
    });
  const listenersBefore = before.listeners.join(" ");
  const listenersAfter = after.listeners.join(" ");
  if (listenersBefore !== listenersAfter)
    found.push({
      kind: "listeners",
      subject: "listening sockets",
      text: `listening sockets changed: [${listenersBefore}] → [${listenersAfter}]`,
    });
  for (const [unit, state] of Object.entries(before.units))
    if (after.units[unit] !== state)
      found.push({ kind: "unit", subject: unit, text: `${unit}: "${state}" → "${after.units[unit]}"` });
  return found;
}

export function drift(before: Snapshot, after: Snapshot): string[] {
  return driftItems(before, after).map((item) => item.text);
}

/** What a context change may legitimately alter, and what it must alter to count as applied. */
export const EXPECTABLE_CHANGES = ["password", "context-size", "threads"] as const;
export type ExpectedChange = (typeof EXPECTABLE_CHANGES)[number];

const MODEL_YAML = "/var/lib/local-ai/models/devstral-small-2.yaml";
const PASSWORD_FILE = "/var/lib/slm-copilot/password";
const REPORT = "/etc/one-appliance/config";
/** Where each setting appears in rendered files; a context change may alter exactly these values. */
const SETTING_PATTERNS: Record<Exclude<ExpectedChange, "password">, RegExp[]> = {
  "context-size": [/^(context_size: )\d+/gm, /(--context-size )\d+/g],
  threads: [/^(threads: )\d+/gm, /(--threads )\d+/g, /(LOCALAI_THREADS=)\d+/g],
};

function maskSettings(snapshot: Snapshot, expected: ExpectedChange[]): Snapshot {
  const files = Object.fromEntries(
    Object.entries(snapshot.files).map(([file, text]) => [
      file,
      expected.reduce(
        (masked, change) =>
          change === "password"
            ? masked
            : SETTING_PATTERNS[change].reduce((t, pattern) => t.replace(pattern, "$1<changed>"), masked),
        text,
      ),
    ]),
  );
  const secretDigests = Object.fromEntries(
    Object.entries(snapshot.secretDigests).filter(
      // The report carries password, context size and threads: any expected change rewrites it.
      ([file]) => !(expected.length && file === REPORT) && !expected.includes("password"),
    ),
  );
  return { ...snapshot, files, secretDigests };
}

function setting(snapshot: Snapshot, key: string): string | undefined {
  return new RegExp(`^${key}: (\\d+)`, "m").exec(snapshot.files[MODEL_YAML] ?? "")?.[1];
}

export interface ContextChangeOutcome {
  /** Drift the expected changes do not explain. */
  unexplained: DriftItem[];
  /** Expected changes that did not happen: the new context was not applied. */
  notApplied: string[];
  applied: string[];
}

export function contextChangeDrift(
  before: Snapshot,
  after: Snapshot,
  expected: ExpectedChange[],
): ContextChangeOutcome {
  const unexplained = driftItems(maskSettings(before, expected), maskSettings(after, expected));
  const applied: string[] = [];
  const notApplied: string[] = [];
  for (const change of expected) {
    if (change === "password") {
      const changed = before.secretDigests[PASSWORD_FILE] !== after.secretDigests[PASSWORD_FILE];
      (changed ? applied : notApplied).push("password");
      continue;
    }
    const key = change === "context-size" ? "context_size" : "threads";
    const [was, now] = [setting(before, key), setting(after, key)];
    if (was !== now) applied.push(`${key} ${was} → ${now}`);
    else notApplied.push(`${key} still ${was ?? "missing"}`);
  }
  return { unexplained, notApplied, applied };
}

export async function takeSnapshot(ctx: CheckContext): Promise<Snapshot> {
  return parseSnapshot((await ctx.probes.ssh(`bash -c ${shellQuote(SNAPSHOT_SCRIPT)}`)).stdout);
}

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
  effectiveConfig: string | null;
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
async function observePasswordSwap(ctx: CheckContext): Promise<CycleEvidence["passwordSwap"]> {
  const previous = ctx.access.password;
  const current = (await ctx.probes.ssh("cat /var/lib/slm-copilot/password")).stdout.trim();
  const newAccepted = await modelsStatus(ctx, current);
  const oldRefused = previous ? await modelsStatus(ctx, previous) : null;
  // Later checks of this run authenticate with what the appliance uses now.
  if (current) ctx.access.password = current;
  return { newAccepted, oldRefused };
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
      if (expected.includes("password")) evidence.passwordSwap = await observePasswordSwap(ctx);
      if (expected.some((change) => change !== "password")) {
        const verdict = effectiveConfig.judge(await effectiveConfig.observe(ctx), ctx.access);
        evidence.effectiveConfig = verdict.status === "pass" ? null : verdict.message;
      }
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
      if (e.effectiveConfig) problems.push(`effective configuration: ${e.effectiveConfig}`);
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
