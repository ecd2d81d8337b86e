// IDE-01: what IDE clients actually do works. A Cline-shaped multi-turn chat succeeds, no chat-template
// tokens leak into answers, and the official openai SDK, configured the way Cline configures it
// (baseURL + apiKey), completes and streams.
import OpenAI from "openai";
import { VERSION as OPENAI_SDK_VERSION } from "openai/version";
import { fail, pass, type CheckContext, type Suite } from "../src/core/check.ts";
import { defineCheck } from "./requirements.ts";
import { formatHostForUrl } from "../src/probes/http.ts";
import { chatCompletion, describeIssues, TEMPLATE_TOKENS } from "../src/schemas/openai.ts";
import { analyzeEvents } from "./streaming.ts";
import { AGENT_CHECKS } from "./agents.ts";
import {
  authorization,
  bodyProblem,
  chatBody,
  CLINE_LIKE_CONVERSATION,
  modelId,
  observeStream,
  SHORT_PROMPT,
} from "../src/core/requests.ts";

interface TurnObservation {
  status: number;
  bodyError?: string;
  content?: string;
  schemaError?: string;
  bodyPreview?: string;
}

function observeMultiTurn(ctx: CheckContext): Promise<TurnObservation & { model: string; turns: number }> {
  return ctx.memo("multi-turn", async () => {
    const model = await modelId(ctx);
    const response = await ctx.probes.https({
      method: "POST",
      path: "/v1/chat/completions",
      headers: { ...authorization(ctx), "content-type": "application/json" },
      body: chatBody(ctx, model, CLINE_LIKE_CONVERSATION, false),
      timeoutMs: ctx.access.streamTimeoutMs,
    });
    const body = response.body.toString("utf8");
    const base = { model, turns: CLINE_LIKE_CONVERSATION.length, status: response.status };
    const incomplete = bodyProblem(response);
    if (incomplete) return { ...base, bodyError: incomplete, bodyPreview: body.slice(0, 300) };
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      return { ...base, schemaError: "body is not JSON", bodyPreview: body.slice(0, 300) };
    }
    const parsed = chatCompletion.safeParse(json);
    if (!parsed.success)
      return { ...base, schemaError: describeIssues(parsed.error), bodyPreview: body.slice(0, 300) };
    return { ...base, content: parsed.data.choices[0]?.message.content ?? "" };
  });
}

const multiTurn = defineCheck({
  id: "clients.multi-turn",
  requirement: "IDE-01",
  title: "a Cline-shaped chat (system prompt, alternating turns) completes",
  needs: ["password"],
  observe: async (ctx) => {
    const observed = await observeMultiTurn(ctx);
    return { ...observed, content: observed.content?.slice(0, 400) };
  },
  judge: (e) => {
    if (e.bodyError)
      return fail(
        `a ${e.turns}-message conversation answered ${e.status}, then the body broke: ${e.bodyError}`,
      );
    if (e.status !== 200)
      return fail(
        `a ${e.turns}-message conversation answered ${e.status}: ${(e.bodyPreview ?? "").slice(0, 160)}; the chat template must accept a system prompt and alternating turns`,
      );
    if (e.schemaError) return fail(`multi-turn answer does not follow the OpenAI schema: ${e.schemaError}`);
    if (!e.content) return fail("multi-turn answer is empty");
    return pass(`${e.turns} messages in, ${e.content.length} characters out`);
  },
});

