// Observes a TLS endpoint: the negotiated handshake, the certificate, and whether legacy protocol
// versions are accepted. Pure observation; verdicts live in suites/tls.ts.
import tls from "node:tls";
import { X509Certificate } from "node:crypto";
import { isIpLiteral, classifyConnectError } from "./http.ts";

export interface CertificateFacts {
  subject: string;
  issuer: string;
  subjectAltNames: string[];
  validFrom: string;
  validTo: string;
  sha256Fingerprint: string;
  selfSigned: boolean;
  chainLength: number;
}

export interface HandshakeFacts {
  protocol: string;
  cipher: string;
  alpn: string | false;
  trusted: boolean;
  trustError?: string;
  trustedBy: "system CA store" | "--ca file" | "none";
  certificate: CertificateFacts;
}

export interface LegacyVersionResult {
  version: "TLSv1" | "TLSv1.1";
  /** accepted: handshake completed; rejected: the server refused; not-offered: this runtime could not send it. */
  outcome: "accepted" | "rejected" | "not-offered";
  detail: string;
}

export interface TlsEndpoint {
  host: string;
  port: number;
  ca?: string;
  servername?: string;
  timeoutMs: number;
}

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
/** OpenSSL 3 (Node) refuses TLS 1.0/1.1 at the default security level; BoringSSL (Bun) rejects the syntax. */
const legacyCiphers = isBun ? undefined : "DEFAULT@SECLEVEL=0";

function connectOptions(endpoint: TlsEndpoint): tls.ConnectionOptions {
  const servername = endpoint.servername ?? (isIpLiteral(endpoint.host) ? undefined : endpoint.host);
  return {
    host: endpoint.host,
    port: endpoint.port,
    ...(servername ? { servername } : {}),
    ...(endpoint.ca ? { ca: endpoint.ca } : {}),
    rejectUnauthorized: false,
  };
}

function describeName(name: string): string {
  return name.split("\n").filter(Boolean).join(", ");
}

function certificateFacts(socket: tls.TLSSocket): CertificateFacts {
  const peer = socket.getPeerCertificate(true);
  if (!peer?.raw) throw new Error("the server sent no certificate");
  const x509 = new X509Certificate(peer.raw);
  let chainLength = 1;
  for (
    let cert = peer;
    cert.issuerCertificate && cert.issuerCertificate !== cert;
    cert = cert.issuerCertificate
  )
    chainLength++;
  return {
    subject: describeName(x509.subject),
    issuer: describeName(x509.issuer),
    subjectAltNames: (x509.subjectAltName ?? "").split(", ").filter(Boolean),
    validFrom: new Date(x509.validFrom).toISOString(),
    validTo: new Date(x509.validTo).toISOString(),
    sha256Fingerprint: x509.fingerprint256,
    selfSigned: x509.subject === x509.issuer && x509.verify(x509.publicKey),
    chainLength,
  };
}

export function observeHandshake(endpoint: TlsEndpoint): Promise<HandshakeFacts> {
  return new Promise((resolve, reject) => {
    const where = `tls://${endpoint.host}:${endpoint.port}`;
    // Offer every version this runtime can, so a server stuck on TLS 1.0/1.1 is observed, not just refused.
    const socket = tls.connect({
      ...connectOptions(endpoint),
      ALPNProtocols: ["http/1.1"],
      minVersion: "TLSv1",
      ...(legacyCiphers ? { ciphers: legacyCiphers } : {}),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        classifyConnectError(Object.assign(new Error("handshake timed out"), { code: "ETIMEDOUT" }), where),
      );
    }, endpoint.timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      try {
        const authorizationError = socket.authorizationError ? String(socket.authorizationError) : undefined;
        const facts: HandshakeFacts = {
          protocol: socket.getProtocol() ?? "unknown",
          cipher: socket.getCipher()?.name ?? "unknown",
          alpn: socket.alpnProtocol ?? false,
          trusted: socket.authorized,
          trustedBy: socket.authorized ? (endpoint.ca ? "--ca file" : "system CA store") : "none",
          certificate: certificateFacts(socket),
          ...(authorizationError ? { trustError: authorizationError } : {}),
        };
        resolve(facts);
      } catch (error) {
        reject(error);
      } finally {
        socket.destroy();
      }
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(classifyConnectError(error, where));
    });
  });
}

/** Try a handshake offering exactly one legacy version. */
export function probeLegacyVersion(
  endpoint: TlsEndpoint,
  version: "TLSv1" | "TLSv1.1",
): Promise<LegacyVersionResult> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      ...connectOptions(endpoint),
      minVersion: version,
      maxVersion: version,
      ...(legacyCiphers ? { ciphers: legacyCiphers } : {}),
    });
    const done = (result: LegacyVersionResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => done({ version, outcome: "rejected", detail: `no handshake within ${endpoint.timeoutMs} ms` }),
      endpoint.timeoutMs,
    );
    socket.once("secureConnect", () =>
      done({
        version,
        outcome: "accepted",
        detail: `negotiated ${socket.getProtocol()} with ${socket.getCipher()?.name}`,
      }),
    );
    socket.once("error", (error: NodeJS.ErrnoException) => {
      const localRefusal =
        /NO_PROTOCOLS_AVAILABLE|NO_SUPPORTED_VERSIONS_ENABLED|UNSUPPORTED_PROTOCOL_FOR_CLIENT/i.test(
          `${error.code} ${error.message}`,
        );
      if (localRefusal && socket.bytesWritten === 0) {
        done({
          version,
          outcome: "not-offered",
          detail: `this runtime cannot offer ${version}: ${error.code}`,
        });
        return;
      }
      done({ version, outcome: "rejected", detail: `server refused: ${error.code ?? error.message}` });
    });
  });
}
