// A 500 tok/s engine's stream: its 2 ms gaps between chunks must still count as separate arrivals,
// and a buffering front must still be flagged at that speed. scripts/test.sh runs this file alone:
// beside other tests' CPU the harness reads the chunks late and merges them.
import t from "tap";
import { accessFor, runAgainst, simulator } from "./helpers.ts";

t.test("a fast engine (500 tok/s) streams unbuffered; buffered at that speed it still fails", async (t) => {
  const schedule = { tokensPerSecond: 500, ttftMs: 20 };
  const fast = await simulator(t, { schedule });
  const results = await runAgainst(accessFor(fast, { maxTokens: 24 }), ["streaming"]);
  const incremental = results.get("streaming.incremental");
  t.equal(incremental?.status, "pass", String(incremental?.message));
  t.equal(results.get("streaming.sse-format")?.status, "pass");
  const buffered = await simulator(t, { schedule, defects: ["buffered-sse"] });
  const flagged = (await runAgainst(accessFor(buffered, { maxTokens: 24 }), ["streaming"])).get(
    "streaming.incremental",
  );
  t.equal(flagged?.status, "fail");
  t.match(flagged?.message, /buffered: 24 chunks arrived in 1 burst.*proxy_buffering off/);
});
