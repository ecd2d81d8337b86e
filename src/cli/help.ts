import { ALL_DEFECTS } from "../sim/defects.ts";
import { MAX_BODY_BYTES, MAX_HEAD_BYTES } from "../probes/http.ts";
import { MAX_SSE_EVENT_BYTES, MAX_SSE_EVENTS, MAX_SSE_STREAM_BYTES } from "../probes/sse-limits.ts";
import type { HelpTopic } from "./args.ts";
import { FLAGS, shownDefault, type CommandName, type Flag, type Group } from "./flags.ts";
import { SUITES } from "../../suites/index.ts";
import { REQUIREMENTS } from "../../suites/requirements.ts";
import { rebootSuite } from "../../suites/reboot/check.ts";
import { soakSuite } from "../../suites/soak.ts";
import { SoakTimeline } from "../soak/timeline.ts";
import type { Suite } from "../core/check.ts";
import { METRIC_DEFINITIONS } from "../bench/metrics.ts";
import { AGENTIC_DEFINITIONS } from "../bench/agentic.ts";
import { RETUNE_SCRIPT, TUNE_OVERRIDE_FILE, TUNE_REQUESTS } from "../bench/tune.ts";

const GROUP_TITLES: Record<Group, string> = {
  General: "General",
  Access: "Access",
  SSH: "SSH (used when a key is available; the SSH suites need it, and the password is then read from the VM)",
  Run: "Run",
  Output: "Output",
  Simulator: "Simulator",
  Reboot: "Reboot (SSH required)",
  Soak: "Soak (SSH required)",
  "Host checks": "Host checks (SSH)",
  Bench: "Bench",
  Compare: "Compare (bench --compare old.json new.json)",
  Gate: "Gate",
  Fleet: "Fleet",
  Tune: "Tune (SSH required)",
};

const HELP_COLUMN = 27;
const HELP_WIDTH = 106;

function wrap(text: string, width: number): string[] {
  return text.split("\n").flatMap((paragraph) => {
    const lines: string[] = [];
    let line = "";
    for (const word of paragraph.split(" ")) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    return [...lines, line];
  });
}

function flagLine(f: Flag): string {
  const name = `${"short" in f ? `-${f.short}, ` : ""}--${f.name}${"value" in f ? ` ${f.value}` : ""}`;
  const shown = shownDefault(f);
  const text = `${f.help.replace(/\n/g, " ")}${shown === undefined ? "" : ` (default ${shown})`}`;
  const indent = " ".repeat(HELP_COLUMN);
  const lines = wrap(text, HELP_WIDTH - HELP_COLUMN);
  const lead = `  ${name}`;
  const head = lead.length < HELP_COLUMN ? [`${lead.padEnd(HELP_COLUMN)}${lines.shift() ?? ""}`] : [lead];
  return [...head, ...lines.map((line) => indent + line)].join("\n");
}

/** Every flag the commands take, grouped as in the table: the option part of a help page. */
export function flagSections(commands: readonly CommandName[]): string {
  const flags = FLAGS.filter((f) => commands.some((c) => (f.commands as readonly CommandName[]).includes(c)));
  const groups = [...new Set(flags.map((f) => f.group))];
  return groups
    .map((group) =>
      [`${GROUP_TITLES[group]}:`, ...flags.filter((f) => f.group === group).map(flagLine)].join("\n"),
    )
    .join("\n\n");
}

/** The commands whose flags each help page lists. */
export const HELP_PAGES: Record<HelpTopic, readonly CommandName[]> = {
  main: ["check"],
  demo: ["demo"],
  reboot: ["reboot"],
  soak: ["soak"],
  bench: ["bench", "bench-demo", "compare"],
  checks: ["checks"],
  gate: ["gate", "gate-demo", "gate-verify"],
  fleet: ["fleet"],
  tune: ["tune"],
};

