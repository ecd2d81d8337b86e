// Ground truth for the agentic workload: the LocalAI stand-in (compiled binary, its own process)
// emulates a one-slot prefix cache (TTFT = --ttft-ms + uncached prompt tokens / --prefill-tokens-per-
// second) and stamps when its first content frame really left. Per turn the measured TTFT must be
// within 2% of that stamp, and the cached/evaluated counts exact: turn k reuses exactly turn k−1's
// prompt (the conversation only appends), turn 1 reuses nothing but the system message's header.
// With the cache switched off, the "prefix not reused" finding must fire; without cache figures the
// bench must say they are not reported.
import t, { type Test } from "tap";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import type { Access } from "../src/core/access.ts";
import { plainHttpProbes, startStandIn, waitForEngine } from "../fixtures/engine/process.ts";
import { agenticFindings, runAgentic, sendTurn, type AgenticTarget } from "../src/bench/agentic.ts";
import type { AgenticShape } from "../src/bench/agentic-conversation.ts";
import type { RequestTrace } from "../src/bench/metrics.ts";
import { createPromptCache, MESSAGE_HEADER_TOKENS } from "../src/sim/engine/prompt-cache.ts";
import { runProcess } from "./spawn.ts";

const SLMC = resolve(import.meta.dirname, "../dist/slmc-check");
const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((path) => existsSync(path));
const KEYS = ["turn", "ttft_ms", "prompt_tokens", "prompt_tokens_cached", "prompt_tokens_processed"];
const MODEL = "agentic-truth";
const TTFT_MS = 250;
const PREFILL_TOK_S = 4000;

async function modelsDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "slmc-agentic-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, "truth.gguf"), Buffer.from("GGUF-stand-in"));
  await writeFile(join(dir, `${MODEL}.yaml`), `name: ${MODEL}\nparameters:\n  model: truth.gguf\n`);
  return dir;
}

async function engineTarget(t: Test, args: string[]): Promise<AgenticTarget> {
  const engine = await startStandIn(await modelsDir(t), [
    "--load-ms",
    "0",
    "--tokens-per-second",
    "200",
    ...args,
  ]);
  t.teardown(() => engine.stop());
  await waitForEngine(engine.port, "ready");
  return {
    access: { password: "unused" } as Access,
    probes: plainHttpProbes(engine.port),
    model: MODEL,
    maxTokens: 16,
    timeoutMs: 30_000,
    idleTimeoutMs: 10_000,
  };
}

/** The stand-in's real send instant of the first content frame (epoch ms), from the usage chunk. */
function firstContentSent(trace: RequestTrace): number {
  for (const event of trace.events) {
    if (event.data === "[DONE]") continue;
    const sent = (JSON.parse(event.data) as { stand_in_sent?: { first_content: number } }).stand_in_sent;
    if (sent) return sent.first_content;
  }
  throw new Error("the stand-in's usage chunk carries no stand_in_sent");
}

function cachedUsage(trace: RequestTrace): number | undefined {
  for (const event of trace.events) {
    if (event.data === "[DONE]") continue;
    const usage = (
      JSON.parse(event.data) as { usage?: { prompt_tokens_details?: { cached_tokens?: number } } }
    ).usage;
    if (usage?.prompt_tokens_details) return usage.prompt_tokens_details.cached_tokens;
  }
  return undefined;
}

t.test("the one slot: longest common prefix, at least one token evaluated, nothing when off", async (t) => {
  const cache = createPromptCache(true);
  t.same(cache.admit(["a", "b", "c"]), { total: 3, cached: 0, processed: 3 }, "cold");
  t.same(cache.admit(["a", "b", "c", "d"]), { total: 4, cached: 3, processed: 1 }, "appended");
  t.same(
    cache.admit(["a", "b", "c", "d"]),
    { total: 4, cached: 3, processed: 1 },
    "repeated: last token again",
  );
  t.same(cache.admit(["a", "x"]), { total: 2, cached: 1, processed: 1 }, "diverged after one token");
  const off = createPromptCache(false);
  off.admit(["a", "b"]);
  t.same(off.admit(["a", "b", "c"]), { total: 3, cached: 0, processed: 3 }, "off: nothing reused");
});

