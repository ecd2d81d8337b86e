// `slmc-check bench --workload agentic`: coding-client conversations instead of closed-loop levels,
// reported in the bench's JSON report (its `agentic` field; `levels` stays empty).
import type { CliOptions } from "../cli/args.ts";
import { AGENTIC_DEFINITIONS, agenticFindings, runAgentic, type AgenticProgress } from "../bench/agentic.ts";
import type { AgenticShape } from "../bench/agentic-conversation.ts";
import { METRIC_DEFINITIONS } from "../bench/metrics.ts";
import { BENCH_SCHEMA_VERSION, type BenchReport } from "../bench/report.ts";
import { VERSION } from "../version.ts";
import type { BenchTarget } from "./bench.ts";

const progress: AgenticProgress = (turn, of) =>
  process.stderr.write(
    `bench agentic: conversation ${turn.conversation}/${of.conversations} turn ${turn.turn}/${of.turns}: ${
      turn.ok
        ? `TTFT ${turn.ttft_ms ?? "—"} ms, prompt ${turn.prompt_tokens ?? "?"} tokens, ${
            turn.prompt_tokens_cached === null ? "cache not reported" : `${turn.prompt_tokens_cached} reused`
          }`
        : `failed: ${turn.error}`
    }\n`,
  );

export async function measureAgentic(
  target: BenchTarget,
  options: CliOptions,
  model: string,
  standIn: boolean,
): Promise<BenchReport> {
  const { access, probes, notes } = target;
  const shape: AgenticShape = {
    client: options.clientPrefix,
    conversations: options.conversations,
    turns: options.turns,
    toolResultBytes: options.toolResultBytes,
  };
  const startedAt = new Date();
  const run = await runAgentic(
    {
      access,
      probes,
      model,
      maxTokens: options.maxTokens,
      timeoutMs: access.streamTimeoutMs,
      idleTimeoutMs: access.streamIdleTimeoutMs,
    },
    shape,
    progress,
  );
  return {
    schema_version: BENCH_SCHEMA_VERSION,
    tool: {
      name: "slmc-check",
      version: VERSION,
      runtime: process.versions.bun ? `bun ${process.versions.bun}` : `node ${process.versions.node}`,
    },
    target: {
      host: access.host,
      https_port: access.httpsPort,
      path: target.path,
      simulated: access.simulated,
    },
    started_at: startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    plan: {
      concurrencies: [1],
      sweep: false,
      requests_per_level: shape.conversations * shape.turns,
      warmup: 0,
      max_tokens: options.maxTokens,
      fixed_length: false,
      prompt_set: `agentic (${shape.client} prefix, ${shape.conversations} conversations × ${shape.turns} turns, tool results of ${shape.toolResultBytes} bytes)`,
      prompts: [],
      temperature: 0,
    },
    metadata: {
      model,
      stand_in_engine: standIn,
      endpoint: `https://${access.host}:${access.httpsPort}/v1/chat/completions`,
      workload: "agentic",
    },
    definitions: { ...METRIC_DEFINITIONS, ...AGENTIC_DEFINITIONS },
    warmup: [],
    levels: [],
    saturated_at: null,
    stopped_because: `agentic workload: ${shape.conversations} conversations of ${shape.turns} turns, one at a time (no warm-up: turn 1 is the cold prefill)`,
    findings: agenticFindings(run),
    agentic: run,
    notes,
  };
}
