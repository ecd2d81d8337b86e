// INFER-01 / INFER-05: the OpenAI-compatible API answers, lists its model, and completes a chat.
import { defineCheck, fail, pass, type Suite } from "../src/core/check.ts";
import { chatCompletion, describeIssues, TEMPLATE_TOKENS } from "../src/schemas/openai.ts";
import { authorization, chatBody, modelId, observeModels, SHORT_PROMPT } from "./shared.ts";

export const STAND_IN_MARK = "stand-in";

const modelsListed = defineCheck({
  id: "api.models-listed",
  requirement: "INFER-01",
  title: "/v1/models lists the served model",
  needs: ["password"],
  observe: async (ctx) => {
    const models = await observeModels(ctx);
    const standIn = models.owners.some((owner) => owner.includes(STAND_IN_MARK));
    return {
      ...models,
      standIn,
      ...(standIn
        ? {
            reportNote:
              "the target serves the slmc STAND-IN engine (synthetic tokens, NOT LocalAI): no inference was tested",
          }
        : {}),
    };
  },
  judge: (e) => {
    if (e.status !== 200) return fail(`/v1/models answered ${e.status}: ${e.body.slice(0, 120)}`);
    if (e.schemaError) return fail(`/v1/models is not an OpenAI model list: ${e.schemaError}`);
    if (e.ids.length === 0)
      return fail("/v1/models lists no model; check the model YAML in the models path and the engine log");
    const note = e.standIn ? " (served by the slmc stand-in engine, not LocalAI)" : "";
    return pass(`lists ${e.ids.join(", ")}${note}`);
  },
});

const completion = defineCheck({
  id: "api.chat-completion",
  requirement: "INFER-05",
  title: "a non-streaming chat completion follows the OpenAI schema",
  needs: ["password"],
  observe: async (ctx) => {
    const model = await modelId(ctx);
    const response = await ctx.probes.https({
      method: "POST",
      path: "/v1/chat/completions",
      headers: { ...authorization(ctx), "content-type": "application/json" },
      body: chatBody(ctx, model, SHORT_PROMPT, false),
      timeoutMs: ctx.access.streamTimeoutMs,
    });
    const body = response.body.toString("utf8");
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      return {
        model,
        status: response.status,
        schemaError: "body is not JSON",
        bodyPreview: body.slice(0, 300),
      };
    }
    const parsed = chatCompletion.safeParse(json);
    if (!parsed.success)
      return {
        model,
        status: response.status,
        schemaError: describeIssues(parsed.error),
        bodyPreview: body.slice(0, 300),
      };
    const choice = parsed.data.choices[0];
    return {
      model,
      status: response.status,
      content: choice?.message.content ?? "",
      finishReason: choice?.finish_reason ?? null,
      usage: parsed.data.usage ?? null,
    };
  },
  judge: (e) => {
    if (e.status !== 200) return fail(`chat completion answered ${e.status}: ${e.bodyPreview ?? ""}`);
    if (e.schemaError) return fail(`chat completion does not follow the OpenAI schema: ${e.schemaError}`);
    if (!e.content) return fail("chat completion returned empty content");
    const leaked = TEMPLATE_TOKENS.filter((token) => e.content?.includes(token));
    if (leaked.length) return fail(`content contains chat-template tokens ${leaked.join(" ")}`);
    return pass(`${e.usage?.completion_tokens ?? "?"} tokens, finish_reason ${e.finishReason}`);
  },
});

export const apiSuite: Suite = {
  name: "api",
  title: "OpenAI-compatible API",
  checks: [modelsListed, completion],
};
