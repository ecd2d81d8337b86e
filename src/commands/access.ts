// Turns CLI options into an Access: reads the password and CA files, and collects the notes every
// report must carry (insecure TLS, password on the command line).
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Access } from "../core/access.ts";
import { HostKeyStore } from "../probes/known-hosts.ts";
import type { SshOptions } from "../probes/ssh.ts";
import type { CliOptions } from "../cli/args.ts";
import { usageError } from "../cli/exit-codes.ts";

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    throw usageError(`cannot read ${what} "${path}": ${code} (${(error as Error).message})`);
  }
}

export interface ResolvedAccess {
  access: Access;
  notes: string[];
  warnings: string[];
}

export async function resolveAccess(
  host: string,
  options: CliOptions,
  env: NodeJS.ProcessEnv,
): Promise<ResolvedAccess> {
  const notes: string[] = [];
  const warnings: string[] = [];
  let password: string | undefined;
  const sources = [
    options.passwordFile && "--password-file",
    options.password !== undefined && "--password",
    env.SLMC_PASSWORD !== undefined && "SLMC_PASSWORD",
  ].filter(Boolean);
  if (sources.length > 1)
    throw usageError(`the password is given more than once (${sources.join(", ")}); give it one way`);
  if (options.passwordFile) {
    password = (await readText(options.passwordFile, "password file")).split(/\r?\n/)[0] ?? "";
    if (!password) throw usageError(`password file "${options.passwordFile}" is empty`);
  } else if (options.password !== undefined) {
    password = options.password;
    warnings.push(
      "--password is visible to every user in the process list; prefer --password-file or SLMC_PASSWORD",
    );
  } else if (env.SLMC_PASSWORD !== undefined) {
    password = env.SLMC_PASSWORD;
  }
  if (password === "") throw usageError("the password is empty");
  const ca = options.ca ? await readText(options.ca, "CA file") : undefined;
  if (ca !== undefined && !ca.includes("-----BEGIN CERTIFICATE-----"))
    throw usageError(`CA file "${options.ca}" holds no PEM certificate`);
  if (options.insecure) notes.push("--insecure: the TLS certificate is NOT verified in this run");
  const ssh = sshOptions(host, options, env);
  return {
    access: {
      host,
      httpsPort: options.httpsPort,
      httpPort: options.httpPort,
      user: options.user,
      ...(password ? { password } : {}),
      ...(ca ? { ca, caFile: options.ca } : {}),
      insecure: options.insecure,
      ...(options.servername ? { servername: options.servername } : {}),
      requestTimeoutMs: options.timeoutS * 1000,
      streamTimeoutMs: options.streamTimeoutS * 1000,
      streamIdleTimeoutMs: options.streamIdleS * 1000,
      maxTokens: options.maxTokens,
      simulated: false,
      enginePort: options.enginePort,
      expectOffline: options.expectOffline,
      outboundProbeUrl: options.outboundProbe,
      ...(ssh ? { ssh } : {}),
    },
    notes,
    warnings,
  };
}

const DEFAULT_KEY_FILES = ["id_ed25519", "id_ecdsa", "id_rsa"].map((name) => join(homedir(), ".ssh", name));

/** SSH is used when asked for (--ssh-*, --jump) or, unless --no-ssh, when an agent or default key exists. */
function sshOptions(host: string, options: CliOptions, env: NodeJS.ProcessEnv): SshOptions | undefined {
  if (options.noSsh) return undefined;
  const hasCredentials =
    options.sshKeys.length > 0 || Boolean(env.SSH_AUTH_SOCK) || DEFAULT_KEY_FILES.some((f) => existsSync(f));
  if (!options.sshExplicit && !hasCredentials) return undefined;
  const ownKnownHosts = options.knownHosts ?? join(homedir(), ".config", "slmc-check", "known_hosts");
  return {
    host,
    port: options.sshPort,
    user: options.sshUser,
    keyFiles: options.sshKeys,
    ...(env.SSH_AUTH_SOCK ? { agentSocket: env.SSH_AUTH_SOCK } : {}),
    ...(options.jump ? { jump: options.jump } : {}),
    knownHosts: new HostKeyStore(
      ownKnownHosts,
      options.knownHosts ? [] : [join(homedir(), ".ssh", "known_hosts")],
    ),
    acceptNewHostKey: options.acceptNewHostKey,
    connectTimeoutMs: options.timeoutS * 1000,
    commandTimeoutMs: Math.max(30_000, options.timeoutS * 2000),
  };
}
