// The appliance's chat template (appliance/templates/devstral-small-2.jinja) renders every turn shape
// a real coding agent sends, with the markers Devstral and llama.cpp's tool-call parser expect, while
// a template with the stock Devstral rule (user/assistant must alternate) fails the shapes that do
// not alternate: the reason the appliance ships its own.
import t from "tap";
import { Template } from "@huggingface/jinja";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";

const SOURCE = await readFile(
  resolve(import.meta.dirname, "../appliance/templates/devstral-small-2.jinja"),
  "utf8",
);
const ours = new Template(SOURCE);

// A minimal template with the stock template's rule, written for this test: after the optional
// system message, the messages that are neither tool results nor tool-call-only assistant turns
// must go user, assistant, user, … (Mistral's templates raise exactly this).
const STRICT = `{{- bos_token }}
{%- if messages[0].role == 'system' %}{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}
{%- set ns = namespace(index=0) %}
{%- for message in loop_messages %}
  {%- if message.role != 'tool' and not (message.role == 'assistant' and message.tool_calls is defined and message.tool_calls) %}
    {%- if (message.role == 'user') != (ns.index % 2 == 0) %}
      {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- set ns.index = ns.index + 1 %}
  {%- endif %}
  {%- if message.role == 'user' %}{{- '[INST]' + message.content + '[/INST]' }}{%- elif message.role == 'assistant' %}{{- (message.content or '') + eos_token }}{%- elif message.role == 'tool' %}{{- '[TOOL_RESULTS]' + message.content + '[/TOOL_RESULTS]' }}{%- endif %}
{%- endfor %}`;
const strict = new Template(STRICT);

type Message = Record<string, unknown>;
const TOOLS = [
  {
    type: "function",
    function: {
      name: "read_file",
      description: "Read a file of the workspace",
      parameters: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
    },
  },
];
const CALL = {
  id: "call_abc123XYZ",
  type: "function",
  function: { name: "read_file", arguments: '{"path":"src/main.ts"}' },
};

function render(template: Template, messages: Message[], tools?: unknown[]): string {
  return template.render({
    messages,
    ...(tools ? { tools } : {}),
    bos_token: "<s>",
    eos_token: "</s>",
    add_generation_prompt: true,
  });
}

const SHAPES: {
  name: string;
  messages: Message[];
  tools?: boolean;
  alternates: boolean;
  expect: string;
}[] = [
  {
    name: "plain alternating",
    messages: [
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello." },
      { role: "user", content: "Explain X." },
    ],
    alternates: true,
    expect: "<s>[INST]Hi[/INST]Hello.</s>[INST]Explain X.[/INST]",
  },
  {
    name: "consecutive user messages (an interruption)",
    messages: [
      { role: "user", content: "Fix the bug." },
      { role: "user", content: "Only in src/." },
    ],
    alternates: false,
    expect: "<s>[INST]Fix the bug.\n\nOnly in src/.[/INST]",
  },
  {
    name: "assistant with only tool_calls, the tool result, then a user follow-up",
    messages: [
      { role: "user", content: "Read main." },
      { role: "assistant", content: null, tool_calls: [CALL] },
      { role: "tool", tool_call_id: CALL.id, content: "export {}" },
      { role: "user", content: "Now summarise it." },
    ],
    tools: true,
    alternates: false,
    expect:
      '[INST]Read main.[/INST][TOOL_CALLS]read_file[ARGS]{"path":"src/main.ts"}</s>' +
      "[TOOL_RESULTS]export {}[/TOOL_RESULTS][INST]Now summarise it.[/INST]",
  },
  {
    name: "resumed conversation (assistant last, then the user again)",
    messages: [
      { role: "user", content: "Start." },
      { role: "assistant", content: "Done with step 1." },
      { role: "assistant", content: "Done with step 2." },
      { role: "user", content: "Continue." },
    ],
    alternates: false,
    expect: "[INST]Start.[/INST]Done with step 1.</s>Done with step 2.</s>[INST]Continue.[/INST]",
  },
  {
    name: "system prompt and tools",
    messages: [
      { role: "system", content: "You are a coding agent." },
      { role: "user", content: "List files." },
    ],
    tools: true,
    alternates: true,
    expect: "[/AVAILABLE_TOOLS][INST]List files.[/INST]",
  },
];

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
