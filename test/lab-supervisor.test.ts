// `lab.sh supervise`, which runs the lab VM's QEMU (with -no-reboot): a guest reset ends QEMU and a fresh
// one starts on the same run directory; a guest power-off, `lab.sh down`'s stop marker or a QEMU that
// ends at once stops it. No VM: SLMC_LAB_QEMU points at a script standing in for QEMU in this test only,
// which appends to the console file it is given and ends the way the plan says. The real reboots are
// lab.test's (every one of them passes through this supervisor).
import t from "tap";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runProcess } from "./spawn.ts";

const LAB = resolve(import.meta.dirname, "../scripts/lab.sh");

// One QEMU start per line of plan: "reset" or "poweroff" after 3 s (Linux's last console word for
// each); "crash", or no line left, ends at once with status 1. Like QEMU, it truncates the console file
// at its start unless told append=on.
const QEMU_STAND_IN = `#!/bin/sh
for arg; do
  case "$arg" in file,id=console,path=*) console="\${arg#file,id=console,path=}" ;; esac
done
case "$console" in
  *,append=on) console="\${console%,append=on}" ;;
  *) : >"$console" ;;
esac
starts=$(($(cat "$RUN/starts" 2>/dev/null || echo 0) + 1))
echo "$starts" >"$RUN/starts"
action=$(sed -n "\${starts}p" "$RUN/plan")
echo "[    0.000000] Linux version (start $starts)" >>"$console"
case "$action" in reset | poweroff) ;; *) exit 1 ;; esac
sleep 3
case "$action" in
  reset) echo "[    3.000000] reboot: Restarting system" >>"$console" ;;
  poweroff) echo "[    3.000000] reboot: Power down" >>"$console" ;;
esac
`;

async function supervise(plan: string[], stopping = false) {
  const run = await mkdtemp(join(tmpdir(), "slmc-lab-supervise-"));
  t.teardown(() => rm(run, { recursive: true, force: true }));
  const qemu = join(run, "qemu-stand-in");
  await writeFile(qemu, QEMU_STAND_IN);
  await chmod(qemu, 0o755);
  await writeFile(join(run, "plan"), plan.join("\n") + "\n");
  await writeFile(
    join(run, "state.env"),
    [
      "LAB_ACCEL=tcg",
      "LAB_MEMORY_MB=512",
      "LAB_RESTRICT=on",
      `LAB_BASE=${run}`,
      `LAB_CONTEXT_ISO=${run}/context.iso`,
      ...["SSH", "HTTP", "HTTPS", "ENGINE"].map((port, index) => `LAB_${port}_PORT=${40000 + index}`),
    ].join("\n"),
  );
  if (stopping) await writeFile(join(run, "stopping"), "");
  const result = await runProcess(
    LAB,
    ["supervise"],
    { RUN: run, SLMC_LAB_RUN: run, SLMC_LAB_QEMU: qemu, SLMC_LAB_QEMU_MIN_RUN_S: "2" },
    60_000,
  );
  const read = (name: string) => readFile(join(run, name), "utf8").catch(() => "");
  return {
    ...result,
    starts: Number((await read("starts")).trim() || 0),
    console: await read("serial.log"),
  };
}

t.test("a guest reset starts a fresh QEMU; a power-off ends the supervisor", async (t) => {
  const run = await supervise(["reset", "reset", "poweroff", "reset"]);
  t.equal(run.starts, 3, `two resets, then the power-off: three starts, no fourth:\n${run.stderr}`);
  t.equal(run.code, 0, "the supervisor ends cleanly");
  t.match(run.stderr, /after \d+ s: restart[\s\S]*after \d+ s: restart[\s\S]*after \d+ s: stop/);
  t.equal(
    run.console.match(/Linux version/g)?.length,
    3,
    "the console file is appended to across restarts, not truncated",
  );
});

t.test("lab.sh's stop marker ends it at the next exit, even on a reset", async (t) => {
  const run = await supervise(["reset", "reset"], true);
  t.equal(run.starts, 1, run.stderr);
  t.match(run.stderr, /: stop$/m);
});

t.test("a QEMU that ends at once is not restarted in a loop, and the supervisor fails", async (t) => {
  const run = await supervise(["crash", "crash"]);
  t.equal(run.starts, 1, run.stderr);
  t.not(run.code, 0);
  t.match(run.stderr, /QEMU exited \(status 1\) after [01] s: failed/);
});
