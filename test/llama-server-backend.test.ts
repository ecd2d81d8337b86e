// The compiled stand-in with `--backend llama-server`: Debian's llama-server (the side root of
// scripts/llama-sid.sh) as its backend process, on the generated 50M-parameter GGUF and the
// appliance's model YAML options. Real tokens and llama.cpp timings stream through the stand-in; a
// kill -9 of the llama-server child is recovered with a real reload; tools reach the chat template; a
// model llama-server cannot load never becomes ready. Skips when the Debian archive is unreachable.
import t, { type Test } from "tap";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { writeCachedModel } from "../fixtures/model-cache.ts";
import { llamaSideRoot } from "../fixtures/engine/llama-sid.ts";
import { llamaServerArgs, roleChunkFor } from "../fixtures/engine/llama-server.ts";
import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import { runProcess } from "./spawn.ts";
import {
  READY_TIMEOUT_MS,
  readyz,
  spawnStandIn,
  STAND_IN,
  until,
  type StandInChild,
} from "./stand-in-child.ts";

const TEMPLATE = resolve(import.meta.dirname, "../appliance/templates/devstral-small-2.jinja");
const REQUEST_TIMEOUT_MS = 120_000;

const startStandIn = (t: Test, modelsPath: string, llamaServer: string): Promise<StandInChild> =>
  spawnStandIn(t, [
    "--models-path",
    modelsPath,
    "--backend",
    "llama-server",
    "--llama-server",
    llamaServer,
    "--load-ms",
    "0",
  ]);

t.test("the appliance's model YAML becomes llama-server's flags", async (t) => {
  const yaml = (await readFile(resolve(import.meta.dirname, "../appliance/templates/model.yaml"), "utf8"))
    .replace("{{MODEL_NAME}}", "devstral-small-2")
    .replace("{{CONTEXT_SIZE}}", "32768")
    .replace("{{THREADS}}", "6")
    .replace("{{MODEL_FILE}}", "devstral.gguf")
    .replace("{{CHAT_TEMPLATE_FILE}}", "/var/lib/local-ai/chat-templates/devstral-small-2.jinja");
  const config = parse(yaml) as Record<string, unknown>;
  const args = llamaServerArgs(
    {
      id: "devstral-small-2",
      file: "/m/devstral.gguf",
      contextSize: 32768,
      status: "loading",
      bytes: 0,
      config,
    },
    { llamaServer: "/opt/llama-sid", threads: 2, contextSize: 4096, loadTimeoutMs: 1, requestTimeoutMs: 1 },
    8081,
  );
  const flag = (name: string) => args[args.indexOf(name) + 1];
  t.equal(flag("--model"), "/m/devstral.gguf");
  t.equal(flag("--alias"), "devstral-small-2");
  t.equal(flag("--port"), "8081");
  t.equal(flag("--ctx-size"), "32768");
  t.equal(flag("--threads"), "6", "the YAML's threads win over the command line's");
  t.equal(flag("--flash-attn"), "on");
  t.equal(flag("--cache-type-k"), "q8_0");
  t.equal(flag("--cache-type-v"), "q8_0");
  t.equal(flag("--parallel"), "1");
  t.equal(flag("--chat-template-file"), "/var/lib/local-ai/chat-templates/devstral-small-2.jinja");
  t.ok(args.includes("--jinja"));
  t.notOk(
    args.some((a) => a.startsWith("use_jinja")),
    "LocalAI's own options are not flags",
  );
  t.notOk(args.includes("--no-cache-prompt"), "prompt_cache_all: true keeps llama-server's prompt cache");
  const uncached = llamaServerArgs(
    {
      id: "m",
      file: "/m.gguf",
      status: "loading",
      bytes: 0,
      config: { ...config, prompt_cache_all: false, threads: undefined },
    },
    { llamaServer: "/opt/llama-sid", threads: 2, contextSize: 4096, loadTimeoutMs: 1, requestTimeoutMs: 1 },
    8082,
  );
  t.ok(uncached.includes("--no-cache-prompt"), "prompt_cache_all: false turns it off");
  t.equal(uncached[uncached.indexOf("--threads") + 1], "2", "without YAML threads, the command line's");
  t.equal(uncached[uncached.indexOf("--ctx-size") + 1], "4096", "without context_size, the command line's");
});

