// Binds the raw probes to one target's access settings, so checks ask for "GET /v1/models over HTTPS"
// and never handle sockets, ports or trust options themselves.
import type { Access } from "./access.ts";
import { createFetch } from "./fetch.ts";
import { httpRequest, type HttpResponse } from "./http.ts";
import { readSse, type SseObservation } from "./sse.ts";
import { SshError, SshSession, type ExecResult } from "./ssh.ts";
import {
  observeHandshake,
  probeLegacyVersion,
  type HandshakeFacts,
  type LegacyVersionResult,
} from "./tls.ts";

export interface RequestSpec {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
  idleTimeoutMs?: number;
  /** SSE only: send this Accept-Encoding and decode the compressed stream (see readSse). */
  acceptEncoding?: string;
}

export interface Probes {
  https(spec: RequestSpec): Promise<HttpResponse>;
  http(spec: RequestSpec): Promise<HttpResponse>;
  sse(spec: RequestSpec): Promise<SseObservation>;
  handshake(): Promise<HandshakeFacts>;
  legacyTls(version: "TLSv1" | "TLSv1.1"): Promise<LegacyVersionResult>;
  /** Plain HTTP to any port of the target (e.g. the engine port, which must not answer). */
  httpTo(port: number, spec: RequestSpec): Promise<HttpResponse>;
  /** A command on the target over the run's shared SSH connection (throws if SSH is not configured). */
  ssh(command: string, timeoutMs?: number): Promise<ExecResult>;
  /**
   * A WHATWG fetch for third-party clients (the openai SDK) with this target's trust settings, the
   * stream timeouts and the run's deadline.
   */
  fetch: typeof fetch;
  /** The SSH session, for connection accounting and reconnects; undefined without SSH access. */
  sshSession?: SshSession;
}

/** `runSignal` (the run's --deadline) aborts every HTTP exchange still open when it fires. */
export function createProbes(access: Access, existingSession?: SshSession, runSignal?: AbortSignal): Probes {
  const tlsOptions = {
    insecure: access.insecure,
    ...(access.ca ? { ca: access.ca } : {}),
    ...(access.servername ? { servername: access.servername } : {}),
  };
  const endpoint = {
    host: access.host,
    port: access.httpsPort,
    timeoutMs: access.requestTimeoutMs,
    ...(access.ca ? { ca: access.ca } : {}),
    ...(access.servername ? { servername: access.servername } : {}),
  };
  const build = (scheme: "http" | "https", spec: RequestSpec) => ({
    scheme,
    host: access.host,
    port: scheme === "https" ? access.httpsPort : access.httpPort,
    method: spec.method ?? "GET",
    path: spec.path,
    tls: tlsOptions,
    timeoutMs: spec.timeoutMs ?? access.requestTimeoutMs,
    // Headers followed by silence: the body must follow its headers within the stream idle time.
    bodyIdleTimeoutMs: spec.idleTimeoutMs ?? access.streamIdleTimeoutMs,
    ...(runSignal ? { signal: runSignal } : {}),
    ...(spec.headers ? { headers: spec.headers } : {}),
    ...(spec.body !== undefined ? { body: spec.body } : {}),
    ...(spec.idleTimeoutMs ? { idleTimeoutMs: spec.idleTimeoutMs } : {}),
  });
  const session = existingSession ?? (access.ssh ? new SshSession(access.ssh) : undefined);
  return {
    ...(session ? { sshSession: session } : {}),
    ssh: (command, timeoutMs) => {
      if (!session) return Promise.reject(new SshError("closed", "no SSH access configured"));
      return session.exec(command, timeoutMs);
    },
    httpTo: (port, spec) => httpRequest({ ...build("http", spec), port }),
    https: (spec) => httpRequest(build("https", spec)),
    http: (spec) => httpRequest(build("http", spec)),
    sse: (spec) =>
      readSse({
        ...build("https", spec),
        timeoutMs: spec.timeoutMs ?? access.streamTimeoutMs,
        idleTimeoutMs: spec.idleTimeoutMs ?? access.streamIdleTimeoutMs,
        ...(spec.acceptEncoding ? { acceptEncoding: spec.acceptEncoding } : {}),
      }),
    fetch: createFetch({
      host: access.host,
      tls: tlsOptions,
      timeoutMs: access.streamTimeoutMs,
      idleTimeoutMs: access.streamIdleTimeoutMs,
      ...(runSignal ? { signal: runSignal } : {}),
    }),
    handshake: () => observeHandshake(endpoint),
    legacyTls: (version) => probeLegacyVersion(endpoint, version),
  };
}