const LIMITS = `Limits (memory stays bounded whatever the target sends): ${MAX_SSE_EVENT_BYTES} bytes per SSE line or
  event, ${MAX_SSE_STREAM_BYTES} bytes and ${MAX_SSE_EVENTS} events per stream, ${MAX_BODY_BYTES} bytes per non-streamed body,
  ${MAX_HEAD_BYTES} bytes of response headers; past one, the check fails naming it`;

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
  slmc-check <host> [options]     check an appliance over HTTPS/SSE (and over SSH with a key)
  slmc-check demo [options]       run every check against the embedded simulated appliance
  slmc-check reboot <host> [options]
                                  reboot over SSH N times; each cycle proves a new boot_id, waits for this
                                  boot's bootstrap_success, and fails on any drift (shown as a diff)
  slmc-check soak <host> [options]
                                  reboot-loop soak: kill -9 LocalAI and nginx (measured recovery) every K
                                  cycles, then reboot with drift check; optional streaming load throughout
  slmc-check bench <host|demo> [options]
                                  benchmark tokens/s over HTTPS/SSE
  slmc-check bench --compare old.json new.json [--regression-threshold PCT]
  slmc-check gate <host|demo> --policy FILE --evidence DIR [--sign KEY]
                                  release gate: run what the policy asks for, judge it, write a
                                  hashed (and signed) evidence bundle
  slmc-check gate --verify DIR [--allowed-signer PUBKEY]
  slmc-check fleet FILE [--parallel N] [--format FORMAT] [--out FILE]
                                  check every host of an inventory (YAML), a matrix host x requirement
  slmc-check tune <host> --yes    measure prefill and decode at 1, 2, 4, … threads up to the vCPUs (the
                                  engine restarts per count, then the original is restored) and
                                  recommend ONEAPP_COPILOT_THREADS
  slmc-check checks               list every check with its requirement id
  slmc-check --version

Every command has its own page: slmc-check demo|reboot|soak|bench|gate|fleet|tune|checks --help. A flag a command
does not take is refused (exit 2).

Options of "slmc-check <host>":

${flagSections(HELP_PAGES.main)}

${LIMITS}

${EXIT_CODES}
`;
}

export function demoHelp(): string {
  const defects = Object.entries(ALL_DEFECTS)
    .map(([name, description]) => `  ${name.padEnd(30)} ${description}`)
    .join("\n");
  return `slmc-check demo — run the suites against the embedded SIMULATED appliance

Starts, on free loopback ports, a LocalAI stand-in (synthetic tokens; NOT LocalAI, no inference) behind a
simulated front (TLS, Basic + Bearer auth, CORS, redirect, SSE; NOT nginx), then runs every check
against it. Everything it prints says it used the simulator. It chooses its own access settings, so
access and SSH flags are refused.

Usage: slmc-check demo [options]

${flagSections(HELP_PAGES.demo)}

${LIMITS}

Defects (each breaks one requirement; the report must show which check catches it):
${defects}

${EXIT_CODES}
`;
}

export function rebootHelp(): string {
  return `slmc-check reboot — reboot the appliance over SSH and prove nothing drifted

Each cycle snapshots the rendered configuration, secret digests, certificate fingerprint, sockets and
units; reboots; requires a new boot_id; waits for this boot's bootstrap_success; and compares (any
drift fails, shown as a diff). With --expect-change the named settings must change instead.

Usage: slmc-check reboot <host> [options]

${flagSections(HELP_PAGES.reboot)}

${EXIT_CODES}
`;
}

export function soakHelp(): string {
  return `slmc-check soak — reboot-loop soak over SSH

Every K-th cycle kills LocalAI and nginx with kill -9 and measures recovery, then reboots with the drift
comparison; --load keeps streamed completions running throughout. Live progress goes to stderr; the
usual report plus the soak's plan, figures and timeline go to --json.

Usage: slmc-check soak <host> [options]

${flagSections(HELP_PAGES.soak)}

${EXIT_CODES}
`;
}

export function checksHelp(): string {
  return `slmc-check checks — list every check with its requirement id, and the requirements

Usage: slmc-check checks

Lists the HTTPS/SSE suites, the SSH suites (need a key), and the checks "slmc-check reboot" and
"slmc-check soak" create per cycle (N is the cycle number).

${flagSections(HELP_PAGES.checks)}
`;
}

export function benchHelp(): string {
  const definitions = Object.entries({ ...METRIC_DEFINITIONS, ...AGENTIC_DEFINITIONS })
    .map(([name, text]) => `  ${name.padEnd(24)} ${text}`)
    .join("\n");
  return `slmc-check bench — tokens/s you can trust, over HTTPS/SSE

Usage:
  slmc-check bench <host> [options]
  slmc-check bench demo [options]           against the embedded SIMULATED appliance (no access or SSH flags)
  slmc-check bench --compare old.json new.json [--regression-threshold PCT]
                                            change per metric and level; exit 1 on a regression

