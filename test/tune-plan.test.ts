// The pure core of `slmc-check tune`: which thread counts, the steps in order, restore whatever
// happens, and the recommendation from the measurements (exact numbers).
import t from "tap";
import {
  describePlan,
  executeTune,
  recommend,
  threadCounts,
  tunePlan,
  type TuneMeasurement,
  type TuneOps,
} from "../src/bench/tune.ts";

t.test("thread counts: powers of two below the vCPU count, then the vCPU count", async (t) => {
  t.same(threadCounts(1), [1]);
  t.same(threadCounts(2), [1, 2]);
  t.same(threadCounts(6), [1, 2, 4, 6]);
  t.same(threadCounts(16), [1, 2, 4, 8, 16]);
  t.same(threadCounts(24), [1, 2, 4, 8, 16, 24]);
  for (const bad of [0, -1, 1.5, 513, Number.NaN])
    t.throws(() => threadCounts(bad), /vCPU count must be a whole number from 1 to 512/, `${bad} refused`);
});

t.test("the plan sets, measures, and always ends with restore", async (t) => {
  t.same(tunePlan(4), [
    { kind: "set-threads", threads: 1 },
    { kind: "measure", threads: 1 },
    { kind: "set-threads", threads: 2 },
    { kind: "measure", threads: 2 },
    { kind: "set-threads", threads: 4 },
    { kind: "measure", threads: 4 },
    { kind: "restore" },
  ]);
  const lines = describePlan(16, { threads: 8, source: "ONEAPP_COPILOT_THREADS" });
  t.match(lines[0], /restarts the engine 6 times: the appliance answers no requests meanwhile/);
  t.match(lines[1], /threads to measure: 1, 2, 4, 8, 16 \(vCPUs: 16\)/);
  t.match(
    lines[2],
    /restores the original: 8 threads \(ONEAPP_COPILOT_THREADS\), the tuning override removed/,
  );
});

/** Fake operations that log every call; `fail` makes one step fail. */
function fakeOps(fail: { setThreads?: number; measure?: number; restore?: boolean } = {}) {
  const calls: string[] = [];
  const ops: TuneOps = {
    setThreads: async (n) => {
      calls.push(`set ${n}`);
      if (fail.setThreads === n) throw new Error(`engine did not come back with ${n} threads`);
    },
    measure: async (n) => {
      calls.push(`measure ${n}`);
      if (fail.measure === n)
        return { threads: n, prefill_tok_s: null, decode_tok_s: null, error: "timeout" };
      return { threads: n, prefill_tok_s: 10 * n, decode_tok_s: 2 * n };
    },
    restore: async () => {
      calls.push("restore");
      if (fail.restore) throw new Error("configure failed");
    },
  };
  return { ops, calls };
}

t.test("restore runs after a full sweep, a failed measurement and a failed restart", async (t) => {
  const full = fakeOps();
  const done = await executeTune(tunePlan(2), full.ops);
  t.same(full.calls, ["set 1", "measure 1", "set 2", "measure 2", "restore"]);
  t.equal(done.restored, true);
  t.equal(done.measurements.length, 2);

  const measureFails = fakeOps({ measure: 2 });
  const partial = await executeTune(tunePlan(4), measureFails.ops);
  t.same(
    measureFails.calls,
    ["set 1", "measure 1", "set 2", "measure 2", "restore"],
    "sweep stops, restore runs",
  );
  t.equal(partial.stoppedBecause, "2 threads: timeout");
  t.equal(partial.restored, true);

  const restartFails = fakeOps({ setThreads: 2 });
  const down = await executeTune(tunePlan(4), restartFails.ops);
  t.same(restartFails.calls, ["set 1", "measure 1", "set 2", "restore"]);
  t.equal(down.stoppedBecause, "engine did not come back with 2 threads");
  t.equal(down.restored, true);

  const restoreFails = fakeOps({ restore: true });
  const unrestored = await executeTune(tunePlan(1), restoreFails.ops);
  t.equal(unrestored.restored, false, "a failed restore is reported, not hidden");
  t.equal(unrestored.restoreError, "configure failed");
});

t.test("the recommendation: shortest reference turn, ties to fewer threads, failures excluded", async (t) => {
  const m = (
    threads: number,
    prefill: number | null,
    decode: number | null,
    error?: string,
  ): TuneMeasurement => ({
    threads,
    prefill_tok_s: prefill,
    decode_tok_s: decode,
    ...(error ? { error } : {}),
  });
  // Turn = 2000 / prefill + 300 / decode: 1 → 200 + 150 = 350 s; 2 → 100 + 75 = 175 s;
  // 4 → 50 + 60 = 110 s; 8 → 40 + 60 = 100 s; 16 → 25 + 75 = 100 s (bandwidth-bound decode falls).
  const r = recommend([m(16, 80, 4), m(1, 10, 2), m(2, 20, 4), m(4, 40, 5), m(8, 50, 5)]);
  t.same(
    r.table.map((row) => [row.threads, row.turn_s]),
    [
      [1, 350],
      [2, 175],
      [4, 110],
      [8, 100],
      [16, 100],
    ],
    "rows by thread count, turn seconds exact",
  );
  t.equal(r.threads, 8, "8 and 16 tie at 100 s: the fewer threads");
  t.match(
    r.reason,
    /^ONEAPP_COPILOT_THREADS=8: the shortest reference turn \(2000 prompt tokens evaluated \+ 300 generated\) at 100\.0 s$/,
  );
  t.equal(r.table[2]?.slower_than_best_pct, 10);
  t.equal(r.table[3]?.note, "recommended");

  const nearTie = recommend([m(4, 40, 5), m(8, 41, 5.2)]);
  // 4 → 50 + 60 = 110 s; 8 → 48.78 + 57.69 = 106.47 s: 3.3 % slower than the best, outside the tie.
  t.equal(nearTie.threads, 8);
  const withinTie = recommend([m(4, 40, 5), m(8, 40.5, 5.1)]);
  // 8 → 49.38 + 58.82 = 108.2 s; 4 is 1.7 % slower: within 3 %, so 4.
  t.equal(withinTie.threads, 4);
  t.match(withinTie.reason, /8 threads were 1\.7 % faster, within the 3 % tie/);

  const failed = recommend([m(1, 10, 2), m(2, null, null, "timeout")]);
  t.equal(failed.threads, 1, "a failed count is never recommended");
  t.equal(failed.table[1]?.note, "failed: timeout");
  t.equal(failed.table[1]?.turn_s, null);

  const nothing = recommend([m(1, null, 3), m(2, 0, 4)]);
  t.equal(nothing.threads, null);
  t.match(nothing.reason, /nothing to recommend/);
});
