// The real coding clients (Cline CLI 3.0.65, Continue CLI 1.5.47; scripts/clients-deps.sh) run one
// prompt each through the appliance's own nginx site (real nginx, the certificate appliance.sh
// generates) in front of the LocalAI stand-in, configured as the appliance's report tells an operator.
// Both must exit 0 with the engine's text; Cline must execute a tool call the stand-in asked for (a read
// of the harmless file in its scratch directory). Cline treats a stream cut by a token cap
// (finish_reason "length") as an error, so its part needs the stand-in's tool calling: it is skipped,
// with the reason, until the stand-in offers it (--tool-path in its --help).
import t from "tap";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { parse as parseYaml } from "yaml";
import { NGINX_BIN, startRealNginx } from "../fixtures/nginx/real-nginx.ts";
import { createCertificate } from "../src/sim/x509.ts";
import {
  clientsInstalled,
  clineAuthArgs,
  clineRunArgs,
  continueConfig,
  describeRun,
  endpointFromReport,
  hubListening,
  INSTALL_COMMAND,
  readOfScratchFile,
  runProblems,
  runCline,
  runContinue,
  SCRATCH_CONTENT,
  SCRATCH_FILE,
  type ClientRun,
} from "../fixtures/clients/run.ts";
import { guardProblem, startRecorder, type Exchange } from "../fixtures/clients/recorder.ts";

const PASSWORD = "Sl.m-Copilot_9x";
const MODEL = "devstral-small-2";
const ENGINE_MAIN = resolve(import.meta.dirname, "../fixtures/engine/main.ts");
/** The stand-in flag that aims its read tool call at a path (tool calling, issue 12). */
const TOOL_PATH_FLAG = "--tool-path";
const START_TIMEOUT_MS = 30_000;
const RUN_TIMEOUT_MS = 120_000;
const run = promisify(execFile);

/** The stand-in's own --help: does it offer tool calling aimed at a path? */
async function engineOffersToolPath(): Promise<boolean> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", ENGINE_MAIN, "--help"], {
    timeout: START_TIMEOUT_MS,
    cwd: resolve(import.meta.dirname, ".."),
  });
  return new RegExp(`${TOOL_PATH_FLAG}\\b`).test(stdout);
}

/** `local-ai run` (the stand-in, under tsx) on a free loopback port. */
async function startEngine(
  args: string[],
): Promise<{ port: number; child: ChildProcess; stop(): Promise<void> }> {
  const models = await mkdtemp(join(tmpdir(), "slmc-clients-models-"));
  await writeFile(join(models, "m.gguf"), Buffer.alloc(4096));
  await writeFile(join(models, `${MODEL}.yaml`), `name: ${MODEL}\nparameters:\n  model: m.gguf\n`);
  const child = spawn(
    process.execPath,
    ["--import", "tsx", ENGINE_MAIN, "run", "--address", "127.0.0.1:0", "--models-path", models, ...args],
    { stdio: ["ignore", "ignore", "pipe"], cwd: resolve(import.meta.dirname, "..") },
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((done) => child.once("exit", done));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    }
    await rm(models, { recursive: true, force: true });
  };
  const port = await new Promise<number>((ready, failed) => {
    let stderr = "";
    const timer = setTimeout(() => {
      failed(new Error(`the stand-in did not start within ${START_TIMEOUT_MS} ms: ${stderr}`));
    }, START_TIMEOUT_MS);
    child.stderr!.on("data", (d) => {
      stderr += d;
      const match = /listening on [^\s]+:(\d+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        ready(Number(match[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      failed(new Error(`the stand-in exited with ${code}: ${stderr}`));
    });
  }).catch(async (error: Error) => {
    await stop();
    throw error;
  });
  for (let i = 0; i < 100; i++) {
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ready) break;
    await new Promise((wait) => setTimeout(wait, 50));
  }
  return { port, child, stop };
}

/** The engine's own answer to a request with a read_file tool: the path it asks to read, if any. */
async function engineToolCallPath(port: number): Promise<string | undefined> {
  const response = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: MODEL,
      messages: [{ role: "user", content: "What does the notes file say?" }],
      tools: [
        {
          type: "function",
          function: {
            name: "read_file",
            description: "Read a file",
            parameters: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
          },
        },
      ],
    }),
    signal: AbortSignal.timeout(30_000),
  });
  const json = (await response.json()) as {
    choices?: { message?: { tool_calls?: { function?: { arguments?: string } }[] } }[];
  };
  const args = json.choices?.[0]?.message?.tool_calls?.[0]?.function?.arguments;
  if (!args) return undefined;
  return (JSON.parse(args) as { path?: string }).path;
}

const normalize = (text: string) => text.replace(/\s+/g, " ").trim();
const shape = (e: Exchange) =>
  `${e.bodyBytes} B, ${e.toolCount} tools, Accept-Encoding "${e.acceptEncoding}", ${
    e.hasMaxTokens ? "max_tokens" : "no max_tokens"
  }, roles ${e.roles.join(",")}, → ${e.status} ${e.finishReason ?? "-"}`;

