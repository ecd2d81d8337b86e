// Benchmark (not a test): real llama.cpp decode rate in process, straight to the stand-in engine over
// HTTP, and through the appliance's real nginx site over HTTPS; proxy overhead; % of the memory
// roofline. Beside them Debian's llama.cpp (scripts/llama-sid.sh): llama-bench (tg and pp, the
// baseline every mode is a ratio to), llama-server direct, the stand-in with --backend llama-server
// over HTTP and behind nginx over HTTPS. Metric names as in slmc-check bench --help.
// With --workload agentic: coding-client conversations (slmc-check bench's agentic workload, with a
// prefix scaled to the generated model's 2,048-token context) straight to the engine, turn 2's TTFT
// against turn 1's, as the llama.cpp backend reuses the evaluated prefix.
// Run: npx tsx scripts/bench-real-engine.ts
import { llamaPackage } from "../fixtures/engine/llama-cpp.ts";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { LlamaCppModel, loadLlamaCpp } from "../fixtures/engine/llama-cpp.ts";
import {
  modelStats,
  SHAPES,
  WEIGHT_TYPES,
  writeModel,
  type SizeName,
  type WeightTypeName,
} from "../fixtures/gguf/model.ts";
import { startRealNginx } from "../fixtures/nginx/real-nginx.ts";
import { startLlamaEngine } from "./bench/engine-process.ts";
import { execFileSync } from "node:child_process";
import {
  judgeRoofline,
  parseReadBandwidth,
  READ_BANDWIDTH_METHOD,
  READ_BANDWIDTH_SCRIPT,
  rooflineTokS,
} from "../src/bench/roofline.ts";
import { plainHttpProbes } from "../fixtures/engine/process.ts";
import {
  llamaSideRoot,
  runLlamaBench,
  startLlamaServer,
  type SideRoot,
} from "../fixtures/engine/llama-sid.ts";
import type { Access } from "../src/core/access.ts";
import { createProbes } from "../src/probes/index.ts";
import {
  CHUNK_OBJECT,
  median,
  requestMetrics,
  type RequestMetrics,
  type RequestTrace,
} from "../src/bench/metrics.ts";
import { createSender, type RequestShape } from "../src/bench/send.ts";
import { agenticFindings, runAgentic } from "../src/bench/agentic.ts";
import type { AgenticShape } from "../src/bench/agentic-conversation.ts";

const ROOT = resolve(import.meta.dirname, "..");
const MESSAGES = [
  {
    role: "user" as const,
    content:
      "Write a Python function fizzbuzz(n) that returns a list of strings for 1..n, with Fizz for " +
      "multiples of 3, Buzz for multiples of 5 and FizzBuzz for both. Add a docstring and a test.",
  },
];
const NODE_MODES = ["in_process", "direct_http", "nginx_https"] as const;
const DEBIAN_MODES = ["llama_server", "standin_llama_server", "nginx_llama_server"] as const;
const MODES = [...NODE_MODES, ...DEBIAN_MODES] as const;
type Mode = (typeof MODES)[number];
const MODE_NAMES: Record<Mode, string> = {
  in_process: "in process (node-llama-cpp)",
  direct_http: "stand-in llama-cpp, HTTP",
  nginx_https: "nginx HTTPS -> stand-in llama-cpp",
  llama_server: "llama-server direct, HTTP",
  standin_llama_server: "stand-in llama-server, HTTP",
  nginx_llama_server: "nginx HTTPS -> stand-in llama-server",
};

