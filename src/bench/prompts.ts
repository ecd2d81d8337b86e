// The coding prompt set (coding-prompts.ts): what a copilot sends, so figures reflect that
// use: a short question, a long file to refactor (long prefill), and a multi-turn exchange.
import { z } from "zod";
import { CODING_PROMPTS } from "./coding-prompts.ts";

const promptSchema = z.object({
  name: z.string().min(1),
  description: z.string(),
  messages: z
    .array(z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string().min(1) }))
    .min(1),
});

export type BenchPrompt = z.infer<typeof promptSchema>;

export const PROMPT_SET_NAMES = ["coding", "short"] as const;

export function promptSet(name: (typeof PROMPT_SET_NAMES)[number]): BenchPrompt[] {
  const all = z.array(promptSchema).parse(CODING_PROMPTS);
  return name === "short" ? all.filter((p) => p.name === "short-question") : all;
}
