// Ground truth for the benchmark: the LocalAI stand-in (compiled binary, its own process) releases
// tokens on a schedule and stamps when its first and last content frames really left (a loaded host
// makes them late; that is the engine's lateness, not a measurement error). Across schedules (1 and 4
// tokens per chunk, with and without a role-only first chunk, usage only in the final chunk,
// keep-alive comments) and 1–64 concurrent streams, the measured median TTFT must be within 2 ms and
// the median decode tok/s within 1% of those stamps, on loopback.
import t from "tap";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Access } from "../src/core/access.ts";
import { plainHttpProbes, startStandIn, waitForEngine } from "../fixtures/engine/process.ts";
import { findings } from "../src/bench/findings.ts";
import { distribution } from "../src/bench/metrics.ts";
import { promptSet } from "../src/bench/prompts.ts";
import { runBench } from "../src/bench/runner.ts";
import { createSender } from "../src/bench/send.ts";
import type { RequestTrace } from "../src/bench/metrics.ts";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";

const MODEL = "bench-truth";

const access = { password: "unused" } as Access;
/** A stall of the harness's own event loop beyond this lets a missed level be measured once more. */
const STALL_RETRY_MS = 20;

interface Schedule {
  name: string;
  ttftMs: number;
  tokensPerSecond: number;
  tokensPerChunk: number;
  /** Tokens per request: 32 keep each decode above half a second, where the measured errors are a
   * few hundredths of the 1% bound; the 64-stream schedule keeps 64 (its error is the largest). */
  maxTokens: number;
  args: string[];
  concurrencies: number[];
}

const SCHEDULES: Schedule[] = [
  {
    name: "1 token/chunk, role chunk",
    ttftMs: 120,
    tokensPerSecond: 50,
    maxTokens: 32,
    tokensPerChunk: 1,
    args: [],
    concurrencies: [1, 8],
  },
  {
    name: "4 tokens/chunk, role chunk",
    ttftMs: 80,
    tokensPerSecond: 100,
    maxTokens: 32,
    tokensPerChunk: 4,
    args: [],
    concurrencies: [1, 8],
  },
  {
    name: "no role chunk",
    ttftMs: 60,
    tokensPerSecond: 40,
    maxTokens: 32,
    tokensPerChunk: 1,
    args: ["--no-role-chunk"],
    concurrencies: [1, 8],
  },
  {
    name: "keep-alive comments during prefill",
    ttftMs: 300,
    tokensPerSecond: 50,
    maxTokens: 32,
    tokensPerChunk: 2,
    args: ["--keep-alive-ms", "50"],
    concurrencies: [1, 8],
  },
  // 64 streams of one token per event. 20 tok/s keeps the two processes at ~1,300 events/s, so on two
  // shared cores the measurement, not the scheduler, is what is judged (at 50 tok/s a loaded host put
  // the harness's own event loop 1–2% behind; beside other timing files its decode error doubled).
  {
    name: "1 token/chunk, role chunk, 64 streams",
    ttftMs: 120,
    tokensPerSecond: 20,
    maxTokens: 64,
    tokensPerChunk: 1,
    args: [],
    concurrencies: [64],
  },
];

/** The stand-in's real send instants (epoch ms) from the usage chunk's stand_in_sent. */
function sentStamps(trace: RequestTrace): { firstContent: number; lastContent: number } {
  for (const event of trace.events) {
    const sent = (
      JSON.parse(event.data === "[DONE]" ? "{}" : event.data) as {
        stand_in_sent?: { first_content: number; last_content: number };
      }
    ).stand_in_sent;
    if (sent) return { firstContent: sent.first_content, lastContent: sent.last_content };
  }
  throw new Error("the stand-in's usage chunk carries no stand_in_sent");
}

