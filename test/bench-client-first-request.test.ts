// The client-first-request prompt set: the first request of a Cline-shaped conversation in the sizes
// Cline CLI 3.0.65 was measured sending (21.7 KB: a ~4.3 KB system prompt, 25 function tools,
// tool_choice "auto", stream_options.include_usage), sent COLD. Against the stand-in's one-slot prefix
// cache every request evaluates its whole prompt (its own first line), while the same prompt without that
// line is served from the cache: the control that shows the measure would catch a warm prefix. Through
// the binary, `bench demo --prompt-set client-first-request` reports the prompt set and its prompt tokens.
import t, { type Test } from "tap";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Access } from "../src/core/access.ts";
import { plainHttpProbes, startStandIn, waitForEngine } from "../fixtures/engine/process.ts";
import type { RequestTrace } from "../src/bench/metrics.ts";
import { coldFirstLines, promptSet, type BenchPrompt } from "../src/bench/prompts.ts";
import { benchBody, createSender, type RequestShape } from "../src/bench/send.ts";
import type { BenchReport } from "../src/bench/report.ts";
import { runProcess } from "./spawn.ts";

const SLMC = resolve(import.meta.dirname, "../dist/slmc-check");
const MODEL = "first-request";
const SHAPE: RequestShape = {
  model: MODEL,
  maxTokens: 16,
  fixedLength: false,
  timeoutMs: 30_000,
  idleTimeoutMs: 10_000,
};
/** Cline CLI 3.0.65's first request: 21.7 KB, and the 5,000–7,000 prompt tokens it comes to. */
const CLINE_BODY_BYTES = 21_700;
const CLINE_PROMPT_TOKENS = { min: 5000, max: 7000 };

const clientPrompt = (): BenchPrompt => {
  const set = promptSet("client-first-request");
  if (set.length !== 1) throw new Error(`client-first-request has ${set.length} prompts, expected 1`);
  return set[0]!;
};

interface SentBody {
  messages: { role: string; content: string }[];
  tools: { type: string; function: { name: string } }[];
  tool_choice: string;
  stream: boolean;
  stream_options: { include_usage: boolean };
}

t.test("a Cline-shaped first request: system prompt, 25 tools, tool_choice auto, usage", async (t) => {
  const prompt = clientPrompt();
  const lines = coldFirstLines();
  const [first, second] = [lines(), lines()];
  const bodies = [benchBody(prompt, SHAPE, first), benchBody(prompt, SHAPE, second)];
  const body = JSON.parse(bodies[0]!) as SentBody;
  t.same(
    body.messages.map((m) => m.role),
    ["system", "user"],
    "a system prompt and the user's task",
  );
  t.equal(body.tools.length, 25, "25 function tools");
  t.ok(
    body.tools.every((tool) => tool.type === "function"),
    "every tool is a function",
  );
  t.equal(body.tool_choice, "auto");
  t.equal(body.stream, true);
  t.same(body.stream_options, { include_usage: true });
  const system = Buffer.byteLength(body.messages[0]!.content);
  t.ok(system > 4000 && system < 4600, `system prompt ${system} bytes, ~4.3 KB as Cline's`);
  const size = Buffer.byteLength(bodies[0]!);
  t.ok(
    Math.abs(size - CLINE_BODY_BYTES) / CLINE_BODY_BYTES < 0.1,
    `body ${size} bytes, within 10% of Cline's 21.7 KB`,
  );

  t.not(first, second, "each request has its own first line");
  t.ok(body.messages[0]!.content.startsWith(`${first}\n`), "the line opens the system prompt");
  t.equal(bodies[0]!.length, bodies[1]!.length, "the line has a fixed length: same prompt size every time");
  const otherRun = coldFirstLines()();
  t.not(otherRun, first, "another run's first request starts differently (a random run id)");
  t.throws(
    () => benchBody(prompt, SHAPE),
    /cold: each request needs its first line/,
    "a cold prompt is never sent without its line",
  );
  const short = JSON.parse(benchBody(promptSet("short")[0]!, SHAPE)) as Partial<SentBody>;
  t.equal(short.tools, undefined, "the other sets send no tools");
});

