// `slmc-check tune`: the sweep over a scripted SSH session (the appliance's override and retune script
// played by a small state machine) measuring against the simulated appliance over real HTTPS. Proves
// the plan-only refusal, the constant commands, restore after a failed measurement or retune, a
// restore that does not verify, and the printed recommendation.
import t, { type Test } from "tap";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEngine, DEFAULT_SCHEDULE } from "../src/sim/engine/app.ts";
import { CliError, EXIT } from "../src/cli/exit-codes.ts";
import {
  RETUNE_COMMAND,
  OVERRIDE_PRESENT_COMMAND,
  REMOVE_OVERRIDE_COMMAND,
  setThreadsCommand,
  THREADS_COMMAND,
  tuneWithSession,
  VCPUS_COMMAND,
  type TuneTarget,
} from "../src/commands/tune.ts";
import type { Access } from "../src/core/access.ts";
import { accessFor, simulator } from "./helpers.ts";

interface Script {
  vcpus?: string;
  original?: number;
  /** retune fails (exit 1) while the override holds this count. */
  retuneFailsAt?: number;
  /** The retune script is missing (an image from before it): no exit status printed. */
  noRetuneScript?: boolean;
  /** After restore the YAML keeps the last override (a retune that ignores the removal). */
  restoreSticks?: boolean;
  threadsAnswer?: string;
  /** An override already on the VM before tune starts. */
  leftOver?: number;
  /** Called with the count a successful retune left in the model YAML (the engine's restart). */
  restarted?: (threads: number) => void;
}

function scriptedSession(script: Script) {
  const commands: string[] = [];
  const original = script.original ?? 2;
  let override: number | null = script.leftOver ?? null;
  let yaml = original;
  const exec = async (command: string) => {
    commands.push(command);
    const answer = (stdout: string, code = 0) => ({ code, stdout, stderr: "", durationMs: 1 });
    if (command === VCPUS_COMMAND) return answer(script.vcpus ?? "4\n");
    if (command === THREADS_COMMAND) return answer(script.threadsAnswer ?? `${yaml}\n`);
    if (command === OVERRIDE_PRESENT_COMMAND) return answer(override === null ? "absent\n" : "present\n");
    if (command === REMOVE_OVERRIDE_COMMAND) {
      if (!script.restoreSticks) override = null;
      return answer("");
    }
    if (command === RETUNE_COMMAND) {
      if (script.noRetuneScript) return answer("");
      if (override !== null && override === script.retuneFailsAt) return answer("retune-exit=1\n");
      yaml = override ?? original;
      script.restarted?.(yaml);
      return answer("retune-exit=0\n");
    }
    const set = /printf '%d\\n' (\d+) > \/etc\/slm-copilot\/tune-threads$/.exec(command);
    if (set) {
      override = Number(set[1]);
      return answer("");
    }
    return answer("", 127);
  };
  return { session: { exec } as unknown as TuneTarget["session"], commands };
}

function target(access: Access, script: Script, lines: string[] = []) {
  const scripted = scriptedSession(script);
  const tuneTarget: TuneTarget = {
    session: scripted.session,
    access,
    log: (line) => lines.push(line),
    readyTimeoutS: 30,
    requests: 2,
    maxTokens: 8,
  };
  return { tuneTarget, commands: scripted.commands, lines };
}

const READS = [VCPUS_COMMAND, THREADS_COMMAND, OVERRIDE_PRESENT_COMMAND];
const sweep = (counts: number[]) =>
  counts.flatMap((n) => [setThreadsCommand(n), RETUNE_COMMAND, THREADS_COMMAND]);
const restore = [REMOVE_OVERRIDE_COMMAND, RETUNE_COMMAND, THREADS_COMMAND, THREADS_COMMAND];

t.test("the thread count is the one value a command carries, and it is validated", async (t) => {
  t.equal(
    setThreadsCommand(4),
    "install -d -m 0755 /etc/slm-copilot && printf '%d\\n' 4 > /etc/slm-copilot/tune-threads",
  );
  for (const bad of [0, -1, 1.5, 513, Number.NaN]) t.throws(() => setThreadsCommand(bad), RangeError);
  t.equal(RETUNE_COMMAND, "/usr/local/sbin/slm-copilot-retune 2>/dev/null || true");
});

