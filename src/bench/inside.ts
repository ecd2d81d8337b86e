// With SSH: what the benchmark measures inside the VM. The same request sent to the engine directly
// on 127.0.0.1:8080 (so the report shows what nginx + TLS add), the host's facts, a multi-threaded
// memory read bandwidth probe, the model file size, and from those the decode roofline (roofline.ts).
import type { CheckContext } from "../core/check.ts";
import { median, requestMetrics, type RequestTrace } from "./metrics.ts";
import { coldFirstLines, type BenchPrompt } from "./prompts.ts";
import type { BenchRun } from "./runner.ts";
import {
  judgeRoofline,
  parseReadBandwidth,
  READ_BANDWIDTH_COMMAND,
  READ_BANDWIDTH_METHOD,
  rooflineTokS,
} from "./roofline.ts";
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
  const bandwidth = parseReadBandwidth((await ctx.probes.ssh(READ_BANDWIDTH_COMMAND, 180_000)).stdout);
  const nextFirstLine = coldFirstLines();
  const internal = [];
  for (let i = 0; i < INSIDE_RUNS; i++) {
    const body = benchBody(prompt, shape, prompt.cold ? nextFirstLine() : undefined);
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
  // Bytes read per token: the GGUF file, i.e. every weight once. It slightly over-counts (the token
  // embedding table is read one row per token; about 3% of Devstral's file), which lowers the roofline.
  const roofline = rooflineTokS(bandwidth?.readBytesPerS ?? null, modelBytes);
  const verdict = judgeRoofline(roofline, { https: exDecode, loopback: inDecode });
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
    memory_read_bandwidth_gb_s: round(bandwidth === null ? null : bandwidth.readBytesPerS / 1e9),
    bandwidth_threads: bandwidth?.threads ?? null,
    bandwidth_threads_source: bandwidth?.threadsSource ?? null,
    bandwidth_method: READ_BANDWIDTH_METHOD,
    bytes_read_per_token: modelBytes,
    decode_roofline_tok_s: round(roofline),
    roofline_formula:
      "read bandwidth with the engine's threads / model file bytes: every weight is read once per decoded token",
    roofline_valid: verdict.valid,
    roofline_note: verdict.note,
    decode_tok_s_pct_of_roofline: verdict.pct.https === null ? null : round(verdict.pct.https ?? null, 1),
    loopback_decode_tok_s_pct_of_roofline:
      verdict.pct.loopback === null ? null : round(verdict.pct.loopback ?? null, 1),
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
