// Tool calling on hand-made inputs: the JSON-schema validator, joining streamed tool-call fragments,
// the verdicts of the IDE-02/IDE-04 checks, the client-shaped payloads, the stand-in's deterministic
// tool choice and arguments, and the probe's incremental decoding of a compressed event stream.
import t from "tap";
import http from "node:http";
import zlib from "node:zlib";
import type { AddressInfo } from "node:net";
import { validateJson } from "../src/schemas/json-schema.ts";
import { argumentProblem, assembleToolCalls, summarizeChatStream } from "../suites/tool-calls.ts";
import { clineShaped, continueShaped, ROUND_TRIP_TOOLS } from "../suites/client-shapes.ts";
import {
  contextRefusal,
  judgeClientShape,
  judgeLargeBody,
  judgeRoundTrip,
  LARGE_BODY_BYTES,
  largeBody,
  TOOL_CALL_MIN_MAX_TOKENS,
  toolCallCompletion,
  toolCallStreamed,
} from "../suites/agents.ts";
import { createContext, runSuites } from "../src/core/runner.ts";
import { createProbes, type Probes } from "../src/probes/index.ts";
import { chooseCall, chooseTool, mentionedPath, minimalValue } from "../src/sim/engine/tools.ts";
import { alternationError } from "../src/sim/engine/app.ts";
import { toolAlreadyUsed } from "../src/sim/engine/chat.ts";
import { readSse } from "../src/probes/sse.ts";
import type { SseObservation } from "../src/probes/sse.ts";
import { httpRequest } from "../src/probes/http.ts";
import { accessFor, simulator } from "./helpers.ts";

const SCHEMA = {
  type: "object",
  properties: {
    path: { type: "string" },
    recursive: { type: "boolean" },
    mode: { type: "string", enum: ["a", "b"] },
    lines: { type: "array", items: { type: "integer" } },
    limit: { type: ["integer", "null"] },
  },
  required: ["path", "mode"],
  additionalProperties: false,
};

t.test("validateJson: the subset tools use", async (t) => {
  t.same(validateJson({ path: "a", mode: "a" }, SCHEMA), []);
  t.same(validateJson({ path: "a", mode: "b", lines: [1, 2], limit: null, recursive: true }, SCHEMA), []);
  t.match(validateJson({ mode: "a" }, SCHEMA), [/required property "path" is missing/]);
  t.match(validateJson({ path: 1, mode: "a" }, SCHEMA), [/\$\.path: expected string, got integer/]);
  t.match(validateJson({ path: "a", mode: "c" }, SCHEMA), [/\$\.mode: "c" is not one of \["a","b"\]/]);
  t.match(validateJson({ path: "a", mode: "a", lines: [1, 1.5] }, SCHEMA), [
    /\$\.lines\[1\]: expected integer, got number/,
  ]);
  t.match(validateJson({ path: "a", mode: "a", extra: 1 }, SCHEMA), [/\$\.extra: property not allowed/]);
  t.match(validateJson([], SCHEMA), [/expected object, got array/]);
  t.same(validateJson(3, { type: "number" }), [], "an integer is a number");
  t.match(validateJson("x", { anyOf: [{ type: "integer" }, { type: "boolean" }] }), [
    /matches 0 of the anyOf/,
  ]);
  t.same(validateJson({ anything: 1 }, {}), [], "an empty schema accepts anything");
});

t.test("assembleToolCalls joins fragments per index and names what is missing", async (t) => {
  const joined = assembleToolCalls([
    { index: 0, id: "call_1", type: "function", function: { name: "read_file", arguments: "" } },
    { index: 0, function: { arguments: '{"pa' } },
    { index: 1, id: "call_2", type: "function", function: { name: "list_files", arguments: '{"path":"."}' } },
    { index: 0, function: { arguments: 'th":"a.txt"}' } },
  ]);
  t.same(joined.problems, []);
  t.match(joined.calls, [
    { index: 0, id: "call_1", name: "read_file", arguments: '{"path":"a.txt"}', fragments: 2 },
    { index: 1, id: "call_2", name: "list_files", arguments: '{"path":"."}', fragments: 1 },
  ]);
  const broken = assembleToolCalls([
    { index: 0, function: { arguments: "{}" } },
    { index: 1, id: "c", type: "tool", function: { name: "x" } },
    { index: 1, id: "d" },
  ]);
  t.match(broken.problems, [
    /#0: its first delta lacks an id/,
    /#1: type "tool"/,
    /#1: id changed from c to d/,
  ]);
});

