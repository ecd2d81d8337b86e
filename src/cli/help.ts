import { ALL_DEFECTS } from "../sim/defects.ts";
import { MAX_BODY_BYTES, MAX_HEAD_BYTES } from "../probes/http.ts";
import { MAX_SSE_EVENT_BYTES, MAX_SSE_EVENTS, MAX_SSE_STREAM_BYTES } from "../probes/sse-limits.ts";
import { DEFAULT_DEADLINE_S } from "./args.ts";
import { SUITES } from "../../suites/index.ts";
import { REQUIREMENTS } from "../../suites/requirements.ts";
import { FORMATS } from "../reporters/index.ts";
import { METRIC_DEFINITIONS } from "../bench/metrics.ts";
import { PROMPT_SET_NAMES } from "../bench/prompts.ts";

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

const REBOOT_OPTIONS = `Reboot, soak and host checks (SSH required):
  --ready-timeout SECONDS  longest wait for SSH, and then for bootstrap_success, after a reboot (default 900)
  --count N                reboot: cycles (default 1)
  --expect-change LIST     reboot: a new context was given (e.g. onevm updateconf) and must take effect:
                           comma-separated password, context-size, threads. Those must change (a new
                           password must open the API and the old one be refused), everything else must not
  --reboots N              soak: reboot cycles (default 3)
  --kill-every K           soak: kill -9 LocalAI and nginx before every K-th reboot (default 1; 0 = never)
  --load STREAMS           soak: concurrent streamed completions kept running throughout (default 0);
                           a request may fail only while the soak itself kills or reboots something
  --ui                     soak: serve a live timeline page on 127.0.0.1 (--ui-port N, default a free port)
  --json FILE              soak: where the JSON report goes (default ./slmc-soak-<UTC time>.json); written
                           also when interrupted. Ctrl-C once: finish the step in flight (a reboot waits
                           until the appliance is ready) and skip the rest; twice: stop now
  --expect-offline         fail host.serves-offline when the VM has outbound network (else it is skipped)
  --outbound-probe URL     what the VM tries to reach to detect outbound network (default http://deb.debian.org/)`;

const RUN_OPTIONS = `Run:
  --suite NAME             run only this suite (repeatable): ${SUITES.map((s) => s.name).join(", ")}
  --max-tokens N           tokens asked for in test completions (default 24)
  --timeout SECONDS        per-request timeout (default 15)
  --stream-timeout SECONDS whole-completion timeout (default 300; CPU inference is slow)
  --stream-idle SECONDS    longest silence tolerated inside a stream, and after a response's headers
                           (default 60)
  --deadline SECONDS       the whole run ends within this time, whatever the target trickles (default
                           ${DEFAULT_DEADLINE_S}, or 3 x --stream-timeout if larger); the check in flight
                           errors, later ones are skipped
Limits (memory stays bounded whatever the target sends): ${MAX_SSE_EVENT_BYTES} bytes per SSE line or
  event, ${MAX_SSE_STREAM_BYTES} bytes and ${MAX_SSE_EVENTS} events per stream, ${MAX_BODY_BYTES} bytes per non-streamed body,
  ${MAX_HEAD_BYTES} bytes of response headers; past one, the check fails naming it

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
  4  internal error in slmc-check (please report it with the printed stack trace)
  130 interrupted by Ctrl-C (soak: the partial report was written)`;

export function mainHelp(): string {
  return `slmc-check — conformance gate for the SLM-Copilot appliance

Usage:
  slmc-check <host> [options]     check an appliance over HTTPS/SSE
  slmc-check demo [options]       run every check against the embedded simulated appliance
  slmc-check reboot <host> [--count N] [--ready-timeout S] [--expect-change LIST]
                                  reboot over SSH N times; each cycle proves a new boot_id, waits for this
                                  boot's bootstrap_success, and fails on any drift (shown as a diff)
  slmc-check soak <host> [--reboots N] [--kill-every K] [--load STREAMS] [--ui] [--json FILE]
                                  reboot-loop soak: kill -9 LocalAI and nginx (measured recovery) every K
                                  cycles, then reboot with drift check; optional streaming load throughout
  slmc-check bench <host|demo> [--concurrency 1,2,4] [--sweep] [--fixed-length] [--json F] [--html F]
                                  benchmark tokens/s over HTTPS/SSE ("slmc-check bench --help": metrics)
  slmc-check bench --compare old.json new.json [--regression-threshold PCT]
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

export function benchHelp(): string {
  const definitions = Object.entries(METRIC_DEFINITIONS)
    .map(([name, text]) => `  ${name.padEnd(24)} ${text}`)
    .join("\n");
  return `slmc-check bench — tokens/s you can trust, over HTTPS/SSE

Usage:
  slmc-check bench <host> [access options] [bench options]
  slmc-check bench demo [--defect NAME]     against the embedded SIMULATED appliance
  slmc-check bench --compare old.json new.json [--regression-threshold PCT]
                                            change per metric and level; exit 1 on a regression

Each request is a streamed chat completion on a fresh connection (Accept-Encoding: identity,
stream_options.include_usage, Extra-Usage: 1), timed with a monotonic clock when bytes arrive, before
parsing. Warm-up requests are excluded; each level is a closed loop at fixed concurrency. With SSH,
the same request is also sent inside the VM to 127.0.0.1:8080 (proxy + TLS overhead), and a memory
bandwidth probe and the model file size give the decode roofline.

Bench options:
  --concurrency LIST       closed-loop levels, e.g. 1,2,4 (default 1)
  --sweep                  keep doubling concurrency until aggregate tok/s grows < 10% (saturation)
  --max-concurrency N      sweep limit (default 8)
  --requests N             measured requests per level (default 3; CPU servers do a few tok/s)
  --warmup N               requests sent first and excluded (default 1)
  --prompt-set NAME        ${PROMPT_SET_NAMES.join(" | ")} (default coding: short question, file refactor, multi-turn)
  --max-tokens N           tokens asked per request (default 24)
  --fixed-length           ask for exactly max-tokens (ignore_eos, min_tokens); early stops are flagged
  --json FILE              JSON report: every sample, aggregates, findings (default ./slmc-bench-<time>.json)
  --html FILE              HTML report with SVG charts, opens offline (default ./slmc-bench-<time>.html)
  --stream-timeout S       whole-request timeout (default 300); --stream-idle S: longest silence (default 60)

Metrics (the definitions below are the ones every report embeds):
${definitions}

Exit codes: 0 no findings flagged; 1 a finding flagged (buffering proxy, failed requests, early stop
with --fixed-length) or a regression (--compare); 2 usage; 3 unreachable.
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
