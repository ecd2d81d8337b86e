// Benchmark (not a test): the harness's own CPU cost per SSE event. The LocalAI stand-in (compiled,
// its own process) streams 4,000 one-token events as fast as it can on loopback; this process reads
// them (a) through the bench path (src/bench/send.ts: HTTP client, arrival stamps, eventsource-parser)
// plus the metric computation, and (b) as raw bytes through node:http with no parsing, the baseline
// in the same run. CPU time from process.cpuUsage(); median of several runs.
// Run: npm run bench:harness [-- --runs 15 --events 4000]
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Access } from "../src/core/access.ts";
import { median, requestMetrics } from "../src/bench/metrics.ts";
import { plainHttpProbes, startStandIn, waitForEngine } from "../fixtures/engine/process.ts";
import { promptSet } from "../src/bench/prompts.ts";
import { benchBody, createSender } from "../src/bench/send.ts";

const MODEL = "harness";

function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

function rawRead(port: number, body: string): Promise<number> {
  return new Promise((done, failed) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/v1/chat/completions",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        timeout: 60_000,
      },
      (res) => {
        let bytes = 0;
        res.on("data", (chunk: Buffer) => (bytes += chunk.length));
        res.on("end", () => done(bytes));
      },
    );
    req.on("error", failed);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end(body);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { runs: { type: "string", default: "15" }, events: { type: "string", default: "4000" } },
  });
  const runs = Number(values.runs);
  const events = Number(values.events);
  const dir = await mkdtemp(join(tmpdir(), "slmc-harness-"));
  await writeFile(join(dir, "m.gguf"), Buffer.from("GGUF-stand-in"));
  await writeFile(join(dir, `${MODEL}.yaml`), `name: ${MODEL}\nparameters:\n  model: m.gguf\n`);
  const engine = await startStandIn(dir, [
    "--load-ms",
    "0",
    "--ttft-ms",
    "0",
    "--tokens-per-second",
    "100000",
  ]);
  await waitForEngine(engine.port, "ready");
  try {
    const shape = {
      model: MODEL,
      maxTokens: events,
      fixedLength: false,
      timeoutMs: 60_000,
      idleTimeoutMs: 10_000,
    };
    const send = createSender({ password: "x" } as Access, plainHttpProbes(engine.port), shape);
    const prompt = promptSet("short")[0]!;
    const body = benchBody(prompt, shape);
    const harness: number[] = [];
    const raw: number[] = [];
    for (let i = 0; i < 3; i++) {
      // Warm-up: JIT and connection paths.
      await send(prompt);
      await rawRead(engine.port, body);
    }
    for (let i = 0; i < runs; i++) {
      let before = cpuMicros();
      const trace = await send(prompt);
      const metrics = requestMetrics(trace);
      harness.push((cpuMicros() - before) / Math.max(1, metrics.n_ev));
      if (metrics.n_ev !== events) throw new Error(`expected ${events} events, got ${metrics.n_ev}`);
      before = cpuMicros();
      await rawRead(engine.port, body);
      raw.push((cpuMicros() - before) / events);
    }
    const result = {
      benchmark: "bench-harness",
      runtime: `node ${process.versions.node}`,
      events_per_run: events,
      runs,
      harness_cpu_us_per_event_median: Math.round(median(harness) * 100) / 100,
      raw_read_cpu_us_per_event_median: Math.round(median(raw) * 100) / 100,
      ratio: Math.round((median(harness) / median(raw)) * 100) / 100,
      harness_runs: harness.map((v) => Math.round(v * 100) / 100),
      raw_runs: raw.map((v) => Math.round(v * 100) / 100),
    };
    process.stdout.write(
      `harness CPU per SSE event: ${result.harness_cpu_us_per_event_median} µs (bench path: client, stamps, parser, metrics)\n` +
        `raw read baseline:         ${result.raw_read_cpu_us_per_event_median} µs (node:http, no parsing)\n` +
        `ratio ${result.ratio}; ${runs} runs of ${events} events, medians; ${result.runtime}\n` +
        `${JSON.stringify(result)}\n`,
    );
  } finally {
    engine.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

void main();
