import { ALL_DEFECTS } from "../../fixtures/defects.ts";
import { SUITES } from "../../suites/index.ts";
import { REQUIREMENTS } from "../../suites/requirements.ts";
import { FORMATS } from "../reporters/index.ts";

const ACCESS_OPTIONS = `Access:
  --https-port N           HTTPS port (default 443)
  --http-port N            HTTP port, for the redirect check (default 80)
  --user NAME              API user (default copilot)
  --password-file FILE     read the appliance password from FILE (first line)
  --password PASSWORD      the password itself (visible in the process list; a warning is printed)
                           (environment: SLMC_PASSWORD)
  --ca FILE                trust the PEM certificate(s) in FILE (the appliance's self-signed cert works)
  --insecure               accept any certificate; reported in every output, never hidden
  --servername NAME        TLS server name / host to expect in the certificate (default: the host)

SSH (used when a key is available; the SSH suites need it, and the password is then read from the VM):
  --ssh-user NAME          (default root)
  --ssh-key FILE           private key (repeatable); default: SSH agent (SSH_AUTH_SOCK), then ~/.ssh/id_*
  --ssh-port N             (default 22)
  --jump USER@HOST[:PORT]  reach the VM through a jump host (e.g. the OpenNebula front-end)
  --known-hosts FILE       where first-seen host keys are recorded (default ~/.config/slmc-check/known_hosts;
                           ~/.ssh/known_hosts is also consulted)
  --accept-new-host-key    accept and record a CHANGED host key (after a redeploy)
  --no-ssh                 never use SSH
  --engine-port N          the engine port as reachable from here, for the outside binding check (default 8080)`;

const RUN_OPTIONS = `Run:
  --suite NAME             run only this suite (repeatable): ${SUITES.map((s) => s.name).join(", ")}
  --max-tokens N           tokens asked for in test completions (default 24)
  --timeout SECONDS        per-request timeout (default 15)
  --stream-timeout SECONDS whole-completion timeout (default 300; CPU inference is slow)
  --stream-idle SECONDS    longest silence tolerated inside a stream (default 60)

Output:
  --format FORMAT          ${FORMATS.join(" | ")} (default pretty)
  --out FILE               write the report to FILE instead of standard output
  --show-secrets           do not mask the password in output
  --no-color               plain text (also when NO_COLOR is set or output is not a terminal)`;

const EXIT_CODES = `Exit codes:
  0  all checks passed (skipped checks do not fail a run)
  1  a check failed, or could not observe what it needed
  2  usage or configuration error (bad flag, unreadable file, untrusted certificate without --ca/--insecure)
  3  target unreachable (connection refused or timed out, DNS failure, TLS handshake failure)
  4  internal error in slmc-check (please report it with the printed stack trace)`;

export function mainHelp(): string {
  return `slmc-check — conformance gate for the SLM-Copilot appliance

Usage:
  slmc-check <host> [options]     check an appliance over HTTPS/SSE
  slmc-check demo [options]       run every check against the embedded simulated appliance
  slmc-check reboot <host> [--count N] [--ready-timeout S]
                                  reboot over SSH N times; each cycle proves a new boot_id, waits for this
                                  boot's bootstrap_success, and fails on any drift (shown as a diff)
  slmc-check checks               list every check with its requirement id
  slmc-check --version

${ACCESS_OPTIONS}

${RUN_OPTIONS}

${EXIT_CODES}

Run "slmc-check demo --help" for the simulator's defect switches.
`;
}

export function demoHelp(): string {
  const defects = Object.entries(ALL_DEFECTS)
    .map(([name, description]) => `  ${name.padEnd(30)} ${description}`)
    .join("\n");
  return `slmc-check demo — run the suites against the embedded SIMULATED appliance

Starts, on free loopback ports, a LocalAI stand-in (synthetic tokens; NOT LocalAI, no inference) behind a
simulated front (TLS, Basic + Bearer auth, CORS, redirect, SSE; NOT nginx), then runs every check
against it. Everything it prints says it used the simulator.

Usage: slmc-check demo [--defect NAME ...] [run and output options of "slmc-check --help"]

Defects (each breaks one requirement; the report must show which check catches it):
${defects}

${RUN_OPTIONS}

${EXIT_CODES}
`;
}

export function checksList(): string {
  const lines = SUITES.flatMap((suite) => [
    suite.name,
    ...suite.checks.map((check) => `  ${check.requirement.padEnd(9)} ${check.id.padEnd(36)} ${check.title}`),
  ]);
  const requirements = Object.entries(REQUIREMENTS).map(([id, text]) => `  ${id.padEnd(9)} ${text}`);
  return `${lines.join("\n")}\n\nRequirements:\n${requirements.join("\n")}\n`;
}