t.test("per-turn TTFT and cache counts match the stand-in's one-slot prefix cache", async (t) => {
  const target = await engineTarget(t, [
    "--ttft-ms",
    String(TTFT_MS),
    "--prefill-tokens-per-second",
    String(PREFILL_TOK_S),
  ]);
  const shape: AgenticShape = { client: "cline", conversations: 2, turns: 3, toolResultBytes: 1600 };
  const traces: RequestTrace[] = [];
  const run = await runAgentic(
    target,
    shape,
    () => undefined,
    async (body) => {
      const trace = await sendTurn(target, body);
      traces.push(trace);
      return trace;
    },
  );
  const turns = run.conversations.flatMap((c) => c.turns);
  t.equal(turns.length, 6, "2 conversations × 3 turns");
  t.ok(
    turns.every((turn) => turn.ok && turn.cache_source === "timings"),
    "every turn completed and reported timings.cache_n",
  );
  for (const [i, turn] of turns.entries()) {
    const where = `conversation ${turn.conversation} turn ${turn.turn}`;
    const trace = traces[i]!;
    const previous = turn.turn > 1 ? turns[i - 1]! : undefined;
    const expectedCached = previous
      ? previous.prompt_tokens!
      : turn.conversation === 1
        ? 0
        : MESSAGE_HEADER_TOKENS;
    t.equal(turn.prompt_tokens_cached, expectedCached, `${where}: ${expectedCached} prompt tokens reused`);
    t.equal(
      turn.prompt_tokens_processed,
      turn.prompt_tokens! - expectedCached,
      `${where}: ${turn.prompt_tokens! - expectedCached} of ${turn.prompt_tokens} evaluated`,
    );
    t.equal(cachedUsage(trace), expectedCached, `${where}: usage.prompt_tokens_details.cached_tokens agrees`);
    t.equal(turn.answer, turn.turn === 1 ? "tool_call" : "text", `${where}: answered with a ${turn.answer}`);
    // Truth: when the stand-in's first content frame really left, against when the request was sent.
    const truth = firstContentSent(trace) - performance.timeOrigin - trace.sent;
    const error = (100 * (turn.ttft_ms! - truth)) / truth;
    t.ok(
      Math.abs(error) <= 2,
      `${where}: TTFT ${turn.ttft_ms} ms against the first frame's send ${truth.toFixed(1)} ms (${error.toFixed(2)}%, within 2%)`,
    );
    const schedule = TTFT_MS + (turn.prompt_tokens_processed! * 1000) / PREFILL_TOK_S;
    const origin = Number(trace.responseHeaders["x-stand-in-schedule-origin"]);
    const late = firstContentSent(trace) - origin - schedule;
    t.ok(
      late >= -1,
      `${where}: the first frame left no earlier than its schedule ${schedule} ms (${late.toFixed(1)} ms late)`,
    );
  }
  const [first, second] = [turns[0]!, turns[1]!];
  t.ok(
    first.prompt_tokens! > 5000 && first.prompt_tokens! < 7000,
    `a Cline-sized first prompt: ${first.prompt_tokens} tokens`,
  );
  t.ok(
    second.ttft_ms! * 3 < first.ttft_ms!,
    `turn 2 (${second.ttft_ms} ms) is much faster than turn 1 (${first.ttft_ms} ms)`,
  );
  t.same(agenticFindings(run), [], "no findings when the prefix is reused");
});

t.test("a server that does not reuse the prefix is flagged", async (t) => {
  const target = await engineTarget(t, [
    "--ttft-ms",
    String(TTFT_MS),
    "--prefill-tokens-per-second",
    String(PREFILL_TOK_S * 2),
    "--no-prompt-cache",
  ]);
  const run = await runAgentic(
    target,
    { client: "continue", conversations: 1, turns: 2, toolResultBytes: 400 },
    () => undefined,
  );
  const second = run.conversations[0]!.turns[1]!;
  t.equal(second.prompt_tokens_cached, 0, "turn 2 reused nothing");
  t.equal(second.prompt_tokens_processed, second.prompt_tokens, "turn 2 evaluated its whole prompt");
  const flag = agenticFindings(run).find((f) => f.code === "prefix-not-reused");
  t.equal(flag?.level, "flag", "prefix-not-reused is a flag");
  t.match(flag?.message, /conversation 1 turn 2/, "it names the turn");
  t.match(flag?.message, /prompt_cache_all: true/, "it says what to set");
});

