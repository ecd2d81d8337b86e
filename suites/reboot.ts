// ONE-04 reboot idempotency: snapshot what the appliance renders and runs, reboot, prove the reboot
// happened (new boot_id), wait until this boot's configure + bootstrap finished, snapshot again and
// compare. Secrets are compared by digest only. Used by `slmc-check reboot <host> --count N`.
import { performance } from "node:perf_hooks";
import { defineCheck, fail, pass, type CheckContext, type Suite } from "../src/core/check.ts";

const CONTENT_FILES = [
  "/etc/nginx/sites-available/slm-copilot.conf",
  "/etc/systemd/system/local-ai.service",
  "/etc/systemd/system/nginx.service.d/slm-copilot-restart.conf",
  "/var/lib/local-ai/models/devstral-small-2.yaml",
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
  `echo "@@cert $(openssl x509 -noout -fingerprint -sha256 -in $(grep -m1 -oP 'ssl_certificate \\K[^;]+' /etc/nginx/sites-available/slm-copilot.conf) 2>/dev/null | cut -d= -f2)"`,
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
    } else if (j < b.length && (i >= a.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) out.push(`+${b[j++]}`);
    else out.push(`-${a[i++]}`);
  }
  return out;
}

export function drift(before: Snapshot, after: Snapshot): string[] {
  const found: string[] = [];
  for (const [file, text] of Object.entries(before.files))
    if (after.files[file] !== text)
      found.push(`${file} changed:\n${lineDiff(text, after.files[file] ?? "").join("\n")}`);
  for (const [file, digest] of Object.entries(before.secretDigests))
    if (after.secretDigests[file] !== digest)
      found.push(
        `${file} changed (secret: digest ${digest.slice(0, 12)}… → ${(after.secretDigests[file] ?? "").slice(0, 12)}…)`,
      );
  if (before.certificateFingerprint !== after.certificateFingerprint)
    found.push(`certificate changed: ${before.certificateFingerprint} → ${after.certificateFingerprint}`);
  const listenersBefore = before.listeners.join(" ");
  const listenersAfter = after.listeners.join(" ");
  if (listenersBefore !== listenersAfter)
    found.push(`listening sockets changed: [${listenersBefore}] → [${listenersAfter}]`);
  for (const [unit, state] of Object.entries(before.units))
    if (after.units[unit] !== state) found.push(`${unit}: "${state}" → "${after.units[unit]}"`);
  return found;
}

export async function takeSnapshot(ctx: CheckContext): Promise<Snapshot> {
  return parseSnapshot((await ctx.probes.ssh(`bash -c '${SNAPSHOT_SCRIPT.replace(/'/g, "'\\''")}'`)).stdout);
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
  [key: string]: unknown;
}

export function rebootSuite(count: number, readyBudgetS: number): Suite {
  const checks = Array.from({ length: count }, (_, index) =>
    defineCheck<CycleEvidence>({
      id: `reboot.cycle-${index + 1}`,
      requirement: "ONE-04",
      title: `reboot ${index + 1} of ${count}: new boot_id, ready again, nothing drifted`,
      needs: ["ssh"],
      timeoutMs: readyBudgetS * 1000 + 120_000,
      observe: async (ctx) => {
        const session = ctx.probes.sshSession;
        const before = await takeSnapshot(ctx);
        const bootIdBefore = (await ctx.probes.ssh("cat /proc/sys/kernel/random/boot_id")).stdout.trim();
        const evidence: CycleEvidence = {
          cycle: index + 1,
          bootIdBefore,
          bootIdAfter: null,
          secondsToSsh: null,
          secondsToReady: null,
          statusAfter: null,
          drift: [],
          readyBudgetSeconds: readyBudgetS,
        };
        await ctx.probes.ssh("systemctl reboot", 10_000).catch(() => undefined);
        session?.drop();
        const started = performance.now();
        const seconds = () => Math.round((performance.now() - started) / 100) / 10;
        await new Promise((wait) => setTimeout(wait, 3000));
        const bootId = await waitFor(readyBudgetS * 1000, async () => {
          const id = (await ctx.probes.ssh("cat /proc/sys/kernel/random/boot_id", 10_000)).stdout.trim();
          return id && id !== bootIdBefore ? id : (session?.drop(), undefined);
        });
        if (!bootId) return evidence;
        evidence.bootIdAfter = bootId;
        evidence.secondsToSsh = seconds();
        const status = await waitFor(readyBudgetS * 1000, async () => {
          const s = (await ctx.probes.ssh(CURRENT_STATUS, 10_000)).stdout.trim();
          return s === "bootstrap_success" || s.endsWith("_failure") ? s : undefined;
        });
        evidence.statusAfter = status ?? null;
        if (status !== "bootstrap_success") return evidence;
        evidence.secondsToReady = seconds();
        evidence.drift = drift(before, await takeSnapshot(ctx));
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
        if (e.drift.length) return fail(`drift after reboot: ${e.drift.join("; ")}`);
        return pass(
          `new boot_id; SSH after ${e.secondsToSsh} s, ready after ${e.secondsToReady} s; configuration, secrets, certificate, sockets and units unchanged`,
        );
      },
    }),
  );
  return { name: "reboot", title: "Reboot idempotency (SSH)", requiresVm: true, checks };
}
