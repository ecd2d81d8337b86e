// Before any check: can we reach the HTTPS port, and do we trust what answers? Failing here is exit 3
// (unreachable) or exit 2 (trust not configured), with what to do next; a certificate the given --ca
// does not accept (expired, or not the one --ca names) is a failed check, exit 1. Each failure is a
// PreflightError whose one check the command still writes into every requested report.
import net from "node:net";
import type { Access } from "../core/access.ts";
import { CliError, EXIT } from "../cli/exit-codes.ts";
import { ConnectError, classifyConnectError, formatHostForUrl } from "../probes/http.ts";
import { observeHandshake } from "../probes/tls.ts";

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new ConnectError(
          "timeout",
          `${formatHostForUrl(host)}:${port}: no TCP connection within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(classifyConnectError(error, `${formatHostForUrl(host)}:${port}`));
    });
  });
}

/** A preflight failure as the one check of its report: `preflight.reachable` or `preflight.tls`. */
export class PreflightError extends CliError {
  constructor(
    message: string,
    exitCode: number,
    readonly checkId: "preflight.reachable" | "preflight.tls" | "preflight.ready" | "preflight.ssh",
    readonly evidence: Record<string, unknown> = {},
  ) {
    super(message, exitCode);
  }
}

export const PREFLIGHT_TITLES = {
  "preflight.reachable": "the HTTPS port accepts a TCP connection and completes a TLS handshake",
  "preflight.tls": "the certificate is valid now and trusted (--ca) or explicitly accepted (--insecure)",
  "preflight.ready":
    "within --wait-ready, GET /health answers 200 and (with SSH) the appliance reports bootstrap_success",
  "preflight.ssh": "SSH connects and authenticates with the given key (required: --ssh-key, reboot, soak)",
} as const;

const RENEW =
  "Renew it on the appliance: with a self-signed certificate, delete /etc/slm-copilot/tls/self-signed.crt " +
  "and re-run configure (reboot the VM; configure generates a new one), then pass the new certificate as --ca; " +
  "with ONEAPP_COPILOT_DOMAIN set, check why Let's Encrypt did not renew it. If the dates look right, fix the appliance clock.";

export async function preflight(access: Access): Promise<void> {
  const where = `${formatHostForUrl(access.host)}:${access.httpsPort}`;
  try {
    await tcpConnect(access.host, access.httpsPort, access.requestTimeoutMs);
  } catch (error) {
    throw new PreflightError(
      `target unreachable: ${(error as Error).message}. Is the VM running, is ${where} the HTTPS port (--https-port), and does a firewall or security group allow it?`,
      EXIT.unreachable,
      "preflight.reachable",
      { where, stage: "tcp" },
    );
  }
  let facts;
  try {
    facts = await observeHandshake({
      host: access.host,
      port: access.httpsPort,
      timeoutMs: access.requestTimeoutMs,
      ...(access.ca ? { ca: access.ca } : {}),
      ...(access.servername ? { servername: access.servername } : {}),
    });
  } catch (error) {
    throw new PreflightError(
      `TLS handshake with ${where} failed: ${(error as Error).message}. Is this an HTTPS port?`,
      EXIT.unreachable,
      "preflight.reachable",
      { where, stage: "tls-handshake" },
    );
  }
  if (!facts.trusted && !access.insecure) {
    const cert = facts.certificate;
    const evidence = {
      where,
      trustError: facts.trustError,
      subject: cert.subject,
      issuer: cert.issuer,
      validFrom: cert.validFrom,
      validTo: cert.validTo,
      sha256Fingerprint: cert.sha256Fingerprint,
      ca: access.caFile ?? null,
    };
    // With --ca the operator configured trust: a certificate it does not accept is the target's fault.
    const configured = access.ca !== undefined;
    const code = configured ? EXIT.checkFailed : EXIT.usage;
    if (/CERT_HAS_EXPIRED|CERT_NOT_YET_VALID/.test(facts.trustError ?? "")) {
      throw new PreflightError(
        `the certificate of ${where} is outside its validity (${cert.validFrom} to ${cert.validTo}; ${facts.trustError}). ` +
          `${RENEW}${configured ? "" : " --insecure runs the checks anyway and reports it."}`,
        code,
        "preflight.tls",
        evidence,
      );
    }
    const described = `${cert.selfSigned ? "self-signed" : `issued by ${cert.issuer}`}, subject ${cert.subject}, SHA-256 ${cert.sha256Fingerprint}`;
    throw new PreflightError(
      configured
        ? `the certificate of ${where} is not trusted by --ca ${access.caFile} (${facts.trustError}): ${described}. ` +
            `Either this is not the appliance the CA file belongs to, or its certificate was regenerated: compare the ` +
            `fingerprint with the appliance report (/etc/one-appliance/config) and fetch the current certificate (its ca_certificate_fetch line).`
        : `the certificate of ${where} is not trusted (${facts.trustError}): ${described}. Compare the fingerprint with the appliance report ` +
            `(/etc/one-appliance/config), then pass --ca FILE with that certificate, or --insecure to accept it unverified.`,
      code,
      "preflight.tls",
      evidence,
    );
  }
}
