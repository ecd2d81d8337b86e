// A fleet inventory (YAML): `defaults:` and `hosts:`, each host with `name`, `zone`, `host` and any
// option of "slmc-check <host>" by its long name. Every option goes through the flag table's own
// schema (checkOptionsFrom), so a value the command line refuses is refused here too, naming the host
// and the key. Everything is read and validated before any host is contacted.
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { checkOptionsFrom, hostSchema, type CliOptions } from "./args.ts";
import { usageError } from "./exit-codes.ts";
import { FLAGS, type CommandName, type Flag } from "./flags.ts";

/** An inventory larger than this is a mistake (or not an inventory). */
export const MAX_INVENTORY_BYTES = 1024 * 1024;
export const MAX_HOSTS = 1000;

/**
 * Options an inventory entry may not set: the fleet's own output, and the password itself (an
 * inventory is a file that gets copied and committed; the password belongs in a password-file).
 */
const NOT_PER_HOST = new Set(["help", "version", "format", "out", "report", "no-color", "password"]);

const PER_HOST: Flag[] = FLAGS.filter(
  (f) => (f.commands as readonly CommandName[]).includes("check") && !NOT_PER_HOST.has(f.name),
);
export const INVENTORY_KEYS = ["name", "zone", "host", ...PER_HOST.map((f) => f.name)];

export interface InventoryHost {
  name: string;
  zone: string;
  host: string;
  options: CliOptions;
}

export interface Inventory {
  file: string;
  hosts: InventoryHost[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const shape = z.strictObject({
  defaults: z.record(z.string(), z.unknown()).optional(),
  hosts: z.array(z.record(z.string(), z.unknown())).min(1).max(MAX_HOSTS),
});

/** One YAML value as the command line would have given it: text, a list of texts, or a switch. */
function rawValue(f: Flag, value: unknown, where: string): unknown {
  const scalar = (v: unknown): string => {
    if (typeof v === "string" || (typeof v === "number" && Number.isFinite(v))) return String(v);
    throw usageError(
      `${where}: ${f.name}: expected ${"expects" in f ? f.expects : "a value"}, got ${JSON.stringify(v)}`,
    );
  };
  if (!("value" in f)) {
    if (typeof value !== "boolean")
      throw usageError(`${where}: ${f.name}: expected true or false, got ${JSON.stringify(value)}`);
    return value || undefined;
  }
  if ("multiple" in f) return (Array.isArray(value) ? value : [value]).map(scalar);
  return scalar(value);
}

function fileRelativeTo(dir: string, f: Flag, value: unknown): unknown {
  if (!("value" in f) || f.value !== "FILE") return value;
  const place = (v: string) => (isAbsolute(v) ? v : resolve(dir, v));
  return Array.isArray(value) ? value.map(place) : place(value as string);
}

function optionEntries(
  entry: Record<string, unknown>,
  where: string,
  dir: string,
  allowIdentity: boolean,
): Record<string, unknown> {
  const given: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entry)) {
    if (["name", "zone", "host"].includes(key)) {
      if (!allowIdentity && key !== "zone")
        throw usageError(`${where}: "${key}" belongs to each host, not to defaults`);
      continue;
    }
    if (key === "password")
      throw usageError(
        `${where}: "password" is not accepted in an inventory (it would sit in a file that gets copied and committed); put it in a file and give password-file: FILE (mode 0600)`,
      );
    const f = PER_HOST.find((flag) => flag.name === key);
    if (!f)
      throw usageError(
        `${where}: unknown key "${key}"; an inventory entry takes ${INVENTORY_KEYS.join(", ")} (options of "slmc-check <host>" without their dashes)`,
      );
    given[key] = fileRelativeTo(dir, f, rawValue(f, value, where));
  }
  return given;
}

/** The command line's message ("--timeout: expected …") with the inventory's key instead of the flag. */
const asKey = (message: string) => message.replace(/(^|[\s"(])--([a-z][a-z-]*)/g, "$1$2");

/** Reads and validates the whole inventory; exit 2 naming the file, the host and the key. */
export async function loadInventory(file: string, env: NodeJS.ProcessEnv): Promise<Inventory> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    throw usageError(`cannot read inventory "${file}": ${code} (${(error as Error).message})`);
  }
  if (text.length > MAX_INVENTORY_BYTES)
    throw usageError(`inventory "${file}" is larger than ${MAX_INVENTORY_BYTES} bytes`);
  return parseInventory(text, file, env);
}

export function parseInventory(text: string, file: string, env: NodeJS.ProcessEnv): Inventory {
  let data: unknown;
  try {
    data = parseYaml(text, { maxAliasCount: 100 });
  } catch (error) {
    throw usageError(`inventory "${file}": not valid YAML: ${(error as Error).message.split("\n")[0]}`);
  }
  const parsed = shape.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue?.path.length ? issue.path.join(".") : "the top level";
    throw usageError(
      `inventory "${file}": ${at}: ${issue?.message ?? "invalid"}; expected "defaults:" (options for every host) and "hosts:" (a list of at least one entry with name, zone, host)`,
    );
  }
  const dir = dirname(resolve(file));
  const defaults = parsed.data.defaults ?? {};
  const defaultOptions = optionEntries(defaults, `inventory "${file}", defaults`, dir, false);
  const seen = new Set<string>();
  const hosts = parsed.data.hosts.map((entry, index): InventoryHost => {
    const label = typeof entry.name === "string" ? `host "${entry.name}"` : `hosts[${index}]`;
    const where = `inventory "${file}", ${label}`;
    const name = entry.name;
    if (typeof name !== "string" || !NAME.test(name))
      throw usageError(
        `${where}: name: expected 1-64 letters, digits, ".", "_" or "-" (it names the host's results and evidence directory), got ${JSON.stringify(name)}`,
      );
    if (seen.has(name))
      throw usageError(`${where}: the name is used by an earlier host; names must be unique`);
    seen.add(name);
    const zone = entry.zone ?? defaults.zone;
    if (typeof zone !== "string" || !zone.trim())
      throw usageError(
        `${where}: zone: expected a zone name (here or in defaults), got ${JSON.stringify(zone)}`,
      );
    const target = hostSchema.safeParse(
      typeof entry.host === "string" ? entry.host.replace(/^\[(.*)\]$/, "$1") : "",
    );
    if (!target.success)
      throw usageError(
        `${where}: host: ${typeof entry.host === "string" ? target.error.issues.map((i) => i.message).join("; ") : `expected a host name or IP address, got ${JSON.stringify(entry.host)}`}`,
      );
    const given = { ...defaultOptions, ...optionEntries(entry, where, dir, true) };
    // A switch set by defaults and turned off by the host is absent, as on a command line without it.
    for (const key of Object.keys(given)) if (given[key] === undefined) delete given[key];
    let options: CliOptions;
    try {
      options = checkOptionsFrom(given, env);
    } catch (error) {
      throw usageError(`${where}: ${asKey((error as Error).message)}`);
    }
    return { name, zone, host: target.data, options };
  });
  return { file, hosts };
}
