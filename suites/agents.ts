// IDE-02..05: what coding agents (Cline, Continue) send beyond a plain chat: OpenAI tool calls and
// their round trip, the turn shapes agent conversations produce, requests of their real shape and
// size (headers, compression they accept, tools, no max_tokens), and a file-sized request body.
import { fail, pass, type CheckContext } from "../src/core/check.ts";
import { defineCheck } from "./requirements.ts";
import { chatCompletion, describeIssues } from "../src/schemas/openai.ts";
import { bodyProblem, modelId } from "../src/core/requests.ts";
import { arrivalPattern, burstGapFor, INCREMENTAL_THRESHOLDS } from "./streaming.ts";
import { clineShaped, continueShaped, ROUND_TRIP_TOOLS, type ClientShape } from "./client-shapes.ts";
import { argumentProblem, assembleToolCalls, summarizeChatStream, type AssembledCall } from "./tool-calls.ts";

const PATH = "/v1/chat/completions";

function bearer(ctx: CheckContext): Record<string, string> {
  return ctx.access.password ? { authorization: `Bearer ${ctx.access.password}` } : {};
}

const jsonHeaders = (ctx: CheckContext) => ({ ...bearer(ctx), "content-type": "application/json" });

const SYSTEM = "You are a coding assistant. Use the tools to look at files before you answer. Be brief.";
const TASK = "Read README.md with the read_file tool, then say in one sentence what the project is.";
const TOOL_RESULT = "# demo\nA small command-line tool that prints FizzBuzz for 1..n.\n";

function firstMessages() {
  return [
    { role: "system", content: SYSTEM },
    { role: "user", content: TASK },
  ];
}

function followUpMessages(call: { id: string; name: string; arguments: string }) {
  return [
    ...firstMessages(),
    {
      role: "assistant",
      content: null,
      tool_calls: [
        { id: call.id, type: "function", function: { name: call.name, arguments: call.arguments } },
      ],
    },
    { role: "tool", tool_call_id: call.id, content: TOOL_RESULT },
  ];
}

function requestBody(model: string, messages: unknown[], stream: boolean, extra: object = {}): string {
  return JSON.stringify({
    model,
    messages,
    tools: ROUND_TRIP_TOOLS,
    tool_choice: "auto",
    stream,
    ...(stream ? { stream_options: { include_usage: true } } : {}),
    ...extra,
  });
}

type TurnResult = {
  status: number;
  /** Why the answer could not be used (not 200, cut short, not JSON, not the schema, a stream error). */
  problem?: string;
  content: string;
  calls: AssembledCall[];
  callProblems: string[];
  finishReasons: string[];
  fragments?: number;
  usage?: boolean;
};

async function streamedTurn(ctx: CheckContext, body: string): Promise<TurnResult> {
  const observation = await ctx.probes.sse({
    method: "POST",
    path: PATH,
    headers: { ...jsonHeaders(ctx), accept: "text/event-stream" },
    body,
  });
  const summary = summarizeChatStream(observation);
  const assembled = assembleToolCalls(summary.toolCallDeltas);
  const problem =
    observation.status !== 200
      ? `answered ${observation.status}: ${(observation.nonStreamBody ?? "").slice(0, 160)}`
      : observation.streamError
        ? `the stream broke: ${observation.streamError.message}`
        : (summary.parseErrors[0] ?? summary.schemaErrors[0]);
  return {
    status: observation.status,
    ...(problem ? { problem } : {}),
    content: summary.content.slice(0, 300),
    calls: assembled.calls.map((c) => ({ ...c, arguments: c.arguments.slice(0, 2000) })),
    callProblems: assembled.problems,
    finishReasons: summary.finishReasons,
    fragments: assembled.calls[0]?.fragments ?? 0,
    usage: summary.usage,
  };
}

