import type { CliOptions } from "../cli/args.ts";
import { CliError, EXIT } from "../cli/exit-codes.ts";
import type { Access } from "../core/access.ts";
import { SshError, SshSession } from "../probes/ssh.ts";
import { resolveAccess } from "./access.ts";
import { preflight, PreflightError, PREFLIGHT_TITLES } from "./preflight.ts";
import { startWait, waitForBootstrap, waitForHealth } from "./wait-ready.ts";
import { checkReportFiles, reportPreflightFailure, runAndReport, type RunExtras } from "./run.ts";
import { rebootSuite } from "../../suites/reboot/check.ts";

const PASSWORD_SOURCES =
  "cat /var/lib/slm-copilot/password 2>/dev/null || sed -n 's/^api_password = //p' /etc/one-appliance/config";

function sshExitCode(error: SshError): number {
  return error.kind === "auth" || error.kind === "host-key-changed" ? EXIT.usage : EXIT.unreachable;
}

/** Connects SSH before any check. Explicit SSH options make a failure fatal; otherwise SSH is dropped with a note. */
export async function connectSsh(
  access: Access,
  explicit: boolean,
  notes: string[],
): Promise<SshSession | undefined> {
  if (!access.ssh) return undefined;
  const session = new SshSession(access.ssh);
  try {
    await session.connect();
  } catch (error) {
    session.close();
    if (!(error instanceof SshError)) throw error;
    // A PreflightError (a CliError): commands that write reports put it in each one, as "preflight.ssh".
    if (explicit) throw new PreflightError(error.message, sshExitCode(error), "preflight.ssh");
    delete access.ssh;
    notes.push(
      `SSH not used (${error.message}); SSH checks are skipped. Pass --ssh-key FILE to require it, or --no-ssh`,
    );
    return undefined;
  }
  for (const event of session.hostKeyEvents) if (event.status !== "known") notes.push(event.message);
  return session;
}

export async function passwordFromAppliance(
  session: SshSession,
  access: Access,
  notes: string[],
): Promise<void> {
  if (access.password) return;
  const result = await session.exec(PASSWORD_SOURCES).catch(() => undefined);
  const password = result?.stdout.trim().split("\n")[0];
  if (password) {
    access.password = password;
    notes.push("password read from the appliance over SSH");
  }
}

/**
 * A reboot that changed the password reports the new one in its evidence; the checks after it
 * authenticate with it (checks only read the access).
 */
export function applyNewPassword(access: Access): RunExtras {
  return {
    listener: {
      checkFinished: (result) => {
        const password = result.evidence.newPassword;
        if (typeof password === "string" && password) access.password = password;
      },
    },
  };
}

export async function checkCommand(
  host: string,
  options: CliOptions,
  mode: "check" | "reboot" = "check",
): Promise<number> {
  const { access, notes, warnings } = await resolveAccess(host, options, process.env);
  if (mode === "reboot" && !access.ssh)
    throw new CliError(
      "reboot needs SSH access: pass --ssh-key FILE (and --ssh-port / --jump as needed)",
      EXIT.usage,
    );
  for (const warning of warnings) process.stderr.write(`slmc-check: warning: ${warning}\n`);
  await checkReportFiles(options);
  const startedAt = new Date();
  // A preflight (or --wait-ready) failure still writes every requested report, then exits as before.
  const reportFailure = async (error: unknown): Promise<number> => {
    if (!(error instanceof PreflightError)) throw error;
    await reportPreflightFailure(
      access,
      options,
      notes,
      { ...error, title: PREFLIGHT_TITLES[error.checkId], message: error.message },
      startedAt,
    );
    if (error.exitCode !== EXIT.checkFailed) throw error;
    process.stderr.write(`slmc-check: ${error.message}\n`);
    return error.exitCode;
  };
  const log = (line: string) => process.stderr.write(`slmc-check: ${line}\n`);
  const waiter = options.waitReadyS === undefined ? undefined : startWait(options.waitReadyS, log);
  try {
    if (waiter) await waitForHealth(access, waiter);
    await preflight(access);
  } catch (error) {
    return reportFailure(error);
  }
  let session: SshSession | undefined;
  try {
    session = await connectSsh(access, options.sshExplicit || mode === "reboot", notes);
  } catch (error) {
    return reportFailure(error);
  }
  try {
    if (waiter && session) {
      try {
        await waitForBootstrap(session, access, waiter);
      } catch (error) {
        return await reportFailure(error);
      }
    }
    if (session) await passwordFromAppliance(session, access, notes);
    if (!access.password) notes.push("no password given: checks that need credentials are skipped");
    const suites =
      mode === "reboot"
        ? [rebootSuite(options.count, options.readyTimeoutS, options.expectChange)]
        : undefined;
    const extras = mode === "reboot" ? applyNewPassword(access) : {};
    return (await runAndReport(access, options, notes, session, suites, extras)).exitCode;
  } finally {
    session?.close();
  }
}
