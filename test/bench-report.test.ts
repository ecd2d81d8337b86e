// `slmc-check bench` through the compiled binary against the embedded simulated appliance: the table,
// the JSON report (every sample, aggregates, definitions), the HTML report opened in headless
// Chromium with its charts rendered, the buffering defect flagged, and --compare's exit codes. Then
// the output flags (--format, --out, --report; no file unless asked, paths checked before the run),
// indicative percentiles, open loop with goodput, a wrong-object chunk and --deadline as exit 1.
import t from "tap";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runProcess, type Run } from "./spawn.ts";

const SLMC = resolve(import.meta.dirname, "../dist/slmc-check");
const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((path) => existsSync(path));

const slmc = (args: string[], cwd?: string): Promise<Run> =>
  runProcess(SLMC, args, { NO_COLOR: "1" }, 120_000, cwd);

interface Report {
  schema_version: number;
  definitions: Record<string, string>;
  plan: { mode: string };
  levels: {
    aggregate: {
      concurrency: number;
      completed: number;
      attempted: number;
      distributions: Record<string, { indicative: boolean } | null>;
      goodput?: { started: number; met: number; share: number };
    };
    samples: { ttft_ms: number; prompt: string }[];
  }[];
  warmup: unknown[];
  findings: { code: string }[];
  notes: string[];
}

t.test("bench demo: table, JSON, HTML rendered in headless Chromium, compare", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-bench-report-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const json = join(dir, "healthy.json");
  const html = join(dir, "healthy.html");
  const healthy = await slmc(
    [
      "bench",
      "demo",
      "--concurrency",
      "1,2",
      "--requests",
      "4",
      "--max-tokens",
      "12",
      "--report",
      "json:healthy.json",
      "--report",
      "html:healthy.html",
    ],
    dir,
  );
  t.equal(healthy.code, 0, `healthy simulator: no finding\n${healthy.stderr}`);
  t.same((await readdir(dir)).sort(), ["healthy.html", "healthy.json"], "the files asked for, no other");
  t.match(healthy.stdout, /agg tok\/s .*TTFT p50/, "the table");
  t.match(healthy.stdout, /SIMULATED appliance/, "the table says the target was simulated");
  t.match(healthy.stderr, /concurrency 2: 4\/4 requests/, "progress per level");
  t.match(healthy.stdout, /^ {2}2 +4\/4 +2 .* ~\d+\.\d /m, "4 samples: the percentiles carry ~");
  t.match(healthy.stdout, /^~ indicative: a percentile from fewer than 10 samples/m);
  const report = JSON.parse(await readFile(json, "utf8")) as Report;
  t.equal(report.schema_version, 1);
  t.same(
    report.levels.map((l) => [l.aggregate.concurrency, l.aggregate.completed]),
    [
      [1, 4],
      [2, 4],
    ],
  );
  t.equal(report.levels[0]!.aggregate.distributions.ttft_ms!.indicative, true, "JSON: indicative");
  t.match(
    await readFile(html, "utf8"),
    /<td class="indicative" title="indicative: 4 samples, fewer than 10">~/,
  );
  t.equal(report.levels[0]!.samples.length, 4, "every sample is in the report");
  t.equal(report.warmup.length, 1, "the warm-up request is kept apart");
  t.match(report.definitions.ttft_ms, /first event whose delta has non-empty content/);
  t.notMatch(await readFile(json, "utf8"), /"password"/, "no credentials in the report");

  if (!CHROMIUM)
    t.fail("chromium is not installed (make test installs it as root: apt-get install chromium)");
  else {
    const dom = await new Promise<string>((done, failed) =>
      execFile(
        CHROMIUM,
        ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", `file://${html}`],
        { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout) => (error && !stdout ? failed(error) : done(stdout)),
      ),
    );
    t.match(dom, /<body data-charts-rendered="4" data-charts-total="4">/, "all four SVG charts rendered");
    t.match(dom, /aggregate output tok\/s vs concurrency/);
    t.notMatch(await readFile(html, "utf8"), /(src|href)="https?:/, "no external assets");
  }

  const bufferedJson = join(dir, "buffered.json");
  const buffered = await slmc([
    "bench",
    "demo",
    "--defect",
    "buffered-sse",
    "--requests",
    "2",
    "--max-tokens",
    "12",
    "--json",
    bufferedJson,
  ]);
  t.equal(buffered.code, 1, "a flagged finding fails the run");
  t.match(buffered.stdout, /FLAG: 2 of 2 streams arrived all at once/);

  const same = await slmc(["bench", "--compare", json, json]);
  t.equal(same.code, 0);
  t.match(same.stdout, /no regression/);
  const worse = await slmc(["bench", "--compare", json, bufferedJson]);
  t.equal(worse.code, 1, "a regression exits 1");
  t.match(worse.stdout, /ttft_ms p50 .*REGRESSION/);
  await writeFile(join(dir, "other.json"), '{"hello": 1}');
  const invalid = await slmc(["bench", "--compare", json, join(dir, "other.json")]);
  t.equal(invalid.code, 2);
  t.match(invalid.stderr, /is not a slmc-check bench report: schema_version/);
  const missing = await slmc(["bench", "--compare", json]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /bench --compare needs two reports/);
});

t.test("bench --help prints the metric definitions", async (t) => {
  const help = await slmc(["bench", "--help"]);
  t.equal(help.code, 0);
  t.match(help.stdout, /decode_tok_s +\(N_out − k1\) \/ \(decode_ms \/ 1000\)/);
  t.match(help.stdout, /ttft_ms +t_c1 − t0/);
});

