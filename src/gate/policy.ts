// The acceptance gate's policy: which evidence a release needs and the thresholds it must meet. A
// policy is YAML; `extends:` names a base policy (relative to the file) that this one deep-merges
// over (objects merge key by key, anything else, arrays included, replaces the base's value).
import { readFile, realpath } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

/** A chain of `extends:` longer than this is a mistake, not a policy. */
export const MAX_EXTENDS_DEPTH = 8;

const POSITIVE = "expected a positive number";
const positive = () => z.number({ error: POSITIVE }).positive({ error: POSITIVE });
const positiveInt = () =>
  z
    .number({ error: "expected a positive whole number" })
    .int({ error: "expected a positive whole number" })
    .positive({ error: "expected a positive whole number" });
const text = (what: string) =>
  z
    .string({ error: `expected ${what}` })
    .trim()
    .min(1, { error: `expected ${what}` });
/** Whether a failure of this clause fails the gate (false: measured and shown, never decisive). */
const required = z.boolean({ error: "expected true or false" }).default(true);

const waiverSchema = z.strictObject({
  check: text("a check id or requirement id"),
  reason: z
    .string({ error: "a waiver needs a written reason" })
    .trim()
    .min(1, { error: "a waiver needs a written reason" }),
});

const benchLevelSchema = z.strictObject({
  /** The bench prompt set (`slmc-check bench --prompt-set`) this level is measured with. */
  prompt_set: z
    .string({ error: "expected a prompt set name" })
    .regex(/^[a-z0-9][a-z0-9-]*$/, { error: "expected a prompt set name (lowercase letters, digits, -)" }),
  concurrency: positiveInt(),
  /** Decode tokens per second, median over the level's requests: at least this. */
  decode_tok_s_p50: positive(),
  /** Time to first token, 90th percentile: at most this. */
  ttft_p90_ms: positive(),
});

export const CLAUSES = ["checks", "reboot", "soak", "bench", "recovery", "boot", "appliance"] as const;

export const policySchema = z
  .strictObject({
    name: text("a policy name"),
    description: z.string({ error: "expected text" }).optional(),
    /** Set by a lab policy: what stands in for the real target, said in the verdict and its bundle. */
    stand_in: text("a description of the stand-in").optional(),
    checks: z
      .strictObject({
        required,
        /** Check ids (`tls.protocol`) or requirement ids (`SEC-01`): every check they name must pass. */
        must_pass: z.array(text("a check id or requirement id"), { error: "expected a list" }).min(1, {
          error: "expected at least one check id or requirement id",
        }),
        /** A skip of a required check is accepted only with a waiver naming it and why. */
        waivers: z.array(waiverSchema, { error: "expected a list" }).default([]),
      })
      .optional(),
    reboot: z.strictObject({ required, cycles: positiveInt() }).optional(),
    soak: z
      .strictObject({
        required,
        reboots: positiveInt(),
        kill_every: positiveInt(),
        load_streams: positiveInt(),
      })
      .optional(),
    bench: z
      .strictObject({
        required,
        levels: z
          .array(benchLevelSchema, { error: "expected a list" })
          .min(1, { error: "expected at least one level" }),
      })
      .optional(),
    recovery: z.strictObject({ required, max_seconds: positive() }).optional(),
    boot: z.strictObject({ required, max_seconds_to_ready: positive() }).optional(),
    appliance: z
      .strictObject({
        required,
        version: text("the appliance version"),
        image_sha256: z
          .string({ error: "expected 64 hex digits" })
          .regex(/^[0-9a-f]{64}$/, { error: "expected 64 lowercase hex digits" })
          .optional(),
      })
      .optional(),
  })
  .refine((p) => CLAUSES.some((key) => p[key] !== undefined), {
    error: `names no clause: give at least one of ${CLAUSES.join(", ")}`,
  });

export type Policy = z.infer<typeof policySchema>;

/** A policy file that cannot be used: the message names the file and the bad key. */
export class PolicyError extends Error {}

export interface LoadedPolicy {
  policy: Policy;
  /** Absolute paths, the file given first, then what it extends. */
  sources: string[];
}

/** `policy.bench.levels[1].ttft_p90_ms` from zod's path. */
export function keyPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === "number" ? `${out}[${key}]` : `${out}.${String(key)}`),
    "policy",
  );
}

export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      if (issue.code === "unrecognized_keys")
        return issue.keys.map((key) => `${keyPath([...issue.path, key])}: unknown key`).join("\n");
      return `${keyPath(issue.path)}: ${issue.message}`;
    })
    .join("\n");
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** `override` over `base`: objects merge key by key; arrays and scalars replace. */
export function deepMerge(base: unknown, override: unknown): unknown {
  if (!isObject(base) || !isObject(override)) return override === undefined ? base : override;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) out[key] = deepMerge(base[key], value);
  return out;
}

async function readRaw(file: string): Promise<Record<string, unknown>> {
  let source: string;
  try {
    source = await readFile(file, "utf8");
  } catch (error) {
    throw new PolicyError(`cannot read policy "${file}": ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(source);
  } catch (error) {
    throw new PolicyError(`policy "${file}" is not valid YAML: ${(error as Error).message}`);
  }
  if (!isObject(value)) throw new PolicyError(`policy "${file}" must be a YAML mapping of clauses`);
  return value;
}

/** Reads a policy and everything it extends, merged, then validated as one policy. */
export async function loadPolicy(file: string): Promise<LoadedPolicy> {
  const sources: string[] = [];
  const layers: Record<string, unknown>[] = [];
  let next: string | undefined = resolve(file);
  while (next !== undefined) {
    let real: string;
    try {
      real = await realpath(next);
    } catch (error) {
      const from = sources.at(-1);
      throw new PolicyError(
        `cannot read policy "${next}"${from ? ` (extended by "${from}")` : ""}: ${(error as Error).message}`,
      );
    }
    if (sources.includes(real))
      throw new PolicyError(`policy extends itself: ${[...sources, real].join(" → ")}`);
    if (sources.length > MAX_EXTENDS_DEPTH)
      throw new PolicyError(
        `policy "${file}" extends more than ${MAX_EXTENDS_DEPTH} levels deep: ${sources.join(" → ")}`,
      );
    const raw = await readRaw(real);
    sources.push(real);
    const { extends: parent, ...rest } = raw;
    if (parent !== undefined && (typeof parent !== "string" || parent.trim() === ""))
      throw new PolicyError(`${real}: policy.extends: expected the path of a base policy file`);
    layers.push(rest);
    next = typeof parent === "string" ? resolve(dirname(real), parent) : undefined;
  }
  const merged = layers.reduceRight<unknown>((base, layer) => deepMerge(base, layer), {});
  const parsed = policySchema.safeParse(merged);
  if (!parsed.success)
    throw new PolicyError(`invalid policy (${sources.join(" extending ")}):\n${formatIssues(parsed.error)}`);
  return { policy: parsed.data, sources };
}