t.test("measured TTFT and decode rate match the stand-in's exact schedule", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-bench-truth-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, "truth.gguf"), Buffer.from("GGUF-stand-in"));
  await writeFile(join(dir, `${MODEL}.yaml`), `name: ${MODEL}\nparameters:\n  model: truth.gguf\n`);
  const prompts = promptSet("short");
  for (const schedule of SCHEDULES) {
    const engine = await startStandIn(dir, [
      "--load-ms",
      "0",
      "--ttft-ms",
      String(schedule.ttftMs),
      "--tokens-per-second",
      String(schedule.tokensPerSecond),
      "--tokens-per-chunk",
      String(schedule.tokensPerChunk),
      ...schedule.args,
    ]);
    t.teardown(() => engine.stop());
    await waitForEngine(engine.port, "ready");
    const maxTokens = schedule.maxTokens;
    const traces: RequestTrace[] = [];
    const sendTraced = createSender(access, plainHttpProbes(engine.port), {
      model: MODEL,
      maxTokens,
      fixedLength: false,
      timeoutMs: 30_000,
      idleTimeoutMs: 10_000,
    });
    const send = async (prompt: Parameters<typeof sendTraced>[0]) => {
      const trace = await sendTraced(prompt);
      traces.push(trace);
      return trace;
    };
    for (const concurrency of schedule.concurrencies) {
      const where = `${schedule.name}, concurrency ${concurrency}`;
      const measureLevel = async () => {
        // The harness's own event loop is watched: a stall of it (a major GC, or the host not running
        // it) delays every arrival of the level at once, which is the host's doing, not the bench's.
        const loopDelay = monitorEventLoopDelay({ resolution: 5 });
        loopDelay.enable();
        const level = await runBench(
          {
            concurrencies: [concurrency],
            sweep: false,
            maxConcurrency: 64,
            // p50s are judged, so a few requests per level suffice (more only lengthen the run). At 64
            // streams all first frames arrive in one burst, and one pause of the harness's event loop
            // (a major GC) there shifts every TTFT of that wave by ~10 ms: three waves keep the p50 on
            // the two undisturbed ones.
            requestsPerLevel: concurrency >= 64 ? 3 * concurrency : Math.max(3, concurrency),
            warmup: 1,
            prompts,
            saturationGain: 0.1,
          },
          send,
          () => undefined,
        );
        loopDelay.disable();
        const samples = level.levels[0]!.samples;
        const levelTraces = traces.slice(-samples.length);
        // Truth per request is what the engine really did: the instants its first and last content
        // frames left (stamped on the same wall clock, reported in the usage chunk). On a loaded host
        // frames leave late; that lateness is the engine's, not a measurement error, so it is shown
        // in a comment, not judged.
        const truths = levelTraces.map((trace) => sentStamps(trace));
        const ttftError = levelTraces.map((trace, i) => {
          const firstContent = trace.events.find((e) => /"content":"[^"]/.test(e.data));
          return (firstContent?.arrivedAt ?? Number.NaN) - (truths[i]!.firstContent - performance.timeOrigin);
        });
        const decodeError = samples.map((sample, i) => {
          const { firstContent, lastContent } = truths[i]!;
          const k1 = schedule.tokensPerChunk;
          const truth = (maxTokens - k1) / ((lastContent - firstContent) / 1000);
          return (100 * ((sample.decode_tok_s ?? Number.NaN) - truth)) / truth;
        });
        const stallMs = loopDelay.max / 1e6 - 5;
        return { samples, levelTraces, truths, ttftError, decodeError, stallMs };
      };
      let measured = await measureLevel();
      const withinBounds = (m: typeof measured) =>
        Math.abs(distribution(m.ttftError)!.p50) <= 2 && Math.abs(distribution(m.decodeError)!.p50) <= 1;
      // One more measurement only when the bounds were missed while the harness itself stalled beyond
      // them (20 ms): a bench that blocks its own loop stalls again and fails the second time.
      if (!withinBounds(measured) && measured.stallMs > STALL_RETRY_MS) {
        t.comment(
          `${where}: the harness's event loop stalled ${Math.round(measured.stallMs)} ms; measured again`,
        );
        measured = await measureLevel();
      }
      const { samples, levelTraces, truths, ttftError, decodeError } = measured;
      const lateness = levelTraces.map((trace, i) => {
        const origin = Number(trace.responseHeaders["x-stand-in-schedule-origin"]);
        return (
          truths[i]!.lastContent -
          (origin +
            schedule.ttftMs +
            ((maxTokens - schedule.tokensPerChunk) * 1000) / schedule.tokensPerSecond)
        );
      });
      t.equal(samples.filter((s) => s.ok).length, samples.length, `${where}: every request completed`);
      t.ok(
        samples.every((s) => s.n_out === maxTokens && s.n_out_source === "usage"),
        `${where}: N_out ${maxTokens} from the final usage chunk`,
      );
      const ttft = distribution(samples.map((s) => s.ttft_ms))!;
      const decode = distribution(samples.map((s) => s.decode_tok_s))!;
      const error = distribution(ttftError)!;
      const decodeErr = distribution(decodeError)!;
      const late = distribution(lateness)!;
      t.comment(
        `${where}: the engine's last frame left ${late.p50} ms (p50), ${late.max} ms (max) after its schedule`,
      );
      t.ok(
        Math.abs(error.p50) <= 2,
        `${where}: TTFT p50 ${ttft.p50} ms; error against the first frame's send p50 ${error.p50} ms, max ${error.max} ms (within 2 ms)`,
      );
      t.ok(
        Math.abs(decodeErr.p50) <= 1,
        `${where}: decode p50 ${decode.p50} tok/s; error against the frames' send times p50 ${decodeErr.p50}%, max ${decodeErr.max}% (within 1%)`,
      );
      t.equal(
        samples[0]!.tokens_per_event,
        schedule.tokensPerChunk,
        `${where}: tokens per event ${schedule.tokensPerChunk}`,
      );
      if (schedule.args.includes("--no-role-chunk"))
        t.equal(samples[0]!.first_event_ms, samples[0]!.ttft_ms, `${where}: first event is the first token`);
      else
        t.ok(
          samples[0]!.first_event_ms! < samples[0]!.ttft_ms! - schedule.ttftMs / 2,
          `${where}: the role-only chunk arrives early and is not counted as the first token`,
        );
      t.same(findings(samples, false, maxTokens), [], `${where}: no findings on a healthy stream`);
    }
    engine.stop();
  }
});