t.test("without --yes: the plan is printed, nothing is changed, exit 2", async (t) => {
  const sim = await simulator(t);
  const { tuneTarget, commands } = target(accessFor(sim), {});
  let printed = "";
  const refused = await tuneWithSession(tuneTarget, { yes: false, format: "pretty" }, (s) => {
    printed += s;
  }).catch((error: unknown) => error);
  t.ok(refused instanceof CliError, "refused");
  t.equal((refused as CliError).exitCode, EXIT.usage);
  t.match((refused as CliError).message, /pass --yes/);
  t.match(printed, /threads to measure: 1, 2, 4 \(vCPUs: 4\)/);
  t.match(printed, /restores the original: 2 threads/);
  t.same(commands, READS, "only the reads were sent");
});

t.test("--yes: every count measured, the original restored, the recommendation printed", async (t) => {
  const sim = await simulator(t);
  const { tuneTarget, commands } = target(accessFor(sim), {});
  let printed = "";
  const code = await tuneWithSession(tuneTarget, { yes: true, format: "pretty" }, (s) => {
    printed += s;
  });
  t.equal(code, EXIT.ok, printed);
  t.same(commands, [...READS, ...sweep([1, 2, 4]), ...restore], "the fixed sequence");
  t.match(printed, /^threads +prefill tok\/s +decode tok\/s/m);
  t.match(printed, /recommendation: ONEAPP_COPILOT_THREADS=\d+: the shortest reference turn/);
  t.match(printed, /restored: the override removed, threads 2 as before/);
  let json = "";
  const again = target(accessFor(sim), {});
  await tuneWithSession(again.tuneTarget, { yes: true, format: "json" }, (s) => {
    json += s;
  });
  const outcome = JSON.parse(json);
  t.equal(outcome.recommendation.table.length, 3);
  t.ok(outcome.recommendation.table.every((row: { decode_tok_s: number }) => row.decode_tok_s > 0));
  t.equal(outcome.run.restored, true);
});

t.test("a hostile VM changes no command: only the validated vCPU count shapes the sweep", async (t) => {
  const sim = await simulator(t);
  const hostile = target(accessFor(sim), { threadsAnswer: "$(touch /root/slmc-pwned)\n" });
  const refused = await tuneWithSession(hostile.tuneTarget, { yes: true, format: "pretty" }, () => {}).catch(
    (error: unknown) => error,
  );
  t.equal((refused as CliError).exitCode, EXIT.checkFailed);
  t.match((refused as CliError).message, /no threads: line in the model YAML/);
  t.same(hostile.commands, READS, "nothing changed on a VM it cannot read");
  const badCpus = target(accessFor(sim), { vcpus: "4; reboot\n" });
  await t.rejects(
    tuneWithSession(badCpus.tuneTarget, { yes: true, format: "pretty" }, () => {}),
    {
      message: /gave no vCPU count/,
    },
  );
});

t.test("a failed measurement ends the sweep and the original is still restored (exit 1)", async (t) => {
  const sim = await simulator(t);
  const { tuneTarget, commands } = target(accessFor(sim, { password: "wrong-password-1" }), {});
  let printed = "";
  const code = await tuneWithSession(tuneTarget, { yes: true, format: "pretty" }, (s) => {
    printed += s;
  });
  t.equal(code, EXIT.checkFailed);
  t.same(commands, [...READS, ...sweep([1]), ...restore], "stopped at 1, restored");
  t.match(printed, /the sweep stopped early: /);
  t.match(printed, /no recommendation: no thread count was measured completely/);
  t.match(printed, /restored: the override removed, threads 2 as before/);
});

