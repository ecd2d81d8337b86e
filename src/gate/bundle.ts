// The gate's evidence bundle: verdict, every report it judged, the policy as used, versions, and
// SHA256SUMS over every file (`sha256sum -c` reads it). Optionally signed with `ssh-keygen -Y sign`
// (namespace slmc-gate); verifyBundle() proves that no file was modified, added or removed, and
// checks the signature against a given public key (or only its form, without one).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import type { Report } from "../core/check.ts";
import { renderBenchHtml } from "../bench/html.ts";
import { renderMany } from "../reporters/index.ts";
import type { GateInputs, Verdict } from "./evaluate.ts";
import { benchFile, BUNDLE } from "./layout.ts";
import type { LoadedPolicy } from "./policy.ts";
import { renderVerdictMarkdown } from "./verdict-md.ts";

export const SIGNATURE_NAMESPACE = "slmc-gate";
/** ssh-keygen signs or verifies one small file: anything slower is stuck (e.g. asking for a passphrase). */
export const SSH_KEYGEN_TIMEOUT_MS = 15_000;
const MAX_TOOL_OUTPUT = 64 * 1024;

export class BundleError extends Error {}

export interface BundleFile {
  path: string;
  text: string;
}

export interface BundleContents {
  verdict: Verdict;
  policy: LoadedPolicy;
  inputs: GateInputs;
  tool: { name: string; version: string; runtime: string };
}

const json = (value: unknown) => JSON.stringify(value, null, 2) + "\n";

function versions(contents: BundleContents) {
  const { inputs } = contents;
  const reports: [string, Report | undefined][] = [
    [BUNDLE.checksJson, inputs.checks],
    [BUNDLE.rebootJson, inputs.reboot],
    [BUNDLE.soakJson, inputs.soak],
  ];
  return {
    gate: contents.tool,
    reports: [
      ...reports.flatMap(([file, r]) => (r ? [{ file, tool: r.tool }] : [])),
      ...(inputs.bench ?? []).map((r, i) => ({ file: benchFile(r, i, "json"), tool: r.tool })),
    ],
    target: {
      host: contents.verdict.target.host,
      simulated: contents.verdict.target.simulated,
      stand_in: contents.verdict.target.stand_in,
      build: inputs.build ?? null,
    },
    image: contents.verdict.image,
  };
}

/** Every file of the bundle but SHA256SUMS and its signature, in a stable order. */
export function bundleFiles(contents: BundleContents): BundleFile[] {
  const { inputs, verdict } = contents;
  const files: BundleFile[] = [
    { path: BUNDLE.verdictJson, text: json(verdict) },
    { path: BUNDLE.verdictMd, text: renderVerdictMarkdown(verdict) },
    { path: BUNDLE.policy, text: json({ sources: contents.policy.sources, policy: contents.policy.policy }) },
    { path: BUNDLE.versions, text: json(versions(contents)) },
  ];
  if (inputs.checks)
    for (const out of renderMany(
      inputs.checks,
      [
        { format: "json", file: BUNDLE.checksJson },
        { format: "junit", file: BUNDLE.checksJunit },
        { format: "tap", file: BUNDLE.checksTap },
      ],
      { color: false },
    ))
      files.push({ path: out.file, text: out.text });
  if (inputs.reboot) files.push({ path: BUNDLE.rebootJson, text: json(inputs.reboot) });
  if (inputs.soak) {
    files.push({ path: BUNDLE.soakJson, text: json(inputs.soak) });
    if (inputs.soak.soak?.timeline !== undefined)
      files.push({ path: BUNDLE.soakTimeline, text: json(inputs.soak.soak.timeline) });
  }
  (inputs.bench ?? []).forEach((report, i) => {
    files.push({ path: benchFile(report, i, "json"), text: json(report) });
    files.push({ path: benchFile(report, i, "html"), text: renderBenchHtml(report) });
  });
  if (inputs.build) files.push({ path: BUNDLE.buildRecord, text: json(inputs.build) });
  if (inputs.manifest) files.push({ path: BUNDLE.buildManifest, text: json(inputs.manifest) });
  return files;
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

/** `sha256sum` text-mode lines ("<hex>  <path>"), sorted by path. */
export function sumsFor(files: readonly { path: string; data: string | Buffer }[]): string {
  return (
    [...files]
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
      .map((f) => `${sha256(f.data)}  ${f.path}`)
      .join("\n") + "\n"
  );
}

interface ToolRun {
  code: number | null;
  output: string;
  timedOut: boolean;
}

/** ssh-keygen with a timeout, no terminal to prompt on, and bounded output. */
function sshKeygen(args: string[], stdin?: string): Promise<ToolRun> {
  return new Promise((done) => {
    let output = "";
    let timedOut = false;
    // SSH_AUTH_SOCK: a key with a passphrase signs through the agent. Nothing else of ours leaks in.
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? tmpdir() };
    if (process.env.SSH_AUTH_SOCK) env.SSH_AUTH_SOCK = process.env.SSH_AUTH_SOCK;
    // detached: a session of its own, without a controlling terminal, so it cannot prompt on ours.
    const child = spawn("ssh-keygen", args, { stdio: ["pipe", "pipe", "pipe"], env, detached: true });
    const keep = (chunk: Buffer) => {
      if (output.length < MAX_TOOL_OUTPUT)
        output += chunk.toString("utf8").slice(0, MAX_TOOL_OUTPUT - output.length);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, SSH_KEYGEN_TIMEOUT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      done({ code: null, output: `cannot run ssh-keygen: ${error.message}`, timedOut });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, output: output.trim(), timedOut });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(stdin ?? "");
  });
}