t.test("a stream without a role chunk gets LocalAI's; one with a role keeps its own", async (t) => {
  const first = {
    id: "c1",
    created: 5,
    model: "m",
    system_fingerprint: "b1-Debian",
    choices: [{ index: 0, delta: { content: "x" } }],
  };
  const added = roleChunkFor(`data: ${JSON.stringify(first)}`);
  t.same(JSON.parse(added!.slice("data: ".length)), {
    id: "c1",
    object: "chat.completion.chunk",
    created: 5,
    model: "m",
    system_fingerprint: "b1-Debian",
    choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }],
  });
  const withRole = { ...first, choices: [{ index: 0, delta: { role: "assistant", content: null } }] };
  t.equal(roleChunkFor(`data: ${JSON.stringify(withRole)}`), undefined);
  t.equal(roleChunkFor(": keep-alive"), undefined, "not a data event");
});

const result = await llamaSideRoot();
if ("unreachable" in result) {
  t.pass(`skipped: no Debian llama.cpp side root: ${result.unreachable}`, { skip: true });
} else {
  const { root } = result;
  const dir = await mkdtemp(join(tmpdir(), "slmc-llama-server-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  writeCachedModel({ path: join(dir, "small.gguf"), size: "50m", type: "q8_0", seed: 1 });
  // The appliance's YAML keys the backend maps to llama-server flags, with its own chat template.
  await writeFile(
    join(dir, "devstral-small-2.yaml"),
    [
      "name: devstral-small-2",
      "backend: llama-cpp",
      "context_size: 1024",
      "threads: 1",
      "options:",
      '  - "parallel:1"',
      '  - "use_jinja:true"',
      `  - "--chat-template-file:${TEMPLATE}"`,
      "parameters:",
      "  model: small.gguf",
      "",
    ].join("\n"),
  );
  const standIn = await startStandIn(t, dir, root.dir);
  await until("the stand-in was not ready", async () => (await readyz(standIn.url)) === 200, standIn.log);

  const chat = (body: object) =>
    fetch(`${standIn.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "devstral-small-2",
        messages: [{ role: "user", content: "Read README.md and summarise it." }],
        ...body,
      }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  interface Chunk {
    system_fingerprint?: string;
    choices: { delta: { role?: string; content?: string | null }; finish_reason: string | null }[];
    usage?: { prompt_tokens: number; completion_tokens: number };
    timings?: Record<string, number>;
  }
  const streamed = async (body: object): Promise<Chunk[]> => {
    const response = await chat({ stream: true, stream_options: { include_usage: true }, ...body });
    t.equal(response.status, 200);
    const events = (await response.text()).split("\n\n").filter(Boolean);
    t.equal(events.at(-1), "data: [DONE]", "ends with [DONE]");
    return events.slice(0, -1).map((e) => JSON.parse(e.slice("data: ".length)) as Chunk);
  };

  t.test("/v1/models and --help name the real engine", async (t) => {
    const models = (await (await fetch(`${standIn.url}/v1/models`)).json()) as {
      data: { id: string; owned_by: string }[];
    };
    t.same(
      models.data.map((m) => [m.id, m.owned_by]),
      [["devstral-small-2", "slmc-stand-in + real llama.cpp (Debian)"]],
    );
    const help = await runProcess(STAND_IN, ["--help"]);
    t.match(help.stdout, /--backend llama-server {2}stand-in \+ real llama\.cpp \(Debian\)/);
  });

  t.test("a streamed chat: real tokens, usage and llama.cpp timings from Debian's build", async (t) => {
    const chunks = await streamed({ max_tokens: 8, ignore_eos: true });
    t.ok(
      chunks.every((c) => /Debian/.test(c.system_fingerprint ?? "")),
      "every chunk from Debian's llama-server",
    );
    t.equal(chunks[0]?.choices[0]?.delta.role, "assistant", "role chunk first");
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    t.ok(text.length > 0, `generated text ${JSON.stringify(text)}`);
    t.equal(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason, "length");
    const last = chunks.at(-1);
    t.equal(last?.usage?.completion_tokens, 8, "ignore_eos: exactly max_tokens");
    t.equal(last?.timings?.predicted_n, 8, "llama.cpp timings agree with usage");
    t.equal(last?.timings?.prompt_n, last?.usage?.prompt_tokens);
    t.ok((last?.timings?.predicted_per_second ?? 0) > 0, "a decode rate");
  });

  t.test("tools reach llama.cpp's chat template; tool turns are accepted", async (t) => {
    const tools = [
      {
        type: "function",
        function: {
          name: "read_file",
          description: "Read a file of the workspace",
          parameters: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
        },
      },
    ];
    const without = await streamed({ max_tokens: 1 });
    const withTools = await streamed({ max_tokens: 1, tools });
    const promptTokens = (chunks: Chunk[]) => chunks.at(-1)?.usage?.prompt_tokens ?? 0;
    t.ok(
      promptTokens(withTools) > promptTokens(without) + 20,
      `the template renders the tools into the prompt: ${promptTokens(withTools)} vs ${promptTokens(without)} tokens`,
    );
    const turn = await chat({
      max_tokens: 1,
      tools,
      messages: [
        { role: "user", content: "Read README.md." },
        {
          role: "assistant",
          content: "",
          tool_calls: [
            {
              id: "call_abc123XYZ",
              type: "function",
              function: { name: "read_file", arguments: '{"path":"README.md"}' },
            },
          ],
        },
        { role: "tool", tool_call_id: "call_abc123XYZ", content: "# Title" },
        { role: "user", content: "Now summarise it." },
      ],
    });
    t.equal(turn.status, 200, await turn.clone().text());
    const body = (await turn.json()) as { usage: { completion_tokens: number } };
    t.equal(body.usage.completion_tokens, 1);
  });

  t.test("a client that goes away mid-stream stops llama-server's generation", async (t) => {
    const port = Number([...standIn.log().matchAll(/on 127\.0\.0\.1:(\d+)/g)].at(-1)?.[1]);
    const slot = async () => {
      const slots = (await (
        await fetch(`http://127.0.0.1:${port}/slots`, { signal: AbortSignal.timeout(5000) })
      ).json()) as { is_processing: boolean; next_token?: { n_decoded?: number }[] }[];
      return { processing: slots[0]?.is_processing, decoded: slots[0]?.next_token?.[0]?.n_decoded ?? 0 };
    };
    const abort = new AbortController();
    const response = await fetch(`${standIn.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "devstral-small-2",
        messages: [{ role: "user", content: "Write a long story." }],
        max_tokens: 900,
        ignore_eos: true,
        stream: true,
      }),
      signal: abort.signal,
    });
    const reader = response.body!.getReader();
    let seen = "";
    while (!/"content":"[^"]/.test(seen)) seen += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    // Generating all 900 tokens would take seconds and show n_decoded climbing towards 900 here.
    let last = await slot();
    let highest = last.decoded;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (last.processing && Date.now() < deadline) {
      await new Promise((wait) => setTimeout(wait, 50));
      last = await slot();
      highest = Math.max(highest, last.decoded);
    }
    t.equal(last.processing, false, "the slot is free again");
    t.ok(highest < 600, `stopped after ${highest} of 900 tokens`);
  });

  t.test("kill -9 of llama-server: not ready, restarted with a real reload, ready again", async (t) => {
    const started = () => [...standIn.log().matchAll(/started llama-server pid (\d+)/g)].map((m) => m[1]);
    const before = started();
    const pid = Number(before.at(-1));
    t.ok(pid > 0, `llama-server pid ${pid}`);
    process.kill(pid, "SIGKILL");
    await until(
      "the dead llama-server was not restarted",
      async () => started().length > before.length,
      standIn.log,
    );
    t.match(standIn.log(), /llama-server exited \(SIGKILL\); restarting/);
    t.not(started().at(-1), String(pid), "a new llama-server process");
    await until(
      "the stand-in was not ready again",
      async () => (await readyz(standIn.url)) === 200,
      standIn.log,
    );
    const chunks = await streamed({ max_tokens: 4, ignore_eos: true });
    t.equal(chunks.at(-1)?.usage?.completion_tokens, 4, "it answers again");
  });

  t.test("a model llama-server cannot load: never ready, the reason logged", async (t) => {
    const broken = await mkdtemp(join(dir, "broken-"));
    await writeFile(join(broken, "junk.gguf"), Buffer.alloc(4096, 1));
    await writeFile(join(broken, "junk.yaml"), "name: junk\nparameters:\n  model: junk.gguf\n");
    const other = await startStandIn(t, broken, root.dir);
    await until(
      "the junk model did not fail",
      async () => /model junk failed to load: llama-server exited/.test(other.log()),
      other.log,
    );
    t.equal(await readyz(other.url), 503, "/readyz stays 503");
  });

  t.test("--llama-server naming nothing: exit 2 with what to pass", async (t) => {
    const run = await runProcess(STAND_IN, [
      "run",
      "--backend",
      "llama-server",
      "--llama-server",
      join(dir, "nowhere"),
      "--models-path",
      dir,
    ]);
    t.equal(run.code, 2);
    t.match(
      run.stderr,
      /--llama-server .*nowhere does not exist: build the side root with scripts\/llama-sid\.sh/,
    );
  });
}
