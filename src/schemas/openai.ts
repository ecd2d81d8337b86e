// The parts of the OpenAI chat API that Cline, Continue, aider and the openai SDK depend on.
import { z } from "zod";

export const modelList = z.object({
  object: z.literal("list"),
  data: z.array(
    z.object({ id: z.string().min(1), object: z.string().optional(), owned_by: z.string().optional() }),
  ),
});

const usage = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  total_tokens: z.number().int().nonnegative(),
});

export const chatCompletion = z.object({
  id: z.string(),
  object: z.literal("chat.completion"),
  created: z.number(),
  model: z.string(),
  choices: z
    .array(
      z.object({
        index: z.number().int(),
        message: z.object({
          role: z.literal("assistant"),
          content: z.string().nullable(),
          tool_calls: z
            .array(
              z.object({
                id: z.string(),
                type: z.literal("function"),
                function: z.object({ name: z.string(), arguments: z.string() }),
              }),
            )
            .optional(),
        }),
        finish_reason: z.string().nullable(),
      }),
    )
    .min(1),
  usage: usage.optional(),
});

/** One piece of a streamed tool call: the first carries id, type and name; later ones argument text. */
export const toolCallDelta = z.object({
  index: z.number().int().nonnegative(),
  id: z.string().optional(),
  type: z.string().optional(),
  function: z.object({ name: z.string().optional(), arguments: z.string().optional() }).optional(),
});

export type ToolCallDelta = z.infer<typeof toolCallDelta>;

export const chatCompletionChunk = z.object({
  id: z.string(),
  object: z.literal("chat.completion.chunk"),
  created: z.number(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number().int(),
      delta: z.object({
        role: z.string().optional(),
        content: z.string().nullable().optional(),
        tool_calls: z.array(toolCallDelta).optional(),
      }),
      finish_reason: z.string().nullable().optional(),
    }),
  ),
  usage: usage.nullable().optional(),
});

export type ChatCompletionChunk = z.infer<typeof chatCompletionChunk>;

/** One-line summary of a zod failure, for check messages. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`)
    .join("; ");
}

export const TEMPLATE_TOKENS = ["<s>", "</s>", "[INST]", "[/INST]", "<|im_start|>", "<|im_end|>"];