/** Signs SHA256SUMS into SHA256SUMS.sig with an SSH private key (`ssh-keygen -Y sign`). */
export async function signBundle(dir: string, keyFile: string): Promise<void> {
  const run = await sshKeygen([
    "-Y",
    "sign",
    "-q",
    "-f",
    keyFile,
    "-n",
    SIGNATURE_NAMESPACE,
    join(dir, BUNDLE.sums),
  ]);
  if (run.code === 0) return;
  const agentHint = "a key with a passphrase signs through ssh-agent: ssh-add it first";
  if (run.timedOut)
    throw new BundleError(
      `signing with "${keyFile}" took over ${SSH_KEYGEN_TIMEOUT_MS / 1000} s (${agentHint})`,
    );
  const said = run.output.replace(/^Enter passphrase:\s*/, "") || `ssh-keygen exited ${run.code}`;
  throw new BundleError(
    `cannot sign with "${keyFile}": ${said}${/passphrase/i.test(said) ? ` (${agentHint})` : ""}`,
  );
}

async function isEmptyOrAbsent(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return true;
    throw new BundleError(`cannot use "${dir}" for the evidence bundle: ${(error as Error).message}`);
  }
}

/**
 * Writes the bundle into `dir` (created; it must be empty, so every file in it is the gate's), then
 * SHA256SUMS, then the signature when a key is given. `mask` removes secrets from every file first.
 */
export async function writeBundle(
  dir: string,
  contents: BundleContents,
  options: { mask?: (text: string) => string; signWith?: string } = {},
): Promise<string[]> {
  if (!(await isEmptyOrAbsent(dir)))
    throw new BundleError(
      `the evidence directory "${dir}" is not empty: give a new directory for each gate run`,
    );
  const mask = options.mask ?? ((text: string) => text);
  const files = bundleFiles(contents).map((f) => ({ path: f.path, data: mask(f.text) }));
  for (const file of files) {
    const target = join(dir, file.path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, file.data);
  }
  await writeFile(join(dir, BUNDLE.sums), sumsFor(files));
  if (options.signWith) await signBundle(dir, options.signWith);
  return [...files.map((f) => f.path), BUNDLE.sums, ...(options.signWith ? [BUNDLE.signature] : [])];
}

// --- verification --------------------------------------------------------------------------------------

export type ProblemKind = "modified" | "missing" | "extra" | "malformed" | "unsigned" | "signature";

export interface BundleProblem {
  kind: ProblemKind;
  file: string;
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  /** verified: by the given public key; well-formed: signed, signer not checked (no key given). */
  signature: "verified" | "well-formed" | "absent" | "bad";
  problems: BundleProblem[];
}

async function listFiles(root: string, dir = root): Promise<{ path: string; regular: boolean }[]> {
  const out: { path: string; regular: boolean }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(root, full)));
    else out.push({ path: relative(root, full).split(sep).join("/"), regular: entry.isFile() });
  }
  return out;
}

const SUM_LINE = /^([0-9a-f]{64}) [ *](.+)$/;

