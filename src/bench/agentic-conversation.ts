// Conversations in the shape of a real coding client, built from our own filler text (no client's
// prompt): a first request whose prefix (system prompt + function tools) has the size and tool count
// the clients were measured sending (Cline CLI 3.0.65: 21.7 KB, a ~4.3 KB system prompt and 25 tools;
// Continue CLI: 5.5 KB, a ~1.3 KB system prompt and 9 tools), then turns that each append an
// assistant tool call, the tool's result and a short user message, with `tools` on every request.
// Each conversation's system prompt opens with its own number, so no conversation finds another's
// prefix in the server's cache: turn 1 always measures the cold prefill a client's first task sees.

export const WORKLOAD_NAMES = ["chat", "agentic"] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

export const CLIENT_PREFIXES = {
  cline: { systemBytes: 4300, tools: 25, toolBytes: 17_300 },
  continue: { systemBytes: 1300, tools: 9, toolBytes: 4000 },
} as const;
export type ClientPrefixName = keyof typeof CLIENT_PREFIXES;
export const CLIENT_PREFIX_NAMES = Object.keys(CLIENT_PREFIXES) as ClientPrefixName[];

export interface PrefixSize {
  systemBytes: number;
  tools: number;
  toolBytes: number;
}

export interface AgenticShape {
  client: ClientPrefixName;
  /** Sizes other than the client's (a small model's short context); the report names them. */
  prefix?: PrefixSize;
  conversations: number;
  turns: number;
  toolResultBytes: number;
}

export interface FunctionTool {
  type: "function";
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

export interface ConversationMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string | null;
  tool_calls?: { id: string; type: "function"; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}

const WORDS = (
  "a coding agent works in a repository; it reads a file before it changes it, keeps each edit " +
  "small, runs the tests after every change, reports what failed and why, and asks the user " +
  "before it deletes anything or runs a command that is not read only"
).split(/\s+/);

/** Deterministic prose of exactly `bytes` ASCII bytes. */
export function prose(bytes: number, seed: number): string {
  let text = "";
  for (let i = seed; text.length < bytes; i++)
    text += (i % 11 === 10 ? ". " : " ") + WORDS[(i * 5) % WORDS.length];
  return text.trimStart().slice(0, bytes).padEnd(bytes, ".");
}

const TOOL_NAMES = [
  "read_file",
  "write_file",
  "edit_file",
  "search_code",
  "list_directory",
  "run_command",
  "run_tests",
  "open_url",
  "ask_user",
  "finish_task",
];

/** `count` tools whose JSON takes about `bytes`; the first is read_file with a required path. */
export function clientTools(count: number, bytes: number): FunctionTool[] {
  const per = Math.floor(bytes / count);
  return Array.from({ length: count }, (_, i) => {
    const name = TOOL_NAMES[i] ?? `workspace_tool_${i + 1}`;
    const parameters = {
      type: "object",
      properties: {
        path: { type: "string", description: "a path relative to the workspace root" },
        ...(i === 0 ? {} : { detail: { type: "string", description: "what to do there" } }),
      },
      required: ["path"],
      additionalProperties: false,
    };
    const skeleton = JSON.stringify({
      type: "function",
      function: { name, description: "", parameters },
    }).length;
    return {
      type: "function" as const,
      function: { name, description: prose(Math.max(40, per - skeleton), 3 + i), parameters },
    };
  });
}

/** The messages of turn `turn` (1-based) of conversation `conversation` (1-based). */
export function conversationMessages(
  shape: AgenticShape,
  conversation: number,
  turn: number,
): ConversationMessage[] {
  const prefix = shape.prefix ?? CLIENT_PREFIXES[shape.client];
  const opening = `#${conversation} session. `;
  const messages: ConversationMessage[] = [
    { role: "system", content: opening + prose(prefix.systemBytes - opening.length, 1) },
    {
      role: "user",
      content: `<task>\nRead src/module-${conversation}.ts, find why its test fails and fix it.\n</task>`,
    },
  ];
  for (let t = 2; t <= turn; t++) {
    const id = `call_c${conversation}t${t - 1}`;
    messages.push(
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id,
            type: "function",
            function: {
              name: "read_file",
              arguments: JSON.stringify({ path: `src/module-${conversation}-${t - 1}.ts` }),
            },
          },
        ],
      },
      { role: "tool", tool_call_id: id, content: prose(shape.toolResultBytes, 7 * t + conversation) },
      { role: "user", content: "Continue with the next step." },
    );
  }
  return messages;
}

export function toolsFor(shape: AgenticShape): FunctionTool[] {
  const prefix = shape.prefix ?? CLIENT_PREFIXES[shape.client];
  return clientTools(prefix.tools, prefix.toolBytes);
}

/** The request body of one turn: `tools` and tool_choice "auto" on every request, as clients send. */
export function turnBody(
  shape: AgenticShape,
  conversation: number,
  turn: number,
  model: string,
  maxTokens: number,
): string {
  return JSON.stringify({
    model,
    messages: conversationMessages(shape, conversation, turn),
    tools: toolsFor(shape),
    tool_choice: "auto",
    max_tokens: maxTokens,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
}
