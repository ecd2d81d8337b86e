// The appliance's chat template (appliance/templates/devstral-small-2.jinja) renders every turn shape
// a real coding agent sends, with the markers Devstral and llama.cpp's tool-call parser expect, while
// a template with the stock Devstral rule (user/assistant must alternate) fails the shapes that do
// not alternate: the reason the appliance ships its own.
import t from "tap";
import { Template } from "@huggingface/jinja";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { CALL, SHAPES, STRICT, TOOLS, type Message } from "./chat-template-shapes.ts";

const SOURCE = await readFile(
  resolve(import.meta.dirname, "../appliance/templates/devstral-small-2.jinja"),
  "utf8",
);
const ours = new Template(SOURCE);

const strict = new Template(STRICT);

function render(template: Template, messages: Message[], tools?: unknown[]): string {
  return template.render({
    messages,
    ...(tools ? { tools } : {}),
    bos_token: "<s>",
    eos_token: "</s>",
    add_generation_prompt: true,
  });
}

t.test("our template renders every turn shape with the expected markers", async (t) => {
  for (const shape of SHAPES) {
    const text = render(ours, shape.messages, shape.tools ? TOOLS : undefined);
    t.ok(text.startsWith("<s>"), `${shape.name}: starts with <s>`);
    t.ok(text.endsWith(shape.expect), `${shape.name}: ${JSON.stringify(text)}`);
    if (shape.tools) {
      const tools = /\[AVAILABLE_TOOLS\](.*)\[\/AVAILABLE_TOOLS\]/.exec(text)?.[1] ?? "";
      t.same(JSON.parse(tools), TOOLS, `${shape.name}: [AVAILABLE_TOOLS] carries the tools as JSON`);
    }
    if (shape.messages[0]?.role === "system")
      t.ok(
        text.startsWith("<s>[SYSTEM_PROMPT]You are a coding agent.[/SYSTEM_PROMPT]"),
        "system prompt first",
      );
    t.notMatch(text, /\n$/, `${shape.name}: no stray newline at the end of the prompt`);
  }
});

t.test("a conversation that ends with an assistant message renders, closed by </s>", async (t) => {
  const text = render(ours, [
    { role: "user", content: "Hi" },
    { role: "assistant", content: "Hello." },
  ]);
  t.equal(text, "<s>[INST]Hi[/INST]Hello.</s>");
});

t.test("content as llama.cpp hands it to Mistral templates: lists of blocks", async (t) => {
  const text = render(
    ours,
    [
      { role: "system", content: [{ type: "text", text: "Be brief." }] },
      {
        role: "user",
        content: [
          { type: "text", text: "Look:" },
          { type: "image_url", image_url: {} },
        ],
      },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "hidden" },
          { type: "text", text: "Reading it." },
        ],
        tool_calls: [{ ...CALL, function: { name: "read_file", arguments: { path: "a b.ts" } } }],
      },
      { role: "tool", tool_call_id: CALL.id, content: [{ type: "text", text: "ok" }] },
    ],
    TOOLS,
  );
  t.ok(text.startsWith("<s>[SYSTEM_PROMPT]Be brief.[/SYSTEM_PROMPT][AVAILABLE_TOOLS]"));
  t.ok(
    text.endsWith(
      '[INST]Look:[IMG][/INST]Reading it.[TOOL_CALLS]read_file[ARGS]{"path": "a b.ts"}</s>[TOOL_RESULTS]ok[/TOOL_RESULTS]',
    ),
    JSON.stringify(text),
  );
  t.notMatch(text, /hidden/, "thinking blocks are dropped");
});

t.test("llama.cpp picks its Mistral tool-call parser for this source", async (t) => {
  // common/chat.cpp: [SYSTEM_PROMPT] + [TOOL_CALLS] + [ARGS] and no call-id marker → the
  // Ministral/Devstral handler that returns [TOOL_CALLS]name[ARGS]{…} as OpenAI tool_calls.
  for (const marker of ["[SYSTEM_PROMPT]", "[TOOL_CALLS]", "[ARGS]"])
    t.ok(SOURCE.includes(marker), `${marker} is in the template source`);
  t.notOk(SOURCE.includes("[CALL" + "_ID]"), "the Mistral Small 3.2 call-id marker is not");
  t.notMatch(SOURCE, /raise_exception/, "nothing in it raises");
});

t.test("a stock-like strict template fails exactly the shapes that do not alternate", async (t) => {
  for (const shape of SHAPES) {
    const attempt = () => render(strict, shape.messages, shape.tools ? TOOLS : undefined);
    if (shape.alternates) t.doesNotThrow(attempt, `${shape.name}: the strict template renders it`);
    else t.throws(attempt, /conversation roles must alternate/, `${shape.name}: the strict template raises`);
  }
});
