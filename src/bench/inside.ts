// With SSH: what the benchmark measures inside the VM. The same request sent to the engine directly
// on 127.0.0.1:8080 (so the report shows what nginx + TLS add), the host's facts, a short memory
// bandwidth probe, the model file size, and from those the decode roofline: a CPU decoding a dense
// model reads every weight once per token, so tok/s ≤ bandwidth / model bytes.
import type { CheckContext } from "../core/check.ts";
import { median, requestMetrics, type RequestTrace } from "./metrics.ts";
import type { BenchPrompt } from "./prompts.ts";
import type { BenchRun } from "./runner.ts";
import { benchBody, type RequestShape } from "./send.ts";

const INSIDE_RUNS = 3;
const ENGINE = "http://127.0.0.1:8080/v1/chat/completions";

/** Streams one completion from the engine, stamping each SSE line when it is read (python3 in the VM). */
const STREAM_SCRIPT = `
import json, sys, time, urllib.request
body = sys.stdin.buffer.read()
req = urllib.request.Request("${ENGINE}", data=body, headers={"content-type": "application/json", "accept": "text/event-stream"})
t_start = time.perf_counter()
out = {"start": 0.0, "events": []}
try:
    with urllib.request.urlopen(req, timeout=600) as r:
        out["headers"] = (time.perf_counter() - t_start) * 1000
        out["status"] = r.status
        for line in r:
            if line.startswith(b"data: "):
                out["events"].append({"at": (time.perf_counter() - t_start) * 1000, "data": line[6:].decode().strip()})
except Exception as e:
    out["error"] = str(e)
out["end"] = (time.perf_counter() - t_start) * 1000
print(json.dumps(out))
`;

/** Copies a 512 MiB buffer five times; bytes moved count the read and the write. */
const BANDWIDTH_SCRIPT = `
import time
n = 512 * 1024 * 1024
src = bytearray(n)
runs = []
for _ in range(5):
    t = time.perf_counter(); dst = bytes(src); runs.append(time.perf_counter() - t); del dst
runs.sort()
print(2 * n / runs[len(runs) // 2])
`;

const FACTS_SCRIPT = [
  "nproc",
  "grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2-",
  "grep -m1 '^flags' /proc/cpuinfo | grep -o -w -E 'avx2|avx512f' | sort -u | tr '\\n' ' '; echo",
  "awk '/MemTotal/ {print $2*1024}' /proc/meminfo",
  "stat -c '%s %n' /var/lib/local-ai/models/*.gguf 2>/dev/null | head -n1",
  "sed -n 's/^context_size: //p' /var/lib/local-ai/models/*.yaml | head -n1",
  "sed -n 's/^threads: //p' /var/lib/local-ai/models/*.yaml | head -n1",
].join("; ");

const b64 = (text: string) => Buffer.from(text).toString("base64");
const python = (script: string) => `python3 -c "$(echo ${b64(script)} | base64 -d)"`;

const round = (v: number | null, d = 2) => (v === null ? null : Math.round(v * 10 ** d) / 10 ** d);

