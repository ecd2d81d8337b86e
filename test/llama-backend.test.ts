// The stand-in's llama-cpp backend (real llama.cpp through node-llama-cpp) on the tiny synthetic GGUF:
// a streamed completion has the OpenAI shape plus llama-server timings, and counts agree.
// Skipped when the optional node-llama-cpp package is not installed.
import t from "tap";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEngine, DEFAULT_SCHEDULE } from "../src/sim/engine/app.ts";
import { createLlamaCppBackend } from "../fixtures/engine/llama-backend.ts";
import { llamaPackage } from "../fixtures/engine/llama-cpp.ts";
import { writeCachedModel } from "../fixtures/model-cache.ts";
import { serveFetch } from "../src/core/serve.ts";

const installed = llamaPackage() !== undefined;

if (!installed && process.env.SLMC_REQUIRE_LLAMA === "1") {
  t.fail("node-llama-cpp is not installed: scripts/llama-deps.sh (make test runs it) must install it");
} else if (!installed) {
  t.pass("skipped: the optional node-llama-cpp binding is not installed (scripts/llama-deps.sh)", {
    skip: true,
  });
} else {
  const dir = await mkdtemp(join(tmpdir(), "slmc-llama-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  writeCachedModel({ path: join(dir, "tiny.gguf"), size: "tiny", type: "q8_0", seed: 3 });
  await writeFile(join(dir, "tiny.yaml"), "name: tiny\ncontext_size: 256\nparameters:\n  model: tiny.gguf\n");
  await writeFile(join(dir, "junk.gguf"), Buffer.alloc(4096, 1));
  await writeFile(join(dir, "junk.yaml"), "name: junk\nparameters:\n  model: junk.gguf\n");
  const backend = await createLlamaCppBackend({ threads: 1, contextSize: 512 });
  const engine = createEngine({
    modelsPath: dir,
    threads: 1,
    contextSize: 512,
    loadMs: 0,
    schedule: DEFAULT_SCHEDULE,
    defects: new Set(),
    backend,
  });
  await engine.ready;
  const served = await serveFetch(engine.app.fetch, "127.0.0.1", 0);
  t.teardown(async () => {
    await served.close();
    await backend.close();
  });
  const url = `http://127.0.0.1:${served.port}`;
  const chat = (body: object) =>
    fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "tiny",
        messages: [{ role: "user", content: "write fizzbuzz" }],
        ...body,
      }),
      signal: AbortSignal.timeout(30_000),
    });

  t.test("a file that is not a GGUF fails to load; the real one loads", async (t) => {
    const state = (id: string) => engine.models.find((m) => m.id === id)?.status;
    t.equal(state("tiny"), "loaded");
    t.equal(state("junk"), "failed");
    t.equal((await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) })).status, 503);
  });

  t.test("a streamed completion: role chunk, content, finish, usage, timings, [DONE]", async (t) => {
    const maxTokens = 12;
    const response = await chat({
      stream: true,
      max_tokens: maxTokens,
      ignore_eos: true,
      stream_options: { include_usage: true },
    });
    t.equal(response.status, 200);
    t.match(response.headers.get("content-type"), /text\/event-stream/);
    const events = (await response.text()).split("\n\n").filter(Boolean);
    t.equal(events.at(-1), "data: [DONE]", "ends with [DONE]");
    const chunks = events.slice(0, -1).map((e) => {
      t.match(e, /^data: \{/, "every event is a data line with JSON");
      return JSON.parse(e.slice("data: ".length)) as {
        object: string;
        choices: { delta: { role?: string; content?: string }; finish_reason: string | null }[];
        usage?: {
          prompt_tokens: number;
          completion_tokens: number;
          total_tokens: number;
          prompt_tokens_details?: { cached_tokens: number };
        };
        timings?: Record<string, number>;
      };
    });
    for (const c of chunks) t.equal(c.object, "chat.completion.chunk");
    t.equal(chunks[0]?.choices[0]?.delta.role, "assistant", "role chunk first");
    const content = chunks.filter((c) => c.choices[0]?.delta.content);
    t.ok(content.length >= 1 && content.length <= maxTokens, `${content.length} content chunks`);
    const finish = chunks.find((c) => c.choices[0]?.finish_reason);
    t.equal(finish?.choices[0]?.finish_reason, "length");
    const last = chunks.at(-1);
    t.same(last?.choices, [], "usage chunk has no choices");
    t.equal(last?.usage?.completion_tokens, maxTokens, "ignore_eos: exactly max_tokens generated");
    t.equal(last?.usage?.total_tokens, (last?.usage?.prompt_tokens ?? 0) + maxTokens);
    const timings = last?.timings ?? {};
    t.equal(timings.predicted_n, last?.usage?.completion_tokens, "timings agree with usage");
    t.equal(
      (timings.prompt_n ?? 0) + (timings.cache_n ?? 0),
      last?.usage?.prompt_tokens,
      "evaluated + reused prompt tokens = prompt_tokens",
    );
    t.equal(last?.usage?.prompt_tokens_details?.cached_tokens, timings.cache_n, "cached_tokens = cache_n");
    for (const key of ["prompt_ms", "predicted_ms", "predicted_per_second", "prompt_per_second"])
      t.ok((timings[key] ?? -1) > 0, `timings.${key} > 0`);
    t.same(finish?.timings, timings, "the finish chunk carries the same timings");
  });

  t.test("greedy non-stream completions are deterministic and count max_tokens", async (t) => {
    const text = async () => {
      const body = (await (await chat({ max_tokens: 8, ignore_eos: true })).json()) as {
        choices: { message: { content: string } }[];
        usage: { completion_tokens: number };
      };
      t.equal(body.usage.completion_tokens, 8);
      return body.choices[0]?.message.content;
    };
    const first = await text();
    t.ok(first, "some text");
    t.equal(await text(), first);
  });

  t.test(
    "a request that appends to the previous one reuses its prefix (one slot, as llama-server)",
    async (t) => {
      const turn = async (messages: object[]) => {
        const response = await chat({ messages, max_tokens: 4, ignore_eos: true });
        return (await response.json()) as {
          usage: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } };
          timings: { prompt_n: number; cache_n: number };
        };
      };
      const first = [
        { role: "system", content: "You are a careful coding agent." },
        { role: "user", content: "Read the file and fix the test." },
      ];
      const other = await turn([{ role: "user", content: "An unrelated question about lists." }]);
      t.ok(other.timings.prompt_n > 0, "a warm-up turn");
      const one = await turn(first);
      const two = await turn([
        ...first,
        { role: "assistant", content: "Done: the loop bound was off by one." },
        { role: "user", content: "Now run it." },
      ]);
      t.ok(
        one.timings.cache_n < one.usage.prompt_tokens / 2,
        `turn 1 evaluated most of its prompt (cache_n ${one.timings.cache_n})`,
      );
      t.ok(
        two.timings.cache_n >= one.usage.prompt_tokens - 2,
        `turn 2 reused turn 1's ${one.usage.prompt_tokens} prompt tokens (cache_n ${two.timings.cache_n})`,
      );
      t.equal(
        two.timings.prompt_n + two.timings.cache_n,
        two.usage.prompt_tokens,
        "prompt_n + cache_n = prompt_tokens",
      );
      t.equal(two.usage.prompt_tokens_details.cached_tokens, two.timings.cache_n, "cached_tokens = cache_n");
    },
  );
}