async function completionTurn(ctx: CheckContext, body: string): Promise<TurnResult> {
  const response = await ctx.probes.https({
    method: "POST",
    path: PATH,
    headers: jsonHeaders(ctx),
    body,
    timeoutMs: ctx.access.streamTimeoutMs,
  });
  const text = response.body.toString("utf8");
  const base = { status: response.status, content: "", calls: [], callProblems: [], finishReasons: [] };
  const incomplete = bodyProblem(response);
  if (incomplete) return { ...base, problem: `the body broke: ${incomplete}` };
  if (response.status !== 200)
    return { ...base, problem: `answered ${response.status}: ${text.slice(0, 160)}` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ...base, problem: `body is not JSON: ${text.slice(0, 120)}` };
  }
  const parsed = chatCompletion.safeParse(json);
  if (!parsed.success) return { ...base, problem: `not the OpenAI schema: ${describeIssues(parsed.error)}` };
  const choice = parsed.data.choices[0];
  return {
    ...base,
    content: (choice?.message.content ?? "").slice(0, 300),
    calls: (choice?.message.tool_calls ?? []).map((c, index) => ({
      index,
      id: c.id,
      type: c.type,
      name: c.function.name,
      arguments: c.function.arguments.slice(0, 2000),
      fragments: 1,
    })),
    finishReasons: choice?.finish_reason ? [choice.finish_reason] : [],
  };
}

/**
 * The least max_tokens each turn of a tool-call round trip asks for (--max-tokens when larger). Devstral's
 * read_file call ([TOOL_CALLS]read_file[ARGS]{"path": "README.md"}) is about 20 tokens and the
 * one-sentence answer to its result about 30: 128 leaves room for a short sentence before the call and
 * a longer answer after it, and bounds a turn on a model that never calls the tool or never stops (at the
 * lab's real-engine 3.2 tok/s under TCG: 40 s, not the whole --stream-timeout).
 */
export const TOOL_CALL_MIN_MAX_TOKENS = 128;

/** max_tokens of each round-trip turn: the larger of --max-tokens and TOOL_CALL_MIN_MAX_TOKENS. */
export const toolCallMaxTokens = (maxTokens: number): number => Math.max(maxTokens, TOOL_CALL_MIN_MAX_TOKENS);

type RoundTrip = {
  model: string;
  streamed: boolean;
  /** max_tokens sent with both turns. */
  maxTokens: number;
  tools: string[];
  call: TurnResult;
  afterToolResult?: TurnResult;
};

async function observeRoundTrip(ctx: CheckContext, stream: boolean): Promise<RoundTrip> {
  const model = await modelId(ctx);
  const turn = stream ? streamedTurn : completionTurn;
  // Bounded, unlike Cline (which sends no max_tokens): a model that never calls the tool or never stops
  // would otherwise stream until --stream-timeout. The bound is far above what either turn needs.
  const maxTokens = toolCallMaxTokens(ctx.access.maxTokens);
  const bound = { max_tokens: maxTokens };
  const call = await turn(ctx, requestBody(model, firstMessages(), stream, bound));
  const first = call.calls[0];
  const tools = ROUND_TRIP_TOOLS.map((t) => t.function.name);
  const base = { model, streamed: stream, maxTokens, tools, call };
  if (call.problem || !first?.id) return base;
  // What a client sends next: its own copy of the call, and the tool's output.
  const afterToolResult = await turn(ctx, requestBody(model, followUpMessages(first), stream, bound));
  return { ...base, afterToolResult };
}

const TOOL_PARSER_FIX =
  "the engine must turn the model's tool-call syntax into OpenAI tool_calls (LocalAI: the model YAML's function/tool-call settings and a chat template with tools)";

