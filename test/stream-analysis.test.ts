// The arrival analysis behind SEC-08 and the SSE validation behind INFER-02, on hand-made inputs.
import t from "tap";
import type { SseObservation } from "../src/probes/sse.ts";
import { analyzeEvents, arrivalPattern } from "../suites/streaming.ts";

t.test("bursts split on gaps of at least gapMs", async (t) => {
  t.match(arrivalPattern([100, 125, 150, 175], 5), { chunks: 4, bursts: 4, largestBurst: 1, spreadMs: 75 });
  t.match(arrivalPattern([900, 900.2, 900.4, 901], 5), { chunks: 4, bursts: 1, largestBurst: 4 });
  t.match(arrivalPattern([100, 101, 300, 301, 302], 5), { bursts: 2, largestBurst: 3 });
  t.match(arrivalPattern([], 5), { chunks: 0, bursts: 0 });
});

function observation(datas: string[]): SseObservation {
  return {
    status: 200,
    headers: { "content-type": "text/event-stream" },
    events: datas.map((data, i) => ({ data, arrivedAt: 1000 + i * 10 })),
    comments: 0,
    timings: { start: 1000, connected: 1000, firstByte: 1000, end: 2000 },
  };
}

const chunk = (delta: object, extra: object = {}) =>
  JSON.stringify({
    id: "x",
    object: "chat.completion.chunk",
    created: 1,
    model: "m",
    choices: [{ index: 0, delta, finish_reason: null }],
    ...extra,
  });

t.test("role-only chunks are not content; usage-only trailer is read", async (t) => {
  const analysis = analyzeEvents(
    observation([
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "a" }),
      chunk({ content: "b" }),
      JSON.stringify({
        id: "x",
        object: "chat.completion.chunk",
        created: 1,
        model: "m",
        choices: [],
        usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
      }),
      "[DONE]",
    ]),
  );
  t.equal(analysis.contentChunks, 2);
  t.equal(analysis.content, "ab");
  t.same(analysis.contentArrivalsMs, [10, 20]);
  t.equal(analysis.usage?.completion_tokens, 2);
  t.equal(analysis.doneSeen, true);
});

t.test("malformed, off-schema and post-[DONE] events are all counted", async (t) => {
  const analysis = analyzeEvents(
    observation([
      chunk({ content: "a" }),
      "{not json",
      JSON.stringify({ choices: "no" }),
      "[DONE]",
      chunk({ content: "late" }),
    ]),
  );
  t.equal(analysis.parseErrors.length, 1);
  t.match(analysis.parseErrors[0], /event #2 is not JSON/);
  t.equal(analysis.schemaErrors.length, 1);
  t.equal(analysis.eventsAfterDone, 1);
});