const noTemplateTokens = defineCheck({
  id: "clients.no-template-tokens",
  requirement: "IDE-01",
  title: `answers contain no chat-template tokens (${TEMPLATE_TOKENS.join(" ")})`,
  needs: ["password"],
  observe: async (ctx) => {
    const streamed = analyzeEvents(await observeStream(ctx)).content;
    const multi = (await observeMultiTurn(ctx)).content ?? "";
    const samples = { "streamed short prompt": streamed, "multi-turn conversation": multi };
    const leaks = Object.entries(samples).flatMap(([sample, text]) =>
      TEMPLATE_TOKENS.filter((token) => text.includes(token)).map((token) => ({ sample, token })),
    );
    return {
      tokensSearched: TEMPLATE_TOKENS,
      samplesChecked: Object.keys(samples),
      leaks,
      emptySamples: Object.entries(samples)
        .filter(([, t]) => !t)
        .map(([s]) => s),
    };
  },
  judge: (e) => {
    if (e.leaks.length)
      return fail(
        `template tokens in output: ${e.leaks.map((l) => `${l.token} in ${l.sample}`).join(", ")}; the model's chat template or stop words are wrong (use the GGUF's Jinja template)`,
      );
    if (e.emptySamples.length === e.samplesChecked.length)
      return fail("no output to inspect: every sample was empty or failed");
    return pass(`no template tokens in ${e.samplesChecked.length - e.emptySamples.length} answers`);
  },
});

function openAiClient(ctx: CheckContext): OpenAI {
  return new OpenAI({
    baseURL: `https://${formatHostForUrl(ctx.access.host)}:${ctx.access.httpsPort}/v1`,
    apiKey: ctx.access.password ?? "",
    maxRetries: 0,
    timeout: ctx.access.streamTimeoutMs,
    fetch: ctx.probes.fetch,
  });
}

/** The SDK's message plus every underlying cause (the SDK says only "Connection error."). */
export function describeSdkError(error: unknown): string {
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const text =
      current instanceof OpenAI.APIError && current.status !== undefined
        ? `HTTP ${current.status}: ${current.message}`
        : current instanceof Error
          ? current.message
          : String(current);
    if (text && !messages.includes(text)) messages.push(text.replace(/\.$/, ""));
    current = current instanceof Error ? (current as Error & { cause?: unknown }).cause : undefined;
  }
  return messages.join(": caused by: ") || String(error);
}

const openAiSdk = defineCheck({
  id: "clients.openai-sdk",
  requirement: "IDE-01",
  title: "the official openai npm client (baseURL + apiKey, as Cline sets it) completes and streams",
  needs: ["password"],
  observe: async (ctx) => {
    const model = await modelId(ctx);
    const client = openAiClient(ctx);
    const evidence: {
      sdkVersion: string;
      model: string;
      completion?: string;
      completionError?: string;
      streamChunks?: number;
      streamContent?: string;
      streamError?: string;
    } = {
      sdkVersion: OPENAI_SDK_VERSION,
      model,
    };
    try {
      const result = await client.chat.completions.create({
        model,
        messages: SHORT_PROMPT,
        max_tokens: ctx.access.maxTokens,
      });
      evidence.completion = (result.choices[0]?.message.content ?? "").slice(0, 200);
    } catch (error) {
      evidence.completionError = describeSdkError(error);
    }
    try {
      const stream = await client.chat.completions.create({
        model,
        messages: SHORT_PROMPT,
        max_tokens: ctx.access.maxTokens,
        stream: true,
      });
      let chunks = 0;
      let content = "";
      for await (const chunk of stream) {
        chunks++;
        content += chunk.choices[0]?.delta?.content ?? "";
      }
      evidence.streamChunks = chunks;
      evidence.streamContent = content.slice(0, 200);
    } catch (error) {
      evidence.streamError = describeSdkError(error);
    }
    return evidence;
  },
  judge: (e) => {
    if (e.completionError)
      return fail(`openai SDK ${e.sdkVersion} chat.completions.create failed: ${e.completionError}`);
    if (e.streamError) return fail(`openai SDK ${e.sdkVersion} streaming failed: ${e.streamError}`);
    if (!e.completion) return fail("openai SDK got an empty completion");
    if (!e.streamContent) return fail(`openai SDK stream delivered ${e.streamChunks} chunks but no content`);
    return pass(`openai SDK ${e.sdkVersion}: completion and ${e.streamChunks}-chunk stream OK`);
  },
});

export const clientsSuite: Suite = {
  name: "clients",
  title: "IDE clients",
  checks: [multiTurn, noTemplateTokens, openAiSdk, ...AGENT_CHECKS],
};
