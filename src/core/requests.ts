// Observations several suites, the bench and the soak's load build on: the authenticated request, the
// advertised model id, and the standard chat requests (one short prompt, one Cline-like multi-turn
// conversation).
import { basicAuthorization } from "./access.ts";
import { PrerequisiteMissing, type CheckContext } from "./check.ts";
import { modelList, describeIssues } from "../schemas/openai.ts";
import type { SseObservation } from "../probes/sse.ts";
import type { HttpResponse } from "../probes/http.ts";

/**
 * Why a response body is incomplete, in words that name the cause (cut short, shorter than its
 * Content-Length, headers then silence, larger than the limit), or undefined when it arrived whole.
 */
export function bodyProblem(response: HttpResponse): string | undefined {
  const problem = response.streamError;
  if (!problem) return undefined;
  if (problem.kind === "reset") return `body cut short: ${problem.message}`;
  return problem.message;
}

/** In a model's `owned_by`: the target serves the slmc stand-in engine, not LocalAI. */
export const STAND_IN_MARK = "stand-in";

export const INCOMPLETE_BODY_FIX =
  "the response was cut or stalled between the engine and this client: check the engine log (crash, out of memory) and the proxy's timeouts";

export function authorization(ctx: CheckContext): Record<string, string> {
  return ctx.access.password
    ? { authorization: basicAuthorization(ctx.access.user, ctx.access.password) }
    : {};
}

export interface ModelsObservation {
  status: number;
  ids: string[];
  owners: string[];
  schemaError?: string;
  body: string;
}

export function observeModels(ctx: CheckContext): Promise<ModelsObservation> {
  return ctx.memo("models", async () => {
    const response = await ctx.probes.https({ path: "/v1/models", headers: authorization(ctx) });
    const body = response.body.toString("utf8");
    const incomplete = bodyProblem(response);
    if (incomplete)
      return {
        status: response.status,
        ids: [],
        owners: [],
        schemaError: incomplete,
        body: body.slice(0, 300),
      };
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return {
        status: response.status,
        ids: [],
        owners: [],
        schemaError: "body is not JSON",
        body: body.slice(0, 300),
      };
    }
    const result = modelList.safeParse(parsed);
    if (!result.success)
      return {
        status: response.status,
        ids: [],
        owners: [],
        schemaError: describeIssues(result.error),
        body: body.slice(0, 300),
      };
    return {
      status: response.status,
      ids: result.data.data.map((m) => m.id),
      owners: result.data.data.map((m) => m.owned_by ?? ""),
      body: body.slice(0, 300),
    };
  });
}

export async function modelId(ctx: CheckContext): Promise<string> {
  const models = await observeModels(ctx);
  const id = models.ids[0];
  if (!id)
    throw new PrerequisiteMissing(
      `no model id: /v1/models answered ${models.status} with no usable model list`,
    );
  return id;
}

export type Message = { role: "system" | "user" | "assistant"; content: string };

export const SHORT_PROMPT: Message[] = [
  { role: "user", content: "Write a Python function that returns FizzBuzz for 1..n." },
];

/** Shaped like what Cline sends: a long system prompt, then alternating turns. */
export const CLINE_LIKE_CONVERSATION: Message[] = [
  {
    role: "system",
    content: "You are Cline, a highly skilled software engineer. Use the tools available. Answer concisely.",
  },
  { role: "user", content: "<task>Add input validation to parse_port() in config.py</task>" },
  { role: "assistant", content: "I'll read config.py first to see how parse_port is implemented." },
  {
    role: "user",
    content: "[read_file for 'config.py'] Result:\ndef parse_port(value):\n    return int(value)\n",
  },
  { role: "assistant", content: "parse_port converts without checking the range. I'll add validation." },
  { role: "user", content: "Go ahead, and keep the function signature unchanged." },
];

export function chatBody(ctx: CheckContext, model: string, messages: Message[], stream: boolean): string {
  return JSON.stringify({
    model,
    messages,
    max_tokens: ctx.access.maxTokens,
    temperature: 0.15,
    stream,
    ...(stream ? { stream_options: { include_usage: true } } : {}),
  });
}

export async function observeStream(ctx: CheckContext): Promise<SseObservation & { model: string }> {
  return ctx.memo("stream", async () => {
    const model = await modelId(ctx);
    const observation = await ctx.probes.sse({
      method: "POST",
      path: "/v1/chat/completions",
      headers: { ...authorization(ctx), "content-type": "application/json", accept: "text/event-stream" },
      body: chatBody(ctx, model, SHORT_PROMPT, true),
    });
    return { ...observation, model };
  });
}
