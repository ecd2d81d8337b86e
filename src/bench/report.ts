// The benchmark's JSON report: every sample, the per-level aggregates, findings, metadata and the
// metric definitions. Versioned; --compare reads two of them back through the zod schema.
import { z } from "zod";
import type { AgenticRun } from "./agentic.ts";
import type { Finding } from "./findings.ts";
import type { Level } from "./runner.ts";
import type { Sample, Slo } from "./metrics.ts";

export const BENCH_SCHEMA_VERSION = 1;

/** What `bench --format`, `--out` and `--report FORMAT:FILE` write. */
export const BENCH_FORMATS = ["pretty", "json", "html"] as const;
export type BenchFormat = (typeof BENCH_FORMATS)[number];

export interface BenchReport {
  schema_version: number;
  tool: { name: string; version: string; runtime: string };
  target: { host: string; https_port: number; path: string; simulated: boolean };
  started_at: string;
  finished_at: string;
  plan: {
    /** "closed-loop": levels at fixed concurrency (also when absent); "open-loop": Poisson arrivals (--rate). */
    mode?: "closed-loop" | "open-loop";
    concurrencies: number[];
    sweep: boolean;
    /** --requests as given; null: each level ran max(3, 2 × concurrency) (its aggregate's attempted). */
    requests_per_level: number | null;
    open_loop?: { rate_per_s: number; duration_s: number; seed: number; arrivals: number };
    slo?: Slo;
    deadline_s?: number;
    warmup: number;
    max_tokens: number;
    fixed_length: boolean;
    prompt_set: string;
    prompts: string[];
    /** Per prompt: usage.prompt_tokens, median over its completed requests (null: the server said none). */
    prompt_tokens?: Record<string, number | null>;
    /** Every request's prefix was new to the server (client-first-request: its own first line). */
    cold_prefix?: boolean;
    temperature: number;
  };
  metadata: Record<string, unknown>;
  definitions: Record<string, string>;
  warmup: Sample[];
  levels: Level[];
  saturated_at: number | null;
  stopped_because: string;
  findings: Finding[];
  /** The agentic workload's conversations (--workload agentic); its levels are then empty. */
  agentic?: AgenticRun;
  /** SSH-side comparison and host facts, when SSH access was available. */
  inside?: Record<string, unknown>;
  notes: string[];
}

const distributionSchema = z
  .object({
    n: z.number(),
    min: z.number(),
    p50: z.number(),
    p90: z.number(),
    p99: z.number(),
    max: z.number(),
    mean: z.number(),
  })
  .nullable();

/** What --compare relies on; everything else in a report may grow without breaking comparisons. */
export const comparableReportSchema = z.object({
  schema_version: z.literal(BENCH_SCHEMA_VERSION, {
    error: `not a slmc-check bench report of schema version ${BENCH_SCHEMA_VERSION}`,
  }),
  started_at: z.string(),
  target: z.object({ host: z.string(), path: z.string() }),
  levels: z.array(
    z.object({
      aggregate: z.object({
        concurrency: z.number(),
        offered_rate_per_s: z.number().optional(),
        completed: z.number(),
        attempted: z.number(),
        agg_out_tok_s: z.number().nullable(),
        req_per_s: z.number(),
        distributions: z.record(z.string(), distributionSchema),
      }),
    }),
  ),
});

export type ComparableReport = z.infer<typeof comparableReportSchema>;