async function engineSender(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), "slmc-first-request-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, "m.gguf"), Buffer.from("GGUF-stand-in"));
  await writeFile(join(dir, `${MODEL}.yaml`), `name: ${MODEL}\nparameters:\n  model: m.gguf\n`);
  // A prefill rate turns on the stand-in's one-slot prefix cache and its cached_tokens.
  const engine = await startStandIn(dir, [
    "--load-ms",
    "0",
    "--ttft-ms",
    "20",
    "--tokens-per-second",
    "400",
    "--prefill-tokens-per-second",
    "50000",
  ]);
  t.teardown(() => engine.stop());
  await waitForEngine(engine.port, "ready");
  return createSender({ password: "unused" } as Access, plainHttpProbes(engine.port), SHAPE);
}

function usage(trace: RequestTrace): { prompt: number; cached: number } {
  for (const event of trace.events) {
    if (event.data === "[DONE]") continue;
    const chunk = JSON.parse(event.data) as {
      usage?: { prompt_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } };
    };
    const cached = chunk.usage?.prompt_tokens_details?.cached_tokens;
    if (typeof chunk.usage?.prompt_tokens === "number" && typeof cached === "number")
      return { prompt: chunk.usage.prompt_tokens, cached };
  }
  throw new Error(`no usage with cached_tokens in ${trace.events.length} events (${trace.error})`);
}

t.test("every request is a cold prefix; without its first line the cache would serve it", async (t) => {
  const send = await engineSender(t);
  const prompt = clientPrompt();
  const cold: { prompt: number; cached: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const trace = await send(prompt);
    t.equal(trace.error, null, `request ${i + 1} completed`);
    cold.push(usage(trace));
  }
  for (const [i, u] of cold.entries()) {
    t.ok(
      u.prompt >= CLINE_PROMPT_TOKENS.min && u.prompt <= CLINE_PROMPT_TOKENS.max,
      `request ${i + 1}: ${u.prompt} prompt tokens, Cline's 5,000–7,000`,
    );
    t.ok(u.cached < u.prompt / 100, `request ${i + 1}: ${u.cached} of ${u.prompt} tokens from the cache`);
  }

  // The control: the same prompt without its own line is served from the slot the second time.
  const warm = { ...prompt, cold: false };
  usage(await send(warm));
  const again = usage(await send(warm));
  t.ok(
    again.cached > again.prompt * 0.99,
    `repeated without the line: ${again.cached} of ${again.prompt} tokens cached (the measure sees a warm prefix)`,
  );
});

t.test("bench demo --prompt-set client-first-request reports the set and its prompt tokens", async (t) => {
  const env = { NO_COLOR: "1", HOME: process.env.HOME ?? "/tmp" };
  const json = await runProcess(
    SLMC,
    ["bench", "demo", "--prompt-set", "client-first-request", "--format", "json"],
    env,
    120_000,
  );
  t.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as BenchReport;
  t.equal(report.plan.prompt_set, "client-first-request");
  t.same(report.plan.prompts, ["cline-first-request"]);
  t.equal(report.plan.cold_prefix, true);
  const tokens = report.plan.prompt_tokens?.["cline-first-request"];
  t.ok(
    typeof tokens === "number" && tokens >= CLINE_PROMPT_TOKENS.min && tokens <= CLINE_PROMPT_TOKENS.max,
    `prompt_tokens ${tokens}: Cline's 5,000–7,000 (from usage)`,
  );
  const samples = report.levels.flatMap((l) => l.samples);
  t.ok(samples.length >= 3, `${samples.length} samples`);
  t.ok(
    samples.every((s) => s.ok && s.n_in === tokens),
    "every request completed with the same prompt size",
  );

  const pretty = await runProcess(
    SLMC,
    ["bench", "demo", "--prompt-set", "client-first-request", "--requests", "2", "--warmup", "0"],
    env,
    120_000,
  );
  t.equal(pretty.code, 0, pretty.stderr);
  t.match(
    pretty.stdout,
    /prompts client-first-request \(cline-first-request: \d+ prompt tokens\), cold prefix/,
    "the table says the set, its prompt tokens and that the prefix is cold",
  );
  const help = await runProcess(SLMC, ["bench", "--help"], env);
  t.match(help.stdout, /client-first-request/);
  t.match(help.stdout, /first line/, "the help says how the prefix is kept cold");
});
