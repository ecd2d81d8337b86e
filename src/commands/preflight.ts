// Before any check: can we reach the HTTPS port, and do we trust what answers? Failing here is not a
// check failure; it is exit 3 (unreachable) or exit 2 (trust not configured), with what to do next.
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

export async function preflight(access: Access): Promise<void> {
  const where = `${formatHostForUrl(access.host)}:${access.httpsPort}`;
  try {
    await tcpConnect(access.host, access.httpsPort, access.requestTimeoutMs);
  } catch (error) {
    throw new CliError(
      `target unreachable: ${(error as Error).message}. Is the VM running, is ${where} the HTTPS port (--https-port), and does a firewall or security group allow it?`,
      EXIT.unreachable,
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
    throw new CliError(
      `TLS handshake with ${where} failed: ${(error as Error).message}. Is this an HTTPS port?`,
      EXIT.unreachable,
    );
  }
  if (!facts.trusted && !access.insecure) {
    const cert = facts.certificate;
    if (/CERT_HAS_EXPIRED|CERT_NOT_YET_VALID/.test(facts.trustError ?? "")) {
      throw new CliError(
        `the certificate of ${where} is outside its validity (${cert.validFrom} to ${cert.validTo}; ${facts.trustError}). ` +
          `Renew it on the appliance (or fix its clock); --insecure runs the checks anyway and reports it.`,
        EXIT.usage,
      );
    }
    throw new CliError(
      `the certificate of ${where} is not trusted (${facts.trustError}): ${cert.selfSigned ? "self-signed" : `issued by ${cert.issuer}`}, ` +
        `subject ${cert.subject}, SHA-256 ${cert.sha256Fingerprint}. Compare the fingerprint with the appliance report ` +
        `(/etc/one-appliance/config), then pass --ca FILE with that certificate, or --insecure to accept it unverified.`,
      EXIT.usage,
    );
  }
}