t.test("bench output flags: no file unless asked, paths and --requests checked before the run", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-bench-out-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const unwritable = await slmc(["bench", "demo", "--out", join(dir, "missing", "r.json")], dir);
  t.equal(unwritable.code, 2);
  t.match(unwritable.stderr, /--out .*missing\/r\.json: .* cannot be created: directory .* is missing/);
  t.notMatch(unwritable.stderr, /^bench /m, "refused before any request");
  const few = await slmc(["bench", "demo", "--sweep", "--requests", "3"], dir);
  t.equal(few.code, 2);
  t.match(few.stderr, /--requests 3 is fewer than 2 × concurrency 8 .*give --requests 16 or more/);
  const huge = await slmc(["bench", "demo", "--rate", "1000", "--duration", "60"], dir);
  t.equal(huge.code, 2);
  t.match(huge.stderr, /60000 arrivals, more than 10000: lower --rate or --duration/);
  const tap = await slmc(["bench", "demo", "--format", "tap"], dir);
  t.equal(tap.code, 2);
  t.match(tap.stderr, /--format tap: bench writes pretty, json, html/);

  const asJson = await slmc(
    ["bench", "demo", "--format", "json", "--requests", "2", "--warmup", "0", "--max-tokens", "8"],
    dir,
  );
  t.equal(asJson.code, 0, asJson.stderr);
  t.equal((JSON.parse(asJson.stdout) as Report).levels[0]!.aggregate.completed, 2, "--format json: stdout");
  t.same(await readdir(dir), [], "nothing written to the working directory");

  const out = await slmc(["bench", "demo", "--format", "html", "--out", "r.html", "--requests", "2"], dir);
  t.equal(out.code, 0, out.stderr);
  t.equal(out.stdout, "", "--out: the report goes to the file only");
  t.match(await readFile(join(dir, "r.html"), "utf8"), /^<!doctype html>/);
});

t.test("bench --rate: open loop with goodput in every output", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-bench-rate-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const run = async (slo: string[]) => {
    const result = await slmc(
      [
        "bench",
        "demo",
        "--rate",
        "8",
        "--duration",
        "1",
        "--seed",
        "5",
        // 32 tokens take ~800 ms to decode: only a stall of most of that (not a loaded host's
        // scheduling delay) would make a stream look buffered and flag the run (exit 1).
        "--max-tokens",
        "32",
        ...slo,
        "--report",
        "json:r.json",
        "--report",
        "html:r.html",
      ],
      dir,
    );
    return {
      ...result,
      report: JSON.parse(await readFile(join(dir, "r.json"), "utf8")) as Report,
      html: await readFile(join(dir, "r.html"), "utf8"),
    };
  };
  // The simulator's first token comes after ~150 ms at 40 tok/s: a generous SLO is met by every
  // request, a 1 ms TTFT by none.
  const met = await run(["--slo-ttft", "10000", "--slo-decode", "1"]);
  t.equal(met.code, 0, `${met.stdout}\n${met.stderr}`);
  t.equal(met.report.plan.mode, "open-loop");
  const level = met.report.levels[0]!.aggregate;
  t.ok(level.attempted > 0, `${level.attempted} arrivals`);
  t.match(level.goodput, { started: level.attempted, met: level.attempted, share: 1 });
  t.match(met.stdout, /^ +8\/s +\d+\/\d+ /m, "the table's row is the rate");
  t.match(
    met.stdout,
    /^open loop at 8\/s: \d+ arrivals sent ~?[\d.]+ ms \(p50\), ~?[\d.]+ ms \(p99\) after they were due$/m,
  );
  t.match(
    met.stdout,
    /goodput at rate 8\/s: (\d+) of \1 requests met TTFT ≤ 10000 ms and decode ≥ 1 tok\/s \(100\.0%/,
  );

  t.match(
    met.html,
    /<p>open loop at 8\/s: \d+ arrivals sent .* after they were due<\/p>/,
    "HTML: the send lag",
  );
  const missed = await run(["--slo-ttft", "1"]);
  t.equal(missed.code, 0, `goodput is a figure, not a failure\n${missed.stdout}\n${missed.stderr}`);
  t.match(missed.report.levels[0]!.aggregate.goodput, { met: 0, share: 0 });
  t.match(missed.stdout, /goodput at rate 8\/s: 0 of \d+ requests met TTFT ≤ 1 ms \(0\.0%/);
  t.match(missed.html, /<h2>Goodput<\/h2><ul><li>goodput at rate 8\/s: 0 of \d+ requests met TTFT ≤ 1 ms/);
});

t.test("bench exits 1 on failed requests, with their cause", async (t) => {
  const wrong = await slmc([
    "bench",
    "demo",
    "--defect",
    "wrong-chunk-object",
    "--requests",
    "2",
    "--warmup",
    "0",
  ]);
  t.equal(wrong.code, 1);
  t.match(
    wrong.stdout,
    /FLAG: 2 of 2 requests failed: chunk #1 has object "chat\.completion", expected "chat\.completion\.chunk"/,
  );
  const cut = await slmc(["bench", "demo", "--deadline", "1", "--max-tokens", "400", "--requests", "2"]);
  t.equal(cut.code, 1, "the deadline cut a request: it failed");
  t.match(cut.stdout, /FLAG: 1 of 1 warm-up requests failed: cut by the run's --deadline of 1 s/);
  t.match(cut.stdout, /the run's --deadline of 1 s; concurrency 1 not run/);
});
