// Every command's --help, from the compiled binary: its own page, listing exactly the flags the table
// gives the command, each with its default; `checks` lists every check, the per-cycle reboot and soak
// ones included.
import t from "tap";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { FLAGS, type CommandName, type Flag, shownDefault } from "../src/cli/flags.ts";
import { HELP_PAGES } from "../src/cli/help.ts";
import type { HelpTopic } from "../src/cli/args.ts";
import { SUITES } from "../suites/index.ts";
import { rebootSuite } from "../suites/reboot/check.ts";
import { soakSuite } from "../suites/soak.ts";
import { SoakTimeline } from "../src/soak/timeline.ts";
import { runProcess } from "./spawn.ts";

const BINARY = resolve(import.meta.dirname, "../dist/slmc-check");

const slmc = (args: string[]) => runProcess(BINARY, args, { NO_COLOR: "1" }, 30_000);

t.before(() => {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run "npm run build" first`);
});

/** The flags a page lists: lines that start with the flag, as the generated option sections write them. */
function listedFlags(page: string): string[] {
  return [...page.matchAll(/^ {2}(?:-[A-Za-z], )?--([a-z][a-z-]*)/gm)].map((m) => m[1] as string);
}

/** A flag's entry: its line and the indented continuation lines, whitespace collapsed. */
function entry(page: string, f: Flag): string {
  const lines = page.split("\n");
  const start = lines.findIndex((l) => new RegExp(`^ {2}(?:-[A-Za-z], )?--${f.name}\\b`).test(l));
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((l) => !/^ {27}\S/.test(l));
  return [lines[start], ...rest.slice(0, end < 0 ? undefined : end)].join(" ").replace(/\s+/g, " ");
}

const TOPIC_ARGV: Record<HelpTopic, string[][]> = {
  main: [["--help"], ["10.0.0.5", "--help"], ["help"]],
  demo: [
    ["demo", "--help"],
    ["help", "demo"],
  ],
  reboot: [
    ["reboot", "--help"],
    ["reboot", "10.0.0.5", "-h"],
    ["help", "reboot"],
  ],
  soak: [
    ["soak", "--help"],
    ["help", "soak"],
  ],
  bench: [
    ["bench", "--help"],
    ["bench", "--compare", "--help"],
  ],
  checks: [
    ["checks", "--help"],
    ["help", "checks"],
  ],
  gate: [
    ["gate", "--help"],
    ["help", "gate"],
    ["gate", "--verify", "x", "--help"],
  ],
  fleet: [
    ["fleet", "--help"],
    ["help", "fleet"],
    ["fleet", "inventory.yaml", "-h"],
  ],
  tune: [
    ["tune", "--help"],
    ["help", "tune"],
  ],
};

const TITLES: Record<HelpTopic, RegExp> = {
  main: /^slmc-check — conformance gate/,
  demo: /^slmc-check demo — /,
  reboot: /^slmc-check reboot — /,
  soak: /^slmc-check soak — /,
  bench: /^slmc-check bench — /,
  checks: /^slmc-check checks — /,
  gate: /^slmc-check gate — /,
  fleet: /^slmc-check fleet — /,
  tune: /^slmc-check tune — /,
};

for (const [topic, argvs] of Object.entries(TOPIC_ARGV) as [HelpTopic, string[][]][])
  t.test(`${topic} help: its own page, exactly its flags, each with its default`, async (t) => {
    const commands = HELP_PAGES[topic] as readonly CommandName[];
    const expected = FLAGS.filter((f) => commands.some((c) => (f.commands as readonly string[]).includes(c)));
    for (const argv of argvs) {
      const help = await slmc(argv);
      t.equal(help.code, 0, `${argv.join(" ")} exits 0`);
      t.match(help.stdout, TITLES[topic], `${argv.join(" ")} prints the ${topic} page`);
      t.same(
        listedFlags(help.stdout).sort(),
        expected.map((f) => f.name).sort(),
        `${argv.join(" ")} lists exactly the flags of ${commands.join(", ")}`,
      );
      for (const f of expected) {
        const shown = shownDefault(f);
        if (shown !== undefined)
          t.match(entry(help.stdout, f), `(default ${shown})`, `--${f.name}: default ${shown}`);
      }
    }
  });

t.test("the flags the issue found missing are documented where they apply", async (t) => {
  t.match((await slmc(["soak", "--help"])).stdout, /--ui-port N +port of the --ui page/);
  const main = (await slmc(["--help"])).stdout;
  t.match(main, /--expect-offline +fail host\.serves-offline/);
  t.match(main, /--outbound-probe URL +what the VM tries to reach/);
});

t.test("checks lists every check, reboot.* and soak.* included", async (t) => {
  const checks = await slmc(["checks"]);
  t.equal(checks.code, 0);
  const plan = { reboots: 1, killEvery: 1, loadStreams: 1, readyBudgetS: 900 };
  const perCycle = [
    ...rebootSuite(1, 900).checks,
    ...rebootSuite(1, 900, ["password"]).checks,
    ...soakSuite(plan, new SoakTimeline(plan), () => undefined).checks,
  ].map((check) => check.id.replace(/cycle-1\b/, "cycle-N"));
  const ids = [...SUITES.flatMap((s) => s.checks.map((c) => c.id)), ...perCycle];
  t.ok(perCycle.some((id) => id.startsWith("reboot.")) && perCycle.some((id) => id.startsWith("soak.")));
  for (const id of ids)
    t.match(checks.stdout, new RegExp(`^ +[A-Z]+-\\d+ +${id.replace(/\./g, "\\.")} `, "m"), id);
});