t.test(
  "endpointFromReport: the report's fields, reached on a forwarded port the certificate names",
  async (t) => {
    const report = [
      "[Connection info]",
      "endpoint = https://10.0.2.15",
      "api_base_url = https://10.0.2.15/v1",
      "api_username = copilot",
      `api_password = ${PASSWORD}`,
      "",
      "[Model]",
      `model_id = ${MODEL}`,
    ].join("\n");
    const named = createCertificate({ commonName: "vm", altNames: ["localhost", "127.0.0.1", "10.0.2.15"] });
    t.same(endpointFromReport(report, named.certPem), {
      baseUrl: "https://10.0.2.15/v1",
      model: MODEL,
      apiKey: PASSWORD,
      caPem: named.certPem,
    });
    t.equal(
      endpointFromReport(report, named.certPem, { host: "127.0.0.1", port: 40443 }).baseUrl,
      "https://127.0.0.1:40443/v1",
    );
    const unnamed = createCertificate({ commonName: "vm", altNames: ["copilot.lab.test"] });
    t.throws(
      () => endpointFromReport(report, unnamed.certPem, { host: "127.0.0.1", port: 40443 }),
      /does not name 127\.0\.0\.1/,
    );
    t.throws(
      () => endpointFromReport("[Model]\nmodel_id = x\n", named.certPem),
      /lacks api_base_url, api_password/,
    );
  },
);

t.test("the guard passes only reads of the scratch file", async (t) => {
  t.equal(guardProblem("read_files", JSON.stringify({ files: [{ path: SCRATCH_FILE }] })), undefined);
  t.equal(guardProblem("Read", JSON.stringify({ filepath: `./${SCRATCH_FILE}` })), undefined);
  t.equal(guardProblem("read_file", '{"path": "slmc'), undefined, "incomplete arguments: not judged yet");
  t.match(guardProblem("run_commands", '{"commands":["ls"]}'), /not a read tool/);
  t.match(
    guardProblem("read_files", JSON.stringify({ files: [{ path: "/etc/shadow" }] })),
    /reads \/etc\/shadow/,
  );
});