t.test("a failed retune ends the sweep and the original is still restored", async (t) => {
  const sim = await simulator(t);
  const { tuneTarget, commands } = target(accessFor(sim), { retuneFailsAt: 2 });
  let printed = "";
  const code = await tuneWithSession(tuneTarget, { yes: true, format: "pretty" }, (s) => {
    printed += s;
  });
  t.equal(code, EXIT.checkFailed);
  t.same(commands, [...READS, ...sweep([1]), setThreadsCommand(2), RETUNE_COMMAND, ...restore]);
  t.match(
    printed,
    /stopped early: the appliance's retune failed \(retune-exit=1\): read \/var\/log\/one-appliance\/slm-copilot\.log/,
  );
  t.match(printed, /\| *1 +\S+ +\S+ .*recommended|^1 +[\d.]+ +[\d.]+ .*recommended/m);
});

t.test("a restore that does not bring the original back is reported with the manual fix", async (t) => {
  const sim = await simulator(t);
  const { tuneTarget } = target(accessFor(sim), { restoreSticks: true, vcpus: "2\n", original: 1 });
  let printed = "";
  const code = await tuneWithSession(tuneTarget, { yes: true, format: "pretty" }, (s) => {
    printed += s;
  });
  t.equal(code, EXIT.checkFailed);
  t.match(printed, /NOT RESTORED: after retune the model YAML says threads 2, expected 1/);
  t.match(printed, /remove \/etc\/slm-copilot\/tune-threads on the VM/);
});

t.test("Ctrl-C: the sweep stops and restore runs first", async (t) => {
  const sim = await simulator(t);
  const { tuneTarget, commands } = target(accessFor(sim), {});
  const controller = new AbortController();
  const log = tuneTarget.log;
  tuneTarget.log = (line) => {
    log(line);
    if (/1 threads: prefill/.test(line)) controller.abort();
  };
  const code = await tuneWithSession(
    tuneTarget,
    { yes: true, format: "pretty" },
    () => {},
    controller.signal,
  );
  t.equal(code, EXIT.interrupted);
  t.same(commands, [...READS, ...sweep([1]), ...restore]);
});

/** A stand-in engine whose model YAML says `threads: 4`. */
async function standIn(t: Test, threadScaling?: boolean) {
  const dir = await mkdtemp(join(tmpdir(), "slmc-tune-engine-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, "m.gguf"), "GGUF");
  await writeFile(join(dir, "m.yaml"), "name: m\nthreads: 4\nparameters:\n  model: m.gguf\n");
  const engine = createEngine({
    modelsPath: dir,
    threads: 1,
    contextSize: 4096,
    loadMs: 0,
    schedule: {
      ...DEFAULT_SCHEDULE,
      ttftMs: 1,
      tokensPerSecond: 1000,
      prefillTokensPerSecond: 500,
      ...(threadScaling === undefined ? {} : { threadScaling }),
    },
    defects: new Set(),
  });
  await engine.ready;
  return engine;
}

const completion = (engine: Awaited<ReturnType<typeof standIn>>) =>
  engine.app.fetch(
    new Request("http://engine/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "m",
        messages: [{ role: "user", content: "hello there" }],
        max_tokens: 2,
      }),
    }),
  );

t.test("the stand-in reports its model YAML's threads; rates follow them only when asked", async (t) => {
  const fixed = await standIn(t);
  const models = (await (await fixed.app.fetch(new Request("http://engine/v1/models"))).json()) as {
    data: { stand_in_threads: number }[];
  };
  t.equal(models.data[0]?.stand_in_threads, 4, "/v1/models says 4 threads");
  const plain = await completion(fixed);
  t.equal(plain.headers.get("x-stand-in-threads"), "4", "and so does each answer");
  const plainTimings = ((await plain.json()) as { timings: Record<string, number> }).timings;
  t.equal(plainTimings.predicted_per_second, 1000, "default: the decode rate is the schedule's");
  t.equal(plainTimings.prompt_per_second, 500, "and so is the prefill rate");
  const scaled = (await (await completion(await standIn(t, true))).json()) as {
    timings: Record<string, number>;
  };
  t.equal(scaled.timings.predicted_per_second, 2000, "threadScaling: decode × √4");
  t.equal(scaled.timings.prompt_per_second, 2000, "threadScaling: prefill × 4");
});