export async function measureInside(
  ctx: CheckContext,
  shape: RequestShape,
  prompt: BenchPrompt,
  run: BenchRun,
): Promise<Record<string, unknown>> {
  const [
    cores = "",
    cpuModel = "",
    flags = "",
    memBytes = "",
    modelLine = "",
    contextSize = "",
    threads = "",
  ] = (await ctx.probes.ssh(FACTS_SCRIPT, 20_000)).stdout.split("\n");
  const [modelBytesText = "", modelFile = ""] = modelLine.trim().split(" ");
  const modelBytes = Number(modelBytesText) || null;
  const bandwidth = Number((await ctx.probes.ssh(python(BANDWIDTH_SCRIPT), 120_000)).stdout.trim()) || null;
  const body = benchBody(prompt, shape);
  const internal = [];
  for (let i = 0; i < INSIDE_RUNS; i++) {
    const raw = await ctx.probes.ssh(
      `echo ${b64(body)} | base64 -d | ${python(STREAM_SCRIPT)}`,
      shape.timeoutMs + 30_000,
    );
    const parsed = JSON.parse(raw.stdout) as {
      headers?: number;
      end: number;
      status?: number;
      error?: string;
      events: { at: number; data: string }[];
    };
    const trace: RequestTrace = {
      start: 0,
      sent: 0,
      headers: parsed.headers ?? parsed.end,
      end: parsed.events.find((e) => e.data === "[DONE]")?.at ?? parsed.end,
      status: parsed.status ?? 0,
      events: parsed.events.map((e) => ({ data: e.data, arrivedAt: e.at })),
      comments: 0,
      responseHeaders: {},
      error: parsed.error ?? null,
      maxTokensAsked: shape.maxTokens,
    };
    internal.push(requestMetrics(trace));
  }
  const external = (run.levels.find((l) => l.aggregate.concurrency === 1)?.samples ?? []).filter(
    (s) => s.ok && s.prompt === prompt.name,
  );
  const med = (values: (number | null)[]) => {
    const present = values.filter((v): v is number => v !== null);
    return present.length ? median(present) : null;
  };
  const inTtft = med(internal.map((m) => m.ttft_ms));
  const inE2e = med(internal.map((m) => m.e2e_ms));
  const inDecode = med(internal.map((m) => m.decode_tok_s));
  const exTtft = med(external.map((s) => s.ttft_ms));
  const exE2e = med(external.map((s) => s.e2e_ms));
  const exDecode = med(external.map((s) => s.decode_tok_s));
  // Decode reads all weights once per token; memcpy bandwidth counts read + write, so read ≈ half.
  const readBandwidth = bandwidth === null ? null : bandwidth / 2;
  const roofline = readBandwidth !== null && modelBytes ? readBandwidth / modelBytes : null;
  return {
    host: {
      vcpus: Number(cores) || null,
      cpu_model: cpuModel.trim(),
      flags: flags.trim().split(" ").filter(Boolean),
      memory_bytes: Number(memBytes) || null,
      model_file: modelFile,
      model_bytes: modelBytes,
      context_size: Number(contextSize) || null,
      threads: Number(threads) || null,
    },
    memory_copy_bandwidth_gb_s: round(bandwidth === null ? null : bandwidth / 1e9),
    bandwidth_method: "python3 in the VM: median of 5 copies of a 512 MiB buffer; read + write bytes counted",
    decode_roofline_tok_s: round(roofline),
    roofline_formula: "(copy bandwidth / 2) / model file bytes: every weight is read once per decoded token",
    decode_tok_s_pct_of_roofline:
      exDecode !== null && roofline ? round((100 * exDecode) / roofline, 1) : null,
    internal: {
      path: "127.0.0.1:8080 inside the VM over SSH (no nginx, no TLS)",
      prompt: prompt.name,
      runs: internal.length,
      completed: internal.filter((m) => m.ok).length,
      ttft_ms_p50: round(inTtft),
      e2e_ms_p50: round(inE2e),
      decode_tok_s_p50: round(inDecode),
    },
    external: {
      prompt: prompt.name,
      samples: external.length,
      ttft_ms_p50: exTtft,
      e2e_ms_p50: exE2e,
      decode_tok_s_p50: exDecode,
    },
    proxy_overhead_ms: {
      ttft: exTtft !== null && inTtft !== null ? round(exTtft - inTtft) : null,
      e2e: exE2e !== null && inE2e !== null ? round(exE2e - inE2e) : null,
    },
    proxy_ratio: {
      ttft: exTtft !== null && inTtft ? round(exTtft / inTtft, 3) : null,
      e2e: exE2e !== null && inE2e ? round(exE2e / inE2e, 3) : null,
      decode_tok_s: exDecode !== null && inDecode ? round(exDecode / inDecode, 3) : null,
    },
  };
}