t.test("argumentProblem: unknown tool, not JSON, schema mismatch, usable", async (t) => {
  t.equal(
    argumentProblem({ name: "read_file", arguments: '{"path":"README.md"}' }, ROUND_TRIP_TOOLS),
    undefined,
  );
  t.match(
    argumentProblem({ name: "rm_rf", arguments: "{}" }, ROUND_TRIP_TOOLS),
    /not one of the offered tools/,
  );
  t.match(
    argumentProblem({ name: "read_file", arguments: "{'path':'x'" }, ROUND_TRIP_TOOLS),
    /not valid JSON/,
  );
  t.match(
    argumentProblem({ name: "read_file", arguments: "{}" }, ROUND_TRIP_TOOLS),
    /do not match its schema: .*"path" is missing/,
  );
});

const chunk = (delta: object, finish: string | null = null, usage?: object) =>
  JSON.stringify({
    id: "x",
    object: "chat.completion.chunk",
    created: 1,
    model: "m",
    choices: [{ index: 0, delta, finish_reason: finish }],
    ...(usage ? { usage } : {}),
  });

function observation(datas: string[], gapMs: number): SseObservation {
  return {
    status: 200,
    headers: { "content-type": "text/event-stream" },
    events: datas.map((data, i) => ({ data, arrivedAt: 1000 + i * gapMs })),
    comments: 0,
    timings: { start: 1000, connected: 1000, firstByte: 1000, end: 2000 },
  };
}

t.test("summarizeChatStream collects tool-call deltas, finish reasons, usage and arrivals", async (t) => {
  const summary = summarizeChatStream(
    observation(
      [
        chunk({ role: "assistant", content: "" }),
        chunk({
          tool_calls: [
            { index: 0, id: "call_1", type: "function", function: { name: "read_file", arguments: "" } },
          ],
        }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"path":' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '"a"}' } }] }),
        chunk({}, "tool_calls"),
        JSON.stringify({
          id: "x",
          object: "chat.completion.chunk",
          created: 1,
          model: "m",
          choices: [],
          usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
        }),
        "[DONE]",
      ],
      20,
    ),
  );
  t.same(summary.deltaArrivalsMs, [20, 40, 60], "the role chunk and the finish chunk carry nothing");
  t.same(summary.finishReasons, ["tool_calls"]);
  t.equal(summary.usage, true);
  t.equal(summary.doneSeen, true);
  t.equal(assembleToolCalls(summary.toolCallDeltas).calls[0]?.arguments, '{"path":"a"}');
});

