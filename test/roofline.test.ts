// The decode roofline: read bandwidth with the engine's threads ÷ bytes read per token, and a verdict
// that never shows decode above 100 %: a measured rate over the roofline makes it invalid. The probe
// itself runs here with python3 (structure and thread count only; its rate is a measurement, not a
// test), and its SSH command is one fixed string (test/ssh-commands.test.ts holds the audit).
import t from "tap";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import {
  judgeRoofline,
  parseReadBandwidth,
  READ_BANDWIDTH_COMMAND,
  READ_BANDWIDTH_SCRIPT,
  rooflineTokS,
} from "../src/bench/roofline.ts";

/** The generated 500m Q8_0 model's bytes read per token (fixtures/gguf/model.ts). */
const BYTES_500M_Q8 = 535_581_760;

t.test("roofline = read bandwidth / bytes read per token", async (t) => {
  t.equal(rooflineTokS(20e9, 4e8), 50);
  t.equal(Math.round(rooflineTokS(21.6e9, BYTES_500M_Q8)! * 10) / 10, 40.3);
  t.equal(rooflineTokS(null, BYTES_500M_Q8), null, "no bandwidth, no roofline");
  t.equal(rooflineTokS(20e9, null), null, "no model size, no roofline");
  t.equal(rooflineTokS(20e9, 0), null, "a zero size is not a size");
  t.equal(rooflineTokS(0, BYTES_500M_Q8), null, "a zero bandwidth is not a measurement");
});

t.test("a measured decode above the roofline makes it invalid instead of > 100 %", async (t) => {
  // The case that exposed the old probe: 37.5 tok/s from single-thread copy bandwidth while
  // llama-bench decoded 40.4 tok/s on the same host with 2 threads.
  const copyBased = judgeRoofline(37.5, { "llama-bench": 40.4, https: 31.6 });
  t.equal(copyBased.valid, false);
  t.same(copyBased.pct, { "llama-bench": null, https: null }, "no percentage from an invalid roofline");
  t.match(
    copyBased.note,
    /roofline invalid: measured decode \(llama-bench 40\.4 tok\/s\) exceeds the roofline of 37\.5 tok\/s/,
  );
  t.match(copyBased.note, /engine's thread count/, "the note says what to do");

  const sound = judgeRoofline(45, { in_process: 27.9, nginx_https: 31.6, absent: null });
  t.equal(sound.valid, true);
  t.equal(Math.round(sound.pct.in_process! * 10) / 10, 62);
  t.equal(Math.round(sound.pct.nginx_https! * 10) / 10, 70.2);
  t.equal(sound.pct.absent, null, "a missing rate stays missing");

  t.equal(judgeRoofline(40.4, { exact: 40.4 }).valid, true, "decode equal to the roofline is allowed");
  const none = judgeRoofline(null, { https: 3 });
  t.equal(none.valid, null);
  t.same(none.pct, { https: null });
});

t.test("the probe's output is parsed strictly; anything else is no measurement", async (t) => {
  const good = JSON.stringify({
    threads: 2,
    threads_source: "model YAML threads",
    bytes_per_thread: 536870912,
    passes: 2,
    runs_bytes_per_s: [1e10, 1.2e10, 1.1e10],
    read_bytes_per_s: 1.1e10,
  });
  t.same(parseReadBandwidth(`noise\n${good}\n`), {
    threads: 2,
    threadsSource: "model YAML threads",
    bytesPerThread: 536870912,
    readBytesPerS: 1.1e10,
    runsBytesPerS: [1e10, 1.2e10, 1.1e10],
  });
  const bad = (patch: Record<string, unknown>) =>
    parseReadBandwidth(JSON.stringify({ ...JSON.parse(good), ...patch }));
  t.equal(parseReadBandwidth(""), null, "empty");
  t.equal(parseReadBandwidth("$(touch /root/x)"), null, "not JSON");
  t.equal(parseReadBandwidth("null"), null, "JSON null");
  t.equal(bad({ threads: 0 }), null, "zero threads");
  t.equal(bad({ threads: "2" }), null, "threads as text");
  t.equal(bad({ read_bytes_per_s: -1 }), null, "negative rate");
  t.equal(bad({ read_bytes_per_s: 1e20 }), null, "implausible rate");
  t.equal(bad({ runs_bytes_per_s: ["x"] }), null, "a run that is not a rate");
});

t.test("the probe command is one fixed string that runs the script", async (t) => {
  t.equal(
    READ_BANDWIDTH_COMMAND,
    `python3 -c "$(echo ${Buffer.from(READ_BANDWIDTH_SCRIPT).toString("base64")} | base64 -d)"`,
  );
  t.match(READ_BANDWIDTH_COMMAND, /^python3 -c "\$\(echo [A-Za-z0-9+/=]+ \| base64 -d\)"$/, "no other text");
  t.match(READ_BANDWIDTH_SCRIPT, /\.find\(b"\\x02"\)/, "reads (memchr), never copies");
  t.notMatch(READ_BANDWIDTH_SCRIPT, /bytes\(buf\)|\.copy|memcpy/, "no copy counted as bandwidth");
});

const run = (...args: string[]) =>
  parseReadBandwidth(
    execFileSync("python3", ["-c", READ_BANDWIDTH_SCRIPT, ...args], { encoding: "utf8", timeout: 120_000 }),
  );

t.test("the probe runs with the thread count it is given and says so", async (t) => {
  const two = run("2", "128");
  t.ok(two, "a measurement");
  t.equal(two?.threads, 2, "2 processes read");
  t.equal(two?.threadsSource, "argument");
  t.equal(two?.bytesPerThread, 64 * 2 ** 20, "128 MiB split over 2, at least 64 MiB each");
  t.equal(two?.runsBytesPerS.length, 5, "5 runs, the median reported");
  t.ok((two?.readBytesPerS ?? 0) > 0);
});

t.test(
  "without a thread count or a model YAML the probe uses the vCPU count",
  {
    skip: existsSync("/var/lib/local-ai/models")
      ? "this host has a LocalAI models directory: the fallback cannot be observed"
      : false,
  },
  async (t) => {
    const fallback = run("auto", "128");
    t.equal(fallback?.threadsSource, "vCPU count");
    t.equal(fallback?.threads, cpus().length);
  },
);
