// A WHATWG fetch built on the slmc HTTP client, so third-party clients (the openai SDK) talk to the
// target with the same trust settings, timeouts and byte-exact behaviour as the rest of the probes.
import { httpRequest, type TlsOptions } from "./http.ts";

export interface FetchSettings {
  host: string;
  tls: TlsOptions;
  timeoutMs: number;
  idleTimeoutMs: number;
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
        idleTimeoutMs: settings.idleTimeoutMs,
        ...(init.signal ? { signal: init.signal } : {}),
        onHead: (status, statusText, responseHeaders) => {
          const nullBody = NULL_BODY_STATUSES.has(status) || method === "HEAD";
          resolve(new Response(nullBody ? null : stream, { status, statusText, headers: responseHeaders }));
        },
        onBody: (bytes) => controller.enqueue(new Uint8Array(bytes)),
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
