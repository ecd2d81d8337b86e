// The stand-in's prompt tokens and its one-slot prefix cache, as llama.cpp's server keeps one per slot:
// a request reuses the longest common token prefix with the slot's previous prompt and evaluates only
// the rest. Tokens are deterministic stand-ins for a real tokenizer: every message opens with a
// header of MESSAGE_HEADER_TOKENS tokens (as a chat template's role markers do), its text follows in
// pieces of CHARS_PER_TOKEN characters, and the tools follow the first (system) message, where
// chat templates that put tools in the system block render them. So a request that appends
// messages to the previous one finds that whole previous prompt cached. Requests are not queued as
// on one real slot: concurrent ones each compare with the prompt admitted last.
import type { ChatRequest, ChatMessage } from "./chat.ts";

export const MESSAGE_HEADER_TOKENS = 4;
export const CHARS_PER_TOKEN = 4;

function pieces(text: string, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += CHARS_PER_TOKEN)
    out.push(prefix + text.slice(i, i + CHARS_PER_TOKEN));
  return out;
}

function messageText(message: ChatMessage): string {
  return [
    typeof message.content === "string" ? message.content : JSON.stringify(message.content ?? ""),
    JSON.stringify(message.tool_calls ?? ""),
  ].join(" ");
}

function messageTokens(message: ChatMessage): string[] {
  const header = Array.from({ length: MESSAGE_HEADER_TOKENS }, (_, i) => `<|${message.role}:${i}|>`);
  return [...header, ...pieces(messageText(message), "")];
}

/** The request's prompt as a token sequence; its length is the prompt token count (usage). */
export function promptTokenSequence(request: ChatRequest): string[] {
  const tools = Array.isArray(request.tools) && request.tools.length ? JSON.stringify(request.tools) : "";
  const [first, ...rest] = request.messages;
  const toolTokens = pieces(tools, "<|tools|>");
  const leading = first && (first.role === "system" || first.role === "developer");
  const head = leading ? [...messageTokens(first), ...toolTokens] : toolTokens;
  const body = (leading ? rest : request.messages).flatMap(messageTokens);
  return [...head, ...body];
}

export interface PromptAccounting {
  /** All prompt tokens: usage.prompt_tokens. */
  total: number;
  /** Reused from the slot: llama.cpp's timings.cache_n, usage.prompt_tokens_details.cached_tokens. */
  cached: number;
  /** Evaluated for this request: timings.prompt_n. */
  processed: number;
}

export interface PromptCache {
  /** Accounts a prompt against the slot and makes it the slot's content. */
  admit(tokens: readonly string[]): PromptAccounting;
}

/**
 * One slot. At least one prompt token is always evaluated (llama.cpp re-evaluates the last token of
 * a fully cached prompt to get its logits). Disabled, nothing is ever reused (LocalAI before v4.3
 * without prompt_cache_all).
 */
export function createPromptCache(enabled: boolean): PromptCache {
  let slot: readonly string[] = [];
  return {
    admit(tokens) {
      let common = 0;
      if (enabled)
        while (common < tokens.length && common < slot.length && tokens[common] === slot[common]) common++;
      const cached = Math.min(common, Math.max(0, tokens.length - 1));
      slot = tokens;
      return { total: tokens.length, cached, processed: tokens.length - cached };
    },
  };
}

/** Time to evaluate `processed` prompt tokens at the schedule's prefill rate (0 = prefill is free). */
export function prefillMs(processed: number, prefillTokensPerSecond: number): number {
  return prefillTokensPerSecond > 0 ? (processed * 1000) / prefillTokensPerSecond : 0;
}
