// The lab's llama-server engine mode without the VM: packer/lab/make-sources.sh with
// SLMC_LAB_ENGINE=llama-server (Debian's llama.cpp side root as the backend archive, the generated 1m
// GGUF with its real sha256), then the compiled stand-in as the appliance runs it: `backends install`
// of that archive, `run` with LocalAI's command line (no --backend) and the appliance's model YAML
// rendered at its default context size. The stand-in finds the installed backend, runs its
// llama-server, and serves real tokens. Broken backends (an unknown engine, no `run`, bad JSON) exit 2
// naming the file. The side-root parts skip, saying why, when the Debian archive is unreachable.
import t, { type Test } from "tap";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { llamaSideRoot } from "../fixtures/engine/llama-sid.ts";
import { modelStats, SHAPES } from "../fixtures/gguf/model.ts";
import { runProcess } from "./spawn.ts";
import { readyz, spawnStandIn, STAND_IN, until, type StandInChild } from "./stand-in-child.ts";

const ROOT = resolve(import.meta.dirname, "..");
const MAKE_SOURCES = join(ROOT, "packer/lab/make-sources.sh");
const RENDER = join(ROOT, "appliance/render-template.sh");
// Generous for a loaded 2-core host: packing the side root's archive takes about 5 s idle.
const SOURCES_TIMEOUT_MS = 300_000;
const REQUEST_TIMEOUT_MS = 120_000;
const LABEL = "slmc-stand-in + real llama.cpp (Debian)";

async function scratch(t: Test, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function parseEnv(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split("\n")
      .filter((line) => line.includes("="))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
}

/** `local-ai run` as local-ai.service starts it: LocalAI's flags and environment, no --backend. */
const runAsAppliance = (t: Test, models: string, backends: string): Promise<StandInChild> =>
  spawnStandIn(
    t,
    ["--models-path", models, "--backends-path", backends, "--threads", "1", "--context-size", "32768"],
    { LOCALAI_AUTOLOAD_GALLERIES: "false", LOCALAI_LOAD_TO_MEMORY: "devstral-small-2" },
  );

const ownedBy = async (url: string) =>
  (
    (await (await fetch(`${url}/v1/models`, { signal: AbortSignal.timeout(5000) })).json()) as {
      data: { owned_by: string }[];
    }
  ).data.map((m) => m.owned_by);

/** The appliance's model YAML, rendered by its own renderer with configure's defaults. */
async function renderModelYaml(models: string, modelFile: string, contextSize: number): Promise<void> {
  const rendered = await runProcess(RENDER, [
    join(ROOT, "appliance/templates/model.yaml"),
    "MODEL_NAME=devstral-small-2",
    `CONTEXT_SIZE=${contextSize}`,
    "THREADS=1",
    `MODEL_FILE=${modelFile}`,
    `CHAT_TEMPLATE_FILE=${join(ROOT, "appliance/templates/devstral-small-2.jinja")}`,
  ]);
  if (rendered.code !== 0) throw new Error(`render-template.sh failed: ${rendered.stderr}`);
  await writeFile(join(models, "devstral-small-2.yaml"), rendered.stdout);
}

async function installedBackend(t: Test, metadata: string | undefined): Promise<string> {
  const backends = await scratch(t, "slmc-backends-");
  await mkdir(join(backends, "llama-cpp"));
  if (metadata !== undefined) await writeFile(join(backends, "llama-cpp/metadata.json"), metadata);
  return backends;
}

t.test("SLMC_LAB_ENGINE naming no engine: exit 2 naming the variable and the choices", async (t) => {
  const out = await scratch(t, "slmc-sources-");
  const run = await runProcess(MAKE_SOURCES, [out], { SLMC_LAB_ENGINE: "llama" });
  t.equal(run.code, 2, run.stderr);
  t.match(
    run.stderr,
    /SLMC_LAB_ENGINE='llama' is not an engine: use synthetic \(the default\) or llama-server/,
  );
});

t.test("the default stays synthetic: 4 MiB random model, metadata-only backend, no KV", async (t) => {
  const out = await scratch(t, "slmc-sources-");
  const run = await runProcess(MAKE_SOURCES, [out, "/tmp/slmc-sources"]);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /ready \(engine synthetic\)/);
  const env = parseEnv(await readFile(join(out, "sources.env"), "utf8"));
  t.equal(env.SLMC_BACKEND_SOURCE, "file:///tmp/slmc-sources/llama-cpp-stand-in-backend");
  t.equal(env.SLMC_MODEL_FILE, "devstral-stand-in.gguf");
  t.equal(env.SLMC_KV_KIB_PER_TOKEN, "0");
  const backends = await scratch(t, "slmc-backends-");
  const install = await runProcess(STAND_IN, [
    "backends",
    "install",
    `file://${out}/llama-cpp-stand-in-backend`,
    "--name",
    "llama-cpp",
    "--backends-path",
    backends,
  ]);
  t.equal(install.code, 0, install.stderr);
  t.match(install.stdout, /stand-in: copied, not run/);
  const models = await scratch(t, "slmc-models-");
  await renderModelYaml(models, "m.gguf", 32768);
  await writeFile(join(models, "m.gguf"), "GGUF");
  const standIn = await runAsAppliance(t, models, backends);
  await until(
    "the synthetic stand-in was not ready",
    async () => (await readyz(standIn.url)) === 200,
    standIn.log,
  );
  t.same(await ownedBy(standIn.url), ["slmc-stand-in (simulated LocalAI, synthetic tokens)"]);
  t.notMatch(standIn.log(), /runs llama-server/);
});

