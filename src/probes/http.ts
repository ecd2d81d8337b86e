// A deliberately small HTTP/1.1 client over node:net / node:tls.
// Why not node:http or fetch: the checks need the request path sent byte for byte (`//v1/models`,
// `/health/../v1/models`), arrival timestamps taken when bytes come off the socket (before any parsing),
// no transparent decompression, and identical behaviour under Node (tap) and Bun (the binary).
import net from "node:net";
import tls from "node:tls";
import { performance } from "node:perf_hooks";

export interface TlsOptions {
  ca?: string;
  insecure: boolean;
  servername?: string;
}

export interface HttpRequest {
  scheme: "http" | "https";
  host: string;
  port: number;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  tls?: TlsOptions;
  /** Whole exchange, from connect to the last byte. */
  timeoutMs: number;
  /** Longest silence allowed once the response has started. */
  idleTimeoutMs?: number;
  /** Called once the status line and headers are in. */
  onHead?: (status: number, statusText: string, headers: Record<string, string>) => void;
  /** Aborts the exchange; a started response then ends with streamError kind "aborted". */
  signal?: AbortSignal;
  /**
   * Called with decoded body bytes and the monotonic time (ms) they arrived. Throwing a `StopReading`
   * ends the exchange at once with that error as the response's streamError (e.g. a size limit).
   */
  onBody?: (bytes: Buffer, arrivedAt: number) => void;
  /** Keep the body in `response.body` (default true). Streaming readers that consume onBody pass false. */
  keepBody?: boolean;
  /** Largest body kept in memory (default MAX_BODY_BYTES); more ends the exchange as "too-large". */
  maxBodyBytes?: number;
  /**
   * Longest silence once the status line and headers are in (a body that never follows its headers).
   * Unlike idleTimeoutMs it does not run while the server is still working on the answer.
   */
  bodyIdleTimeoutMs?: number;
}

