// A WHATWG fetch built on the slmc HTTP client, so third-party clients (the openai SDK) talk to the
// target with the same trust settings, timeouts and byte-exact behaviour as the rest of the probes.
// Memory is bounded here, not in the SDK: a non-streamed body over MAX_BODY_BYTES, an event stream
// line or event over MAX_SSE_EVENT_BYTES, or a stream over MAX_SSE_STREAM_BYTES errors the body with
// that cause ("event larger than N bytes"), which the SDK then throws.
import { httpRequest, MAX_BODY_BYTES, StopReading, type TlsOptions } from "./http.ts";
import { SseBounds } from "./sse-limits.ts";

export interface FetchSettings {
  host: string;
  tls: TlsOptions;
  timeoutMs: number;
  /** Longest silence once the response headers are in (not while the engine computes the answer). */
  idleTimeoutMs: number;
  /** The run's deadline: aborts every exchange still open. */
  signal?: AbortSignal;
  /** Overall limit for a non-streamed body (default MAX_BODY_BYTES). */
  maxBodyBytes?: number;
}

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

export function createFetch(settings: FetchSettings): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    const method = (init.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
    const body =
      init.body === undefined || init.body === null ? undefined : await new Response(init.body).arrayBuffer();
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    const maxBodyBytes = settings.maxBodyBytes ?? MAX_BODY_BYTES;
    const signals = [init.signal, settings.signal].filter((s): s is AbortSignal => Boolean(s));
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    let bounds: SseBounds | undefined;
    let received = 0;
    return new Promise<Response>((resolve, reject) => {
      const exchange = httpRequest({
        scheme: url.protocol === "https:" ? "https" : "http",
        host: url.hostname.replace(/^\[|\]$/g, ""),
        port: Number(url.port || (url.protocol === "https:" ? 443 : 80)),
        method,
        path: url.pathname + url.search,
        headers: Object.fromEntries(headers.entries()),
        ...(body ? { body: Buffer.from(body) } : {}),
        tls: settings.tls,
        timeoutMs: settings.timeoutMs,
        // Silence is judged once the headers are in: before that the engine may still be computing.
        bodyIdleTimeoutMs: settings.idleTimeoutMs,
        ...(signal ? { signal } : {}),
        keepBody: false,
        onHead: (status, statusText, responseHeaders) => {
          if ((responseHeaders["content-type"] ?? "").includes("text/event-stream")) bounds = new SseBounds();
          const nullBody = NULL_BODY_STATUSES.has(status) || method === "HEAD";
          resolve(new Response(nullBody ? null : stream, { status, statusText, headers: responseHeaders }));
        },
        onBody: (bytes) => {
          received += bytes.length;
          if (bounds) bounds.feed(bytes);
          else if (received > maxBodyBytes)
            throw new StopReading("too-large", `body larger than ${maxBodyBytes} bytes`);
          controller.enqueue(new Uint8Array(bytes));
        },
      });
      exchange.then(
        (response) => {
          if (response.streamError) controller.error(new Error(response.streamError.message));
          else controller.close();
        },
        (error) => {
          reject(error);
          try {
            controller.error(error);
          } catch {
            // already resolved with a closed stream
          }
        },
      );
    });
  }) as typeof fetch;
}