t.test("an installed backend the stand-in cannot run: exit 2 naming the file", async (t) => {
  const models = await scratch(t, "slmc-models-");
  const cases: [string, string, RegExp][] = [
    [
      "an unknown engine",
      '{"engine":"vllm"}',
      /llama-cpp\/metadata\.json names engine "vllm": the stand-in runs only "llama-server"/,
    ],
    [
      "metadata that is not JSON",
      "{engine",
      /llama-cpp\/metadata\.json is not JSON .*: reinstall the backend/,
    ],
    [
      "llama-server without its side root",
      '{"engine":"llama-server"}',
      /the installed backend .*llama-cpp: --llama-server .*llama-cpp is a directory without "run"/,
    ],
  ];
  for (const [name, metadata, message] of cases) {
    const backends = await installedBackend(t, metadata);
    const run = await runProcess(STAND_IN, ["run", "--models-path", models, "--backends-path", backends]);
    t.equal(run.code, 2, `${name}: exit 2`);
    t.match(run.stderr, message, name);
  }
});

t.test("a backend source that is neither a directory nor a .tar.gz: exit 2", async (t) => {
  const dir = await scratch(t, "slmc-backends-");
  await writeFile(join(dir, "backend.zip"), "PK");
  const run = await runProcess(STAND_IN, [
    "backends",
    "install",
    join(dir, "backend.zip"),
    "--name",
    "llama-cpp",
    "--backends-path",
    join(dir, "installed"),
  ]);
  t.equal(run.code, 2);
  t.match(run.stderr, /backend source .*backend\.zip is neither a directory nor a \.tar\.gz file/);
});

