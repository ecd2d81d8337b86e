// Pure helpers for judging OpenAI tool calling and agent-shaped streams: join streamed tool-call
// fragments, validate arguments against the tool's JSON schema, summarise a chat event stream.
import { validateJson } from "../src/schemas/json-schema.ts";
import { chatCompletionChunk, describeIssues, type ToolCallDelta } from "../src/schemas/openai.ts";
import type { SseObservation } from "../src/probes/sse.ts";

export interface FunctionTool {
  type: "function";
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

export interface AssembledCall {
  index: number;
  id: string;
  type: string;
  name: string;
  arguments: string;
  fragments: number;
}

/** Joins tool-call deltas (in arrival order) per index; problems name what a client could not use. */
export function assembleToolCalls(deltas: readonly ToolCallDelta[]): {
  calls: AssembledCall[];
  problems: string[];
} {
  const calls = new Map<number, AssembledCall>();
  const problems: string[] = [];
  for (const delta of deltas) {
    let call = calls.get(delta.index);
    if (!call) {
      if (!delta.id || !delta.function?.name)
        problems.push(
          `tool call #${delta.index}: its first delta lacks ${!delta.id ? "an id" : "the function name"}`,
        );
      if (delta.type !== undefined && delta.type !== "function")
        problems.push(`tool call #${delta.index}: type "${delta.type}", expected "function"`);
      call = {
        index: delta.index,
        id: delta.id ?? "",
        type: delta.type ?? "",
        name: delta.function?.name ?? "",
        arguments: "",
        fragments: 0,
      };
      calls.set(delta.index, call);
    } else if (delta.id && delta.id !== call.id) {
      problems.push(`tool call #${delta.index}: id changed from ${call.id} to ${delta.id}`);
    }
    if (delta.function?.arguments !== undefined) {
      call.arguments += delta.function.arguments;
      if (delta.function.arguments.length) call.fragments++;
    }
  }
  return { calls: [...calls.values()].sort((a, b) => a.index - b.index), problems };
}

/** Why a tool call's arguments would be rejected by a client (undefined: usable). */
export function argumentProblem(
  call: { name: string; arguments: string },
  tools: readonly FunctionTool[],
): string | undefined {
  const tool = tools.find((t) => t.function.name === call.name);
  if (!tool) return `called "${call.name}", which is not one of the offered tools`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(call.arguments);
  } catch (error) {
    return `arguments of ${call.name} are not valid JSON (${(error as Error).message}): ${call.arguments.slice(0, 120)}`;
  }
  const problems = validateJson(parsed, tool.function.parameters);
  if (problems.length)
    return `arguments of ${call.name} do not match its schema: ${problems.slice(0, 3).join("; ")}`;
  return undefined;
}

export interface ChatStreamSummary {
  events: number;
  content: string;
  toolCallDeltas: ToolCallDelta[];
  finishReasons: string[];
  usage: boolean;
  doneSeen: boolean;
  parseErrors: string[];
  schemaErrors: string[];
  /** Arrival (ms after the request started) of every event that carried content or a tool-call piece. */
  deltaArrivalsMs: number[];
}

const MAX_DELTAS = 4096;

export function summarizeChatStream(observation: SseObservation): ChatStreamSummary {
  const summary: ChatStreamSummary = {
    events: observation.events.length,
    content: "",
    toolCallDeltas: [],
    finishReasons: [],
    usage: false,
    doneSeen: false,
    parseErrors: [],
    schemaErrors: [],
    deltaArrivalsMs: [],
  };
  observation.events.forEach((event, index) => {
    if (summary.doneSeen) return;
    if (event.data.trim() === "[DONE]") {
      summary.doneSeen = true;
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(event.data);
    } catch (error) {
      if (summary.parseErrors.length < 3)
        summary.parseErrors.push(`event #${index + 1} is not JSON (${(error as Error).message})`);
      return;
    }
    const parsed = chatCompletionChunk.safeParse(json);
    if (!parsed.success) {
      if (summary.schemaErrors.length < 3)
        summary.schemaErrors.push(`event #${index + 1}: ${describeIssues(parsed.error)}`);
      return;
    }
    if (parsed.data.usage) summary.usage = true;
    let carried = false;
    for (const choice of parsed.data.choices) {
      if (choice.delta.content) {
        if (summary.content.length < 4000) summary.content += choice.delta.content;
        carried = true;
      }
      for (const delta of choice.delta.tool_calls ?? []) {
        if (summary.toolCallDeltas.length < MAX_DELTAS) summary.toolCallDeltas.push(delta);
        carried = true;
      }
      if (choice.finish_reason) summary.finishReasons.push(choice.finish_reason);
    }
    if (carried && summary.deltaArrivalsMs.length < MAX_DELTAS)
      summary.deltaArrivalsMs.push(Math.round((event.arrivedAt - observation.timings.start) * 10) / 10);
  });
  return summary;
}
