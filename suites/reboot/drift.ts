// Drift between two snapshots, and the drift a context change explains (what it may and must alter).
import { lineDiff } from "./diff.ts";
import type { Snapshot } from "./snapshot.ts";

export interface DriftItem {
  kind: "file" | "secret" | "certificate" | "listeners" | "unit";
  subject: string;
  text: string;
  /** For files: the changed lines, "+" or "-" prefixed. */
  lines?: string[];
}

/** Linux's default ip_local_port_range starts here: a port at or above it was picked by the kernel. */
const EPHEMERAL_PORT_MIN = 32768;

/**
 * The listeners as compared across a reboot: a loopback socket on an ephemeral port becomes
 * `ADDRESS:ephemeral`. LocalAI runs each backend (llama.cpp's server) on a free loopback port it asks
 * the kernel for, so that port differs after every start; the socket's presence, its address and
 * every fixed or non-loopback port are still compared.
 */
export function comparableListeners(listeners: string[]): string[] {
  return listeners
    .map((listener) => {
      const match = /^(127\.\d+\.\d+\.\d+|\[::1\]):(\d+)$/.exec(listener);
      return match && Number(match[2]) >= EPHEMERAL_PORT_MIN ? `${match[1]}:ephemeral` : listener;
    })
    .sort();
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
  const listenersBefore = comparableListeners(before.listeners).join(" ");
  const listenersAfter = comparableListeners(after.listeners).join(" ");
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