t.test("lab.sh keeps the two engines' VMs apart through the state file", async (t) => {
  const run = await scratch(t, "slmc-lab-run-");
  const lab = (args: string[], engine?: string) =>
    runProcess(join(ROOT, "scripts/lab.sh"), args, {
      SLMC_LAB_RUN: run,
      ...(engine ? { SLMC_LAB_ENGINE: engine } : {}),
    });
  const bogus = await lab(["env"], "llama");
  t.equal(bogus.code, 1);
  t.match(
    bogus.stderr,
    /SLMC_LAB_ENGINE='llama' is not an engine: use synthetic \(the default\) or llama-server/,
  );
  // A VM of the llama-server engine is up (no QEMU behind it: nothing here boots).
  await writeFile(join(run, "state.env"), `LAB_ENGINE=llama-server\nLAB_RUN_DIR=${run}\nLAB_SSH_PORT=1\n`);
  const ssh = await lab(["ssh", "true"]);
  t.equal(ssh.code, 1, "the default engine's command refuses the other engine's VM");
  t.match(
    ssh.stderr,
    /runs the llama-server engine, not synthetic \(SLMC_LAB_ENGINE\): run this with SLMC_LAB_ENGINE=llama-server, or 'lab\.sh down' first/,
  );
  const up = await lab(["up", "/nonexistent.env"], "llama-server");
  t.equal(up.code, 1);
  t.match(up.stderr, /a lab VM \(engine llama-server\) is already up/, "one VM at a time, whichever engine");
  const env = await lab(["env"]);
  t.equal(env.code, 0, "env shows whatever is up");
  t.match(env.stdout, /^LAB_ENGINE=llama-server$/m);
  const down = await lab(["down"]);
  t.equal(down.code, 0, down.stderr);
  t.match(down.stderr, /lab VM \(engine llama-server\) down/, "down takes whichever VM is up");
});

t.test("the appliance's memory arithmetic with the llama-server sources' figures", async (t) => {
  const env = await scratch(t, "slmc-memory-");
  const root = join(env, "root");
  const shape = SHAPES["1m"];
  // q8_0 K and V: 34 bytes per 32 values, per layer and embedding dimension.
  const kvBytesPerToken = 2 * shape.layers * shape.embd * (34 / 32);
  const kvKib = 2;
  t.ok(kvBytesPerToken <= kvKib * 1024, `${kvBytesPerToken} B of KV per token fit the 2 KiB figure`);
  t.ok(kvBytesPerToken > (kvKib - 1) * 1024, "and the figure is rounded up by less than 1 KiB");
  await mkdir(join(root, "var/lib/local-ai/models"), { recursive: true });
  const model = join(root, "var/lib/local-ai/models/slmc-1m-q8_0-stand-in.gguf");
  await writeFile(model, "");
  await truncate(model, modelStats("1m", "q8_0").bytes);
  const memory = async (memTotalMib: number) => {
    await writeFile(join(env, "meminfo"), `MemTotal: ${memTotalMib * 1024} kB\n`);
    const run = await runProcess(
      "bash",
      [
        "-c",
        'source "$1/appliance.sh"; check_memory 32768; echo "$MEMORY_STATE $MEMORY_NEEDED_MIB"',
        "_",
        join(ROOT, "appliance"),
      ],
      {
        SLMC_ROOT: root,
        SLMC_HOME: join(ROOT, "appliance"),
        SLMC_MEMINFO: join(env, "meminfo"),
        SLMC_MODEL_FILE: "slmc-1m-q8_0-stand-in.gguf",
        SLMC_KV_KIB_PER_TOKEN: String(kvKib),
      },
    );
    return run.stdout.trim().split("\n").at(-1);
  };
  // 1.2 MiB of weights + 64 MiB of KV at context 32768 + 2048 MiB: the lab VM's 6 GiB suffice.
  t.equal(await memory(6144), "ok 2114", "the lab VM (6 GiB) runs it at configure's default context");
  t.equal(await memory(2100), "insufficient 2114", "the KV cache counts: 2,100 MiB is too little");
});

