// The README's user-facing parts stay true to the code: the two setup commands at the top, the Cline and
// Continue snippets match what the appliance serves (keys of its report snippet, model id, /v1 base),
// every context variable is documented, and the troubleshooting table covers every requirement id.
import t from "tap";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { REQUIREMENTS } from "../suites/requirements.ts";
import { applianceParams } from "../src/schemas/marketplace.ts";

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
  const blocks = jsonBlocks(section("Connecting Cline and Continue"));
  t.equal(blocks.length, 2, "one Cline and one Continue block, both valid JSON");
  const cline = blocks[0] as Record<string, string>;
  t.same(Object.keys(cline).sort(), [...clineKeys].sort(), "same keys as the appliance's report");
  t.equal(cline["cline.apiProvider"], "openai");
  t.equal(cline["cline.openAiModelId"], model);
  t.match(cline["cline.openAiBaseUrl"], /^https:\/\/[^/]+\/v1$/);
  const continueConfig = blocks[1] as {
    models: { provider: string; model: string; apiBase: string; apiKey: string }[];
  };
  t.equal(continueConfig.models[0]?.provider, "openai");
  t.equal(continueConfig.models[0]?.model, model);
  t.match(continueConfig.models[0]?.apiBase, /^https:\/\/[^/]+\/v1$/);
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