function options() {
  const { values } = parseArgs({
    options: {
      size: { type: "string", default: "50m" },
      type: { type: "string", default: "q8_0" },
      seed: { type: "string", default: "1" },
      runs: { type: "string", default: "5" },
      warmup: { type: "string", default: "1" },
      "max-tokens": { type: "string", default: "128" },
      threads: { type: "string", default: "1" },
      "context-size": { type: "string" },
      workload: { type: "string", default: "chat" },
      turns: { type: "string", default: "3" },
      cache: { type: "string", default: join(ROOT, ".scratch/gguf") },
      out: { type: "string" },
      "bandwidth-mib": { type: "string", default: "1024" },
      json: { type: "boolean", default: false },
      "no-debian": { type: "boolean", default: false },
    },
  });
  const int = (name: keyof typeof values, min: number) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  if (values.workload !== "chat" && values.workload !== "agentic")
    throw new Error(`--workload must be chat or agentic, got "${values.workload}"`);
  const agentic = values.workload === "agentic";
  values["context-size"] ??= agentic ? "2048" : "1024";
  if (!(values.size! in SHAPES)) throw new Error(`--size must be one of ${Object.keys(SHAPES).join(", ")}`);
  if (!(values.type! in WEIGHT_TYPES))
    throw new Error(`--type must be one of ${Object.keys(WEIGHT_TYPES).join(", ")}`);
  return {
    size: values.size as SizeName,
    type: values.type as WeightTypeName,
    seed: int("seed", 0),
    runs: int("runs", 1),
    warmup: int("warmup", 0),
    maxTokens: int("max-tokens", 2),
    threads: int("threads", 1),
    contextSize: int("context-size", 64),
    cache: values.cache!,
    out: values.out ?? join(ROOT, `.scratch/bench-real-engine${agentic ? "-agentic" : ""}.json`),
    bandwidthBytes: int("bandwidth-mib", 64) * 1024 * 1024,
    json: values.json!,
    workload: values.workload as "chat" | "agentic",
    turns: int("turns", 2),
    debian: !values["no-debian"],
  };
}

/** The same read-bandwidth probe as `slmc-check bench` runs in the VM, here with the engine's threads. */
function probeReadBandwidth(threads: number, totalBytes: number) {
  const stdout = execFileSync(
    "python3",
    ["-c", READ_BANDWIDTH_SCRIPT, String(threads), String(Math.round(totalBytes / 2 ** 20))],
    { encoding: "utf8", timeout: 300_000 },
  );
  const bandwidth = parseReadBandwidth(stdout);
  if (!bandwidth) throw new Error(`the read-bandwidth probe printed no measurement: ${stdout.slice(0, 200)}`);
  return bandwidth;
}

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Generates the model once per size/type/seed; a file of the wrong size is regenerated. */
async function cachedModel(o: ReturnType<typeof options>) {
  const dir = join(o.cache, `${o.size}-${o.type}-seed${o.seed}`);
  await mkdir(dir, { recursive: true });
  const file = join(dir, "model.gguf");
  const stats = modelStats(o.size, o.type);
  let generatedIn: number | undefined;
  if (!existsSync(file) || statSync(file).size !== stats.bytes) {
    const start = performance.now();
    writeModel({ path: file, size: o.size, type: o.type, seed: o.seed });
    generatedIn = performance.now() - start;
  }
  await writeFile(
    join(dir, "bench.yaml"),
    // Every request re-prefills its prompt, as in process: comparable TTFT and prefill rates.
    `name: bench\ncontext_size: ${o.contextSize}\nprompt_cache_all: false\nparameters:\n  model: model.gguf\n`,
  );
  return { dir, file, stats, sha256: await sha256(file), generatedIn };
}

function cpuInfo() {
  const text = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const flags = /^flags\s*:(.*)$/m.exec(text)?.[1]?.split(" ") ?? [];
  return {
    cpu: /^model name\s*:\s*(.*)$/m.exec(text)?.[1] ?? os.cpus()[0]?.model ?? "unknown",
    nproc: os.availableParallelism(),
    avx2: flags.includes("avx2"),
    avx512f: flags.includes("avx512f"),
    ram_gib: +(os.totalmem() / 2 ** 30).toFixed(1),
  };
}

/** Generation without HTTP, recorded as the same trace a streamed response gives (one event per piece). */
async function inProcess(model: LlamaCppModel, maxTokens: number): Promise<RequestTrace> {
  const prompt = model.promptTokens(MESSAGES);
  const t0 = performance.now();
  const generation = model.generate(prompt, { maxTokens, ignoreEos: true, temperature: 0 });
  const events: RequestTrace["events"] = [];
  for await (const piece of generation.tokens)
    if (piece.text)
      events.push({
        arrivedAt: performance.now(),
        data: JSON.stringify({ object: CHUNK_OBJECT, choices: [{ delta: { content: piece.text } }] }),
      });
  const { timings } = await generation.done;
  const end = performance.now();
  events.push({
    arrivedAt: end,
    data: JSON.stringify({
      object: CHUNK_OBJECT,
      choices: [],
      usage: { prompt_tokens: prompt.length, completion_tokens: timings.predicted_n },
      timings,
    }),
  });
  events.push({ arrivedAt: end, data: "[DONE]" });
  return {
    start: t0,
    sent: t0,
    headers: t0,
    end,
    status: 200,
    events,
    comments: 0,
    responseHeaders: {},
    error: null,
    maxTokensAsked: maxTokens,
  };
}

