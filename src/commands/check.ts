import type { CliOptions } from "../cli/args.ts";
import { resolveAccess } from "./access.ts";
import { preflight } from "./preflight.ts";
import { runAndReport } from "./run.ts";

export async function checkCommand(host: string, options: CliOptions): Promise<number> {
  const { access, notes, warnings } = await resolveAccess(host, options, process.env);
  for (const warning of warnings) process.stderr.write(`slmc-check: warning: ${warning}\n`);
  await preflight(access);
  return (await runAndReport(access, options, notes)).exitCode;
}
