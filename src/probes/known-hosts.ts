// known_hosts handling for slmc-check: read OpenSSH known_hosts files (plain and hashed entries),
// record unknown hosts in slmc-check's own file (trust on first use), refuse changed keys unless the
// operator accepts them. Synchronous because ssh2's host verifier is.
import { createHash, createHmac } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export interface HostKeyDecision {
  host: string;
  accepted: boolean;
  status: "known" | "first-use" | "changed-accepted" | "changed-refused";
  fingerprint: string;
  keyType: string;
  message: string;
}

interface Entry {
  patterns: string[];
  keyType: string;
  key: string;
  file: string;
}

export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

export function keyTypeOf(key: Buffer): string {
  const length = key.readUInt32BE(0);
  return key.subarray(4, 4 + length).toString("latin1");
}

export function hostPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function matches(pattern: string, name: string): boolean {
  if (pattern.startsWith("|1|")) {
    const [, , salt = "", hash = ""] = pattern.split("|");
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  return pattern === name;
}

function parse(file: string): Entry[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#") && !line.startsWith("@"))
    .flatMap((line) => {
      const [hosts = "", keyType = "", key = ""] = line.split(/\s+/);
      return key ? [{ patterns: hosts.split(","), keyType, key, file }] : [];
    });
}

export class HostKeyStore {
  /** @param ownFile written on first use; @param extraFiles read only (e.g. ~/.ssh/known_hosts) */
  constructor(
    readonly ownFile: string,
    private readonly extraFiles: string[] = [],
  ) {}

  check(host: string, port: number, key: Buffer, acceptNew: boolean): HostKeyDecision {
    const name = hostPattern(host, port);
    const keyType = keyTypeOf(key);
    const blob = key.toString("base64");
    const print = fingerprint(key);
    const entries = [this.ownFile, ...this.extraFiles]
      .flatMap(parse)
      .filter((e) => e.patterns.some((p) => matches(p, name)));
    const sameType = entries.filter((e) => e.keyType === keyType);
    if (sameType.some((e) => e.key === blob))
      return {
        host: name,
        accepted: true,
        status: "known",
        fingerprint: print,
        keyType,
        message: `${name} host key known (${keyType} ${print})`,
      };
    if (sameType.length === 0) {
      this.record(name, keyType, blob);
      return {
        host: name,
        accepted: true,
        status: "first-use",
        fingerprint: print,
        keyType,
        message: `${name} seen for the first time: trusted ${keyType} ${print} and recorded it in ${this.ownFile}`,
      };
    }
    const files = [...new Set(sameType.map((e) => e.file))].join(", ");
    if (acceptNew) {
      this.replace(name, keyType, blob);
      return {
        host: name,
        accepted: true,
        status: "changed-accepted",
        fingerprint: print,
        keyType,
        message: `${name} host key CHANGED (now ${keyType} ${print}); accepted because of --accept-new-host-key and recorded in ${this.ownFile}`,
      };
    }
    return {
      host: name,
      accepted: false,
      status: "changed-refused",
      fingerprint: print,
      keyType,
      message: `${name} host key CHANGED: it now presents ${keyType} ${print}, which does not match ${files}. If the VM was redeployed, verify the fingerprint on its console and rerun with --accept-new-host-key; otherwise someone may be intercepting the connection`,
    };
  }

  private record(name: string, keyType: string, blob: string): void {
    mkdirSync(dirname(this.ownFile), { recursive: true, mode: 0o700 });
    appendFileSync(this.ownFile, `${name} ${keyType} ${blob}\n`, { mode: 0o600 });
  }

  private replace(name: string, keyType: string, blob: string): void {
    const kept = existsSync(this.ownFile)
      ? readFileSync(this.ownFile, "utf8")
          .split("\n")
          .filter((line) => {
            const [hosts = "", type = ""] = line.split(/\s+/);
            return line && !(type === keyType && hosts.split(",").some((p) => matches(p, name)));
          })
      : [];
    mkdirSync(dirname(this.ownFile), { recursive: true, mode: 0o700 });
    writeFileSync(this.ownFile, [...kept, `${name} ${keyType} ${blob}`, ""].join("\n"), { mode: 0o600 });
  }
}
