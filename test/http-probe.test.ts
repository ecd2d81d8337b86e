// The hand-written HTTP/1.1 client: framing, byte-exact paths, and every way a response can go wrong.
import t, { type Test } from "tap";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { ConnectError, httpRequest, StopReading } from "../src/probes/http.ts";
import { MAX_SSE_EVENTS, SseBounds } from "../src/probes/sse-limits.ts";
import { readSse } from "../src/probes/sse.ts";

/** A raw TCP server that answers with exactly the bytes a scenario gives it. */
async function rawServer(
  t: Test,
  onConnection: (socket: net.Socket, request: string) => void,
): Promise<number> {
  const server = net.createServer((socket) => {
    let request = "";
    socket.on("data", (data) => {
      request += data.toString("latin1");
      if (request.includes("\r\n\r\n")) onConnection(socket, request);
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  t.teardown(() => new Promise<void>((closed) => server.close(() => closed())));
  return (server.address() as AddressInfo).port;
}

const get = (port: number, extra: Partial<Parameters<typeof httpRequest>[0]> = {}) =>
  httpRequest({
    scheme: "http",
    host: "127.0.0.1",
    port,
    method: "GET",
    path: "/",
    timeoutMs: 2000,
    ...extra,
  });

t.test("sends the request path byte for byte", async (t) => {
  let seen = "";
  const port = await rawServer(t, (socket, request) => {
    seen = request.split("\r\n")[0] ?? "";
    socket.end("HTTP/1.1 204 No Content\r\n\r\n");
  });
  await get(port, { path: "/health/../v1%2Fmodels//x" });
  t.equal(seen, "GET /health/../v1%2Fmodels//x HTTP/1.1");
});

t.test("decodes chunked bodies split at awkward places, with arrival times", async (t) => {
  const port = await rawServer(t, (socket) => {
    socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
    setTimeout(() => socket.write("lo\r\n6\r\n world\r\n"), 30);
    setTimeout(() => socket.end("0\r\n\r\n"), 60);
  });
  const arrivals: number[] = [];
  const response = await get(port, { onBody: (_b, at) => arrivals.push(at) });
  t.equal(response.body.toString(), "hello world");
  t.equal(response.streamError, undefined);
  t.ok(arrivals.length >= 2, "body pieces delivered as they arrived");
  t.ok((arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0) >= 20, "arrival times reflect the server's pauses");
});

t.test("content-length bodies and repeated headers", async (t) => {
  const port = await rawServer(t, (socket) => {
    socket.end("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nVary: a\r\nVary: b\r\n\r\nabcEXTRA");
  });
  const response = await get(port);
  t.equal(response.body.toString(), "abc");
  t.equal(response.headers.vary, "a, b");
});

t.test("a connection closed mid-body is reported as truncated", async (t) => {
  const port = await rawServer(t, (socket) =>
    socket.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"),
  );
  const response = await get(port);
  t.equal(response.streamError?.kind, "truncated");
  t.equal(response.body.toString(), "abc", "what arrived is kept");
});

t.test("a silent stream hits the idle timeout", async (t) => {
  const port = await rawServer(t, (socket) =>
    socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n"),
  );
  const response = await get(port, { idleTimeoutMs: 200, timeoutMs: 5000 });
  t.equal(response.streamError?.kind, "idle-timeout");
  t.match(response.streamError?.message, /no bytes for 200 ms/);
});

t.test("no response at all is a timeout error", async (t) => {
  const port = await rawServer(t, () => {});
  const error = await get(port, { timeoutMs: 200 }).catch((e: unknown) => e);
  t.equal((error as ConnectError).kind, "timeout");
});

t.test("a refused connection is classified", async (t) => {
  const server = net.createServer();
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((closed) => server.close(() => closed()));
  const error = await get(port).catch((e: unknown) => e);
  t.ok(error instanceof ConnectError);
  t.equal((error as ConnectError).kind, "refused");
});

t.test("garbage instead of HTTP is an error, not a hang", async (t) => {
  const port = await rawServer(t, (socket) => socket.end("SSH-2.0-OpenSSH_9.2\r\n\r\n"));
  await t.rejects(get(port), /not an HTTP\/1\.x response/);
});

t.test("an aborted request ends promptly", async (t) => {
  const port = await rawServer(t, (socket) =>
    socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
  );
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 50);
  const response = await get(port, { signal: controller.signal, timeoutMs: 5000 });
  t.equal(response.streamError?.kind, "aborted");
});

t.test("limits: a body over maxBodyBytes, headers over 64 KiB, StopReading from onBody", async (t) => {
  const big = await rawServer(t, (socket) => {
    socket.write("HTTP/1.1 200 OK\r\nContent-Length: 3000000\r\n\r\n");
    socket.write(Buffer.alloc(3_000_000, "a"));
  });
  const tooLarge = await get(big, { maxBodyBytes: 1_000_000 });
  t.equal(tooLarge.streamError?.kind, "too-large");
  t.match(tooLarge.streamError?.message, /^body larger than 1000000 bytes/);
  t.ok(tooLarge.body.length <= 1_000_000, "no more than the limit is kept");

  const headers = await rawServer(t, (socket) => {
    socket.write("HTTP/1.1 200 OK\r\nX-Filler: " + "h".repeat(70 * 1024));
  });
  await t.rejects(get(headers), /response headers larger than 65536 bytes/);

  const stopped = await get(big, {
    keepBody: false,
    onBody: () => {
      throw new StopReading("too-large", "event larger than 10 bytes");
    },
  });
  t.same(stopped.streamError?.message, "event larger than 10 bytes");
  t.equal(stopped.body.length, 0, "keepBody false keeps nothing");
});

t.test("causes: short Content-Length, chunked cut short, headers then silence", async (t) => {
  const short = await rawServer(t, (socket) =>
    socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"partial":'),
  );
  t.match(
    (await get(short)).streamError?.message,
    /^body shorter than its Content-Length: connection closed after 11 of 100 announced bytes/,
  );
  const cut = await rawServer(t, (socket) =>
    socket.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
  );
  t.match((await get(cut)).streamError?.message, /^body cut short: connection closed after 5 bytes/);
  const silent = await rawServer(t, (socket) =>
    socket.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"),
  );
  const quiet = await get(silent, { bodyIdleTimeoutMs: 200 });
  t.equal(quiet.streamError?.kind, "idle-timeout");
  t.match(quiet.streamError?.message, /^headers arrived, then silence: no body byte for 200 ms/);
  const noIdle = await get(silent, { timeoutMs: 300 });
  t.match(noIdle.streamError?.message, /^headers arrived, then silence: no body byte within 300 ms/);
});

t.test("SseBounds: per line, per event (LF, CRLF, CR), per stream", async (t) => {
  const bounds = new SseBounds(10, 100);
  bounds.feed(Buffer.from("data: 1234\n\ndata: 12\r\n\r\n: ok\r\rdata: x\n\n"));
  t.throws(
    () => new SseBounds(10, 100).feed(Buffer.from("data: 12345")),
    /event larger than 10 bytes \(one line without a newline\)/,
  );
  t.throws(
    () => new SseBounds(10, 100).feed(Buffer.from("data: 1\r\ndata: 2\r\n")),
    /event larger than 10 bytes \(one event without a blank line\)/,
  );
  const stream = new SseBounds(10, 100);
  t.throws(() => {
    for (let i = 0; i < 20; i++) stream.feed(Buffer.from("data: 1\n\n"));
  }, /stream larger than 100 bytes/);
});

t.test("readSse stops at MAX_SSE_EVENTS tiny events and at a 2 MB line, keeping no body", async (t) => {
  const many = await rawServer(t, (socket) => {
    socket.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n");
    socket.end("data: x\n\n".repeat(MAX_SSE_EVENTS + 10));
  });
  const flood = await readSse({
    scheme: "http",
    host: "127.0.0.1",
    port: many,
    method: "GET",
    path: "/",
    timeoutMs: 5000,
  });
  t.equal(flood.events.length, MAX_SSE_EVENTS);
  t.match(flood.streamError?.message, /more than 65536 events in one stream/);
  const long = await rawServer(t, (socket) => {
    socket.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: ");
    socket.end(Buffer.alloc(2 * 1024 * 1024, "y"));
  });
  const line = await readSse({
    scheme: "http",
    host: "127.0.0.1",
    port: long,
    method: "GET",
    path: "/",
    timeoutMs: 5000,
  });
  t.equal(line.events.length, 0);
  t.match(line.streamError?.message, /^event larger than 1048576 bytes \(one line without a newline\)/);
});
