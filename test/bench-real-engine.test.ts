// `slmc-check bench` (the compiled binary) against real inference: the stand-in's llama.cpp backend
// (node-llama-cpp, a generated 1.2M-parameter GGUF: the test judges the report, not the speed) behind
// the appliance's real nginx site on loopback.
// It must print the table and write JSON and HTML with real token counts. Figures are not asserted
// (this is not a timed test); `npm run bench:real-engine` is the benchmark.
import t from "tap";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createEngine, DEFAULT_SCHEDULE } from "../src/sim/engine/app.ts";
import { createLlamaCppBackend } from "../fixtures/engine/llama-backend.ts";
import { llamaPackage } from "../fixtures/engine/llama-cpp.ts";
import { writeCachedModel } from "../fixtures/model-cache.ts";
import { NGINX_BIN, startRealNginx } from "../fixtures/nginx/real-nginx.ts";
import { serveFetch } from "../src/core/serve.ts";
import { runProcess } from "./spawn.ts";

const SLMC = resolve(import.meta.dirname, "../dist/slmc-check");
const installed = llamaPackage() !== undefined;

if (!installed && process.env.SLMC_REQUIRE_LLAMA === "1") {
  t.fail("node-llama-cpp is not installed: scripts/llama-deps.sh (make test runs it) must install it");
} else if (!installed || !existsSync(NGINX_BIN)) {
  t.pass(`skipped: needs the node-llama-cpp binding (scripts/llama-deps.sh) and nginx at ${NGINX_BIN}`, {
    skip: true,
  });
} else {
  t.test("bench through the appliance's nginx against real llama.cpp", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "slmc-bench-llama-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    writeCachedModel({ path: join(dir, "small.gguf"), size: "1m", type: "q8_0", seed: 1 });
    await writeFile(
      join(dir, "devstral-small-2.yaml"),
      "name: devstral-small-2\ncontext_size: 1024\nparameters:\n  model: small.gguf\n",
    );
    const backend = await createLlamaCppBackend({ threads: 1, contextSize: 1024 });
    const engine = createEngine({
      modelsPath: dir,
      threads: 1,
      contextSize: 1024,
      loadMs: 0,
      schedule: DEFAULT_SCHEDULE,
      defects: new Set(),
      backend,
    });
    await engine.ready;
    const served = await serveFetch(engine.app.fetch, "127.0.0.1", 0);
    const password = "Real.Engine-42";
    const nginx = await startRealNginx({ enginePort: served.port, password });
    t.teardown(async () => {
      await nginx.stop();
      await served.close();
      await backend.close();
    });
    await writeFile(join(dir, "ca.pem"), nginx.certificatePem);
    await writeFile(join(dir, "password"), `${password}\n`);
    const json = join(dir, "bench.json");
    const html = join(dir, "bench.html");
    const run = await runProcess(
      SLMC,
      [
        "bench",
        "127.0.0.1",
        "--https-port",
        String(nginx.httpsPort),
        "--ca",
        join(dir, "ca.pem"),
        "--password-file",
        join(dir, "password"),
        "--no-ssh",
        "--prompt-set",
        "short",
        "--requests",
        "2",
        "--max-tokens",
        "48",
        "--fixed-length",
        "--json",
        json,
        "--html",
        html,
      ],
      {},
      240_000,
    );
    t.equal(run.code, 0, "no finding flagged against real llama.cpp behind nginx", {
      stdout: run.stdout,
      stderr: run.stderr,
    });
    t.match(run.stdout, /agg tok\/s/, "the table");
    t.match(
      run.stdout,
      /note: the target serves the slmc STAND-IN engine \(NOT LocalAI\)/,
      "the stand-in says so",
    );
    const report = JSON.parse(await readFile(json, "utf8")) as {
      levels: {
        aggregate: { completed: number };
        samples: {
          n_out: number;
          n_out_source: string;
          token_counts: { usage?: number; timings?: number };
          server_decode_tok_s: number | null;
          decode_tok_s: number | null;
        }[];
      }[];
    };
    const samples = report.levels[0]?.samples ?? [];
    t.equal(report.levels[0]?.aggregate.completed, 2);
    t.ok(
      samples.every((s) => s.n_out === 48 && s.n_out_source === "usage" && s.token_counts.timings === 48),
      "usage and llama.cpp timings agree: 48 tokens each",
    );
    t.ok(
      samples.every((s) => (s.server_decode_tok_s ?? 0) > 0 && (s.decode_tok_s ?? 0) > 0),
      "client and server decode rates are both measured",
    );
    t.match(await readFile(html, "utf8"), /<svg class="chart" id="chart-tok-s"/);
    t.comment(run.stdout.split("\n").slice(3, 5).join("\n"));
  });

  // The benchmark script itself, smallest run: every mode's trace must pass the same chunk validation
  // as a served stream (the in-process trace once lacked "object" and the script died at run 1).
  t.test("npm run bench:real-engine, smallest run, without Debian's build", async (t) => {
    const cache = await mkdtemp(join(tmpdir(), "slmc-bench-real-"));
    t.teardown(() => rm(cache, { recursive: true, force: true }));
    const run = await runProcess(
      process.execPath,
      [
        "--import=tsx",
        resolve(import.meta.dirname, "../scripts/bench-real-engine.ts"),
        ...["--size", "1m", "--runs", "1", "--max-tokens", "8", "--bandwidth-mib", "64"],
        ...["--no-debian", "--cache", cache, "--json"],
      ],
      {},
      240_000,
    );
    t.equal(run.code, 0, "the benchmark completes", { stderr: run.stderr.slice(-2000) });
    const result = JSON.parse(run.stdout || "{}") as {
      medians?: Record<string, { n_out: number; decode_tok_s: number }>;
    };
    for (const mode of ["in_process", "direct_http", "nginx_https"]) {
      const m = result.medians?.[mode];
      t.ok(m && m.n_out === 8 && m.decode_tok_s > 0, `${mode}: 8 tokens, a decode rate`, { found: m });
    }
  });
}
