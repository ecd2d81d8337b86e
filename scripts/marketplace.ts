// Marketplace files: schema check (make lint, CI) and placeholder filling (build.sh).
//   node --import tsx scripts/marketplace.ts check [--release] [LISTING.yaml]
//       validates the listing (default: the one in marketplace/) plus marketplace/metadata.yaml and
//       context.yaml against src/schemas/marketplace.ts and appliance/appliance.sh's parameters;
//       --release also rejects every @@PLACEHOLDER@@ (what build.sh writes must pass it)
//   node --import tsx scripts/marketplace.ts fill TEMPLATE OUT --url U --sha256 H --md5 H --size BYTES
//       --version V --creation-time EPOCH --publisher-email E
//       writes TEMPLATE with its placeholders filled to OUT, then checks OUT in release mode
//       [--evidence DIR --checksum-file IMAGE.sha256 [--allowed-signer PUBKEY]]
//       fills only from a release gate's evidence bundle that verifies (SHA256SUMS, the signature by
//       PUBKEY when given), whose verdict passed, and whose image sha256 is the one in the built
//       image's checksum file (then --sha256 may be left out); otherwise refuses, saying why, and
//       writes nothing
// Exit codes: 0 valid, 1 invalid or refused, 2 usage.
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
import { verifyBundle } from "../src/gate/bundle.ts";
import type { Verdict } from "../src/gate/evaluate.ts";
import { BUNDLE } from "../src/gate/layout.ts";

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

/** The sha256 a `sha256sum` checksum file gives for the image (its first line's first field). */
async function checksumOf(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    usage(`--checksum-file "${file}": ${(error as Error).message}`);
  }
  const sum = /^([0-9a-f]{64})\s/.exec(text)?.[1];
  if (!sum) usage(`--checksum-file "${file}" is not a sha256sum line ("<64 hex>  <image>")`);
  return sum;
}

/**
 * Why a gate bundle cannot vouch for the image with sha256 `imageSha256`: it does not verify, its
 * verdict did not pass, or it names another image (or none). Empty when it can.
 */
export async function evidenceRefusals(
  dir: string,
  imageSha256: string,
  publicKey?: string,
): Promise<string[]> {
  const verified = await verifyBundle(dir, publicKey ? { publicKey } : {});
  if (!verified.ok)
    return [
      `the evidence bundle ${dir} does not verify (${verified.problems.length} problem(s); slmc-check gate --verify ${dir}):`,
      ...verified.problems.map((p) => `  ${p.kind} ${p.file}: ${p.message}`),
    ];
  let verdict: Verdict;
  try {
    verdict = JSON.parse(await readFile(join(dir, BUNDLE.verdictJson), "utf8")) as Verdict;
  } catch (error) {
    return [`the evidence bundle ${dir} has no readable ${BUNDLE.verdictJson}: ${(error as Error).message}`];
  }
  const refusals: string[] = [];
  if (verdict.passed !== true) {
    const failed = (verdict.clauses ?? []).filter((c) => c.required && c.status === "fail").map((c) => c.id);
    refusals.push(
      `the gate's verdict in ${dir} did not pass (policy ${verdict.policy?.name ?? "?"}; failed: ${failed.join(", ") || "?"}); see ${join(dir, BUNDLE.verdictMd)}`,
    );
  }
  const gated = verdict.image?.sha256 ?? null;
  if (gated === null)
    refusals.push(
      `the verdict in ${dir} names no image: the gate ran without --build-manifest, or the VM's build id was not the manifest's`,
    );
  else if (gated !== imageSha256)
    refusals.push(
      `the gated image has sha256 ${gated} (build ${verdict.image?.build_id}), the built image has ${imageSha256}: gate a VM booted from this image`,
    );
  return refusals;
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
      evidence: { type: "string" },
      "checksum-file": { type: "string" },
      "allowed-signer": { type: "string" },
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
    if (values.evidence !== undefined) {
      if (!values["checksum-file"])
        usage(
          "fill --evidence needs --checksum-file (the built image's .sha256) to compare the gated image with",
        );
      const sum = await checksumOf(values["checksum-file"]);
      if (values.sha256 !== undefined && values.sha256 !== sum)
        usage(`--sha256 ${values.sha256} is not the checksum file's ${sum}`);
      let publicKey: string | undefined;
      if (values["allowed-signer"])
        publicKey = await readFile(values["allowed-signer"], "utf8").catch((error: Error) =>
          usage(`--allowed-signer "${values["allowed-signer"]}": ${error.message}`),
        );
      const refusals = await evidenceRefusals(values.evidence, sum, publicKey);
      if (refusals.length) {
        console.error(
          `marketplace: refusing to fill ${subject} from the evidence bundle ${values.evidence}:`,
        );
        for (const line of refusals) console.error(`marketplace: ${line}`);
        process.exit(1);
      }
      console.log(
        `marketplace: evidence bundle ${values.evidence} verifies, its verdict passed, its image is ${sum}`,
      );
      values.sha256 = sum;
    } else if (values["checksum-file"] || values["allowed-signer"]) {
      usage("--checksum-file and --allowed-signer go with --evidence DIR");
    }
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
