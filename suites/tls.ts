// SEC-01: what the TLS handshake shows, and whether legacy protocol versions are refused.
import { fail, pass, type CheckContext, type Suite } from "../src/core/check.ts";
import { defineCheck } from "./requirements.ts";
import type { HandshakeFacts } from "../src/probes/tls.ts";
import { isIpLiteral } from "../src/probes/http.ts";

const MODERN = new Set(["TLSv1.2", "TLSv1.3"]);

const handshake = (ctx: CheckContext) => ctx.memo("tls.handshake", () => ctx.probes.handshake());

const protocol = defineCheck<{ handshake: HandshakeFacts }>({
  id: "tls.protocol",
  requirement: "SEC-01",
  title: "TLS handshake negotiates TLS 1.2 or 1.3",
  observe: async (ctx) => ({ handshake: await handshake(ctx) }),
  judge: ({ handshake }) =>
    MODERN.has(handshake.protocol)
      ? pass(`negotiated ${handshake.protocol} with ${handshake.cipher}`)
      : fail(`negotiated ${handshake.protocol}; configure nginx with "ssl_protocols TLSv1.2 TLSv1.3;"`),
});

function namesHost(sans: string[], host: string): boolean {
  const wanted = isIpLiteral(host) ? `IP Address:${host}` : `DNS:${host}`;
  const normalized = sans.map((san) => san.replace(/^IP Address:0:0:0:0:0:0:0:1$/, "IP Address:::1"));
  if (normalized.some((san) => san.toLowerCase() === wanted.toLowerCase())) return true;
  return (
    !isIpLiteral(host) && normalized.some((san) => san.startsWith("DNS:*.") && host.endsWith(san.slice(5)))
  );
}

const certificate = defineCheck<{ handshake: HandshakeFacts; host: string; insecure: boolean; now: string }>({
  id: "tls.certificate",
  requirement: "SEC-01",
  title: "certificate is valid now, names the host, and is trusted (or explicitly accepted)",
  observe: async (ctx) => ({
    handshake: await handshake(ctx),
    host: ctx.access.servername ?? ctx.access.host,
    insecure: ctx.access.insecure,
    now: new Date().toISOString(),
  }),
  judge: ({ handshake, host, insecure, now }) => {
    const cert = handshake.certificate;
    if (now < cert.validFrom)
      return fail(`certificate not valid before ${cert.validFrom}; check the appliance clock`);
    if (now > cert.validTo)
      return fail(
        `certificate expired ${cert.validTo}; renew it (self-signed: delete /etc/slm-copilot/tls/self-signed.crt and re-run configure, which generates a new one)`,
      );
    if (!namesHost(cert.subjectAltNames, host))
      return fail(
        `certificate SANs (${cert.subjectAltNames.join(", ") || "none"}) do not include ${host}; regenerate it with the VM's addresses and hostname`,
      );
    const kind = cert.selfSigned ? "self-signed" : `issued by ${cert.issuer}`;
    if (handshake.trusted) return pass(`${kind} certificate for ${host}, trusted via ${handshake.trustedBy}`);
    if (insecure)
      return pass(
        `${kind} certificate for ${host} NOT verified (${handshake.trustError}); accepted because of --insecure`,
      );
    return fail(
      `certificate not trusted (${handshake.trustError}); pass --ca FILE, or --insecure to accept it`,
    );
  },
});

const legacyVersions = defineCheck({
  id: "tls.legacy-versions-refused",
  requirement: "SEC-01",
  title: "TLS 1.0 and TLS 1.1 handshakes are refused",
  observe: async (ctx) => ({
    probed: [await ctx.probes.legacyTls("TLSv1"), await ctx.probes.legacyTls("TLSv1.1")],
  }),
  judge: ({ probed }) => {
    const accepted = probed.filter((p) => p.outcome === "accepted").map((p) => p.version);
    if (accepted.length)
      return fail(`server accepted ${accepted.join(" and ")}; set "ssl_protocols TLSv1.2 TLSv1.3;" in nginx`);
    const notOffered = probed.filter((p) => p.outcome === "not-offered").map((p) => p.version);
    if (notOffered.length === probed.length)
      return fail(`this runtime could not offer ${notOffered.join(" or ")}, so legacy refusal is unproven`);
    const suffix = notOffered.length
      ? ` (${notOffered.join(", ")} could not be offered by this runtime)`
      : "";
    return pass(
      `refused ${probed
        .filter((p) => p.outcome === "rejected")
        .map((p) => p.version)
        .join(" and ")}${suffix}`,
    );
  },
});

export const tlsSuite: Suite = { name: "tls", title: "TLS", checks: [protocol, certificate, legacyVersions] };