t.test("judgeRoundTrip and judgeClientShape verdicts", async (t) => {
  const call = {
    index: 0,
    id: "call_1",
    type: "function",
    name: "read_file",
    arguments: '{"path":"a"}',
    fragments: 2,
  };
  const good = {
    model: "m",
    streamed: true,
    maxTokens: 128,
    tools: ["read_file"],
    call: { status: 200, content: "", calls: [call], callProblems: [], finishReasons: ["tool_calls"] },
    afterToolResult: {
      status: 200,
      content: "It prints FizzBuzz.",
      calls: [],
      callProblems: [],
      finishReasons: ["stop"],
    },
  };
  t.equal(judgeRoundTrip(good).status, "pass");
  const length = { ...good, afterToolResult: { ...good.afterToolResult, finishReasons: ["length"] } };
  t.match(
    judgeRoundTrip(length).message,
    /finish_reason length, not "stop" \(it did not stop within max_tokens 128, where one sentence was asked for\).*stop words/,
  );
  const stopInstead = { ...good, call: { ...good.call, finishReasons: ["stop"] } };
  t.match(judgeRoundTrip(stopInstead).message, /finish_reason stop, expected "tool_calls"/);
  const noCall = { ...good, call: { ...good.call, calls: [], content: "I would read the file." } };
  t.match(judgeRoundTrip(noCall).message, /answered without a tool call/);
  t.notMatch(
    judgeRoundTrip(noCall).message,
    /within max_tokens/,
    "finish_reason stop: the bound is not blamed",
  );
  const neverCalls = { ...noCall, call: { ...noCall.call, content: "kx7 qq zz", finishReasons: ["length"] } };
  t.match(
    judgeRoundTrip(neverCalls).message,
    /answered without a tool call \(finish_reason length: no call within max_tokens 128\); the model must be one trained for tool calls/,
  );

  const shape = {
    client: "Cline",
    model: "m",
    requestBytes: 21_700,
    tools: 25,
    acceptEncoding: "gzip, deflate, br, zstd",
    status: 200,
    contentEncoding: null as string | null,
    nonStreamBody: null,
    streamError: null,
    parseErrors: [],
    schemaErrors: [],
    finishReasons: ["tool_calls"],
    usage: true,
    toolCalls: ["read_file"],
    contentChars: 0,
    thresholds: {
      minChunksToJudge: 4,
      minBursts: 3,
      minBurstFraction: 0.5,
      burstGapFraction: 0.25,
      maxBurstGapMs: 5,
      minBurstGapMs: 0.2,
      burstGapMs: 5,
    },
    pattern: { chunks: 6, bursts: 6, largestBurst: 1, firstMs: 100, lastMs: 225, spreadMs: 125 },
    deltaArrivalsMs: [],
  };
  t.equal(judgeClientShape(shape).status, "pass");
  t.match(
    judgeClientShape({ ...shape, status: 413 }).message,
    /refused with 413: raise client_max_body_size/,
  );
  t.match(
    judgeClientShape({ ...shape, finishReasons: ["length"] }).message,
    /finish_reason "length" although no max_tokens/,
  );
  t.match(judgeClientShape({ ...shape, usage: false }).message, /no usage chunk/);
  // llama-server's answer to a prompt over its context (measured in the lab, 50m model at n_ctx 2048).
  const overContext =
    '{"error":{"code":400,"message":"request (20400 tokens) exceeds the available context size (2048 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":20400,"n_ctx":2048}}';
  t.match(
    judgeClientShape({ ...shape, status: 400, nonStreamBody: overContext }).message,
    /Cline-shaped request .* was refused with 400: its prompt \(20400 tokens\) exceeds the engine's context \(2048 tokens\)\. Raise ONEAPP_COPILOT_CONTEXT_SIZE/,
  );
  t.match(
    judgeClientShape({
      ...shape,
      status: 500,
      nonStreamBody: '{"error":{"message":"context length exceeded"}}',
    }).message,
    /its prompt exceeds the engine's context\. Raise ONEAPP_COPILOT_CONTEXT_SIZE/,
    "another wording: the advice without the figures",
  );
  t.match(
    judgeClientShape({ ...shape, status: 400, nonStreamBody: '{"error":"bad tools"}' }).message,
    /answered 400: \{"error":"bad tools"\}$/,
    "any other 400 is passed on as it is",
  );
  t.equal(contextRefusal(200, overContext), undefined, "a 200 is never a refusal");
  const large = {
    model: "m",
    requestBytes: 1_100_000,
    status: 200,
    bodyError: null,
    bodyPreview: "{}",
    schemaError: null,
  };
  t.equal(judgeLargeBody(large).status, "pass");
  t.match(
    judgeLargeBody({ ...large, status: 400, bodyPreview: overContext.replaceAll("20400", "2067") }).message,
    /1\.1 MB request body was refused with 400: its prompt \(2067 tokens\) exceeds the engine's context \(2048 tokens\)\. Raise ONEAPP_COPILOT_CONTEXT_SIZE/,
  );
  t.match(judgeLargeBody({ ...large, status: 413 }).message, /413.*client_max_body_size/);
  const burst = { ...shape, pattern: { ...shape.pattern, bursts: 1, largestBurst: 6 } };
  t.match(judgeClientShape(burst).message, /buffered: 6 chunks arrived in 1 burst.*proxy_buffering off/);
  t.match(
    judgeClientShape({ ...burst, contentEncoding: "gzip" }).message,
    /compressed \(Content-Encoding: gzip\).*gzip off/,
  );
});

