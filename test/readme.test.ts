// The README's user-facing parts stay true to the code: the two setup commands at the top, the Cline,
// Cline CLI and Continue snippets match what the appliance serves (keys of its report snippet, model id, /v1 base),
// every context variable is documented, the troubleshooting table covers every requirement id, and the
// options table has one row per flag of the flag table, with its commands and default.
import t from "tap";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { shellWords } from "../suites/integration.ts";
import { REQUIREMENTS } from "../suites/requirements.ts";
import { applianceParams } from "../src/schemas/marketplace.ts";
import { COMMAND_NAMES, FLAGS, type CommandName } from "../src/cli/flags.ts";
import { helpPage } from "../src/cli/help.ts";
import type { HelpTopic } from "../src/cli/args.ts";

const ROOT = resolve(import.meta.dirname, "..");
const README = await readFile(join(ROOT, "README.md"), "utf8");
const APPLIANCE = await readFile(join(ROOT, "appliance/appliance.sh"), "utf8");

function section(title: string): string {
  const start = README.indexOf(`\n## ${title}`);
  if (start < 0) return "";
  const end = README.indexOf("\n## ", start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

function jsonBlocks(text: string): unknown[] {
  return [...text.matchAll(/```json\n([\s\S]*?)```/g)].map(
    (match) => JSON.parse(match[1] as string) as unknown,
  );
}

t.test("the two setup commands open the README", async (t) => {
  const twoCommands = section("Two commands");
  t.match(twoCommands, /make demo {3}# /);
  t.match(twoCommands, /make test {3}# /);
  t.ok(README.indexOf("## Two commands") < README.indexOf("## Architecture"), "before the new sections");
});

t.test("the Cline and Continue snippets match what the appliance serves", async (t) => {
  const model = /^MODEL_NAME=(.+)$/m.exec(APPLIANCE)?.[1];
  t.equal(model, "devstral-small-2");
  const clineKeys = [
    ...(/cline_settings_json\(\) \{[\s\S]*?'\{([\s\S]*?)\}'/.exec(APPLIANCE)?.[1] ?? "").matchAll(
      /"(cline\.[A-Za-z]+)"/g,
    ),
  ].map((m) => m[1]);
  t.equal(clineKeys.length, 4, "the report's Cline snippet has four settings");
  const clients = section("Connecting Cline and Continue");
  const blocks = jsonBlocks(clients);
  t.equal(blocks.length, 1, "one Cline settings.json block, valid JSON");
  const cline = blocks[0] as Record<string, string>;
  t.same(Object.keys(cline).sort(), [...clineKeys].sort(), "same keys as the appliance's report");
  t.equal(cline["cline.apiProvider"], "openai");
  t.equal(cline["cline.openAiModelId"], model);
  t.match(cline["cline.openAiBaseUrl"], /^https:\/\/[^/]+\/v1$/);
  const caFile = /^CLIENT_CA_FILE=(.+)$/m.exec(APPLIANCE)?.[1];
  const dataDir = /^CLINE_DATA_DIR=(.+)$/m.exec(APPLIANCE)?.[1];
  const yamlBlocks = [...clients.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parseYaml(m[1] as string));
  t.equal(yamlBlocks.length, 1, "one Continue config.yaml block, valid YAML");
  const continueConfig = yamlBlocks[0] as {
    schema: string;
    models: {
      provider: string;
      model: string;
      apiBase: string;
      apiKey: string;
      roles: string[];
      requestOptions: { caBundlePath: string };
    }[];
  };
  t.equal(continueConfig.schema, "v1");
  t.equal(continueConfig.models[0]?.provider, "openai");
  t.equal(continueConfig.models[0]?.model, model);
  t.match(continueConfig.models[0]?.apiBase, /^https:\/\/[^/]+\/v1$/);
  t.same(continueConfig.models[0]?.roles, ["chat", "edit", "apply"]);
  t.equal(continueConfig.models[0]?.requestOptions.caBundlePath, caFile, "the CA file the report names");
  const lines = [...clients.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => (m[1] as string).split("\n"));
  t.ok(
    lines.some(
      (l) => l.startsWith("scp root@") && l.endsWith(`:/etc/slm-copilot/tls/self-signed.crt ${caFile}`),
    ),
    "how to fetch the CA certificate",
  );
  const auth = shellWords(lines.find((l) => l.startsWith("cline auth ")) ?? "");
  const flag = (name: string) => auth[auth.indexOf(name) + 1];
  t.same(
    [flag("-p"), flag("-m"), flag("--data-dir")],
    ["openai", model, dataDir],
    "cline auth: provider, model, data dir as the report writes them",
  );
  t.match(flag("-b"), /^https:\/\/[^/]+\/v1$/);
  t.same(
    auth.filter((w) => w.startsWith("-")),
    ["-p", "-k", "-m", "-b", "--data-dir"],
  );
  t.ok(
    lines.includes(
      `CLINE_SESSION_BACKEND_MODE=local NODE_EXTRA_CA_CERTS=${caFile} cline --data-dir ${dataDir} --json -t 600 "Say hello in one sentence."`,
    ),
    "the run command is the report's",
  );
});

t.test(
  "every context variable is documented and every requirement id has a troubleshooting row",
  async (t) => {
    const params = applianceParams(APPLIANCE);
    t.ok(params.length >= 6);
    for (const param of params)
      t.match(README, new RegExp(`\\| \`${param}\`\\s+\\|`), `${param} in the variables table`);
    const troubleshooting = section("Troubleshooting");
    for (const id of Object.keys(REQUIREMENTS))
      t.match(troubleshooting, new RegExp(`\\b${id}\\b`), `${id} covered`);
    const mentioned = [...troubleshooting.matchAll(/\b([A-Z]+-[0-9]{2})\b/g)].map((m) => m[1] as string);
    t.same(
      mentioned.filter((id) => !(id in REQUIREMENTS)),
      [],
      "no unknown requirement id",
    );
  },
);

const README_LABELS: Record<CommandName, string> = {
  check: "`<host>`",
  demo: "`demo`",
  reboot: "`reboot`",
  soak: "`soak`",
  bench: "`bench`",
  "bench-demo": "`bench demo`",
  compare: "`bench --compare`",
  checks: "`checks`",
  gate: "`gate`",
  "gate-demo": "`gate demo`",
  "gate-verify": "`gate --verify`",
  fleet: "`fleet`",
  tune: "`tune`",
};
const HELP_TOPIC: Record<CommandName, HelpTopic> = {
  check: "main",
  demo: "demo",
  reboot: "reboot",
  soak: "soak",
  bench: "bench",
  "bench-demo": "bench",
  compare: "bench",
  checks: "checks",
  gate: "gate",
  "gate-demo": "gate",
  "gate-verify": "gate",
  fleet: "fleet",
  tune: "tune",
};

t.test(
  "every flag has one README row with its commands and default, and is in its commands' help",
  async (t) => {
    const using = section("Using slmc-check");
    const rows = new Map<string, string[]>();
    for (const match of using.matchAll(/^\| `--([a-z-]+)[^`]*` +\|(.*)\|$/gm)) {
      t.notOk(rows.has(match[1] as string), `one row for --${match[1]}`);
      rows.set(
        match[1] as string,
        (match[2] as string).split(/(?<!\\)\|/).map((cell) => cell.trim()),
      );
    }
    t.same(
      [...rows.keys()].sort(),
      FLAGS.map((f) => f.name).sort(),
      "the README's rows are the table's flags",
    );
    for (const f of FLAGS) {
      const [commands, shown] = rows.get(f.name) ?? [];
      const expected = COMMAND_NAMES.every((c) => (f.commands as readonly string[]).includes(c))
        ? "every command"
        : f.commands.map((c) => README_LABELS[c]).join(", ");
      t.equal(commands, expected, `--${f.name}: commands`);
      const defaultCell = "default" in f ? `\`${f.default}\`` : "defaultText" in f ? f.defaultText : "—";
      t.equal(shown, defaultCell, `--${f.name}: default`);
      for (const command of f.commands)
        t.match(
          helpPage(HELP_TOPIC[command]),
          new RegExp(`^ {2}(?:-[A-Za-z], )?--${f.name}\\b`, "m"),
          `--${f.name} in the help of ${command}`,
        );
    }
  },
);
