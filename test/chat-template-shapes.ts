// Turn shapes real coding agents send, and a template with the stock Devstral rule, shared by the
// template's render test (@huggingface/jinja) and its proof under real llama-server.

// A minimal template with the stock template's rule, written for the tests: after the optional
// system message, the messages that are neither tool results nor tool-call-only assistant turns
// must go user, assistant, user, … (Mistral's templates raise exactly this). Like the stock template
// it writes [SYSTEM_PROMPT], [TOOL_CALLS] and [ARGS], so llama.cpp handles it as it handles the stock
// one (its Mistral tool-call parser) and the raise reaches the client as HTTP 500; without those
// markers llama.cpp fails earlier, generating a parser for an unknown format, with HTTP 400.
export const STRICT = `{{- bos_token }}
{%- if messages[0].role == 'system' %}{{- '[SYSTEM_PROMPT]' + messages[0].content + '[/SYSTEM_PROMPT]' }}{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}
{%- set ns = namespace(index=0) %}
{%- for message in loop_messages %}
  {%- if message.role != 'tool' and not (message.role == 'assistant' and message.tool_calls is defined and message.tool_calls) %}
    {%- if (message.role == 'user') != (ns.index % 2 == 0) %}
      {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- set ns.index = ns.index + 1 %}
  {%- endif %}
  {%- if message.role == 'user' %}{{- '[INST]' + message.content + '[/INST]' }}
  {%- elif message.role == 'assistant' %}{{- message.content or '' }}
    {%- if message.tool_calls is defined and message.tool_calls %}{%- for call in message.tool_calls %}
      {{- '[TOOL_CALLS]' + call.function.name + '[ARGS]' }}{%- if call.function.arguments is string %}{{- call.function.arguments }}{%- else %}{{- call.function.arguments | tojson }}{%- endif %}
    {%- endfor %}{%- endif %}{{- eos_token }}
  {%- elif message.role == 'tool' %}{{- '[TOOL_RESULTS]' + message.content + '[/TOOL_RESULTS]' }}{%- endif %}
{%- endfor %}`;

export type Message = Record<string, unknown>;
export const TOOLS = [
  {
    type: "function",
    function: {
      name: "read_file",
      description: "Read a file of the workspace",
      parameters: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
    },
  },
];
export const CALL = {
  id: "call_abc123XYZ",
  type: "function",
  function: { name: "read_file", arguments: '{"path":"src/main.ts"}' },
};

export const SHAPES: {
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