t.test(
  "client-shaped payloads have the measured shape and size; the large body is over 256 KiB",
  async (t) => {
    const cline = clineShaped("devstral-small-2", "k");
    const body = JSON.parse(cline.body) as Record<string, unknown> & { tools: unknown[] };
    t.ok(Math.abs(cline.body.length - 21_700) < 300, `Cline body ${cline.body.length} bytes ≈ 21.7 KB`);
    t.equal(body.tools.length, 25);
    t.equal(cline.systemPromptBytes, 4300);
    t.equal(cline.headers["accept-encoding"], "gzip, deflate, br, zstd");
    t.equal(cline.headers.authorization, "Bearer k");
    t.same([body.tool_choice, body.stream, body.stream_options], ["auto", true, { include_usage: true }]);
    t.notOk("max_tokens" in body, "no max_tokens, as Cline");
    const cont = continueShaped("devstral-small-2", "k");
    t.ok(Math.abs(cont.body.length - 5_500) < 200, `Continue body ${cont.body.length} bytes ≈ 5.5 KB`);
    t.equal((JSON.parse(cont.body) as { tools: unknown[] }).tools.length, 9);
    t.equal(cont.headers["accept-encoding"], "gzip, deflate, br");
    const large = largeBody("m", 8);
    t.ok(large.length >= LARGE_BODY_BYTES && LARGE_BODY_BYTES > 256 * 1024, `${large.length} bytes`);
    const parsed = JSON.parse(large) as { messages: { content: string }[] };
    t.ok(JSON.stringify(parsed).length < 8_000, "the padding is JSON whitespace: the prompt stays small");
  },
);

t.test("the stand-in's tool choice, arguments and path are deterministic", async (t) => {
  const tools = [
    {
      type: "function",
      function: {
        name: "ls",
        parameters: { type: "object", properties: { dirpath: { type: "string" } }, required: ["dirpath"] },
      },
    },
    { type: "function", function: { name: "read_file", parameters: SCHEMA } },
  ];
  t.equal(chooseTool(tools)?.function?.name, "read_file", "read_file first");
  t.equal(
    chooseTool([tools[0]!, { function: { name: "ReadFile" } }])?.function?.name,
    "ReadFile",
    "else a name containing read",
  );
  t.equal(chooseTool([tools[0]!])?.function?.name, "ls", "else the first");
  t.same(chooseCall(tools, "please read notes.txt now"), {
    name: "read_file",
    arguments: { path: "notes.txt", mode: "a" },
  });
  t.same(chooseCall(tools, "what does this project do?"), {
    name: "read_file",
    arguments: { path: "README.md", mode: "a" },
  });
  t.same(
    chooseCall(tools, "read notes.txt", "scratch/hello.txt")?.arguments,
    { path: "scratch/hello.txt", mode: "a" },
    "--tool-path wins",
  );
  t.equal(mentionedPath("<task>\nOpen src/app.ts and fix it.\n</task>"), "src/app.ts");
  t.equal(mentionedPath("no file here, e.g. nothing"), undefined);
  t.same(
    minimalValue(
      {
        type: "object",
        properties: {
          n: { type: "integer", minimum: 2 },
          tags: { type: "array", minItems: 1, items: { type: "string" } },
          on: { type: "boolean" },
        },
        required: ["n", "tags", "on"],
      },
      "x",
    ),
    { n: 2, tags: ["tags"], on: false },
  );
  for (const tool of [
    ...ROUND_TRIP_TOOLS,
    ...(JSON.parse(clineShaped("m", "k").body) as { tools: typeof ROUND_TRIP_TOOLS }).tools,
  ]) {
    const args = minimalValue(tool.function.parameters, "README.md");
    t.same(
      validateJson(args, tool.function.parameters),
      [],
      `${tool.function.name}: minimal arguments are valid`,
    );
  }
});

t.test("one tool call per task: a tool result since the last text answer means text", async (t) => {
  const m = (role: string, calls = false) => ({ role, content: "x", ...(calls ? { tool_calls: [] } : {}) });
  t.equal(toolAlreadyUsed([m("system"), m("user")]), false);
  t.equal(toolAlreadyUsed([m("user"), m("assistant", true), m("tool"), m("user")]), true);
  t.equal(toolAlreadyUsed([m("user"), m("assistant", true), m("tool"), m("assistant"), m("user")]), false);
});

