// The bench prompt sets. coding (coding-prompts.ts): what a copilot sends, so figures reflect that
// use: a short question, a long file to refactor (long prefill), and a multi-turn exchange; short: its
// first prompt. client-first-request: the first request of a Cline-shaped conversation, built by the
// agentic workload (agentic-conversation.ts: a ~4.3 KB system prompt and 25 function tools of our own
// filler text, `tools` and tool_choice "auto"), sent COLD: every request's system prompt opens with
// its own first line (this run's random id and the request's number), so no prompt cache, not even one
// that keeps many prompts, can serve its prefix and TTFT is the prefill a client's first task waits for.
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { CODING_PROMPTS } from "./coding-prompts.ts";
import {
  conversationMessages,
  toolsFor,
  type AgenticShape,
  type ConversationMessage,
  type FunctionTool,
} from "./agentic-conversation.ts";

const promptSchema = z.object({
  name: z.string().min(1),
  description: z.string(),
  messages: z
    .array(z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string().min(1) }))
    .min(1),
});

export interface BenchPrompt {
  name: string;
  description: string;
  messages: readonly ConversationMessage[];
  /** Sent with tool_choice "auto", as coding clients do. */
  tools?: readonly FunctionTool[];
  /** Each request's first message opens with its own line (coldFirstLines), so no cache serves the prefix. */
  cold?: boolean;
}

export const PROMPT_SET_NAMES = ["coding", "short", "client-first-request"] as const;
export type PromptSetName = (typeof PROMPT_SET_NAMES)[number];

/** Cline CLI 3.0.65's first request, in size: the agentic workload's turn 1 with the cline prefix. */
const CLINE_FIRST_REQUEST: AgenticShape = {
  client: "cline",
  conversations: 1,
  turns: 1,
  toolResultBytes: 0,
};

export function clientFirstRequest(): BenchPrompt {
  return {
    name: "cline-first-request",
    description:
      "a Cline-shaped first request: ~4.3 KB system prompt, 25 function tools (~17 KB), a task; cold prefix",
    messages: conversationMessages(CLINE_FIRST_REQUEST, 1, 1),
    tools: toolsFor(CLINE_FIRST_REQUEST),
    cold: true,
  };
}

export function promptSet(name: PromptSetName): BenchPrompt[] {
  if (name === "client-first-request") return [clientFirstRequest()];
  const all = z.array(promptSchema).parse(CODING_PROMPTS);
  return name === "short" ? all.filter((p) => p.name === "short-question") : all;
}

/**
 * The first lines of cold requests, one per call: a random run id (so a second run, or a cache that
 * keeps many prompts, finds no earlier request's prefix) and the request's number, of fixed length so
 * every request has the same prompt token count.
 */
export function coldFirstLines(): () => string {
  const run = randomBytes(4).toString("hex");
  let n = 0;
  return () => `Session ${run}-${String(++n).padStart(6, "0")}.`;
}

/** The prompt's messages as sent: a cold prompt's first message opens with `firstLine`. */
export function requestMessages(prompt: BenchPrompt, firstLine?: string): ConversationMessage[] {
  if (!prompt.cold) return [...prompt.messages];
  if (firstLine === undefined)
    throw new Error(`prompt ${prompt.name} is cold: each request needs its first line`);
  const [first, ...rest] = prompt.messages;
  return [{ ...first!, content: `${firstLine}\n${first!.content ?? ""}` }, ...rest];
}