t.test("the README's client commands are the ones the runner uses", async (t) => {
  const readme = await readFile(resolve(import.meta.dirname, "../README.md"), "utf8");
  const start = readme.indexOf("\n## Real clients from the command line");
  t.ok(start >= 0, "README has the section");
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
  const endpoint = { baseUrl: "https://203.0.113.10/v1", model: MODEL, apiKey: "<api_password>", caPem: "" };
  const flags = (args: string[]) => args.filter((a) => a.startsWith("-")).join(" ");
  const auth = /^cline (auth .*)$/m.exec(section)?.[1] ?? "";
  t.equal(flags(auth.split(/\s+/)), flags(clineAuthArgs(endpoint, "D")), "cline auth flags");
  t.match(auth, /-p openai -k '<api_password>' -m devstral-small-2 -b https:\/\/203\.0\.113\.10\/v1 /);
  const runLine = /^ +cline (--data-dir .*)$/m.exec(section)?.[1] ?? "";
  t.equal(flags(runLine.split(/\s+/)), flags(clineRunArgs("D", 600, "p")), "cline run flags");
  t.match(
    section,
    /CLINE_SESSION_BACKEND_MODE=local NODE_EXTRA_CA_CERTS=appliance\.pem \\\n +cline --data-dir/,
  );
  t.match(section, /\ncn --config config\.yaml -p "/, "cn command");
  const yamlBlock = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  const documented = parseYaml(yamlBlock) as unknown;
  const generated = parseYaml(continueConfig(endpoint, "/path/to/appliance.pem")) as unknown;
  t.same(documented, generated, "the README's config.yaml is the runner's, for the same endpoint");
});

const { installed, missing } = clientsInstalled();
if (!existsSync(NGINX_BIN)) {
  t.fail(
    `${NGINX_BIN} is missing: run "make test" as root (installs nginx-light) or apt-get install nginx-light`,
  );
} else if (!installed && process.env.SLMC_REQUIRE_CLIENTS === "1") {
  t.fail(`the real clients are not installed (${missing.join(", ")}): ${INSTALL_COMMAND} must install them`);
} else if (!installed) {
  t.pass(`skipped: Cline CLI and Continue CLI are not installed; install them with: ${INSTALL_COMMAND}`, {
    skip: true,
  });
} else {
  const toolCalling = await engineOffersToolPath();
  const engine = await startEngine([
    "--load-ms",
    "0",
    "--ttft-ms",
    "50",
    "--tokens-per-second",
    "400",
    ...(toolCalling ? [TOOL_PATH_FLAG, SCRATCH_FILE] : []),
  ]);
  t.teardown(() => engine.stop());
  const recorder = await startRecorder(engine.port);
  t.teardown(() => recorder.close());
  const nginx = await startRealNginx({
    enginePort: recorder.port,
    password: PASSWORD,
    applianceCertificate: true,
  });
  t.teardown(() => nginx.stop());
  // Configured exactly as the report tells an operator; the report's host is the VM's address, reached
  // here on nginx's loopback port (the appliance's certificate names 127.0.0.1).
  const report = `api_base_url = https://127.0.0.1/v1\napi_password = ${PASSWORD}\nmodel_id = ${MODEL}\n`;
  const endpoint = endpointFromReport(report, nginx.certificatePem, {
    host: "127.0.0.1",
    port: nginx.httpsPort,
  });
  const hubBefore = await hubListening();

  const exchangesOf = async (go: () => Promise<ClientRun>) => {
    const from = recorder.exchanges.length;
    const result = await go();
    return { result, exchanges: recorder.exchanges.slice(from) };
  };

  t.test("Continue CLI: one prompt through the appliance's nginx, the engine's text printed", async (t) => {
    const { result, exchanges } = await exchangesOf(() =>
      runContinue(endpoint, { timeoutMs: RUN_TIMEOUT_MS }),
    );
    t.comment(`continue: ${Math.round(result.wallMs)} ms; ${exchanges.map(shape).join(" | ")}`);
    t.equal(result.exitCode, 0, describeRun(result));
    t.same(runProblems(result), [], "what the lab test judges: nothing wrong");
    t.ok(exchanges.length >= 1, "its requests reached the engine through nginx");
    t.same(recorder.refused, [], "no tool call had to be refused");
    const first = exchanges[0];
    if (first) {
      t.ok(
        first.stream && first.toolCount > 0 && !first.hasMaxTokens,
        `a real client's request: ${shape(first)}`,
      );
      t.match(first.acceptEncoding, /gzip/, "it accepts compressed answers");
    }
    const last = exchanges.at(-1);
    t.ok(last && normalize(last.text).length > 0, "the engine answered with text");
    t.equal(normalize(result.text), normalize(last?.text ?? ""), "Continue printed the engine's text");
    for (const call of exchanges.flatMap((e) => e.toolCalls))
      t.ok(
        exchanges.some((e) => e.toolResultIds.includes(call.id)),
        `Continue sent back the result of the stand-in's ${call.name} call ${call.id}`,
      );
    t.same(result.lingering, [], "no process left behind");
  });

  if (!toolCalling) {
    t.pass(
      `skipped: Cline CLI needs the stand-in's tool calling (a tool call, then text with finish_reason "stop"); ` +
        `this stand-in's --help offers no ${TOOL_PATH_FLAG}, and without it every answer ends at its token cap ` +
        `(finish_reason "length"), which Cline reports as an error`,
      { skip: true },
    );
  } else {
    t.test(
      "Cline CLI: executes the stand-in's read of its scratch file, then prints the engine's text",
      async (t) => {
        t.equal(
          await engineToolCallPath(engine.port),
          SCRATCH_FILE,
          `the stand-in asks to read ${SCRATCH_FILE} (${TOOL_PATH_FLAG})`,
        );
        const { result, exchanges } = await exchangesOf(() =>
          runCline(endpoint, { timeoutMs: RUN_TIMEOUT_MS }),
        );
        t.comment(`cline: ${Math.round(result.wallMs)} ms; ${exchanges.map(shape).join(" | ")}`);
        t.equal(result.exitCode, 0, describeRun(result));
        t.equal(result.finishReason, "completed", "run_result.finishReason");
        t.same(runProblems(result, { requireRead: true }), [], "what the lab test judges: nothing wrong");
        t.same(recorder.refused, [], "no tool call had to be refused");
        const asked = exchanges.flatMap((e) => e.toolCalls);
        t.ok(
          asked.length >= 1,
          `the stand-in asked for a tool call (${asked.map((c) => c.name).join(", ")})`,
        );
        const read = readOfScratchFile(result);
        t.ok(read, `Cline executed a read of ${SCRATCH_FILE} and got "${SCRATCH_CONTENT.trim()}"`);
        t.ok(
          read && asked.some((c) => c.id === read.id && c.name === read.name),
          `the read it executed is the stand-in's call (${read?.name} ${read?.id})`,
        );
        t.ok(
          exchanges.some((e) => read && e.toolResultIds.includes(read.id)),
          "Cline sent the tool's result back to the engine",
        );
        const last = exchanges.at(-1);
        t.equal(last?.finishReason, "stop", "the engine's last answer stopped naturally");
        t.ok(normalize(result.text).length > 0, "Cline printed text");
        t.equal(normalize(result.text), normalize(last?.text ?? ""), "Cline's answer is the engine's text");
        t.same(result.lingering, [], "no process left behind");
        if (!hubBefore) t.notOk(await hubListening(), "no Cline hub listens on 127.0.0.1:25463");
      },
    );
  }
}
