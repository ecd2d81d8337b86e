// Fleet inventory entries for tests: a simulator's (CA and password written as files) and the lab VM's
// (from scripts/lab.sh's LAB_* environment), so test/lab.test.ts can put the lab VM into a fleet run
// beside simulators with one call.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Simulator } from "../src/sim/simulator.ts";

export type Entry = Record<string, unknown>;

/** A simulator as a fleet host: its certificate as `ca`, its password as `password-file`, both in `dir`. */
export async function simulatorEntry(
  sim: Simulator,
  dir: string,
  name: string,
  zone: string,
): Promise<Entry> {
  await writeFile(join(dir, `${name}.pem`), sim.certificatePem);
  await writeFile(join(dir, `${name}.pw`), `${sim.password}\n`, { mode: 0o600 });
  return {
    name,
    zone,
    host: sim.host,
    "https-port": sim.httpsPort,
    "http-port": sim.httpPort,
    ca: `${name}.pem`,
    "password-file": `${name}.pw`,
  };
}

/**
 * The lab VM as a fleet host, with the same access test/lab.test.ts gives "slmc-check <host>": its
 * forwarded ports, its certificate, its password file, its SSH key and a known_hosts of the test's own.
 */
export function labEntry(
  env: Record<string, string>,
  files: { certificate: string; password: string; knownHosts: string },
  name = "lab",
  zone = "lab",
): Entry {
  const port = (key: string) => {
    const value = env[key];
    if (!value) throw new Error(`the lab's environment has no ${key}`);
    return Number(value);
  };
  return {
    name,
    zone,
    host: "127.0.0.1",
    "https-port": port("LAB_HTTPS_PORT"),
    "http-port": port("LAB_HTTP_PORT"),
    "engine-port": port("LAB_ENGINE_PORT"),
    "ssh-port": port("LAB_SSH_PORT"),
    "ssh-key": env.LAB_SSH_KEY,
    ca: files.certificate,
    "password-file": files.password,
    "known-hosts": files.knownHosts,
  };
}

/** Writes an inventory with these defaults and hosts to `dir/file`; returns its path. */
export async function writeInventory(
  dir: string,
  hosts: Entry[],
  defaults: Entry = {},
  file = "fleet.yaml",
): Promise<string> {
  const path = join(dir, file);
  await writeFile(path, stringify({ defaults, hosts }));
  return path;
}
