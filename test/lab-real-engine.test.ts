// The lab appliance with REAL inference: the llama-server lab image (SLMC_LAB_ENGINE=llama-server: the
// LocalAI stand-in running Debian's llama-server on the generated 1.2M-parameter GGUF, random weights),
// booted with ONEAPP_COPILOT_CONTEXT_SIZE=2048 (the model's trained context). Every slmc-check suite
// runs once through the VM's nginx with the lab's SSH key; what a random-weights model at 2,048 tokens
// cannot pass is listed in EXPECTED_MODEL_FAILURES and must fail, for that reason and with a message
// that says what to fix; everything else must pass (kill -9 recovery, a real model reload, included).
// Then: /v1/models names the real engine, a completion carries llama.cpp's timings, a short bench
// reports real tokens/s, and `slmc-check reboot` finds no drift (llama-server's loopback port is
// ephemeral). Skips, saying why, with SLMC_SKIP_LAB=1 or when Debian's archive cannot be reached to
// build the llama.cpp side root.
import t, { type Test } from "tap";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { llamaSideRoot } from "../fixtures/engine/llama-sid.ts";
import { httpRequest } from "../src/probes/http.ts";
import {
  accessArgs,
  bootLab,
  failures,
  ROOT,
  runSlmc,
  slmcCheck,
  type SlmcRun,
  sshArgs,
} from "./lab-harness.ts";

// Builds (about 3 min) and boots (about 77 s, twice with the reboot) under TCG: measured 470 s in all
// on a quiet host, image build included. The file's own bound is far beyond a slow run.
t.setTimeout(1_800_000);

/**
 * The slowest check is the first tool-call turn: its prompt (three tools) is about 1,500 tokens with this
 * model's tokenizer, prefilled under TCG at about 100 tokens/s with the 1m model (the 50m one managed a
 * few tokens/s: 381 s for that turn), then 128 tokens. The suites took 117 s in all; a loaded host can
 * starve the VM several-fold, which these bounds leave room for.
 */
const STREAM_TIMEOUT_S = 300;
const CHECK_TIMEOUT_MS = 1_200_000;
const CONTEXT_SIZE = 2048;

/**
 * The checks a random-weights 1.2M model with a 2,048-token context cannot pass, and the reason each must
 * fail with. Each must FAIL (not pass, not skip) with a message matching its pattern.
 */
const EXPECTED_MODEL_FAILURES: Record<string, RegExp> = {
  // Random weights never produce Devstral's [TOOL_CALLS] syntax: each turn ends at its max_tokens bound
  // (128) with text, and the message says a tool-calling model is needed.
  "clients.tool-call-streamed":
    /^streamed: asked to use read_file, the model answered without a tool call \(finish_reason length: no call within max_tokens 128\); the model must be one trained for tool calls/,
  "clients.tool-call-completion":
    /^non-streamed: asked to use read_file, the model answered without a tool call \(finish_reason length: no call within max_tokens 128\); the model must be one trained for tool calls/,
  // The model's trained context is 2,048 tokens: a Cline-shaped prompt (about 20,400 tokens with its 25
  // tools), a Continue-shaped one (about 5,000) and the large body's short file (about 2,070 tokens with
  // this model's tokenizer) are refused by llama-server (400 exceed_context_size_error); the message
  // says to raise ONEAPP_COPILOT_CONTEXT_SIZE (and that a model trained for less caps it).
  "clients.cline-shaped-request": contextRefused(/a Cline-shaped request/),
  "clients.continue-shaped-request": contextRefused(/a Continue-shaped request/),
  "clients.large-request-body": contextRefused(/a 1\.1 MB request body/),
};

/**
 * Checks that skip against an appliance whose engine stays ready: api.health-readiness judges /health
 * only while the engine is not ready, which a run without a model load never sees (the not-ready case
 * is observed by system.recovery-local-ai over SSH, asserted below). Each must SKIP for its reason.
 */
const EXPECTED_SKIPS: Record<string, RegExp> = {
  "api.health-readiness": /^not demonstrated: the engine was ready throughout/,
};