t.test("strict-alternation's rule: what the stock template raises on", async (t) => {
  const msgs = (...roles: string[]) => ({
    model: "m",
    messages: roles.map((role) => ({ role, content: "x", tool_call_id: "c" })),
  });
  t.equal(alternationError(msgs("system", "user", "assistant", "user")), undefined);
  t.equal(alternationError(msgs("system", "user", "assistant", "tool", "assistant", "user")), undefined);
  t.match(alternationError(msgs("system", "user", "user")), /user message after a user message/);
  t.match(alternationError(msgs("user", "assistant", "tool", "user")), /user message after a tool message/);
});

t.test("readSse decodes a gzip'd stream as it arrives and keeps per-event arrival times", async (t) => {
  const server = http.createServer((req, res) => {
    const gzip = /gzip/.test(req.headers["accept-encoding"] ?? "");
    res.writeHead(200, {
      "content-type": "text/event-stream",
      ...(gzip ? { "content-encoding": "gzip" } : {}),
    });
    const out = gzip ? zlib.createGzip() : undefined;
    out?.pipe(res);
    let n = 0;
    const timer = setInterval(() => {
      const text = n < 5 ? `data: ${chunk({ content: `t${n}` })}\n\n` : "data: [DONE]\n\n";
      if (out) {
        out.write(text);
        out.flush(); // a compressor that flushes each event: still incremental
      } else res.write(text);
      if (n++ >= 5) {
        clearInterval(timer);
        if (out) out.end();
        else res.end();
      }
    }, 40);
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const observed = await readSse({
    scheme: "http",
    host: "127.0.0.1",
    port,
    method: "GET",
    path: "/",
    timeoutMs: 5000,
    acceptEncoding: "gzip, deflate, br",
  });
  t.equal(observed.headers["content-encoding"], "gzip");
  t.equal(observed.streamError, undefined);
  t.same(observed.events.map((e) => e.data).at(-1), "[DONE]");
  t.equal(observed.events.length, 6);
  const arrivals = observed.events.map((e) => e.arrivedAt);
  t.ok(
    (arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0) > 120,
    "decoded events keep their spread-out arrival times",
  );
  const plain = await readSse({
    scheme: "http",
    host: "127.0.0.1",
    port,
    method: "GET",
    path: "/",
    timeoutMs: 5000,
  });
  t.equal(plain.headers["content-encoding"], undefined, "identity by default");
  t.equal(plain.events.length, 6);
});

t.test("readSse stops a gzip bomb at the stream bound and names it", async (t) => {
  const bomb = zlib.gzipSync(Buffer.alloc(20 * 1024 * 1024, "a"));
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream", "content-encoding": "gzip" });
    res.end(bomb);
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const observed = await readSse({
    scheme: "http",
    host: "127.0.0.1",
    port,
    method: "GET",
    path: "/",
    timeoutMs: 5000,
    acceptEncoding: "gzip",
  });
  t.equal(observed.streamError?.kind, "too-large");
  t.match(observed.streamError?.message, /event larger than 1048576 bytes|stream larger than/);
});

t.test(
  "the stand-in engine's tool-call wire format (what the real-clients lab test relies on)",
  async (t) => {
    const sim = await simulator(t, { schedule: { toolPath: "scratch/hello.txt" } });
    const post = async (body: object) =>
      httpRequest({
        scheme: "http",
        host: sim.host,
        port: sim.enginePort,
        method: "POST",
        path: "/v1/chat/completions",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "devstral-small-2", ...body }),
        timeoutMs: 5000,
      });
    const model = (
      JSON.parse(
        (
          await httpRequest({
            scheme: "http",
            host: sim.host,
            port: sim.enginePort,
            method: "GET",
            path: "/v1/models",
            timeoutMs: 5000,
          })
        ).body.toString(),
      ) as { data: { id: string }[] }
    ).data[0]?.id;
    const user = [{ role: "user", content: "read notes.txt" }];
    const streamed = await post({
      model,
      messages: user,
      tools: ROUND_TRIP_TOOLS,
      stream: true,
      stream_options: { include_usage: true },
    });
    const events = streamed.body
      .toString()
      .split("\n\n")
      .filter((e) => e.startsWith("data: ") && !e.includes("[DONE]"))
      .map(
        (e) =>
          JSON.parse(e.slice(6)) as {
            choices: {
              delta: {
                tool_calls?: {
                  index: number;
                  id?: string;
                  type?: string;
                  function: { name?: string; arguments: string };
                }[];
              };
              finish_reason: string | null;
            }[];
            usage?: object;
          },
      );
    const deltas = events.flatMap((e) => e.choices.flatMap((c) => c.delta.tool_calls ?? []));
    t.match(deltas[0], {
      index: 0,
      id: /^call_/,
      type: "function",
      function: { name: "read_file", arguments: "" },
    });
    t.ok(deltas.length >= 3, `the arguments come in ${deltas.length - 1} fragments`);
    t.ok(
      deltas
        .slice(1)
        .every((d) => d.id === undefined && d.function.name === undefined && d.function.arguments.length > 0),
    );
    t.equal(
      deltas.map((d) => d.function.arguments).join(""),
      '{"path":"scratch/hello.txt"}',
      "--tool-path names the file",
    );
    t.same(events.flatMap((e) => e.choices.map((c) => c.finish_reason)).filter(Boolean), ["tool_calls"]);
    t.ok(events.at(-1)?.usage, "usage in the last chunk");
    const plain = JSON.parse(
      (await post({ model, messages: user, tools: ROUND_TRIP_TOOLS })).body.toString(),
    ) as { choices: { message: { content: unknown; tool_calls: unknown[] }; finish_reason: string }[] };
    t.match(plain.choices[0], {
      message: { content: null, tool_calls: [{ type: "function", function: { name: "read_file" } }] },
      finish_reason: "tool_calls",
    });
    const after = [
      ...user,
      { role: "assistant", content: null, tool_calls: plain.choices[0]?.message.tool_calls },
      { role: "tool", tool_call_id: "x", content: "hello" },
    ];
    const text = JSON.parse(
      (await post({ model, messages: after, tools: ROUND_TRIP_TOOLS })).body.toString(),
    ) as { choices: { message: { content: string }; finish_reason: string }[] };
    t.equal(text.choices[0]?.finish_reason, "stop", "after a tool result: text that ends by itself");
    t.ok(text.choices[0]?.message.content.length);
    const capped = JSON.parse((await post({ model, messages: user, max_tokens: 5 })).body.toString()) as {
      choices: { finish_reason: string }[];
    };
    t.equal(capped.choices[0]?.finish_reason, "length", "no tools and max_tokens: up to the cap");
  },
);