t.test("a server without cache figures: not reported, judged by TTFT", async (t) => {
  const target = await engineTarget(t, ["--ttft-ms", "60"]);
  const run = await runAgentic(
    target,
    { client: "continue", conversations: 1, turns: 2, toolResultBytes: 400 },
    () => undefined,
  );
  const [first, second] = run.conversations[0]!.turns;
  t.equal(first!.cache_source, "not reported", "no cache source");
  t.equal(second!.prompt_tokens_cached, null, "cached tokens null");
  t.equal(second!.prompt_tokens_processed, null, "processed tokens null");
  t.ok(second!.prompt_tokens! > first!.prompt_tokens!, "prompt tokens still come from usage");
  const codes = agenticFindings(run).map((f) => `${f.level}:${f.code}`);
  t.same(
    codes,
    ["warning:prefix-reuse-not-reported", "warning:prefix-reuse-suspect"],
    "a flat TTFT without figures is a warning, never a flag",
  );
});

t.test("a failed turn is flagged with its cause", async (t) => {
  const target = await engineTarget(t, ["--ttft-ms", "20", "--fail-every", "2"]);
  const run = await runAgentic(
    target,
    { client: "continue", conversations: 1, turns: 2, toolResultBytes: 100 },
    () => undefined,
  );
  t.same(
    run.conversations[0]!.turns.map((turn) => turn.ok),
    [true, false],
    "turn 2 got the injected HTTP 500",
  );
  const flag = agenticFindings(run).find((f) => f.code === "failed-requests");
  t.equal(flag?.level, "flag");
  t.match(flag?.message, /1 of 2 turns failed: HTTP 500 \(conversation 1 turn 2\)/);
});

t.test("bench demo --workload agentic: table, JSON per turn, HTML charts, a bad value refused", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-agentic-demo-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const [json, html] = [join(dir, "a.json"), join(dir, "a.html")];
  const run = await runProcess(
    SLMC,
    [
      "bench",
      "demo",
      "--workload",
      "agentic",
      "--conversations",
      "1",
      "--turns",
      "2",
      "--json",
      json,
      "--html",
      html,
    ],
    { NO_COLOR: "1" },
  );
  t.equal(run.code, 0, `no finding on the simulated appliance\n${run.stderr}`);
  t.match(run.stdout, /conv turn +TTFT ms +prompt +cached +evaluated/, "the per-turn table");
  t.match(
    run.stderr,
    /conversation 1\/1 turn 2\/2: TTFT [\d.]+ ms, prompt \d+ tokens, \d+ reused/,
    "progress per turn",
  );
  const report = JSON.parse(await readFile(json, "utf8")) as {
    agentic: { conversations: { turns: Record<string, unknown>[]; first_useful_byte_ms: number }[] };
  };
  const turns = report.agentic.conversations[0]!.turns;
  t.same(
    turns.map((turn) => Object.keys(turn).filter((k) => KEYS.includes(k))),
    [KEYS, KEYS],
    "each turn carries turn, ttft_ms and the prompt token counts",
  );
  t.ok((turns[1]!.prompt_tokens_cached as number) > 5000, "turn 2 reused the Cline-sized prefix");
  t.ok(report.agentic.conversations[0]!.first_useful_byte_ms > 0, "time to the first useful byte");
  if (!CHROMIUM)
    t.fail("chromium is not installed (make test installs it as root: apt-get install chromium)");
  else {
    const dom = await runProcess(CHROMIUM, [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--dump-dom",
      `file://${html}`,
    ]);
    t.match(
      dom.stdout,
      /<body data-charts-rendered="2" data-charts-total="2">/,
      "both agentic charts rendered",
    );
  }
  const bad = await runProcess(SLMC, ["bench", "demo", "--workload", "agentic", "--turns", "0"]);
  t.equal(bad.code, 2, "a usage error");
  t.match(bad.stderr, /--turns: expected a whole number 1-50, got '0'/, "naming the flag and the value");
});
