// Runs the marketplace certification specs (marketplace/tests.yaml, marketplace/tests/*) UNCHANGED, the way
// marketplace-community's lib/community/app_readiness.rb does, against the lab VM: the appliance directory
// and app_handler.rb (our shim, beside this file) are laid out as in that repository, rspec runs from
// lib/community on the files tests.yaml lists, and its JSON report is parsed into one entry per example.
//
//   node --import tsx test/marketplace-rspec/run.ts     # against the VM of `make lab-up` (scripts/lab.sh env)
import { execFile, spawn } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { parse } from "yaml";

const ROOT = resolve(import.meta.dirname, "../..");
export const SHIM = join(ROOT, "test/marketplace-rspec/app_handler.rb");
export const MARKETPLACE = join(ROOT, "marketplace");
const OUTPUT_BYTES = 256 * 1024;

export interface SpecExample {
  description: string;
  fullDescription: string;
  status: string;
  exceptionClass: string;
  message: string;
}

export interface SpecRun {
  code: number | null;
  examples: SpecExample[];
  summary: string;
  output: string;
  /** Why there are no examples (rspec missing, killed, no JSON), or "". */
  problem: string;
}

export interface SpecTarget {
  sshPort: string;
  sshKey: string;
  timeoutMs: number;
}

/** The spec files tests.yaml lists, in order; an error names what is wrong with it. */
export async function listedSpecs(dir = MARKETPLACE): Promise<string[]> {
  const listed: unknown = parse(await readFile(join(dir, "tests.yaml"), "utf8"));
  if (!Array.isArray(listed) || !listed.every((name) => typeof name === "string"))
    throw new Error(`${dir}/tests.yaml must be a YAML list of file names in tests/`);
  return listed as string[];
}

/** How tests.yaml disagrees with the files in tests/: app_readiness.rb runs only what it lists. */
export function specListProblems(listed: string[], present: string[]): string[] {
  const problems: string[] = [];
  for (const name of listed)
    if (!present.includes(name)) problems.push(`tests.yaml lists ${name}, which is not in tests/`);
  for (const name of present)
    if (!listed.includes(name)) problems.push(`tests/${name} is not listed in tests.yaml, so it never runs`);
  for (const name of new Set(listed.filter((name, i) => listed.indexOf(name) !== i)))
    problems.push(`tests.yaml lists ${name} more than once`);
  return problems;
}

function keepTail(kept: string, chunk: string): string {
  const joined = kept + chunk;
  return joined.length > OUTPUT_BYTES ? joined.slice(-OUTPUT_BYTES) : joined;
}

interface RspecJson {
  summary_line?: string;
  examples?: {
    description: string;
    full_description: string;
    status: string;
    exception?: { class: string; message: string };
  }[];
}

/** The certification layout in a fresh directory: lib/community/app_handler.rb and appliances/slm-copilot/. */
async function layout(): Promise<{ top: string; community: string; specs: string[] }> {
  const top = await mkdtemp(join(tmpdir(), "slmc-marketplace-rspec-"));
  const community = join(top, "lib/community");
  const appliance = join(top, "appliances/slm-copilot");
  await mkdir(community, { recursive: true });
  await mkdir(appliance, { recursive: true });
  await cp(SHIM, join(community, "app_handler.rb"));
  for (const name of ["metadata.yaml", "tests.yaml"])
    await cp(join(MARKETPLACE, name), join(appliance, name));
  await cp(join(MARKETPLACE, "tests"), join(appliance, "tests"), { recursive: true });
  const specs = (await listedSpecs(appliance)).map((name) => `../../appliances/slm-copilot/tests/${name}`);
  return { top, community, specs };
}

/** Runs the listed specs against the VM reached over sshPort with sshKey; never throws for a failing spec. */
export async function runMarketplaceSpecs(target: SpecTarget): Promise<SpecRun> {
  const { top, community, specs } = await layout();
  const json = join(community, "results.json");
  try {
    const run = await new Promise<{ code: number | null; output: string; problem: string }>((done) => {
      const child = spawn("rspec", ["-f", "d", "-f", "j", "-o", json, ...specs], {
        cwd: community,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? top,
          LAB_SSH_PORT: target.sshPort,
          LAB_SSH_KEY: target.sshKey,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (d: Buffer) => (output = keepTail(output, d.toString())));
      child.stderr.on("data", (d: Buffer) => (output = keepTail(output, d.toString())));
      let problem = "";
      const timer = setTimeout(() => {
        problem = `rspec killed after ${target.timeoutMs / 1000} s`;
        child.kill("SIGKILL");
      }, target.timeoutMs);
      child.on("error", (error) => {
        clearTimeout(timer);
        done({
          code: null,
          output,
          problem: `cannot run rspec (${error.message}): apt-get install ruby-rspec`,
        });
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        done({ code, output, problem });
      });
    });
    let report: RspecJson = {};
    try {
      report = JSON.parse(await readFile(json, "utf8")) as RspecJson;
    } catch (error) {
      if (!run.problem) run.problem = `no rspec JSON report (${(error as Error).message})`;
    }
    return {
      code: run.code,
      output: run.output,
      problem: run.problem,
      summary: report.summary_line ?? "",
      examples: (report.examples ?? []).map((e) => ({
        description: e.description,
        fullDescription: e.full_description,
        status: e.status,
        exceptionClass: e.exception?.class ?? "",
        message: e.exception?.message ?? "",
      })),
    };
  } finally {
    await rm(top, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { stdout } = await promisify(execFile)(join(ROOT, "scripts/lab.sh"), ["env"], { timeout: 30_000 });
  const env = Object.fromEntries(stdout.split("\n").map((line) => line.split("=", 2) as [string, string]));
  const run = await runMarketplaceSpecs({
    sshPort: env.LAB_SSH_PORT ?? "",
    sshKey: env.LAB_SSH_KEY ?? "",
    timeoutMs: 2_400_000,
  });
  process.stdout.write(run.output);
  if (run.problem) console.error(run.problem);
  process.exitCode = run.code === 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