async function checkSignature(
  dir: string,
  sums: string,
  publicKey: string | undefined,
): Promise<{ signature: VerifyResult["signature"]; problem?: BundleProblem }> {
  const sigFile = join(dir, BUNDLE.signature);
  const present = await lstat(sigFile).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!present)
    return publicKey
      ? {
          signature: "absent",
          problem: {
            kind: "unsigned",
            file: BUNDLE.signature,
            message: `${BUNDLE.signature} is missing: the bundle is not signed`,
          },
        }
      : { signature: "absent" };
  if (!publicKey) {
    const run = await sshKeygen(["-Y", "check-novalidate", "-n", SIGNATURE_NAMESPACE, "-s", sigFile], sums);
    return run.code === 0
      ? { signature: "well-formed" }
      : {
          signature: "bad",
          problem: {
            kind: "signature",
            file: BUNDLE.signature,
            message: `the signature does not match SHA256SUMS: ${run.timedOut ? "ssh-keygen timed out" : run.output || `ssh-keygen exited ${run.code}`}`,
          },
        };
  }
  const scratch = await mkdtemp(join(tmpdir(), "slmc-gate-verify-"));
  try {
    const allowed = join(scratch, "allowed_signers");
    const key = publicKey.trim().split(/\r?\n/)[0] ?? "";
    await writeFile(allowed, `${SIGNATURE_NAMESPACE} namespaces="${SIGNATURE_NAMESPACE}" ${key}\n`);
    const run = await sshKeygen(
      ["-Y", "verify", "-f", allowed, "-I", SIGNATURE_NAMESPACE, "-n", SIGNATURE_NAMESPACE, "-s", sigFile],
      sums,
    );
    return run.code === 0
      ? { signature: "verified" }
      : {
          signature: "bad",
          problem: {
            kind: "signature",
            file: BUNDLE.signature,
            message: `the signature is not valid for the given public key over SHA256SUMS: ${run.timedOut ? "ssh-keygen timed out" : run.output || `ssh-keygen exited ${run.code}`}`,
          },
        };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Checks a bundle: every file listed in SHA256SUMS, none extra, none modified or missing; and the
 * signature, against `publicKey` (an OpenSSH public key line) when given.
 */
export async function verifyBundle(dir: string, options: { publicKey?: string } = {}): Promise<VerifyResult> {
  let sums: string;
  try {
    sums = await readFile(join(dir, BUNDLE.sums), "utf8");
  } catch (error) {
    return {
      ok: false,
      signature: "absent",
      problems: [
        {
          kind: "missing",
          file: BUNDLE.sums,
          message: `cannot read ${BUNDLE.sums}: ${(error as Error).message}`,
        },
      ],
    };
  }
  const problems: BundleProblem[] = [];
  const listed = new Map<string, string>();
  sums
    .split("\n")
    .filter((line) => line !== "")
    .forEach((line, i) => {
      const match = SUM_LINE.exec(line);
      if (!match)
        problems.push({
          kind: "malformed",
          file: BUNDLE.sums,
          message: `line ${i + 1} is not "<sha256>  <file>"`,
        });
      else listed.set(match[2]!, match[1]!);
    });
  const present = (await listFiles(dir)).filter((f) => f.path !== BUNDLE.sums && f.path !== BUNDLE.signature);
  const presentPaths = new Set(present.map((f) => f.path));
  for (const file of present) {
    if (!listed.has(file.path))
      problems.push({
        kind: "extra",
        file: file.path,
        message: `${file.path} is not listed in ${BUNDLE.sums}: added after the gate wrote the bundle`,
      });
    else if (!file.regular)
      problems.push({ kind: "modified", file: file.path, message: `${file.path} is not a regular file` });
    else if (sha256(await readFile(join(dir, file.path))) !== listed.get(file.path))
      problems.push({
        kind: "modified",
        file: file.path,
        message: `${file.path} does not match its sha256 in ${BUNDLE.sums}: modified after the gate wrote it`,
      });
  }
  for (const path of listed.keys())
    if (!presentPaths.has(path))
      problems.push({
        kind: "missing",
        file: path,
        message: `${path} is listed in ${BUNDLE.sums} but missing`,
      });
  const signature = await checkSignature(dir, sums, options.publicKey);
  if (signature.problem) problems.push(signature.problem);
  return { ok: problems.length === 0, signature: signature.signature, problems };
}
