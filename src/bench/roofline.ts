// The decode roofline: a CPU decoding a dense model reads every weight once per generated token, so
// tok/s ≤ read bandwidth ÷ bytes read per token. The bandwidth must be what decode can use: reads
// (not copies, which also count the writes) by as many threads as the engine runs. A single-thread
// copy figure sat below what llama.cpp really decoded (37.5 tok/s against llama-bench's 40.4 tok/s
// for a 500m Q8_0 model on 2 threads), so a measured rate above the roofline invalidates it instead of
// being shown as more than 100 %.

/**
 * python3 (the appliance's Debian has it): N processes each fill their own buffer, then scan it with
 * bytearray.find of an absent byte (memchr: a pure streaming read), started together on a barrier.
 * Rate = all bytes scanned ÷ (last end − first start), median of 5. N = argv[1] unless "auto", else the `threads:`
 * of the LocalAI model YAML in the VM (a number from 1 to 512, else ignored), else the vCPU count;
 * the chosen N and where it came from are printed. argv[2] = total MiB (default 1024).
 */
export const READ_BANDWIDTH_SCRIPT = `
import glob, json, multiprocessing as mp, os, re, sys, time
def engine_threads():
    if len(sys.argv) > 1 and sys.argv[1] != "auto":
        return int(sys.argv[1]), "argument"
    for path in sorted(glob.glob("/var/lib/local-ai/models/*.yaml")):
        try:
            m = re.search(r"^threads: *([0-9]{1,3}) *$", open(path).read(), re.M)
        except OSError:
            continue
        if m and 1 <= int(m.group(1)) <= 512:
            return int(m.group(1)), "model YAML threads"
    return os.cpu_count() or 1, "vCPU count"
n, source = engine_threads()
total = (int(sys.argv[2]) if len(sys.argv) > 2 else 1024) * 2**20
per = max(64 * 2**20, total // n)
passes, reps = 2, 5
def worker(barrier, out):
    buf = bytearray(b"\\x01") * per
    buf.find(b"\\x02")
    for rep in range(reps):
        barrier.wait()
        t0 = time.perf_counter()
        for _ in range(passes):
            buf.find(b"\\x02")
        out.put((rep, t0, time.perf_counter()))
ctx = mp.get_context("fork")
barrier, out = ctx.Barrier(n), ctx.Queue()
procs = [ctx.Process(target=worker, args=(barrier, out)) for _ in range(n)]
for p in procs:
    p.start()
spans = {}
for _ in range(n * reps):
    rep, t0, t1 = out.get(timeout=300)
    a, b = spans.get(rep, (t0, t1))
    spans[rep] = (min(a, t0), max(b, t1))
for p in procs:
    p.join()
rates = sorted(n * per * passes / (b - a) for a, b in spans.values())
print(json.dumps({"threads": n, "threads_source": source, "bytes_per_thread": per, "passes": passes,
                  "runs_bytes_per_s": rates, "read_bytes_per_s": rates[len(rates) // 2]}))
`;

/** The probe as one fixed shell command: nothing read from the target is part of it. */
export const READ_BANDWIDTH_COMMAND = `python3 -c "$(echo ${Buffer.from(READ_BANDWIDTH_SCRIPT).toString("base64")} | base64 -d)"`;

export const READ_BANDWIDTH_METHOD =
  "python3: N processes each scan their own buffer with memchr (bytearray.find of an absent byte), " +
  "started together; bytes read ÷ (last end − first start), median of 5; N = the engine's threads";

export interface ReadBandwidth {
  threads: number;
  threadsSource: string;
  bytesPerThread: number;
  /** Bytes per second, median of the runs. */
  readBytesPerS: number;
  runsBytesPerS: number[];
}

const MAX_PLAUSIBLE_BYTES_PER_S = 1e13;

/** The probe's JSON line, or null when it is missing or not a plausible measurement. */
export function parseReadBandwidth(stdout: string): ReadBandwidth | null {
  const line = stdout.trim().split("\n").pop() ?? "";
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  const { threads, threads_source, bytes_per_thread, read_bytes_per_s, runs_bytes_per_s } = raw ?? {};
  const rate = (v: unknown): v is number => typeof v === "number" && v > 0 && v < MAX_PLAUSIBLE_BYTES_PER_S;
  if (!(typeof threads === "number" && Number.isInteger(threads) && threads >= 1 && threads <= 512))
    return null;
  if (!rate(read_bytes_per_s) || !Array.isArray(runs_bytes_per_s) || !runs_bytes_per_s.every(rate))
    return null;
  return {
    threads,
    threadsSource: typeof threads_source === "string" ? threads_source.slice(0, 40) : "unknown",
    bytesPerThread: typeof bytes_per_thread === "number" ? bytes_per_thread : 0,
    readBytesPerS: read_bytes_per_s,
    runsBytesPerS: runs_bytes_per_s,
  };
}

/** tok/s ≤ read bandwidth ÷ bytes read per token; null without both figures. */
export function rooflineTokS(readBytesPerS: number | null, bytesPerToken: number | null): number | null {
  if (readBytesPerS === null || !bytesPerToken || bytesPerToken <= 0 || readBytesPerS <= 0) return null;
  return readBytesPerS / bytesPerToken;
}

export interface RooflineVerdict {
  roofline_tok_s: number | null;
  /** false when a measured decode rate exceeds the roofline: the figure under-estimates the host. */
  valid: boolean | null;
  /** Measured decode as % of the roofline, per label; null when the roofline is missing or invalid. */
  pct: Record<string, number | null>;
  note: string;
}

/** Judges measured decode rates against the roofline; never reports decode above 100 %. */
export function judgeRoofline(
  roofline: number | null,
  decodes: Record<string, number | null>,
): RooflineVerdict {
  const labels = Object.keys(decodes);
  const none = Object.fromEntries(labels.map((l) => [l, null]));
  if (roofline === null)
    return {
      roofline_tok_s: null,
      valid: null,
      pct: none,
      note: "no roofline: bandwidth or model size missing",
    };
  const above = labels.filter((l) => (decodes[l] ?? 0) > roofline);
  if (above.length > 0) {
    const worst = above.map((l) => `${l} ${round1(decodes[l] as number)} tok/s`).join(", ");
    return {
      roofline_tok_s: roofline,
      valid: false,
      pct: none,
      note:
        `roofline invalid: measured decode (${worst}) exceeds the roofline of ${round1(roofline)} tok/s, ` +
        "so the bandwidth probe under-measures what the engine's threads read (run it on a quiet host, " +
        "with the engine's thread count)",
    };
  }
  return {
    roofline_tok_s: roofline,
    valid: true,
    pct: Object.fromEntries(
      labels.map((l) => {
        const d = decodes[l];
        return [l, d === null || d === undefined ? null : (100 * d) / roofline];
      }),
    ),
    note: "decode as % of the roofline (read bandwidth ÷ bytes read per token)",
  };
}

const round1 = (v: number) => Math.round(v * 10) / 10;