Each request is a streamed chat completion on a fresh connection (Accept-Encoding: identity,
stream_options.include_usage, Extra-Usage: 1), timed with a monotonic clock when bytes arrive, before
parsing. Warm-up requests are excluded; each level is a closed loop at fixed concurrency running
max(3, 2 x concurrency) requests (an explicit --requests below 2 x the highest level is refused), and
--sweep calls saturation only between levels that held their concurrency in flight. --rate R is an
open loop instead: seeded Poisson arrivals at R/s for --duration, each sent when due whatever the
server does. --slo-ttft / --slo-decode give goodput (requests within every SLO / requests started).
A percentile from fewer than 10 samples is marked indicative (~). The report goes to stdout in
--format (pretty, json, html) or to --out; --report FORMAT:FILE adds files; no file unless asked. With SSH,
the same request is also sent inside the VM to 127.0.0.1:8080 (proxy + TLS overhead), and a memory
read bandwidth probe with the engine's thread count and the model file size give the decode roofline
(marked invalid when a measured decode rate exceeds it).

--prompt-set client-first-request sends the first request of a Cline-shaped conversation (a ~4.3 KB
system prompt and 25 function tools, ~21.7 KB and about 5-7k prompt tokens; our own filler text), with
tools, tool_choice "auto" and include_usage. Each request is a COLD prefix: its system prompt opens with
its own first line (a random run id and the request number), so no prompt cache can serve it and TTFT
is the full prefill a client's first task waits for. The report gives each prompt's prompt tokens.

--workload agentic sends coding-client conversations instead, one at a time, no warm-up: turn 1 has
a client-sized prefix (system prompt + function tools, --client-prefix), each later turn appends an
assistant tool call, a tool result (--tool-result-bytes) and a short user message, with tools on every
request. Per turn: TTFT, prompt tokens reused from the server's cache and evaluated (llama.cpp's
timings.cache_n / prompt_n, or usage.prompt_tokens_details.cached_tokens; LocalAI reports neither:
"not reported", judged by TTFT only), prefill and decode tok/s. A later turn that evaluates the whole
prefix again is flagged (prefix-not-reused).

${flagSections(HELP_PAGES.bench)}

Metrics (the definitions below are the ones every report embeds):
${definitions}

Exit codes: 0 no findings flagged; 1 a finding flagged (buffering proxy, failed requests with their
cause: HTTP status and the server's reason, malformed or wrong-object chunk, stall, --deadline; early
stop with --fixed-length; a prefix not reused) or a regression (--compare); 2 usage (also too few
--requests, an output path that cannot be written); 3 unreachable.
`;
}

export function gateHelp(): string {
  return `slmc-check gate — the release gate: one run, one verdict, one evidence bundle

Runs, as one run, what the policy asks for against one appliance: every check suite (clauses
checks.*), the reboot cycles (reboot.*, boot.to-ready), the soak (soak.*, recovery.*), the bench
levels (bench.*), and reads the VM's build record (appliance.*). Then judges every clause of the
policy, prints the clauses (failed first), and writes the evidence bundle: verdict.json, verdict.md,
every report, the policy as used, versions.json, SHA256SUMS (sha256sum -c reads it) and, with
--sign, SHA256SUMS.sig. Evidence it cannot produce (no SSH: no reboot, soak or build record) fails
its clause as missing, naming what to pass; nothing passes by default. A required check that is
skipped fails its clause unless the policy waives it. Secrets are masked in every file.

"slmc-check gate demo" gates the embedded SIMULATED appliance (no SSH): only a lab policy
(stand_in:) that asks for checks and bench can pass there.

Usage:
  slmc-check gate <host> --policy FILE --evidence DIR [--sign KEY] [access and SSH options]
  slmc-check gate demo --policy FILE --evidence DIR [--defect NAME]
  slmc-check gate --verify DIR [--allowed-signer PUBKEY]

${flagSections(HELP_PAGES.gate)}

Exit codes:
  0  every required clause holds (--verify: the bundle is intact, and signed by PUBKEY if given)
  1  a required clause failed (--verify: a file was modified, added, removed, or the signature is bad)
  2  usage: a bad flag, a bad policy (the message names the key), a non-empty evidence directory
  3  target unreachable
`;
}

export function fleetHelp(): string {
  return `slmc-check fleet — check every appliance of an inventory in one run

Runs the checks of "slmc-check <host>" against each host of FILE, --parallel at a time, each host
with its own options, its own SSH connection and its own time budget (wait-ready, 2 x timeout, SSH
connect, deadline, 5 s): a host that hangs or cannot be reached costs its own time, never the
others'. The result is a matrix, host x requirement: each cell is the worst status of that host's
checks for the requirement (FAIL, then ERROR, then SKIP, then PASS; — when none ran), with the
subtotals per zone and each host's full report (--format json, junit: one testsuite per host, html).

The inventory (YAML):
  defaults:                 # options for every host (a host's own value replaces it)
    no-ssh: true
    timeout: 10
  hosts:
    - name: eu-1            # letters, digits, . _ - (unique)
      zone: eu              # here or in defaults
      host: 203.0.113.10
      password-file: eu-1.pw
      ca: eu-1.pem
    - { name: us-1, zone: us, host: 198.51.100.7, https-port: 8443, insecure: true }