/** Documented limits: what slmc-check holds in memory for one response. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;
export const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_SIZE_LINE = 1024;

export type StreamErrorKind =
  "reset" | "idle-timeout" | "timeout" | "truncated" | "protocol" | "aborted" | "too-large";

/** Thrown from onBody to stop reading; becomes the response's streamError. */
export class StopReading extends Error {
  constructor(
    readonly kind: StreamErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export interface HttpResponse {
  status: number;
  statusText: string;
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  timings: { start: number; connected: number; secured?: number; firstByte: number; end: number };
  /** Set when the response started but did not complete cleanly. */
  streamError?: { kind: StreamErrorKind; message: string; afterBytes: number };
}

export type ConnectErrorKind =
  "refused" | "timeout" | "dns" | "tls-untrusted" | "tls-handshake" | "network" | "aborted";

export class ConnectError extends Error {
  constructor(
    readonly kind: ConnectErrorKind,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

const UNTRUSTED_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "HOSTNAME_MISMATCH",
]);

export function classifyConnectError(error: NodeJS.ErrnoException, where: string): ConnectError {
  const code = error.code ?? "";
  if (code === "ECONNREFUSED") return new ConnectError("refused", `${where}: connection refused`, code);
  if (code === "ENOTFOUND" || code === "EAI_AGAIN")
    return new ConnectError("dns", `${where}: host name does not resolve`, code);
  if (code === "ETIMEDOUT") return new ConnectError("timeout", `${where}: timed out`, code);
  if (UNTRUSTED_CODES.has(code)) {
    return new ConnectError(
      "tls-untrusted",
      code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID"
        ? `${where}: certificate outside its validity (${code}: ${error.message}); renew it on the appliance (self-signed: delete /etc/slm-copilot/tls/self-signed.crt and re-run configure; Let's Encrypt: ONEAPP_COPILOT_DOMAIN) or fix its clock; --insecure runs the checks anyway and reports it`
        : `${where}: certificate not trusted (${code}: ${error.message}); pass --ca FILE with the issuing CA, or --insecure to accept it`,
      code,
    );
  }
  if (code.startsWith("ERR_SSL") || /ssl|tls|handshake|alert/i.test(error.message)) {
    return new ConnectError(
      "tls-handshake",
      `${where}: TLS handshake failed (${code || error.message})`,
      code,
    );
  }
  return new ConnectError("network", `${where}: ${code || "error"}: ${error.message}`, code);
}

export function isIpLiteral(host: string): boolean {
  return net.isIP(host) !== 0;
}

export function formatHostForUrl(host: string): string {
  return net.isIP(host) === 6 ? `[${host}]` : host;
}

function openSocket(request: HttpRequest): net.Socket {
  if (request.scheme === "http") return net.connect({ host: request.host, port: request.port });
  const options = request.tls ?? { insecure: false };
  const servername = options.servername ?? (isIpLiteral(request.host) ? undefined : request.host);
  return tls.connect({
    host: request.host,
    port: request.port,
    ...(servername ? { servername } : {}),
    ...(options.ca ? { ca: options.ca } : {}),
    rejectUnauthorized: !options.insecure,
    ALPNProtocols: ["http/1.1"],
  });
}

function serializeRequest(request: HttpRequest): Buffer {
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  const headers: Record<string, string> = {
    host: `${formatHostForUrl(request.host)}:${request.port}`,
    "user-agent": "slmc-check",
    "accept-encoding": "identity",
    connection: "close",
    ...Object.fromEntries(Object.entries(request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
  };
  if (body) headers["content-length"] = String(body.length);
  const head =
    `${request.method} ${request.path} HTTP/1.1\r\n` +
    Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("") +
    "\r\n";
  return body ? Buffer.concat([Buffer.from(head, "latin1"), body]) : Buffer.from(head, "latin1");
}

interface ParsedHead {
  status: number;
  statusText: string;
  headers: Record<string, string>;
}

function parseHead(text: string): ParsedHead {
  const [statusLine = "", ...lines] = text.split("\r\n");
  const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(statusLine);
  if (!match) throw new Error(`not an HTTP/1.x response: ${JSON.stringify(statusLine.slice(0, 80))}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  }
  return { status: Number(match[1]), statusText: match[2] ?? "", headers };
}

/** Incremental decoder for `Transfer-Encoding: chunked`. */
class ChunkedDecoder {
  private pending = Buffer.alloc(0);
  private remaining = -1;
  done = false;

  push(data: Buffer): Buffer[] {
    this.pending = Buffer.concat([this.pending, data]);
    const out: Buffer[] = [];
    while (!this.done) {
      if (this.remaining < 0) {
        const lineEnd = this.pending.indexOf("\r\n");
        if (lineEnd < 0) {
          if (this.pending.length > MAX_CHUNK_SIZE_LINE) throw new Error("chunk size line too long");
          break;
        }
        const size = parseInt(this.pending.subarray(0, lineEnd).toString("latin1").split(";")[0] ?? "", 16);
        if (Number.isNaN(size)) throw new Error("malformed chunk size line");
        this.pending = this.pending.subarray(lineEnd + 2);
        if (size === 0) {
          this.done = true;
          break;
        }
        this.remaining = size;
      }
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, this.pending.length);
        if (take === 0) break;
        out.push(this.pending.subarray(0, take));
        this.pending = this.pending.subarray(take);
        this.remaining -= take;
      }
      if (this.remaining === 0) {
        if (this.pending.length < 2) break;
        this.pending = this.pending.subarray(2);
        this.remaining = -1;
      }
    }
    return out;
  }
}

type BodyMode =
  | { kind: "none" }
  | { kind: "length"; left: number }
  | { kind: "chunked"; decoder: ChunkedDecoder }
  | { kind: "close" };

function bodyModeFor(method: string, head: ParsedHead): BodyMode {
  if (method === "HEAD" || head.status === 204 || head.status === 304 || head.status < 200)
    return { kind: "none" };
  if (/chunked/i.test(head.headers["transfer-encoding"] ?? ""))
    return { kind: "chunked", decoder: new ChunkedDecoder() };
  const length = head.headers["content-length"];
  if (length !== undefined) return { kind: "length", left: Number(length) };
  return { kind: "close" };
}

export function httpRequest(request: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const where = `${request.scheme}://${formatHostForUrl(request.host)}:${request.port}`;
    const start = performance.now();
    const timings = { start, connected: 0, secured: undefined as number | undefined, firstByte: 0, end: 0 };
    const socket = openSocket(request);
    let head: ParsedHead | undefined;
    let headBuffer = Buffer.alloc(0);
    let mode: BodyMode = { kind: "close" };
    const bodyParts: Buffer[] = [];
    let bodyBytes = 0;
    let settled = false;
    let idleTimer: NodeJS.Timeout | undefined;
    let bodyIdleTimer: NodeJS.Timeout | undefined;
    const keepBody = request.keepBody ?? true;
    const maxBodyBytes = request.maxBodyBytes ?? MAX_BODY_BYTES;

    const finish = (streamError?: HttpResponse["streamError"]) => {
      if (settled) return;
      settled = true;
      clearTimeout(totalTimer);
      clearTimeout(idleTimer);
      clearTimeout(bodyIdleTimer);
      socket.destroy();
      timings.end = performance.now();
      if (!head) {
        const kind = streamError?.kind === "timeout" ? "timeout" : "network";
        reject(
          new ConnectError(
            kind,
            `${where}: ${streamError?.message ?? "connection closed before a response"}`,
          ),
        );
        return;
      }
      resolve({
        status: head.status,
        statusText: head.statusText,
        headers: head.headers,
        body: Buffer.concat(bodyParts),
        timings,
        ...(streamError ? { streamError } : {}),
      });
    };
    const fail = (error: ConnectError) => {
      if (settled) return;
      settled = true;
      clearTimeout(totalTimer);
      clearTimeout(idleTimer);
      clearTimeout(bodyIdleTimer);
      socket.destroy();
      reject(error);
    };

    const totalTimer = setTimeout(() => {
      if (!head) fail(new ConnectError("timeout", `${where}: no response within ${request.timeoutMs} ms`));
      else
        finish({
          kind: "timeout",
          message:
            bodyBytes === 0 && mode.kind !== "none"
              ? `headers arrived, then silence: no body byte within ${request.timeoutMs} ms`
              : `response not complete within ${request.timeoutMs} ms (${bodyBytes} body bytes so far)`,
          afterBytes: bodyBytes,
        });
    }, request.timeoutMs);
    const armIdle = () => {
      if (!request.idleTimeoutMs) return;
      clearTimeout(idleTimer);
      idleTimer = setTimeout(
        () =>
          finish({
            kind: "idle-timeout",
            message: `stream stalled: no bytes for ${request.idleTimeoutMs} ms after ${bodyBytes} body bytes`,
            afterBytes: bodyBytes,
          }),
        request.idleTimeoutMs,
      );
    };

    const armBodyIdle = () => {
      // An idle timeout as short that runs from the connect already covers the body.
      if (!request.bodyIdleTimeoutMs) return;
      if (request.idleTimeoutMs && request.idleTimeoutMs <= request.bodyIdleTimeoutMs) return;
      clearTimeout(bodyIdleTimer);
      bodyIdleTimer = setTimeout(
        () =>
          finish({
            kind: "idle-timeout",
            message:
              bodyBytes === 0
                ? `headers arrived, then silence: no body byte for ${request.bodyIdleTimeoutMs} ms`
                : `body stalled: no bytes for ${request.bodyIdleTimeoutMs} ms after ${bodyBytes} body bytes`,
            afterBytes: bodyBytes,
          }),
        request.bodyIdleTimeoutMs,
      );
    };

    const deliver = (bytes: Buffer, arrivedAt: number) => {
      if (bytes.length === 0 || settled) return;
      bodyBytes += bytes.length;
      if (keepBody) {
        if (bodyBytes > maxBodyBytes) {
          finish({
            kind: "too-large",
            message: `body larger than ${maxBodyBytes} bytes (slmc-check's limit for a non-streamed answer)`,
            afterBytes: bodyBytes,
          });
          return;
        }
        bodyParts.push(bytes);
      }
      try {
        request.onBody?.(bytes, arrivedAt);
      } catch (error) {
        if (!(error instanceof StopReading)) throw error;
        finish({ kind: error.kind, message: error.message, afterBytes: bodyBytes });
      }
    };

    const onBodyData = (data: Buffer, arrivedAt: number) => {
      if (mode.kind === "none") return;
      if (mode.kind === "length") {
        const take = data.subarray(0, mode.left);
        mode.left -= take.length;
        deliver(take, arrivedAt);
        if (mode.left <= 0) finish();
      } else if (mode.kind === "chunked") {
        const decoder = mode.decoder;
        let pieces: Buffer[];
        try {
          pieces = decoder.push(data);
        } catch (error) {
          finish({
            kind: "protocol",
            message: `malformed chunked body: ${(error as Error).message}`,
            afterBytes: bodyBytes,
          });
          return;
        }
        for (const piece of pieces) deliver(piece, arrivedAt);
        if (decoder.done) finish();
      } else {
        deliver(data, arrivedAt);
      }
    };

    const onAbort = () => {
      if (!head) fail(new ConnectError("aborted", `${where}: request aborted`));
      else finish({ kind: "aborted", message: "request aborted by the client", afterBytes: bodyBytes });
    };
    if (request.signal?.aborted) onAbort();
    request.signal?.addEventListener("abort", onAbort, { once: true });

    socket.once(request.scheme === "https" ? "secureConnect" : "connect", () => {
      const now = performance.now();
      if (request.scheme === "https") timings.secured = now;
      socket.write(serializeRequest(request));
      armIdle();
    });
    socket.once("connect", () => (timings.connected = performance.now()));
    socket.on("data", (data: Buffer) => {
      const arrivedAt = performance.now();
      if (settled) return;
      armIdle();
      if (head) {
        armBodyIdle();
        onBodyData(data, arrivedAt);
        return;
      }
      headBuffer = Buffer.concat([headBuffer, data]);
      const end = headBuffer.indexOf("\r\n\r\n");
      if (end < 0) {
        if (headBuffer.length > MAX_HEAD_BYTES)
          fail(new ConnectError("network", `${where}: response headers larger than ${MAX_HEAD_BYTES} bytes`));
        return;
      }
      if (end > MAX_HEAD_BYTES) {
        fail(new ConnectError("network", `${where}: response headers larger than ${MAX_HEAD_BYTES} bytes`));
        return;
      }
      timings.firstByte = arrivedAt;
      try {
        head = parseHead(headBuffer.subarray(0, end).toString("latin1"));
      } catch (error) {
        fail(new ConnectError("network", `${where}: ${(error as Error).message}`));
        return;
      }
      request.onHead?.(head.status, head.statusText, head.headers);
      mode = bodyModeFor(request.method, head);
      if (mode.kind === "none" || (mode.kind === "length" && mode.left === 0)) {
        finish();
        return;
      }
      armBodyIdle();
      onBodyData(headBuffer.subarray(end + 4), arrivedAt);
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (!head) {
        fail(classifyConnectError(error, where));
        return;
      }
      finish({
        kind: "reset",
        message: `connection ${error.code ?? "error"} after ${bodyBytes} body bytes`,
        afterBytes: bodyBytes,
      });
    });
    socket.on("close", () => {
      if (!head) {
        finish({ kind: "protocol", message: "connection closed before a response", afterBytes: 0 });
        return;
      }
      if (mode.kind === "close") finish();
      else if (mode.kind === "chunked" && !mode.decoder.done)
        finish({
          kind: "truncated",
          message: `body cut short: connection closed after ${bodyBytes} bytes, before the chunked body's last chunk`,
          afterBytes: bodyBytes,
        });
      else if (mode.kind === "length" && mode.left > 0)
        finish({
          kind: "truncated",
          message: `body shorter than its Content-Length: connection closed after ${bodyBytes} of ${bodyBytes + mode.left} announced bytes`,
          afterBytes: bodyBytes,
        });
      else finish();
    });
  });
}
