// One SSH connection per target (ssh2), reused for every command and re-opened after reboots.
// Host keys are checked against known_hosts files: unknown keys are trusted on first use and recorded,
// changed keys are refused unless the operator accepts them. Every step has a timeout.
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { CipherAlgorithm, ClientChannel, ConnectConfig } from "ssh2";
import { Client } from "ssh2";
import { HostKeyStore, type HostKeyDecision } from "./known-hosts.ts";

export interface SshEndpoint {
  host: string;
  port: number;
  user: string;
}

export interface SshOptions extends SshEndpoint {
  /** Private key files; empty = SSH agent (SSH_AUTH_SOCK) and then the default ~/.ssh/id_* keys. */
  keyFiles: string[];
  agentSocket?: string;
  jump?: SshEndpoint;
  knownHosts: HostKeyStore;
  acceptNewHostKey: boolean;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

export type SshErrorKind =
  "refused" | "timeout" | "auth" | "host-key-changed" | "jump" | "network" | "closed";

export class SshError extends Error {
  constructor(
    readonly kind: SshErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export interface ExecResult {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  durationMs: number;
}

const DEFAULT_KEYS = ["id_ed25519", "id_ecdsa", "id_rsa"];
// chacha20 is missing from Bun's crypto: never offer it.
const CIPHERS: CipherAlgorithm[] = [
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
  "aes128-ctr",
  "aes192-ctr",
  "aes256-ctr",
];

async function readKeys(files: string[]): Promise<{ file: string; key: Buffer }[]> {
  const keys: { file: string; key: Buffer }[] = [];
  for (const file of files) {
    try {
      keys.push({ file, key: await readFile(file) });
    } catch (error) {
      throw new SshError(
        "auth",
        `cannot read SSH key ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
  }
  return keys;
}

async function defaultKeys(): Promise<{ file: string; key: Buffer }[]> {
  const found: { file: string; key: Buffer }[] = [];
  for (const name of DEFAULT_KEYS) {
    const file = join(homedir(), ".ssh", name);
    const key = await readFile(file).catch(() => undefined);
    if (key) found.push({ file, key });
  }
  return found;
}

function describe(endpoint: SshEndpoint): string {
  return `${endpoint.user}@${endpoint.host}:${endpoint.port}`;
}

function classify(
  error: Error & { code?: string; level?: string },
  endpoint: SshEndpoint,
  via: "target" | "jump",
): SshError {
  const where = `${via === "jump" ? "jump host " : ""}${describe(endpoint)}`;
  if (error instanceof SshError) return error;
  if (via === "jump" && error.level !== "client-authentication")
    return new SshError(
      "jump",
      `jump host ${describe(endpoint)} unreachable: ${error.code ?? error.message}`,
    );
  if (error.code === "ECONNREFUSED")
    return new SshError("refused", `SSH port closed: ${where} refused the connection`);
  if (error.level === "client-authentication")
    return new SshError(
      "auth",
      `SSH authentication failed for ${where}: no offered key was accepted (use --ssh-key FILE or an agent holding the right key)`,
    );
  if (error.level === "client-timeout" || /timed out/i.test(error.message))
    return new SshError("timeout", `SSH to ${where} timed out`);
  return new SshError("network", `SSH to ${where} failed: ${error.code ?? error.message}`);
}

export class SshSession {
  private client: Client | undefined;
  private jumpClient: Client | undefined;
  connectionsOpened = 0;
  readonly hostKeyEvents: HostKeyDecision[] = [];

  constructor(private readonly options: SshOptions) {}

  get endpoint(): string {
    return describe(this.options);
  }

  private async authConfig(user: string): Promise<Partial<ConnectConfig>> {
    const keys = this.options.keyFiles.length ? await readKeys(this.options.keyFiles) : await defaultKeys();
    const agent = this.options.keyFiles.length ? undefined : this.options.agentSocket;
    if (!keys.length && !agent)
      throw new SshError(
        "auth",
        "no SSH key: pass --ssh-key FILE, start an agent (SSH_AUTH_SOCK), or create ~/.ssh/id_ed25519",
      );
    const methods = [
      ...(agent ? [{ type: "agent" as const, username: user, agent }] : []),
      ...keys.map(({ key }) => ({ type: "publickey" as const, username: user, key })),
    ];
    return { username: user, authHandler: methods as ConnectConfig["authHandler"] };
  }

  private verifier(endpoint: SshEndpoint): (key: Buffer) => boolean {
    return (key: Buffer) => {
      const decision = this.options.knownHosts.check(
        endpoint.host,
        endpoint.port,
        key,
        this.options.acceptNewHostKey,
      );
      this.hostKeyEvents.push(decision);
      return decision.accepted;
    };
  }

  private open(endpoint: SshEndpoint, via: "target" | "jump", sock?: ClientChannel): Promise<Client> {
    return new Promise((resolve, reject) => {
      void this.authConfig(endpoint.user).then((auth) => {
        const client = new Client();
        let settled = false;
        const timer = setTimeout(() => {
          if (settled) return;
          settled = true;
          client.end();
          reject(
            new SshError(
              via === "jump" ? "jump" : "timeout",
              `SSH to ${via === "jump" ? "jump host " : ""}${describe(endpoint)} timed out after ${this.options.connectTimeoutMs} ms`,
            ),
          );
        }, this.options.connectTimeoutMs);
        client.once("ready", () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.connectionsOpened++;
          resolve(client);
        });
        // "on", not "once": a dying connection can emit several errors, and an unhandled one would
        // crash the process (seen across reboots under Bun).
        client.on("error", (error: Error & { level?: string }) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const rejected = this.hostKeyEvents.at(-1);
          if (rejected && !rejected.accepted && error.level === "client-socket") {
            reject(new SshError("host-key-changed", rejected.message));
            return;
          }
          if (rejected && !rejected.accepted) {
            reject(new SshError("host-key-changed", rejected.message));
            return;
          }
          reject(classify(error, endpoint, via));
        });
        client.connect({
          ...(sock ? { sock } : { host: endpoint.host, port: endpoint.port }),
          ...auth,
          readyTimeout: this.options.connectTimeoutMs,
          keepaliveInterval: 5000,
          keepaliveCountMax: 3,
          hostVerifier: this.verifier(endpoint),
          algorithms: { cipher: CIPHERS },
        });
      }, reject);
    });
  }

  async connect(): Promise<void> {
    if (this.client) return;
    const target: SshEndpoint = { host: this.options.host, port: this.options.port, user: this.options.user };
    if (!this.options.jump) {
      this.client = await this.open(target, "target");
    } else {
      this.jumpClient = await this.open(this.options.jump, "jump");
      const channel = await new Promise<ClientChannel>((resolve, reject) =>
        this.jumpClient?.forwardOut("127.0.0.1", 0, target.host, target.port, (error, stream) =>
          error
            ? reject(new SshError("jump", `jump host could not reach ${describe(target)}: ${error.message}`))
            : resolve(stream),
        ),
      );
      this.client = await this.open(target, "target", channel);
    }
    const client = this.client;
    const dropped = () => {
      if (this.client === client) this.client = undefined;
    };
    client.once("close", dropped);
    client.once("end", dropped);
    client.on("error", dropped);
    this.jumpClient?.on("error", () => undefined);
  }

  /** Runs one command on the shared connection; a timeout closes the channel, not the connection. */
  async exec(command: string, timeoutMs = this.options.commandTimeoutMs): Promise<ExecResult> {
    await this.connect();
    const client = this.client;
    if (!client) throw new SshError("closed", `SSH connection to ${this.endpoint} is closed`);
    const started = performance.now();
    return new Promise((resolve, reject) => {
      client.exec(command, (error, channel) => {
        if (error) {
          reject(
            new SshError("closed", `cannot run a command over SSH on ${this.endpoint}: ${error.message}`),
          );
          return;
        }
        let stdout = "";
        let stderr = "";
        const timer = setTimeout(() => {
          channel.close();
          reject(
            new SshError(
              "timeout",
              `command did not finish within ${timeoutMs} ms on ${this.endpoint}: ${command.slice(0, 120)}`,
            ),
          );
        }, timeoutMs);
        channel.on("data", (data: Buffer) => (stdout += data.toString("utf8")));
        channel.stderr.on("data", (data: Buffer) => (stderr += data.toString("utf8")));
        channel.on("close", (code: number | null, signal?: string) => {
          clearTimeout(timer);
          resolve({
            code,
            ...(signal ? { signal } : {}),
            stdout,
            stderr,
            durationMs: Math.round(performance.now() - started),
          });
        });
      });
    });
  }

  /** Forgets the current connection (after a reboot) so the next exec opens a new one. */
  drop(): void {
    this.client?.end();
    this.jumpClient?.end();
    this.client = undefined;
    this.jumpClient = undefined;
  }

  close(): void {
    this.drop();
  }
}

/** One POSIX shell word for any text: single-quoted, an embedded `'` written `'\''`. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}