const SUMMARISED = [
  "ttfb_ms",
  "ttft_ms",
  "e2e_ms",
  "decode_ms",
  "decode_tok_s",
  "decode_ms_per_token",
  "e2e_out_tok_s",
  "n_in",
  "n_out",
  "n_ev",
  "server_decode_tok_s",
  "server_prefill_tok_s",
  "decode_discrepancy_pct",
] as const;
type Summary = Record<(typeof SUMMARISED)[number], number>;
function summarise(samples: RequestMetrics[]): Summary {
  return Object.fromEntries(
    SUMMARISED.map((k) => [k, median(samples.map((s) => s[k] ?? Number.NaN))]),
  ) as Summary;
}

const round = (n: number, digits = 2) => +n.toFixed(digits);

/** A Continue-like conversation scaled to fit the generated models' 2,048-token context. */
const SMALL_PREFIX = { systemBytes: 500, tools: 2, toolBytes: 500 };

async function agenticBench(
  o: ReturnType<typeof options>,
  model: Awaited<ReturnType<typeof cachedModel>>,
  say: (line: string) => void,
): Promise<void> {
  const engine = await startLlamaEngine({
    modelsPath: model.dir,
    threads: o.threads,
    contextSize: o.contextSize,
    readyTimeoutMs: 120_000,
  });
  try {
    const shape: AgenticShape = {
      client: "continue",
      prefix: SMALL_PREFIX,
      conversations: o.warmup + o.runs,
      turns: o.turns,
      toolResultBytes: 200,
    };
    const loadavgStart = os.loadavg();
    const run = await runAgentic(
      {
        access: { password: "unused" } as Access,
        probes: plainHttpProbes(engine.port),
        model: "bench",
        maxTokens: o.maxTokens,
        timeoutMs: 600_000,
        idleTimeoutMs: 600_000,
      },
      shape,
      (turn) =>
        say(
          `conversation ${turn.conversation} turn ${turn.turn}: ${turn.ok ? `TTFT ${round(turn.ttft_ms ?? NaN, 1)} ms, prompt ${turn.prompt_tokens} tokens, ${turn.prompt_tokens_cached} reused, ${turn.prompt_tokens_processed} evaluated` : `failed: ${turn.error}`}`,
        ),
    );
    const measured = run.conversations.slice(o.warmup);
    const ttft = (turn: number) => measured.map((c) => c.turns[turn - 1]?.ttft_ms ?? NaN);
    const perTurn = Array.from({ length: o.turns }, (_, i) => ({
      turn: i + 1,
      ttft_ms_median: median(ttft(i + 1)),
      prompt_tokens_median: median(measured.map((c) => c.turns[i]?.prompt_tokens ?? NaN)),
      prompt_tokens_cached_median: median(measured.map((c) => c.turns[i]?.prompt_tokens_cached ?? NaN)),
    }));
    const ratio = median(measured.map((c) => (c.turns[1]?.ttft_ms ?? NaN) / (c.turns[0]?.ttft_ms ?? NaN)));
    const result = {
      benchmark: "bench-real-engine --workload agentic",
      engine: "stand-in + real llama.cpp via node-llama-cpp, direct HTTP",
      when: new Date().toISOString(),
      metadata: {
        ...cpuInfo(),
        node: process.version,
        node_llama_cpp: llamaPackage()?.version ?? "not installed",
        threads: o.threads,
        context_size: o.contextSize,
        max_tokens: o.maxTokens,
        conversations: o.runs,
        warmup_conversations: o.warmup,
        turns: o.turns,
        prefix: SMALL_PREFIX,
        tool_result_bytes: shape.toolResultBytes,
        loadavg_start: loadavgStart,
        loadavg_end: os.loadavg(),
      },
      model: { file: model.file, sha256: model.sha256, size: o.size, type: o.type, seed: o.seed },
      per_turn: perTurn,
      turn2_over_turn1_ttft_median: ratio,
      findings: agenticFindings({ ...run, conversations: measured }),
      run,
    };
    await mkdir(resolve(o.out, ".."), { recursive: true });
    await writeFile(o.out, `${JSON.stringify(result, null, 2)}\n`);
    if (o.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    say("");
    say(
      `medians of ${o.runs} conversations (${o.warmup} warm-up discarded), ${o.threads} thread(s), ${o.size} ${o.type}:`,
    );
    for (const t of perTurn)
      say(
        `  turn ${t.turn}: TTFT ${round(t.ttft_ms_median, 1)} ms, prompt ${t.prompt_tokens_median} tokens, ${t.prompt_tokens_cached_median} reused`,
      );
    say(`  turn 2 TTFT / turn 1 TTFT: ${round(ratio, 3)}`);
    for (const f of result.findings) say(`  ${f.level}: ${f.message}`);
    say(`JSON: ${o.out}`);
  } finally {
    await engine.stop();
  }
}

/** Debian's llama.cpp beside node-llama-cpp, or why it is absent from this run. */
async function debianRoot(o: ReturnType<typeof options>): Promise<{ root?: SideRoot; skipped?: string }> {
  if (!o.debian) return { skipped: "--no-debian" };
  const side = await llamaSideRoot();
  return "unreachable" in side ? { skipped: side.unreachable } : { root: side.root };
}

async function main(): Promise<void> {
  const o = options();
  const say = (line: string) => (o.json ? process.stderr : process.stdout).write(`${line}\n`);
  const model = await cachedModel(o);
  if (o.workload === "agentic") {
    say(`model: ${model.file} (${o.size} ${o.type}); agentic workload, context ${o.contextSize}`);
    return agenticBench(o, model, say);
  }
  say(
    `model: ${model.file} (${o.size} ${o.type}, ${(model.stats.bytes / 1e6).toFixed(1)} MB` +
      `${model.generatedIn ? `, generated in ${(model.generatedIn / 1000).toFixed(1)} s` : ", cached"})`,
  );
  const debian = await debianRoot(o);
  say(
    debian.root
      ? `Debian llama.cpp: ${debian.root.dir} (llama.cpp-tools ${debian.root.llamaVersion})`
      : `Debian llama.cpp modes and the llama-bench baseline skipped: ${debian.skipped}`,
  );
  const modes: readonly Mode[] = debian.root ? MODES : NODE_MODES;
  say(`memory read bandwidth probe: ${o.threads} thread(s), ${o.bandwidthBytes / 2 ** 20} MiB, 5 runs ...`);
  const loadavgStart = os.loadavg();
  const bandwidth = probeReadBandwidth(o.threads, o.bandwidthBytes);

  const cleanups: (() => Promise<void>)[] = [];
  try {
    const engine = await startLlamaEngine({
      modelsPath: model.dir,
      threads: o.threads,
      contextSize: o.contextSize,
      readyTimeoutMs: 120_000,
    });
    cleanups.push(engine.stop);
    const password = randomBytes(12).toString("base64url");
    const nginx = await startRealNginx({ enginePort: engine.port, password });
    cleanups.push(nginx.stop);
    const llama = await loadLlamaCpp();
    cleanups.push(() => llama.dispose());
    const local = await LlamaCppModel.load(llama, model.file, {
      contextSize: o.contextSize,
      threads: o.threads,
    });
    cleanups.push(() => local.dispose());
    const ports: Partial<Record<Mode, { http?: number; https?: number; ca?: string }>> = {
      direct_http: { http: engine.port },
      nginx_https: { https: nginx.httpsPort, ca: nginx.certificatePem },
    };
    if (debian.root) {
      const server = await startLlamaServer(debian.root, [
        "--model",
        model.file,
        "--alias",
        "bench",
        "--jinja",
        "--ctx-size",
        String(o.contextSize),
        "--threads",
        String(o.threads),
        "--parallel",
        "1",
        "--no-cache-prompt",
      ]);
      cleanups.push(server.stop);
      const standIn = await startLlamaEngine({
        modelsPath: model.dir,
        threads: o.threads,
        contextSize: o.contextSize,
        readyTimeoutMs: 120_000,
        backendArgs: ["--backend", "llama-server", "--llama-server", debian.root.dir],
      });
      cleanups.push(standIn.stop);
      const front = await startRealNginx({ enginePort: standIn.port, password });
      cleanups.push(front.stop);
      ports.llama_server = { http: server.port };
      ports.standin_llama_server = { http: standIn.port };
      ports.nginx_llama_server = { https: front.httpsPort, ca: front.certificatePem };
    }

    // Per-request timeout from the measured rate: prefill allowance + 10x decode,
    // generous because the other modes' processes can run far slower than this probe on a loaded host.
    const probe = requestMetrics(await inProcess(local, o.maxTokens));
    const timeoutMs = Math.round(60_000 + 10 * o.maxTokens * (probe.decode_ms_per_token ?? 100));
    const shape: RequestShape = {
      model: "bench",
      maxTokens: o.maxTokens,
      fixedLength: true,
      timeoutMs,
      idleTimeoutMs: timeoutMs,
    };
    const access = (httpsPort: number, ca: string): Access => ({
      host: "127.0.0.1",
      httpsPort,
      httpPort: nginx.httpPort,
      user: "copilot",
      password,
      ca,
      insecure: false,
      requestTimeoutMs: timeoutMs,
      streamTimeoutMs: timeoutMs,
      streamIdleTimeoutMs: timeoutMs,
      maxTokens: o.maxTokens,
      simulated: false,
    });
    // The same request path as `slmc-check bench` (src/bench/send.ts), to the engines and through nginx.
    const senders: Partial<Record<Mode, ReturnType<typeof createSender>>> = {};
    for (const mode of modes) {
      const port = ports[mode];
      if (port?.http) senders[mode] = createSender(access(0, ""), plainHttpProbes(port.http), shape);
      if (port?.https) {
        const target = access(port.https, port.ca ?? "");
        senders[mode] = createSender(target, createProbes(target), shape);
      }
    }
    const prompt = { name: "fizzbuzz", description: "", messages: MESSAGES };
    // llama-bench's pp runs at the prompt length llama-server's template gives this prompt.
    const serverPromptTokens = senders.llama_server
      ? requestMetrics(await senders.llama_server(prompt)).n_in
      : null;
    const llamaBench = async (when: string) => {
      if (!debian.root) return undefined;
      say(`llama-bench (${when}) ...`);
      return runLlamaBench(debian.root, {
        model: model.file,
        threads: o.threads,
        nPrompt: serverPromptTokens ?? probe.n_in ?? 128,
        nGen: o.maxTokens,
        repetitions: o.runs,
      });
    };
    const benchStart = await llamaBench("before the requests");
    const samples = Object.fromEntries(modes.map((m) => [m, [] as RequestMetrics[]])) as Record<
      Mode,
      RequestMetrics[]
    >;
    for (let run = 0; run < o.warmup + o.runs; run++) {
      // Interleaved so drift (thermal, neighbours) hits every mode alike.
      for (const mode of modes) {
        const trace =
          mode === "in_process" ? await inProcess(local, o.maxTokens) : await senders[mode]!(prompt);
        const metrics = requestMetrics(trace);
        if (!metrics.ok) throw new Error(`${mode}: ${metrics.error}`);
        if (metrics.n_out !== o.maxTokens)
          throw new Error(`${mode}: ${metrics.n_out} tokens, asked ${o.maxTokens}`);
        if (run >= o.warmup) samples[mode].push(metrics);
      }
      say(`run ${run + 1}/${o.warmup + o.runs}${run < o.warmup ? " (warm-up, discarded)" : ""}`);
    }
    const benchEnd = await llamaBench("after the requests");

    const medians = Object.fromEntries(modes.map((m) => [m, summarise(samples[m])])) as Record<Mode, Summary>;
    // The baseline: llama-bench before and after the requests, averaged, so drift over the run is shared.
    const baseline =
      benchStart && benchEnd
        ? {
            tg_tok_s: (benchStart.tg.tokS + benchEnd.tg.tokS) / 2,
            pp_tok_s: (benchStart.pp.tokS + benchEnd.pp.tokS) / 2,
          }
        : undefined;
    const ratios = Object.fromEntries(
      modes.map((m) => [
        m,
        {
          decode_vs_llama_bench_tg: baseline ? medians[m].decode_tok_s / baseline.tg_tok_s : null,
          server_decode_vs_llama_bench_tg: baseline
            ? medians[m].server_decode_tok_s / baseline.tg_tok_s
            : null,
          server_prefill_vs_llama_bench_pp: baseline
            ? medians[m].server_prefill_tok_s / baseline.pp_tok_s
            : null,
        },
      ]),
    ) as Record<string, Record<string, number | null>>;
    const roofline = rooflineTokS(bandwidth.readBytesPerS, model.stats.bytesPerToken);
    const verdict = judgeRoofline(roofline, {
      in_process: medians.in_process.decode_tok_s,
      nginx_https: medians.nginx_https.decode_tok_s,
    });
    const bindingVersion = llamaPackage()?.version ?? "not installed";
    const result = {
      benchmark: "bench-real-engine",
      engine: debian.root
        ? "stand-in + real llama.cpp via node-llama-cpp; stand-in + real llama.cpp (Debian); Debian llama-server and llama-bench"
        : "stand-in + real llama.cpp via node-llama-cpp",
      when: new Date().toISOString(),
      metadata: {
        ...cpuInfo(),
        node: process.version,
        node_llama_cpp: bindingVersion,
        llama_cpp: `${llama.llamaCppRelease.release} (${llama.buildType}, CPU)`,
        debian_llama_cpp: debian.root
          ? {
              package: `llama.cpp-tools ${debian.root.llamaVersion}`,
              build: benchStart?.build,
              cpu_backend: benchStart?.cpuBackend,
            }
          : { skipped: debian.skipped },
        threads: o.threads,
        context_size: o.contextSize,
        max_tokens: o.maxTokens,
        ignore_eos: true,
        temperature: 0,
        warmup: o.warmup,
        runs: o.runs,
        prompt_tokens: probe.n_in,
        prompt_tokens_llama_server: serverPromptTokens,
        // Other tenants' load makes medians move: record it with the figures.
        loadavg_start: loadavgStart,
        loadavg_end: os.loadavg(),
      },
      model: {
        file: model.file,
        sha256: model.sha256,
        size: o.size,
        type: o.type,
        seed: o.seed,
        file_bytes: model.stats.bytes,
        parameters: model.stats.parameters,
        bytes_read_per_token: model.stats.bytesPerToken,
      },
      bandwidth: {
        method: READ_BANDWIDTH_METHOD,
        threads: bandwidth.threads,
        total_bytes: bandwidth.threads * bandwidth.bytesPerThread,
        read_gbs: bandwidth.readBytesPerS / 1e9,
        read_gbs_runs: bandwidth.runsBytesPerS.map((r) => r / 1e9),
      },
      llama_bench: debian.root ? { before: benchStart, after: benchEnd, baseline } : null,
      medians,
      ratios_to_llama_bench: baseline ? ratios : null,
      samples,
      comparison: {
        decode_tok_s_in_process: medians.in_process.decode_tok_s,
        decode_tok_s_direct_http: medians.direct_http.decode_tok_s,
        decode_tok_s_nginx_https: medians.nginx_https.decode_tok_s,
        https_vs_in_process_ratio: medians.nginx_https.decode_tok_s / medians.in_process.decode_tok_s,
        proxy_overhead_ttft_ms: medians.nginx_https.ttft_ms - medians.direct_http.ttft_ms,
        proxy_overhead_e2e_ms: medians.nginx_https.e2e_ms - medians.direct_http.e2e_ms,
        // Same-run differences: less exposed to drift between runs than a difference of medians.
        proxy_overhead_ttft_ms_paired: median(
          samples.nginx_https.map((s, i) => (s.ttft_ms ?? NaN) - (samples.direct_http[i]?.ttft_ms ?? NaN)),
        ),
        proxy_overhead_e2e_ms_paired: median(
          samples.nginx_https.map((s, i) => s.e2e_ms - (samples.direct_http[i]?.e2e_ms ?? NaN)),
        ),
        http_server_overhead_ttft_ms: medians.direct_http.ttft_ms - medians.in_process.ttft_ms,
        roofline_tok_s: roofline,
        roofline_valid: verdict.valid,
        roofline_note: verdict.note,
        in_process_pct_of_roofline: verdict.pct.in_process,
        nginx_https_pct_of_roofline: verdict.pct.nginx_https,
      },
    };
    await mkdir(resolve(o.out, ".."), { recursive: true });
    await writeFile(o.out, `${JSON.stringify(result, null, 2)}\n`);
    if (o.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    const c = result.comparison;
    const row = (mode: Mode) => {
      const m = medians[mode];
      const rates = samples[mode].map((s) => s.decode_tok_s ?? Number.NaN);
      const range = `[${round(Math.min(...rates), 0)}..${round(Math.max(...rates), 0)}]`;
      const ratio = ratios[mode]?.decode_vs_llama_bench_tg ?? null;
      const vs = ratio === null ? "" : `  = ${round(ratio, 2).toFixed(2)} x llama-bench tg`;
      return `  ${MODE_NAMES[mode].padEnd(38)} decode_tok_s ${round(m.decode_tok_s, 1).toString().padStart(7)} ${range.padEnd(11)}${vs}   ttft_ms ${round(m.ttft_ms, 1).toString().padStart(7)}   e2e_ms ${round(m.e2e_ms, 1).toString().padStart(8)}   server_decode_tok_s ${round(m.server_decode_tok_s ?? NaN, 1)}   server_prefill_tok_s ${round(m.server_prefill_tok_s ?? NaN, 1)}`;
    };
    say("");
    say(
      `${result.metadata.cpu}, ${result.metadata.nproc} vCPU, llama.cpp ${result.metadata.llama_cpp}, ${o.threads} thread(s)`,
    );
    if (benchStart && benchEnd && baseline)
      say(
        `llama-bench (Debian ${debian.root?.llamaVersion}, ggml CPU backend ${benchStart.cpuBackend}), ${o.runs} repetitions, before / after: ` +
          `tg${benchStart.tg.n} ${round(benchStart.tg.tokS, 1)} / ${round(benchEnd.tg.tokS, 1)} tok/s, ` +
          `pp${benchStart.pp.n} ${round(benchStart.pp.tokS, 1)} / ${round(benchEnd.pp.tokS, 1)} tok/s; baseline tg ${round(baseline.tg_tok_s, 1)}, pp ${round(baseline.pp_tok_s, 1)}`,
      );
    say(
      `medians of ${o.runs} requests per mode (${o.warmup} warm-up discarded), ${o.maxTokens} tokens, prompt ${probe.n_in} tokens (llama-server: ${serverPromptTokens ?? "-"}):`,
    );
    for (const mode of modes) say(row(mode));
    if (baseline)
      for (const mode of DEBIAN_MODES.filter((m) => modes.includes(m)))
        say(
          `  ${MODE_NAMES[mode]}: prefill ${round(ratios[mode]?.server_prefill_vs_llama_bench_pp ?? NaN, 2)} x llama-bench pp`,
        );
    say(`  decode tok/s via HTTPS / in process: ${round(c.https_vs_in_process_ratio, 3)}`);
    say(
      `  proxy overhead (nginx+TLS vs direct): ttft ${round(c.proxy_overhead_ttft_ms)} ms, e2e ${round(c.proxy_overhead_e2e_ms)} ms (paired per run: ${round(c.proxy_overhead_ttft_ms_paired)} / ${round(c.proxy_overhead_e2e_ms_paired)} ms)`,
    );
    say(
      `  model file ${(model.stats.bytes / 1e6).toFixed(1)} MB; bytes read per token ${(model.stats.bytesPerToken / 1e6).toFixed(1)} MB`,
    );
    say(
      `  memory read bandwidth: ${round(bandwidth.readBytesPerS / 1e9)} GB/s with ${bandwidth.threads} thread(s) (the engine's count)`,
    );
    say(
      verdict.valid
        ? `  roofline ${round(roofline ?? NaN, 1)} tok/s; decode = ${round(c.in_process_pct_of_roofline ?? NaN, 1)} % (in process), ${round(c.nginx_https_pct_of_roofline ?? NaN, 1)} % (HTTPS)`
        : `  ${verdict.note}`,
    );
    say(
      `  load average ${loadavgStart.map((l) => l.toFixed(2)).join(" ")} at the start, ${result.metadata.loadavg_end.map((l) => l.toFixed(2)).join(" ")} at the end`,
    );
    say(`JSON: ${o.out}`);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench-real-engine: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
