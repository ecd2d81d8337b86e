// `slmc-check bench` through the compiled binary against the embedded simulated appliance: the table,
// the JSON report (every sample, aggregates, definitions), the HTML report opened in headless
// Chromium with its charts rendered, the buffering defect flagged, and --compare's exit codes.
import t from "tap";
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const SLMC = resolve(import.meta.dirname, "../dist/slmc-check");
const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((path) => existsSync(path));

function slmc(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(SLMC, args, { env: { PATH: process.env.PATH ?? "", NO_COLOR: "1" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

interface Report {
  schema_version: number;
  definitions: Record<string, string>;
  levels: {
    aggregate: { concurrency: number; completed: number };
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
  const healthy = await slmc([
    "bench",
    "demo",
    "--concurrency",
    "1,2",
    "--requests",
    "3",
    "--max-tokens",
    "12",
    "--json",
    json,
    "--html",
    html,
  ]);
  t.equal(healthy.code, 0, `healthy simulator: no finding\n${healthy.stderr}`);
  t.match(healthy.stdout, /agg tok\/s .*TTFT p50/, "the table");
  t.match(healthy.stdout, /SIMULATED appliance/, "the table says the target was simulated");
  t.match(healthy.stderr, /concurrency 2: 3\/3 requests/, "progress per level");
  const report = JSON.parse(await readFile(json, "utf8")) as Report;
  t.equal(report.schema_version, 1);
  t.same(
    report.levels.map((l) => [l.aggregate.concurrency, l.aggregate.completed]),
    [
      [1, 3],
      [2, 3],
    ],
  );
  t.equal(report.levels[0]!.samples.length, 3, "every sample is in the report");
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
    "--html",
    join(dir, "buffered.html"),
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
