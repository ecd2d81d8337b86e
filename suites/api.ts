// INFER-01 / INFER-05: the OpenAI-compatible API answers, lists its model, and completes a chat.
import { fail, pass, skip, type CheckContext, type Suite } from "../src/core/check.ts";
import { defineCheck } from "./requirements.ts";
import { chatCompletion, describeIssues, TEMPLATE_TOKENS } from "../src/schemas/openai.ts";
import {
  authorization,
  bodyProblem,
  chatBody,
  INCOMPLETE_BODY_FIX,
  modelId,
  observeModels,
  SHORT_PROMPT,
  STAND_IN_MARK,
} from "../src/core/requests.ts";

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
    const incomplete = bodyProblem(response);
    if (incomplete)
      return { model, status: response.status, bodyError: incomplete, bodyPreview: body.slice(0, 300) };
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
    if (e.bodyError)
      return fail(
        `chat completion answered ${e.status}, then the body broke: ${e.bodyError}; ${INCOMPLETE_BODY_FIX}`,
      );
    if (e.status !== 200) return fail(`chat completion answered ${e.status}: ${e.bodyPreview ?? ""}`);
    if (e.schemaError) return fail(`chat completion does not follow the OpenAI schema: ${e.schemaError}`);
    if (!e.content) return fail("chat completion returned empty content");
    const leaked = TEMPLATE_TOKENS.filter((token) => e.content?.includes(token));
    if (leaked.length) return fail(`content contains chat-template tokens ${leaked.join(" ")}`);
    return pass(`${e.usage?.completion_tokens ?? "?"} tokens, finish_reason ${e.finishReason}`);
  },
});

/** Statuses that mean the engine behind the proxy is down (502, 504) or not ready (503). */
export const ENGINE_NOT_READY = [502, 503, 504];

async function healthStatus(ctx: CheckContext): Promise<number | string> {
  return ctx.probes.https({ path: "/health" }).then(
    (response) => response.status,
    (error: Error) => `error: ${error.message}`,
  );
}

const healthReadiness = defineCheck({
  id: "api.health-readiness",
  requirement: "INFER-09",
  title: "/health is not 200 while the engine cannot answer (down or loading)",
  needs: ["password"],
  observe: async (ctx) => {
    const model = await modelId(ctx);
    // /health before and after one tiny completion: the engine only goes from not ready to ready
    // (nothing here restarts it), so a 200 before a "not ready" answer was already a wrong 200.
    const healthBefore = await healthStatus(ctx);
    const response = await ctx.probes.https({
      method: "POST",
      path: "/v1/chat/completions",
      headers: { ...authorization(ctx), "content-type": "application/json" },
      body: chatBody(ctx, model, SHORT_PROMPT, false).replace(/"max_tokens":\d+/, '"max_tokens":1'),
      timeoutMs: ctx.access.streamTimeoutMs,
    });
    return {
      model,
      healthBefore,
      completionStatus: response.status,
      completionBody: response.body.toString("utf8").slice(0, 200),
      healthAfter: await healthStatus(ctx),
      engineNotReadyStatuses: ENGINE_NOT_READY,
      note: "over SSH, system.recovery-local-ai also watches /health while the engine restarts after kill -9",
    };
  },
  judge: (e) => {
    const engineReady = !e.engineNotReadyStatuses.includes(e.completionStatus);
    if (!engineReady) {
      if (e.healthBefore === 200)
        return fail(
          `/health answered 200 while the engine could not answer (completion: ${e.completionStatus} ${e.completionBody.slice(0, 80)}); /health must pass the engine's readiness through (proxy_pass to its /readyz), not answer on its own`,
        );
      return pass(
        `/health answered ${e.healthBefore} while the engine was not ready (completion ${e.completionStatus})`,
      );
    }
    if (e.healthAfter !== 200)
      return fail(`/health answered ${e.healthAfter} although the engine answered ${e.completionStatus}`);
    return skip(
      "not demonstrated: the engine was ready throughout (/health 200 agrees); the not-ready case is observed during model loading, or over SSH by system.recovery-local-ai",
    );
  },
});

export const apiSuite: Suite = {
  name: "api",
  title: "OpenAI-compatible API",
  checks: [modelsListed, completion, healthReadiness],
};