t.test(
  "each turn of both tool-call round trips sends max_tokens: the larger of --max-tokens and 128",
  async (t) => {
    const sim = await simulator(t);
    for (const maxTokens of [12, 300]) {
      const access = accessFor(sim, { maxTokens });
      const probes = createProbes(access);
      const sent: unknown[] = [];
      const record = (body: string | undefined) => {
        if (body !== undefined) sent.push((JSON.parse(body) as { max_tokens?: unknown }).max_tokens);
      };
      const recording: Probes = {
        ...probes,
        https: (spec) => (record(spec.body), probes.https(spec)),
        sse: (spec) => (record(spec.body), probes.sse(spec)),
      };
      const suite = { name: "clients", title: "tool calls", checks: [toolCallStreamed, toolCallCompletion] };
      const results = await runSuites([suite], createContext(access, recording));
      t.same(
        results.map((r) => [r.id, r.status]),
        [
          ["clients.tool-call-streamed", "pass"],
          ["clients.tool-call-completion", "pass"],
        ],
        `bounded, the stand-in still answers the tool result with finish_reason stop: ${results.map((r) => r.message).join("; ")}`,
      );
      const bound = Math.max(maxTokens, TOOL_CALL_MIN_MAX_TOKENS);
      t.same(
        sent,
        [bound, bound, bound, bound],
        `--max-tokens ${maxTokens}: call and answer, streamed and not`,
      );
    }
  },
);
