// What a reboot must leave unchanged, read in one constant command over SSH: the rendered files, the
// secrets (by digest only), the served certificate, the listening sockets and the units' states.
import type { CheckContext } from "../../src/core/check.ts";
import { shellQuote } from "../../src/probes/ssh.ts";

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

export async function takeSnapshot(ctx: CheckContext): Promise<Snapshot> {
  return parseSnapshot((await ctx.probes.ssh(`bash -c ${shellQuote(SNAPSHOT_SCRIPT)}`)).stdout);
}
