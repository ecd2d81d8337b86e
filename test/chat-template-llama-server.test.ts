// The appliance's chat template under real llama.cpp: Debian's `llama-server --jinja
// --chat-template-file appliance/templates/devstral-small-2.jinja` (the side root of
// scripts/llama-sid.sh, the generated 1M GGUF: what is judged is the rendering, not the weights)
// answers every turn shape a coding agent sends with HTTP 200 and renders the same prompt as the
// @huggingface/jinja test, while the same llama-server with a stock-like strict template answers the
// non-alternating shapes with HTTP 500 carrying the template's exception: the failure the appliance's
// template exists to avoid, reproduced.
import t from "tap";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { writeCachedModel } from "../fixtures/model-cache.ts";
import { llamaSideRoot, startLlamaServer, type LlamaServerProcess } from "../fixtures/engine/llama-sid.ts";
import { SHAPES, STRICT, TOOLS } from "./chat-template-shapes.ts";

const SHIPPED = resolve(import.meta.dirname, "../appliance/templates/devstral-small-2.jinja");
const REQUEST_TIMEOUT_MS = 120_000;

const post = (server: LlamaServerProcess, path: string, body: object) =>
  fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });

const result = await llamaSideRoot();
if ("unreachable" in result) {
  t.pass(`skipped: no Debian llama.cpp side root: ${result.unreachable}`, { skip: true });
} else {
  const { root } = result;
  const dir = await mkdtemp(join(tmpdir(), "slmc-template-llama-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const model = join(dir, "small.gguf");
  writeCachedModel({ path: model, size: "1m", type: "q8_0", seed: 1 });
  await writeFile(join(dir, "strict.jinja"), STRICT);
  const serve = async (template: string) => {
    const server = await startLlamaServer(root, [
      "--model",
      model,
      "--jinja",
      "--chat-template-file",
      template,
      "--ctx-size",
      "2048",
      "--threads",
      "1",
      "--parallel",
      "1",
    ]);
    t.teardown(server.stop);
    return server;
  };

  t.test("the shipped template: every shape answers 200 and renders as expected", async (t) => {
    const server = await serve(SHIPPED);
    for (const shape of SHAPES) {
      const body = { messages: shape.messages, ...(shape.tools ? { tools: TOOLS } : {}) };
      const completion = await post(server, "/v1/chat/completions", { ...body, max_tokens: 1 });
      t.equal(completion.status, 200, `${shape.name}: ${await completion.clone().text()}`);
      const rendered = (await (await post(server, "/apply-template", body)).json()) as { prompt: string };
      // llama-server drops the leading BOS text (the tokenizer adds the BOS token itself) and hands
      // tool-call arguments to the template as an object, which tojson writes with spaces.
      const compact = rendered.prompt.replace(/\[ARGS\](\{.*?\})<\/s>/g, (_, args: string) => {
        return `[ARGS]${JSON.stringify(JSON.parse(args))}</s>`;
      });
      t.ok(
        `<s>${compact}`.endsWith(shape.expect),
        `${shape.name}: llama.cpp renders ${JSON.stringify(rendered.prompt)}`,
      );
    }
  });

  t.test("a stock-like strict template: the non-alternating shapes fail with 500", async (t) => {
    const server = await serve(join(dir, "strict.jinja"));
    for (const shape of SHAPES) {
      const response = await post(server, "/v1/chat/completions", {
        messages: shape.messages,
        ...(shape.tools ? { tools: TOOLS } : {}),
        max_tokens: 1,
      });
      const text = await response.text();
      if (shape.alternates) t.equal(response.status, 200, `${shape.name}: renders (${text})`);
      else {
        t.equal(response.status, 500, `${shape.name}: fails`);
        t.match(
          text,
          /Jinja Exception: .*conversation roles must alternate/i,
          `${shape.name}: the template's exception`,
        );
        t.match(text, /"type":"server_error"/, `${shape.name}: a server error, as clients see it`);
      }
    }
  });
}