const side = await llamaSideRoot();
if ("unreachable" in side) {
  t.pass(`skipped: no Debian llama.cpp side root: ${side.unreachable}`, { skip: true });
} else {
  t.test("llama-server mode: the side root installed and run as the appliance runs LocalAI", async (t) => {
    const out = await scratch(t, "slmc-sources-");
    const sources = await runProcess(
      MAKE_SOURCES,
      [out, "/tmp/slmc-sources"],
      { SLMC_LAB_ENGINE: "llama-server", HOME: process.env.HOME ?? "/root" },
      SOURCES_TIMEOUT_MS,
    );
    t.equal(sources.code, 0, sources.stderr);
    const env = parseEnv(await readFile(join(out, "sources.env"), "utf8"));
    t.equal(env.SLMC_BACKEND_SOURCE, "file:///tmp/slmc-sources/llama-server-backend.tar.gz");
    t.equal(env.SLMC_MODEL_FILE, "slmc-1m-q8_0-stand-in.gguf");
    const model = await readFile(join(out, "slmc-1m-q8_0-stand-in.gguf"));
    t.equal(model.subarray(0, 4).toString(), "GGUF", "a real GGUF, not random bytes");
    t.equal(env.SLMC_MODEL_SHA256, createHash("sha256").update(model).digest("hex"), "its real sha256");
    t.equal(env.SLMC_KV_KIB_PER_TOKEN, "2", "the 1m model's q8_0 KV cache per token");

    const backends = await scratch(t, "slmc-backends-");
    const install = await runProcess(
      STAND_IN,
      [
        "backends",
        "install",
        env.SLMC_BACKEND_SOURCE!.replace("/tmp/slmc-sources", out),
        "--name",
        "llama-cpp",
      ],
      { LOCALAI_BACKENDS_PATH: backends },
      SOURCES_TIMEOUT_MS,
    );
    t.equal(install.code, 0, install.stderr);
    t.match(install.stdout, /stand-in: the stand-in runs its llama-server/);
    const metadata = JSON.parse(await readFile(join(backends, "llama-cpp/metadata.json"), "utf8")) as {
      engine: string;
      llama_cpp: string;
    };
    t.equal(metadata.engine, "llama-server");
    t.equal(metadata.llama_cpp, side.root.llamaVersion, "records Debian's llama.cpp version");

    const models = await scratch(t, "slmc-models-");
    await writeFile(join(models, "slmc-1m-q8_0-stand-in.gguf"), model);
    // configure's default context (32768): llama-server accepts it and caps the slot at the model's
    // trained 2,048 tokens.
    await renderModelYaml(models, "slmc-1m-q8_0-stand-in.gguf", 32768);
    const standIn = await runAsAppliance(t, models, backends);
    await until("the stand-in was not ready", async () => (await readyz(standIn.url)) === 200, standIn.log);
    t.match(standIn.log(), /installed backend .*llama-cpp runs llama-server/);
    t.same(await ownedBy(standIn.url), [LABEL]);

    const chat = (body: object) =>
      fetch(`${standIn.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "devstral-small-2", ...body }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    const answer = async () => {
      const response = await chat({
        messages: [{ role: "user", content: "Say hello." }],
        max_tokens: 6,
        ignore_eos: true,
      });
      t.equal(response.status, 200);
      return (await response.json()) as {
        system_fingerprint: string;
        usage: { completion_tokens: number };
        timings: { predicted_n: number };
      };
    };
    const first = await answer();
    t.match(first.system_fingerprint, /Debian/, "answered by Debian's llama-server");
    t.equal(first.usage.completion_tokens, 6);
    t.equal(first.timings.predicted_n, 6, "llama.cpp timings");

    const long = await chat({ messages: [{ role: "user", content: "word ".repeat(3000) }], max_tokens: 1 });
    const failure = await long.text();
    t.equal(long.status, 400, "a prompt beyond the trained context: llama-server's own error");
    t.match(failure, /exceed|context/i, failure.slice(0, 300));

    const started = () => [...standIn.log().matchAll(/started llama-server pid (\d+)/g)].map((m) => m[1]);
    const before = started();
    process.kill(Number(before.at(-1)), "SIGKILL");
    await until(
      "the killed llama-server was not restarted",
      async () => started().length > before.length,
      standIn.log,
    );
    await until(
      "the stand-in was not ready again",
      async () => (await readyz(standIn.url)) === 200,
      standIn.log,
    );
    t.equal((await answer()).usage.completion_tokens, 6, "answers again after a real reload");
  });
}