t.test("against a stand-in whose rates follow its threads, the table shows each count's rates", async (t) => {
  const sim = await simulator(t, {
    schedule: { ttftMs: 5, tokensPerSecond: 200, prefillTokensPerSecond: 20_000, threadScaling: true },
  });
  const seen: number[] = [];
  const { tuneTarget } = target(accessFor(sim), {
    original: 4,
    restarted: (threads) => {
      seen.push(threads);
      for (const model of sim.models) model.config = { ...model.config, threads };
    },
  });
  let json = "";
  const code = await tuneWithSession(tuneTarget, { yes: true, format: "json" }, (s) => {
    json += s;
  });
  t.equal(code, EXIT.ok);
  t.same(seen, [1, 2, 4, 4], "the engine restarted at 1, 2, 4, then with the original 4");
  const outcome = JSON.parse(json) as {
    recommendation: { threads: number; table: { threads: number; prefill_tok_s: number }[] };
  };
  // The stand-in reports its prefill rate in llama-server's timings: exact, whatever the machine's load.
  t.same(
    outcome.recommendation.table.map((row) => [row.threads, row.prefill_tok_s]),
    [
      [1, 20_000],
      [2, 40_000],
      [4, 80_000],
    ],
    "prefill measured at each count the stand-in ran with",
  );
  t.ok([1, 2, 4].includes(outcome.recommendation.threads), "a count is recommended");
});

t.test("an override left on the VM by an earlier run is refused before anything changes", async (t) => {
  const sim = await simulator(t);
  const { tuneTarget, commands } = target(accessFor(sim), { leftOver: 1 });
  const refused = await tuneWithSession(tuneTarget, { yes: true, format: "pretty" }, () => {}).catch(
    (error: unknown) => error,
  );
  t.equal((refused as CliError).exitCode, EXIT.checkFailed);
  t.match(
    (refused as CliError).message,
    /already on the VM .* remove it and run \/usr\/local\/sbin\/slm-copilot-retune on the VM/,
  );
  t.same(commands, READS, "only the reads were sent");
});

// What may reach the VM's root shell: a source (`. /`, `source`), an `eval`, a command substitution or
// a backtick would hand it text the VM's owner controls; one_env is the file that holds such text.
const HANDS_TO_SHELL = /one_env|\. \/|\bsource\b|\beval\b|\$\(|`/;

t.test("no tune command reads the context or sources, evals or substitutes anything", async (t) => {
  t.ok(HANDS_TO_SHELL.test("set -a; [ -r /run/one-context/one_env ] && . /run/one-context/one_env; set +a"));
  t.ok(
    HANDS_TO_SHELL.test("echo $(id)") && HANDS_TO_SHELL.test("echo `id`") && HANDS_TO_SHELL.test("eval x"),
  );
  const sim = await simulator(t);
  const { tuneTarget, commands } = target(accessFor(sim), {});
  await tuneWithSession(tuneTarget, { yes: true, format: "pretty" }, () => {});
  const sent = [
    ...new Set([
      ...commands,
      VCPUS_COMMAND,
      THREADS_COMMAND,
      OVERRIDE_PRESENT_COMMAND,
      REMOVE_OVERRIDE_COMMAND,
    ]),
  ];
  t.ok(sent.includes(RETUNE_COMMAND) && sent.length >= 8, `${sent.length} distinct commands sent`);
  for (const command of sent) t.notOk(HANDS_TO_SHELL.test(command), `fixed and inert: ${command}`);
});

t.test("a VM without the retune script: the sweep stops saying so, nothing is guessed", async (t) => {
  const sim = await simulator(t);
  const { tuneTarget } = target(accessFor(sim), { noRetuneScript: true });
  let printed = "";
  const code = await tuneWithSession(tuneTarget, { yes: true, format: "pretty" }, (s) => {
    printed += s;
  });
  t.equal(code, EXIT.checkFailed);
  t.match(
    printed,
    /stopped early: \/usr\/local\/sbin\/slm-copilot-retune printed no exit status: is it on the VM\?/,
  );
  t.match(printed, /NOT RESTORED/);
});