A host's keys are the options of "slmc-check <host>" without their dashes, with the values the
command line accepts (a switch is true or false, a repeatable option a list); they are validated
the same way before any host is contacted (exit 2 naming the host and the key). Files are relative
to the inventory. "password" is refused: an inventory gets copied and committed, so the password
goes in a password-file (SLMC_PASSWORD applies to the hosts without one). format, out, report and
no-color belong to the fleet, not to a host.

With --gate POLICY --evidence DIR, each host runs the release gate ("slmc-check gate --help")
instead of the checks, its bundle written to DIR/<name>; a host passes when its gate passes, and the
matrix shows the checks (and reboot, soak) its gate ran.

Usage:
  slmc-check fleet FILE [--parallel N] [--format FORMAT] [--out FILE]
  slmc-check fleet FILE --gate POLICY --evidence DIR [--parallel N] [--format FORMAT] [--out FILE]

${flagSections(HELP_PAGES.fleet)}

Exit codes:
  0  every host passed
  1  a host failed, or some (not all) hosts were unreachable
  2  usage: a bad flag, a bad inventory (the message names the host and the key), an unreadable file
  3  every host was unreachable
`;
}

export function tuneHelp(): string {
  return `slmc-check tune — find the thread count for ONEAPP_COPILOT_THREADS (SSH)

For 1, 2, 4, … threads up to the VM's vCPU count: writes the count to the appliance's tuning override
(${TUNE_OVERRIDE_FILE}), runs the appliance's retune script ${RETUNE_SCRIPT} (the engine
restarts with that count; it never reads the VM's context), waits until it serves, then measures prefill (prompt tokens/s of a long cold prompt) and decode
(generated tokens/s) with ${TUNE_REQUESTS} streamed requests each. Whatever happens (a failed restart, a
failed measurement, Ctrl-C) it then removes the override, retunes again and verifies the original
thread count is back. The appliance answers no requests while it restarts: without --yes, tune prints
this plan for the VM and exits 2. Output: the table and the count whose reference agentic turn (2000
prompt tokens evaluated + 300 generated) is shortest, fewer threads winning a tie within 3 %.

Usage: slmc-check tune <host> --ssh-key FILE --yes [options]

${flagSections(HELP_PAGES.tune)}

Exit codes: 0 measured and restored; 1 a restart or measurement failed, nothing could be recommended,
or the original thread count was not verified after restoring (the output says how to restore by hand);
2 usage, or no --yes; 3 unreachable; 130 interrupted (restored first).
`;
}

export function helpPage(topic: HelpTopic): string {
  const pages: Record<HelpTopic, () => string> = {
    main: mainHelp,
    demo: demoHelp,
    reboot: rebootHelp,
    soak: soakHelp,
    bench: benchHelp,
    checks: checksHelp,
    gate: gateHelp,
    fleet: fleetHelp,
    tune: tuneHelp,
  };
  return pages[topic]();
}

/** The checks reboot and soak create per cycle, with the cycle number shown as N. */
function perCycleSuites(): Suite[] {
  const plan = { reboots: 1, killEvery: 1, loadStreams: 1, readyBudgetS: 900 };
  const perCycle = (suite: Suite): Suite => ({
    ...suite,
    checks: suite.checks.map((check) => ({
      ...check,
      id: check.id.replace(/cycle-1\b/, "cycle-N"),
      title: check.title.replace(/ 1 of 1\b/, " N"),
    })),
  });
  const reboot = perCycle(rebootSuite(1, plan.readyBudgetS));
  const contextChange = rebootSuite(1, plan.readyBudgetS, ["password"]).checks.map((check) => ({
    ...check,
    title:
      "reboot with a new context (--expect-change): the named settings changed, everything else identical",
  }));
  return [
    { ...reboot, checks: [...reboot.checks, ...contextChange] },
    perCycle(soakSuite(plan, new SoakTimeline(plan), () => undefined)),
  ];
}

export function checksList(): string {
  const lines = [...SUITES, ...perCycleSuites()].flatMap((suite) => [
    suite.name,
    ...suite.checks.map((check) => `  ${check.requirement.padEnd(9)} ${check.id.padEnd(36)} ${check.title}`),
  ]);
  const requirements = Object.entries(REQUIREMENTS).map(([id, text]) => `  ${id.padEnd(9)} ${text}`);
  return `${lines.join("\n")}\n\nRequirements:\n${requirements.join("\n")}\n`;
}
