// The SSH probe against a real OpenSSH server on loopback: one reused connection, trust on first use,
// changed host keys, wrong keys, closed ports, command timeouts and jump hosts, all with clear errors.
import t from "tap";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { startSshd, SSHD_BIN, type Sshd } from "../fixtures/sshd.ts";
import { HostKeyStore } from "../src/probes/known-hosts.ts";
import { SshError, SshSession, type SshOptions } from "../src/probes/ssh.ts";

function options(sshd: Sshd, overrides: Partial<SshOptions> = {}): SshOptions {
  return {
    host: "127.0.0.1",
    port: sshd.port,
    user: "root",
    keyFiles: [sshd.clientKeyFile],
    knownHosts: new HostKeyStore(join(sshd.dir, "slmc_known_hosts")),
    acceptNewHostKey: false,
    connectTimeoutMs: 5000,
    commandTimeoutMs: 5000,
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<SshError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof SshError)) throw new Error(`expected an SshError, got ${String(error)}`);
  return error;
}

if (!existsSync(SSHD_BIN)) {
  t.fail(`${SSHD_BIN} is missing: run "make test" as root (installs openssh-server)`);
} else {
  t.test("one connection serves many commands; exit codes and output come back", async (t) => {
    const sshd = await startSshd();
    t.teardown(() => sshd.stop());
    const session = new SshSession(options(sshd));
    t.teardown(() => session.close());
    t.equal((await session.exec("echo hello")).stdout, "hello\n");
    t.equal((await session.exec("exit 3")).code, 3);
    t.equal((await session.exec("echo err >&2")).stderr, "err\n");
    t.equal(session.connectionsOpened, 1, "the connection was reused");
    session.drop();
    await session.exec("true");
    t.equal(session.connectionsOpened, 2, "a dropped connection is re-opened on the next command");
  });

  t.test("trust on first use, then known; a changed key is refused, or accepted when asked", async (t) => {
    const sshd = await startSshd();
    t.teardown(() => sshd.stop());
    const first = new SshSession(options(sshd));
    await first.exec("true");
    first.close();
    t.equal(first.hostKeyEvents[0]?.status, "first-use");
    t.match(
      await readFile(join(sshd.dir, "slmc_known_hosts"), "utf8"),
      new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 `),
    );
    const second = new SshSession(options(sshd));
    await second.exec("true");
    second.close();
    t.equal(second.hostKeyEvents[0]?.status, "known");

    await sshd.restart({ newHostKey: true });
    const refused = await failure(new SshSession(options(sshd)).exec("true"));
    t.equal(refused.kind, "host-key-changed");
    t.match(
      refused.message,
      /host key CHANGED: it now presents ssh-ed25519 SHA256:\S+, which does not match .*--accept-new-host-key/,
    );

    const accepting = new SshSession(options(sshd, { acceptNewHostKey: true }));
    await accepting.exec("true");
    accepting.close();
    t.equal(accepting.hostKeyEvents[0]?.status, "changed-accepted");
    const after = new SshSession(options(sshd));
    await after.exec("true");
    after.close();
    t.equal(after.hostKeyEvents[0]?.status, "known", "the accepted key is now the recorded one");
  });

  t.test("wrong key, unreadable key, closed port: clear errors, quickly", async (t) => {
    const sshd = await startSshd();
    const wrong = await failure(
      new SshSession(options(sshd, { keyFiles: [sshd.otherKeyFile] })).exec("true"),
    );
    t.equal(wrong.kind, "auth");
    t.match(wrong.message, /SSH authentication failed for root@127\.0\.0\.1:\d+/);
    const missing = await failure(
      new SshSession(options(sshd, { keyFiles: ["/nonexistent/key"] })).exec("true"),
    );
    t.match(missing.message, /cannot read SSH key \/nonexistent\/key: ENOENT/);
    t.teardown(() => sshd.stop());
    await sshd.halt();
    const started = Date.now();
    const closed = await failure(new SshSession(options(sshd)).exec("true"));
    t.equal(closed.kind, "refused");
    t.match(closed.message, /SSH port closed/);
    t.ok(Date.now() - started < 3000);
  });

  t.test("a command that hangs times out and the connection stays usable", async (t) => {
    const sshd = await startSshd();
    t.teardown(() => sshd.stop());
    const session = new SshSession(options(sshd));
    t.teardown(() => session.close());
    const slow = await failure(session.exec("sleep 10", 300));
    t.equal(slow.kind, "timeout");
    t.match(slow.message, /did not finish within 300 ms/);
    t.equal((await session.exec("echo still")).stdout, "still\n");
    t.equal(session.connectionsOpened, 1);
  });

  t.test("through a jump host, and a clear error when the jump host is down", async (t) => {
    const jump = await startSshd();
    const target = await startSshd();
    t.teardown(() => target.stop());
    t.teardown(() => jump.stop());
    const via = options(target, {
      keyFiles: [jump.clientKeyFile, target.clientKeyFile],
      jump: { host: "127.0.0.1", port: jump.port, user: "root" },
    });
    const session = new SshSession(via);
    t.equal((await session.exec("echo via-jump")).stdout, "via-jump\n");
    t.equal(session.connectionsOpened, 2, "jump host + target");
    session.close();
    await jump.halt();
    const down = await failure(new SshSession(via).exec("true"));
    t.equal(down.kind, "jump");
    t.match(down.message, /jump host root@127\.0\.0\.1:\d+ unreachable/);
  });
}