function contextRefused(what: RegExp): RegExp {
  return new RegExp(
    `${what.source}.* was refused with 400: its prompt \\(\\d+ tokens\\) exceeds the engine's context \\(${CONTEXT_SIZE} tokens\\)\\. Raise ONEAPP_COPILOT_CONTEXT_SIZE`,
  );
}

if (process.env.SLMC_SKIP_LAB === "1") {
  // A skip is reported as a skip: it never adds to "N passed".
  t.plan(0, "SLMC_SKIP_LAB=1: lab tests not run");
} else {
  const side = await llamaSideRoot();
  // llama-sid.sh's last line says which archive and what to set.
  if ("unreachable" in side)
    t.plan(0, `the llama.cpp side root cannot be built: ${side.unreachable.split("\n").at(-1)}`);
  else await realEngineTests();
}

async function realEngineTests(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "slmc-lab-real-engine-"));
  const context = join(dir, "context.env");
  await writeFile(
    context,
    (await readFile(join(ROOT, "fixtures/lab/contexts/default.env"), "utf8")).replace(
      /^ONEAPP_COPILOT_CONTEXT_SIZE=.*$/m,
      `ONEAPP_COPILOT_CONTEXT_SIZE='${CONTEXT_SIZE}'`,
    ),
  );

  t.test("lab appliance on real llama.cpp: every suite, real tokens, bench, reboot", async (t) => {
    const started = Date.now();
    const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
    const vm = await bootLab(t, "real-engine", context, "restricted", "llama-server");
    t.comment(`booted after ${elapsed()} (image build included when not cached)`);
    const certificate = join(dir, "appliance.crt");
    await writeFile(certificate, await vm.ssh("cat /etc/slm-copilot/tls/self-signed.crt"));
    const ssh = sshArgs(vm, join(dir, "known_hosts"));
    const target = await accessArgs(vm, dir, ["--ca", certificate, ...ssh]);
    t.match(
      await vm.ssh("cat /etc/one-appliance/config"),
      new RegExp(`^context_size = ${CONTEXT_SIZE}$`, "m"),
      "the appliance took the context size from CONTEXT",
    );

    await t.test("/v1/models and a completion through nginx: the real engine, real tokens", async (t) => {
      const password = (await vm.ssh("cat /var/lib/slm-copilot/password")).trim();
      const ca = await readFile(certificate, "utf8");
      const request = (method: string, path: string, body?: string) =>
        httpRequest({
          scheme: "https",
          host: "127.0.0.1",
          port: Number(vm.env.LAB_HTTPS_PORT),
          method,
          path,
          headers: { authorization: `Bearer ${password}`, "content-type": "application/json" },
          ...(body ? { body } : {}),
          tls: { ca, insecure: false },
          timeoutMs: 120_000,
        });
      const models = await request("GET", "/v1/models");
      t.equal(models.status, 200);
      const listed = JSON.parse(models.body.toString("utf8")) as { data: { id: string; owned_by: string }[] };
      t.match(
        listed.data[0]?.owned_by,
        /stand-in \+ real llama\.cpp \(Debian\)/,
        "/v1/models names the engine",
      );
      const completion = await request(
        "POST",
        "/v1/chat/completions",
        JSON.stringify({
          model: listed.data[0]?.id,
          messages: [{ role: "user", content: "Write a haiku about proxies." }],
          max_tokens: 8,
        }),
      );
      t.equal(completion.status, 200, completion.body.toString("utf8").slice(0, 300));
      const answer = JSON.parse(completion.body.toString("utf8")) as {
        usage?: { completion_tokens: number };
        timings?: { predicted_n: number; predicted_per_second: number; prompt_n: number };
      };
      t.ok((answer.timings?.predicted_n ?? 0) > 0, `llama.cpp timings: ${JSON.stringify(answer.timings)}`);
      t.equal(
        answer.usage?.completion_tokens,
        answer.timings?.predicted_n,
        "usage counts llama.cpp's tokens",
      );
    });

    const all = await slmcCheck(
      [
        ...target,
        "--engine-port",
        vm.env.LAB_ENGINE_PORT ?? "",
        "--expect-offline",
        "--outbound-probe",
        "http://10.0.2.2:9/",
        "--stream-timeout",
        String(STREAM_TIMEOUT_S),
        "--deadline",
        String(CHECK_TIMEOUT_MS / 1000 - 60),
      ],
      CHECK_TIMEOUT_MS,
    );
    t.comment(`all suites done after ${elapsed()}: ${JSON.stringify(all.report.summary)}`);
    judgeAllSuites(t, all);

    const bench = await runSlmc(
      [
        "bench",
        "127.0.0.1",
        "--https-port",
        vm.env.LAB_HTTPS_PORT ?? "",
        "--password-file",
        join(dir, "real-engine-password"),
        "--ca",
        certificate,
        "--max-tokens",
        "16",
        "--requests",
        "2",
        "--warmup",
        "0",
        "--prompt-set",
        "short",
        "--json",
        join(dir, "bench.json"),
      ],
      600_000,
    );
    const benchReport = JSON.parse(await readFile(join(dir, "bench.json"), "utf8").catch(() => "{}")) as {
      levels?: { aggregate: { completed: number; distributions: Record<string, { p50: number } | null> } }[];
    };
    const level = benchReport.levels?.[0]?.aggregate;
    const decode = level?.distributions.decode_tok_s?.p50 ?? 0;
    t.equal(
      level?.completed,
      2,
      `bench: 2 requests completed (exit ${bench.code}):\n${bench.stdout}\n${bench.stderr}`,
    );
    t.ok(decode > 0, `bench through nginx: decode ${decode} tok/s p50 (real llama.cpp, TCG)`);
    t.comment(`bench decode p50 ${decode} tok/s, done after ${elapsed()}`);

    const reboot = await slmcCheck(["reboot", ...target]);
    t.equal(
      reboot.code,
      0,
      `slmc-check reboot: no drift (llama-server's ephemeral loopback port included):\n${failures(reboot)}\n${reboot.stderr}`,
    );
    t.match(
      reboot.report.checks.find((c) => c.id === "reboot.cycle-1")?.message,
      /sockets and units unchanged/,
      "one reboot cycle ran and compared the listening sockets",
    );
    t.comment(`reboot done after ${elapsed()}`);
  });
}

