// The loopback port helpers under concurrency: no port handed out twice in one process, and a server
// that lost its port to another process is reported as such (not as ready) so its fixture starts again.
import t from "tap";
import { spawn } from "node:child_process";
import net from "node:net";
import { PortTakenError, freePort, holdsListener, retryOnPortTaken, waitForPort } from "../fixtures/ports.ts";

// A child that binds 127.0.0.1:PORT and stays, or, like nginx, retries for a while and then exits 1.
const LISTENER = `
const port = Number(process.argv[1]);
let tries = 0;
const bind = () => {
  const server = require("node:net").createServer();
  server.once("error", (error) => {
    console.error("bind() to 127.0.0.1:" + port + " failed (" + error.code + ")");
    if (++tries >= 5) process.exit(1);
    setTimeout(bind, 200);
  });
  server.listen(port, "127.0.0.1");
};
bind();
setTimeout(() => process.exit(0), 30000);
`;

function startListener(port: number) {
  const child = spawn(process.execPath, ["-e", LISTENER, String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-2000)));
  t.teardown(() => void child.kill("SIGKILL"));
  return { child, stderr: () => stderr };
}

t.test("freePort never hands out a port twice in one process", async (t) => {
  // The kernel alone hands out a just-closed port again about 60 times in 1000 calls (measured).
  const ports: number[] = [];
  for (let call = 0; call < 1000; call++) ports.push(await freePort());
  t.equal(new Set(ports).size, ports.length, "1000 calls in a row, 1000 distinct ports");
  const concurrent = await Promise.all(Array.from({ length: 20 }, () => freePort()));
  t.equal(new Set([...ports, ...concurrent]).size, 1020, "and 20 concurrent ones, all new");
});

t.test("waitForPort returns once the child itself listens", async (t) => {
  const port = await freePort();
  const { child, stderr } = startListener(port);
  await waitForPort(port, child, "listener", stderr);
  t.ok(await holdsListener(child.pid ?? -1, port), "the child holds the listening socket");
  t.notOk(await holdsListener(process.pid, port), "this process does not");
});

t.test("a port answered by another process is not the child's: PortTakenError, not ready", async (t) => {
  const port = await freePort();
  const squatter = net.createServer();
  await new Promise<void>((ready) => squatter.listen(port, "127.0.0.1", ready));
  t.teardown(() => void squatter.close());
  const { child, stderr } = startListener(port);
  const error = await waitForPort(port, child, "listener", stderr).then(
    () => undefined,
    (error: unknown) => error,
  );
  t.ok(error instanceof PortTakenError, `PortTakenError (got ${String(error)})`);
  t.match(String(error), new RegExp(`port ${port} was taken by another process: listener exited with 1`));
});

t.test("retryOnPortTaken starts again on PortTakenError only, and gives up after its attempts", async (t) => {
  let calls = 0;
  const value = await retryOnPortTaken(async () => {
    calls++;
    if (calls < 3) throw new PortTakenError("taken");
    return "started";
  });
  t.same([value, calls], ["started", 3], "third attempt succeeds");

  calls = 0;
  await t.rejects(
    retryOnPortTaken(async () => {
      calls++;
      throw new PortTakenError("always taken");
    }),
    /always taken/,
  );
  t.equal(calls, 3, "three attempts, then the error");

  calls = 0;
  await t.rejects(
    retryOnPortTaken(async () => {
      calls++;
      throw new Error("config error");
    }),
    /config error/,
  );
  t.equal(calls, 1, "any other failure is not retried");
});
