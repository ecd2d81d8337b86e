// Requests in the shape real coding clients send: the headers they send, a long system prompt, a
// set of function tools with JSON schemas, stream + include_usage, tool_choice "auto", no max_tokens.
// Sizes and counts follow what the clients were measured sending (Cline CLI 3.0.65: 21.7 KB, 25 tools,
// a ~4.3 KB system prompt, Accept-Encoding "gzip, deflate, br, zstd"; Continue CLI 1.5.47: 5.5 KB,
// 9 tools, Accept-Encoding "gzip, deflate, br"). All text here is our own filler, no client's prompt.
import type { FunctionTool } from "./tool-calls.ts";

const WORDS = (
  "the agent reads files lists directories runs commands edits code and answers the user; it keeps " +
  "changes small explains each step checks results before moving on and asks when a request is unclear; " +
  "paths are relative to the workspace root and every tool returns plain text that the agent quotes"
).split(/\s+/);

/** Deterministic filler prose of exactly `bytes` ASCII bytes. */
export function filler(bytes: number, seed = 0): string {
  let text = "";
  for (let i = seed; text.length < bytes; i++) {
    const word = WORDS[(i * 7) % WORDS.length] ?? "x";
    text += (i % 13 === 12 ? ". " : " ") + word;
  }
  return text.trimStart().slice(0, bytes).padEnd(bytes, ".");
}

const str = (description: string) => ({ type: "string", description });
const bool = (description: string) => ({ type: "boolean", description });

function tool(
  name: string,
  descriptionBytes: number,
  properties: Record<string, unknown>,
  required: string[],
  seed: number,
): FunctionTool {
  return {
    type: "function",
    function: {
      name,
      description: filler(descriptionBytes, seed),
      parameters: { type: "object", properties, required, additionalProperties: false },
    },
  };
}

/** The three tools of the round-trip checks: a file reader, a lister, a command runner. */
export const ROUND_TRIP_TOOLS: FunctionTool[] = [
  tool("read_file", 120, { path: str("file path relative to the workspace") }, ["path"], 1),
  tool("list_files", 120, { path: str("directory path"), recursive: bool("list recursively") }, ["path"], 2),
  tool(
    "execute_command",
    120,
    {
      command: str("the command line"),
      requires_approval: bool("whether the user must approve it"),
      shell: { type: "string", enum: ["bash", "sh"], description: "which shell" },
    },
    ["command", "requires_approval"],
    3,
  ),
];

const TOOL_NAMES = [
  "read_file",
  "write_to_file",
  "replace_in_file",
  "search_files",
  "list_files",
  "list_code_definitions",
  "execute_command",
  "browser_action",
  "use_mcp_tool",
  "access_mcp_resource",
  "ask_followup_question",
  "attempt_completion",
  "new_task",
  "plan_mode_respond",
  "load_mcp_documentation",
  "web_fetch",
  "web_search",
  "focus_chain",
  "condense",
  "summarize_task",
  "report_bug",
  "new_rule",
  "apply_patch",
  "generate_explanation",
  "use_skill",
];

/** n tools whose JSON takes about `bytes` in total; the first is read_file with a required path. */
function toolSet(n: number, bytes: number, seed: number): FunctionTool[] {
  const per = Math.floor(bytes / n);
  return TOOL_NAMES.slice(0, n).map((name, i) => {
    const properties: Record<string, unknown> =
      i === 0
        ? { path: str("file path relative to the workspace"), task_progress: str("optional checklist") }
        : {
            target: str("what the tool acts on"),
            mode: { type: "string", enum: ["normal", "careful"], description: "how to proceed" },
            ...(per >= 500
              ? { detail: str("more about the request"), confirm: bool("ask before acting") }
              : {}),
          };
    const required = i === 0 ? ["path"] : ["target", "mode"];
    const skeleton = JSON.stringify(tool(name, 0, properties, required, 0)).length;
    return tool(name, Math.max(40, per - skeleton), properties, required, seed + i);
  });
}

export interface ClientShape {
  client: string;
  headers: Record<string, string>;
  body: string;
  tools: number;
  systemPromptBytes: number;
}

/** A first request of a client's shape: its own headers after the ones every OpenAI client sends. */
function shape(
  client: string,
  model: string,
  token: string,
  options: {
    encoding: string;
    tools: number;
    toolBytes: number;
    systemBytes: number;
    headers: Record<string, string>;
  },
): ClientShape {
  const system = filler(options.systemBytes, 5);
  const body = {
    model,
    messages: [
      { role: "system", content: system },
      {
        role: "user",
        content: [
          { type: "text", text: "<task>\nRead README.md and summarise what this project does.\n</task>" },
          { type: "text", text: `<environment_details>\n${filler(300, 9)}\n</environment_details>` },
        ],
      },
    ],
    tools: toolSet(options.tools, options.toolBytes, 11),
    tool_choice: "auto",
    stream: true,
    stream_options: { include_usage: true },
  };
  return {
    client,
    body: JSON.stringify(body),
    tools: options.tools,
    systemPromptBytes: system.length,
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      accept: "application/json",
      "accept-encoding": options.encoding,
      ...options.headers,
    },
  };
}

/** A Cline-shaped first request (Bearer, its Accept-Encoding, 21.7 KB, 25 tools). */
export function clineShaped(model: string, token: string): ClientShape {
  return shape("Cline", model, token, {
    encoding: "gzip, deflate, br, zstd",
    tools: 25,
    toolBytes: 16_700,
    systemBytes: 4300,
    headers: { "user-agent": "OpenAI/JS 5.0 (slmc-check, Cline-shaped)" },
  });
}

/** A Continue-shaped first request (Bearer, its Accept-Encoding, openai-node headers, 5.5 KB, 9 tools). */
export function continueShaped(model: string, token: string): ClientShape {
  return shape("Continue", model, token, {
    encoding: "gzip, deflate, br",
    tools: 9,
    toolBytes: 3500,
    systemBytes: 1300,
    headers: {
      "user-agent": "OpenAI/JS 5.0 (slmc-check, Continue-shaped)",
      "x-stainless-lang": "js",
      "x-stainless-retry-count": "0",
    },
  });
}
