// Marketplace files: schema check (make lint, CI) and placeholder filling (build.sh).
//   node --import tsx scripts/marketplace.ts check [--release] [LISTING.yaml]
//       validates the listing (default: the one in marketplace/) plus marketplace/metadata.yaml and
//       context.yaml against src/schemas/marketplace.ts and appliance/appliance.sh's parameters;
//       --release also rejects every @@PLACEHOLDER@@ (what build.sh writes must pass it)
//   node --import tsx scripts/marketplace.ts fill TEMPLATE OUT --url U --sha256 H --md5 H --size BYTES
//       --version V --creation-time EPOCH --publisher-email E
//       writes TEMPLATE with its placeholders filled to OUT, then checks OUT in release mode
// Exit codes: 0 valid, 1 invalid, 2 usage.
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parse } from "yaml";
import { z } from "zod";
import {
  applianceParams,
  consistencyIssues,
  harnessMetadataSchema,
  listingSchema,
  type Mode,
} from "../src/schemas/marketplace.ts";

const ROOT = resolve(import.meta.dirname, "..");
const DIR = join(ROOT, "marketplace");

function usage(message: string): never {
  console.error(`marketplace: ${message}`);
  process.exit(2);
}

function issuesOf(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
}

async function defaultListing(): Promise<string> {
  const listings = (await readdir(DIR)).filter((name) => /^[0-9a-f-]{36}\.yaml$/.test(name));
  if (listings.length !== 1) usage(`expected one <uuid>.yaml in ${DIR}, found ${listings.length}`);
  return join(DIR, listings[0] as string);
}

export async function check(listingPath: string, mode: Mode): Promise<string[]> {
  const problems: string[] = [];
  const listing = listingSchema(mode).safeParse(parse(await readFile(listingPath, "utf8")));
  if (!listing.success) problems.push(...issuesOf(listing.error).map((line) => `${listingPath}: ${line}`));
  const harness = harnessMetadataSchema.safeParse(parse(await readFile(join(DIR, "metadata.yaml"), "utf8")));
  if (!harness.success) problems.push(...issuesOf(harness.error).map((line) => `metadata.yaml: ${line}`));
  const context = z
    .record(z.string(), z.string())
    .safeParse(parse(await readFile(join(DIR, "context.yaml"), "utf8")));
  if (!context.success) problems.push(...issuesOf(context.error).map((line) => `context.yaml: ${line}`));
  if (listing.success && harness.success && context.success) {
    const params = applianceParams(await readFile(join(ROOT, "appliance/appliance.sh"), "utf8"));
    if (params.length === 0) problems.push("appliance/appliance.sh: no ONE_SERVICE_PARAMS found");
    problems.push(...consistencyIssues(listing.data, params, harness.data, context.data));
  }
  return problems;
}

async function fill(
  template: string,
  out: string,
  values: { [key: string]: string | boolean | undefined },
): Promise<string[]> {
  const numbers = { IMAGE_VIRTUAL_SIZE: values.size, CREATION_TIME: values["creation-time"] };
  const strings = {
    IMAGE_URL: values.url,
    IMAGE_SHA256: values.sha256,
    IMAGE_MD5: values.md5,
    VERSION: values.version,
    PUBLISHER_EMAIL: values["publisher-email"],
  };
  let text = await readFile(template, "utf8");
  for (const [name, value] of Object.entries({ ...numbers, ...strings })) {
    if (typeof value !== "string" || value === "") usage(`fill needs a value for @@${name}@@`);
    if (name in numbers && !/^[0-9]+$/.test(value))
      usage(`@@${name}@@ must be a whole number, not '${value}'`);
    text = text.replaceAll(`"@@${name}@@"`, name in numbers ? value : JSON.stringify(value));
  }
  await writeFile(out, text);
  return check(out, "release");
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      release: { type: "boolean", default: false },
      url: { type: "string" },
      sha256: { type: "string" },
      md5: { type: "string" },
      size: { type: "string" },
      version: { type: "string" },
      "creation-time": { type: "string" },
      "publisher-email": { type: "string" },
    },
  });
  const [command, ...files] = positionals;
  let problems: string[];
  let subject: string;
  if (command === "check") {
    subject = files[0] ?? (await defaultListing());
    problems = await check(subject, values.release ? "release" : "draft");
  } else if (command === "fill") {
    if (files.length !== 2) usage("fill TEMPLATE OUT --url ... (see the header of scripts/marketplace.ts)");
    subject = files[1] as string;
    problems = await fill(files[0] as string, subject, values);
  } else {
    usage(
      "usage: marketplace.ts check [--release] [LISTING] | fill TEMPLATE OUT --url U --sha256 H --md5 H --size N --version V --creation-time T --publisher-email E",
    );
  }
  for (const problem of problems) console.error(`marketplace: ${problem}`);
  if (problems.length > 0) process.exit(1);
  console.log(
    `marketplace: ${subject} valid (${command === "fill" || values.release ? "release" : "draft"} mode)`,
  );
}

await main();