/** Pure verdict on a tool-call round trip (streamed or not). */
export function judgeRoundTrip(e: RoundTrip) {
  const how = e.streamed ? "streamed" : "non-streamed";
  if (e.call.problem) return fail(`${how} request with ${e.tools.length} tools ${e.call.problem}`);
  const first = e.call.calls[0];
  if (!first) {
    const looksLikeCall = /\[TOOL_CALLS\]|"name"\s*:|\{\s*"path"|read_file/.test(e.call.content);
    return fail(
      looksLikeCall
        ? `${how}: the tool call arrived as plain text in content (${JSON.stringify(e.call.content.slice(0, 100))}), not as tool_calls; ${TOOL_PARSER_FIX}`
        : `${how}: asked to use read_file, the model answered without a tool call (finish_reason ${e.call.finishReasons.join(",") || "none"}${e.call.finishReasons.includes("length") ? `: no call within max_tokens ${e.maxTokens}` : ""}); the model must be one trained for tool calls (Devstral is) and ${TOOL_PARSER_FIX}`,
    );
  }
  if (e.call.callProblems.length)
    return fail(`${how} tool call is malformed: ${e.call.callProblems[0]}; ${TOOL_PARSER_FIX}`);
  const argProblem = argumentProblem(first, ROUND_TRIP_TOOLS);
  if (argProblem) return fail(`${how} tool call unusable: ${argProblem}; ${TOOL_PARSER_FIX}`);
  if (!e.call.finishReasons.includes("tool_calls"))
    return fail(
      `${how} tool call ended with finish_reason ${e.call.finishReasons.join(",") || "(none)"}, expected "tool_calls" (clients wait for it before running the tool)`,
    );
  const after = e.afterToolResult;
  if (!after) return fail(`${how}: the tool call had no id, so no tool result could be sent`);
  if (after.problem)
    return fail(
      `${how}: sending the assistant's tool_calls and the tool result ${after.problem}; the chat template must accept assistant tool calls and tool messages`,
    );
  if (!after.content)
    return fail(
      `${how}: after the tool result the answer had no text (finish_reason ${after.finishReasons.join(",") || "none"})`,
    );
  if (!after.finishReasons.includes("stop"))
    return fail(
      `${how}: the answer after the tool result ended with finish_reason ${after.finishReasons.join(",") || "(none)"}, not "stop"${after.finishReasons.includes("length") ? ` (it did not stop within max_tokens ${e.maxTokens}, where one sentence was asked for)` : ""}; a model must stop by itself (Cline, which sends no max_tokens, reports "length" as an error: check the model's stop words / EOS)`,
    );
  return pass(
    `${how}: ${first.name}(${first.arguments.slice(0, 80)})${e.streamed ? ` in ${first.fragments} fragments` : ""}, finish_reason tool_calls; after the tool result ${after.content.length} characters of text, finish_reason stop`,
  );
}

export const toolCallStreamed = defineCheck({
  id: "clients.tool-call-streamed",
  requirement: "IDE-02",
  title:
    "streamed tool call (tool_calls deltas, schema-valid JSON arguments), then a text answer to its result",
  needs: ["password"],
  observe: (ctx) => observeRoundTrip(ctx, true),
  judge: judgeRoundTrip,
});

export const toolCallCompletion = defineCheck({
  id: "clients.tool-call-completion",
  requirement: "IDE-02",
  title:
    "non-streamed tool call (message.tool_calls, schema-valid JSON arguments), then a text answer to its result",
  needs: ["password"],
  observe: (ctx) => observeRoundTrip(ctx, false),
  judge: judgeRoundTrip,
});

const EARLIER_CALL = {
  id: "call_slmc0000000000000000001",
  type: "function",
  function: { name: "read_file", arguments: JSON.stringify({ path: "app.py" }) },
};

/** Conversations real agents produce that break strict user/assistant alternation. */
export const TURN_SHAPES: Record<string, unknown[]> = {
  "consecutive user messages": [
    { role: "system", content: SYSTEM },
    { role: "user", content: "Fix the failing test in test_app.py." },
    { role: "user", content: "Also: do not change the fixtures." },
  ],
  "a tool-only assistant turn, its result, then the user": [
    { role: "system", content: SYSTEM },
    { role: "user", content: "Why does app.py crash on empty input?" },
    { role: "assistant", content: null, tool_calls: [EARLIER_CALL] },
    { role: "tool", tool_call_id: EARLIER_CALL.id, content: "def main(argv):\n    return argv[1]\n" },
    { role: "user", content: "Look at the tests first, please." },
  ],
  "a resumed conversation (assistant last, then the user)": [
    { role: "system", content: SYSTEM },
    { role: "user", content: "Add a --verbose flag to app.py." },
    { role: "assistant", content: null, tool_calls: [EARLIER_CALL] },
    { role: "tool", tool_call_id: EARLIER_CALL.id, content: "def main(argv):\n    return argv[1]\n" },
    { role: "assistant", content: "I will add the flag to main() and" },
    {
      role: "user",
      content: "[The task was interrupted and has been resumed. Continue where you left off.]",
    },
  ],
};

export const turnShapes = defineCheck({
  id: "clients.turn-shapes",
  requirement: "IDE-03",
  title:
    "agent turn shapes are accepted: consecutive user turns, a tool result then the user, a resumed task",
  needs: ["password"],
  observe: async (ctx) => {
    const model = await modelId(ctx);
    const shapes: { shape: string; status: number; problem?: string }[] = [];
    for (const [shape, messages] of Object.entries(TURN_SHAPES)) {
      const body = requestBody(model, messages, false, { max_tokens: ctx.access.maxTokens });
      const result = await completionTurn(ctx, body);
      shapes.push({ shape, status: result.status, ...(result.problem ? { problem: result.problem } : {}) });
    }
    return { model, shapes };
  },
  judge: (e) => {
    const failed = e.shapes.filter((s) => s.problem);
    if (failed.length)
      return fail(
        `${failed.length} of ${e.shapes.length} conversation shapes failed: ${failed.map((s) => `${s.shape} ${s.problem}`).join("; ")}; the chat template must merge consecutive turns instead of raising (the stock Devstral template requires strict user/assistant alternation)`,
      );
    return pass(
      `${e.shapes.length} shapes answered 200 with a valid completion: ${e.shapes.map((s) => s.shape).join(", ")}`,
    );
  },
});

async function observeClientShape(ctx: CheckContext, build: (model: string, token: string) => ClientShape) {
  const model = await modelId(ctx);
  const shape = build(model, ctx.access.password ?? "");
  const { "accept-encoding": acceptEncoding = "identity", ...headers } = shape.headers;
  const observation = await ctx.probes.sse({
    method: "POST",
    path: PATH,
    headers,
    body: shape.body,
    acceptEncoding,
  });
  const summary = summarizeChatStream(observation);
  const burstGapMs = burstGapFor(summary.deltaArrivalsMs);
  return {
    client: shape.client,
    model,
    requestBytes: Buffer.byteLength(shape.body),
    tools: shape.tools,
    acceptEncoding,
    status: observation.status,
    contentEncoding: observation.headers["content-encoding"] ?? null,
    nonStreamBody: observation.nonStreamBody?.slice(0, 300) ?? null,
    streamError: observation.streamError ?? null,
    parseErrors: summary.parseErrors,
    schemaErrors: summary.schemaErrors,
    finishReasons: summary.finishReasons,
    usage: summary.usage,
    toolCalls: assembleToolCalls(summary.toolCallDeltas).calls.map((c) => c.name),
    contentChars: summary.content.length,
    thresholds: { ...INCREMENTAL_THRESHOLDS, burstGapMs },
    pattern: arrivalPattern(summary.deltaArrivalsMs, burstGapMs),
    deltaArrivalsMs: summary.deltaArrivalsMs.slice(0, 128),
  };
}

type ClientShapeEvidence = Awaited<ReturnType<typeof observeClientShape>>;

/**
 * The engine's refusal of a prompt longer than its context, from its error body: llama.cpp's server
 * (LocalAI's llama-cpp backend is built from it) answers 400 `exceed_context_size_error` with
 * `n_prompt_tokens` and `n_ctx`; other wordings of the same refusal are recognised without the figures.
 */
export function contextRefusal(
  status: number,
  body: string,
): { promptTokens: number | null; contextTokens: number | null } | undefined {
  if (status < 400) return undefined;
  if (
    !/exceed_context_size_error|exceeds the available context size|context (?:length|size|window) (?:is )?exceeded|maximum context length/i.test(
      body,
    )
  )
    return undefined;
  const figure = (key: string) => {
    const value = new RegExp(`"${key}"\\s*:\\s*(\\d+)`).exec(body)?.[1];
    return value === undefined ? null : Number(value);
  };
  return { promptTokens: figure("n_prompt_tokens"), contextTokens: figure("n_ctx") };
}

/** What to do about a context refusal: the appliance's context setting, and its ceiling. */
function contextAdvice(
  what: string,
  status: number,
  refusal: NonNullable<ReturnType<typeof contextRefusal>>,
) {
  const prompt = refusal.promptTokens === null ? "its prompt" : `its prompt (${refusal.promptTokens} tokens)`;
  const context =
    refusal.contextTokens === null
      ? "the engine's context"
      : `the engine's context (${refusal.contextTokens} tokens)`;
  return `${what} was refused with ${status}: ${prompt} exceeds ${context}. Raise ONEAPP_COPILOT_CONTEXT_SIZE (the model YAML's context_size; default 32768) above the prompts coding agents send; a model trained for a shorter context caps it there (llama.cpp's n_ctx_train), and only a model with a longer context helps`;
}

export function judgeClientShape(e: ClientShapeEvidence) {
  const what = `a ${e.client}-shaped request (${(e.requestBytes / 1000).toFixed(1)} KB, ${e.tools} tools, Accept-Encoding: ${e.acceptEncoding}, no max_tokens)`;
  if (e.status === 413)
    return fail(`${what} was refused with 413: raise client_max_body_size (the appliance's nginx sets 64m)`);
  const refusal = contextRefusal(e.status, e.nonStreamBody ?? "");
  if (refusal) return fail(contextAdvice(what, e.status, refusal));
  if (e.status !== 200) return fail(`${what} answered ${e.status}: ${(e.nonStreamBody ?? "").slice(0, 160)}`);
  if (e.streamError) return fail(`${what}: the stream broke: ${e.streamError.message}`);
  if (e.parseErrors.length || e.schemaErrors.length)
    return fail(`${what}: malformed chunk: ${e.parseErrors[0] ?? e.schemaErrors[0]}`);
  const { pattern, thresholds } = e;
  const compressed = e.contentEncoding && e.contentEncoding !== "identity";
  if (pattern.chunks < thresholds.minChunksToJudge)
    return fail(
      `${what}: only ${pattern.chunks} chunks with content or tool-call pieces arrived (need ${thresholds.minChunksToJudge})`,
    );
  const needed = Math.max(thresholds.minBursts, Math.ceil(pattern.chunks * thresholds.minBurstFraction));
  if (pattern.bursts < needed)
    return fail(
      compressed
        ? `${what}: the stream was compressed (Content-Encoding: ${e.contentEncoding}) because ${e.client} accepts it, and its ${pattern.chunks} decoded chunks arrived in ${pattern.bursts} burst(s): the client sees nothing until the end. Turn compression off for event streams ("gzip off;", or no text/event-stream in gzip_types)`
        : `${what}: buffered: ${pattern.chunks} chunks arrived in ${pattern.bursts} burst(s) (need ≥ ${needed} separate arrivals); set "proxy_buffering off;" for the API location`,
    );
  const finish = e.finishReasons.at(-1);
  if (!finish) return fail(`${what}: the stream ended without a finish_reason`);
  if (finish === "length")
    return fail(
      `${what}: ended with finish_reason "length" although no max_tokens was sent; ${e.client} reports that as an error ("maximum output token limit"): the model must stop (EOS) or call a tool`,
    );
  if (!e.usage)
    return fail(
      `${what}: no usage chunk although stream_options.include_usage was sent (${e.client} shows token counts from it)`,
    );
  return pass(
    `${what}: ${pattern.chunks} chunks in ${pattern.bursts} separate arrivals${compressed ? ` (decoded from ${e.contentEncoding})` : ""}, finish_reason ${finish}${e.toolCalls.length ? ` (${e.toolCalls.join(", ")})` : ""}, usage reported`,
  );
}

export const clineShapedRequest = defineCheck({
  id: "clients.cline-shaped-request",
  requirement: "IDE-04",
  title:
    "a Cline-shaped request (Bearer, gzip/br/zstd accepted, 21.7 KB, 25 tools) streams incrementally to the end",
  needs: ["password"],
  observe: (ctx) => observeClientShape(ctx, clineShaped),
  judge: judgeClientShape,
});

export const continueShapedRequest = defineCheck({
  id: "clients.continue-shaped-request",
  requirement: "IDE-04",
  title:
    "a Continue-shaped request (Bearer, gzip/br accepted, 5.5 KB, 9 tools) streams incrementally to the end",
  needs: ["password"],
  observe: (ctx) => observeClientShape(ctx, continueShaped),
  judge: judgeClientShape,
});

/**
 * Bytes of the file-sized request body: more than 256 KiB and more than nginx's default
 * client_max_body_size (1m = 1,048,576 bytes), which a long agent conversation outgrows.
 */
export const LARGE_BODY_BYTES = 1_100_000;

/**
 * A request body of LARGE_BODY_BYTES: a short file in the user's message, padded with JSON whitespace
 * between members, so the prompt stays a few hundred tokens (it fits any configured context and the
 * engine answers at once) while the proxy sees the bytes a file-sized context takes.
 */
export function largeBody(model: string, maxTokens: number): string {
  const file = Array.from(
    { length: 40 },
    (_, i) => `def handler_${i}(event):\n    return event.get("id")\n`,
  ).join("");
  const json = JSON.stringify({
    model,
    messages: [
      { role: "system", content: SYSTEM },
      { role: "user", content: `Here is handlers.py:\n${file}\nWhich handler is the first?` },
    ],
    max_tokens: maxTokens,
    stream: false,
  });
  const line = "\n" + " ".repeat(63);
  const padding = line.repeat(Math.ceil((LARGE_BODY_BYTES - json.length) / line.length));
  return `{${padding}${json.slice(1)}`;
}

export type LargeBodyEvidence = {
  model: string;
  requestBytes: number;
  status: number;
  bodyError: string | null;
  bodyPreview: string;
  schemaError: string | null;
};

export function judgeLargeBody(e: LargeBodyEvidence) {
  const what = `a ${(e.requestBytes / 1e6).toFixed(1)} MB request body`;
  if (e.status === 413)
    return fail(
      `${what} was refused with 413 Request Entity Too Large: raise client_max_body_size (the appliance's nginx sets 64m; nginx's default is 1m)`,
    );
  if (e.bodyError) return fail(`${what} answered ${e.status}, then the body broke: ${e.bodyError}`);
  const refusal = contextRefusal(e.status, e.bodyPreview);
  if (refusal) return fail(contextAdvice(what, e.status, refusal));
  if (e.status !== 200) return fail(`${what} answered ${e.status}: ${e.bodyPreview.slice(0, 160)}`);
  if (e.schemaError) return fail(`${what}: the answer does not follow the OpenAI schema: ${e.schemaError}`);
  return pass(`${what} was accepted and answered (200)`);
}

export const largeContext = defineCheck({
  id: "clients.large-request-body",
  requirement: "IDE-05",
  title: "a file-sized request body (1.1 MB, over nginx's default 1m limit) is not refused by the proxy",
  needs: ["password"],
  observe: async (ctx) => {
    const model = await modelId(ctx);
    const body = largeBody(model, ctx.access.maxTokens);
    const response = await ctx.probes.https({
      method: "POST",
      path: PATH,
      headers: jsonHeaders(ctx),
      body,
      timeoutMs: ctx.access.streamTimeoutMs,
    });
    const text = response.body.toString("utf8");
    return {
      model,
      requestBytes: Buffer.byteLength(body),
      status: response.status,
      bodyError: bodyProblem(response) ?? null,
      bodyPreview: text.slice(0, 300),
      schemaError: response.status === 200 && !bodyProblem(response) ? schemaError(text) : null,
    };
  },
  judge: judgeLargeBody,
});

function schemaError(text: string): string | null {
  try {
    const parsed = chatCompletion.safeParse(JSON.parse(text));
    return parsed.success ? null : describeIssues(parsed.error);
  } catch {
    return "body is not JSON";
  }
}

export const AGENT_CHECKS = [
  toolCallStreamed,
  toolCallCompletion,
  turnShapes,
  clineShapedRequest,
  continueShapedRequest,
  largeContext,
];