/** Every check outside EXPECTED_MODEL_FAILURES passes; each one in it fails for its reason. */
function judgeAllSuites(t: Test, all: SlmcRun): void {
  const checks = new Map(all.report.checks.map((c) => [c.id, c]));
  t.ok(checks.size >= 40, `every suite ran: ${checks.size} checks\n${all.stderr}`);
  const unexpected = all.report.checks.filter(
    (c) => c.status !== "pass" && !(c.id in EXPECTED_MODEL_FAILURES) && !(c.id in EXPECTED_SKIPS),
  );
  t.same(
    unexpected.map((c) => `${c.id}: ${c.status}: ${c.message}`),
    [],
    "every check a random-weights model can pass passes",
  );
  for (const [id, reason] of Object.entries(EXPECTED_MODEL_FAILURES)) {
    const check = checks.get(id);
    t.equal(check?.status, "fail", `${id} fails (it is in EXPECTED_MODEL_FAILURES): ${check?.message}`);
    t.match(check?.message, reason, `${id} fails for the expected reason`);
  }
  for (const [id, reason] of Object.entries(EXPECTED_SKIPS)) {
    const check = checks.get(id);
    t.equal(check?.status, "skip", `${id} skips (it is in EXPECTED_SKIPS): ${check?.message}`);
    t.match(check?.message, reason, `${id} skips for the expected reason`);
  }
  // kill -9 of local-ai: the engine was seen not ready while llama-server reloaded the model.
  const recovery = checks.get("system.recovery-local-ai") as
    | { status: string; message: string; evidence?: { healthDuringRecovery?: { engineReadyz: string }[] } }
    | undefined;
  t.equal(recovery?.status, "pass", `kill -9 recovery ran and passed: ${recovery?.message}`);
  t.match(recovery?.message, /serving over HTTPS after [\d.]+ s/, "recovery time is measured");
  t.ok(
    (recovery?.evidence?.healthDuringRecovery ?? []).some((s) => s.engineReadyz !== "200"),
    "the engine was not ready during the recovery: a real model load",
  );
}
