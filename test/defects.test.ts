// Every defect switch breaks one requirement; the check for that requirement must flag it with the
// requirement id and a message that tells the operator what to fix.
import t from "tap";
import { ALL_DEFECTS, type Defect } from "../src/sim/defects.ts";
import type { SimulatorOptions } from "../src/sim/simulator.ts";
import type { Access } from "../src/core/access.ts";
import { accessFor, runAgainst, simulator } from "./helpers.ts";
import OpenAI from "openai";
import { describeSdkError } from "../suites/clients.ts";

interface Expectation {
  check: string;
  requirement: string;
  message: RegExp;
  suites: string[];
  /** Simulator settings the defect needs to show (e.g. a loading window, not waited for). */
  simulator?: SimulatorOptions & { waitReady?: boolean };
  access?: Partial<Access>;
}

export const EXPECTED: Record<Defect, Expectation> = {
  "open-metrics": {
    check: "auth.routes-require-credentials",
    requirement: "SEC-02",
    message: /GET \/metrics \(none\) → 200.*behind auth/,
    suites: ["auth"],
  },
  "health-requires-auth": {
    check: "auth.health-open",
    requirement: "SEC-02",
    message: /\/health demands credentials.*auth_basic off/,
    suites: ["auth"],
  },
  "cors-missing-on-401": {
    check: "cors.headers-on-every-response",
    requirement: "SEC-04",
    message: /no Access-Control-Allow-Origin on: 401.*always/,
    suites: ["cors"],
  },
  "cors-no-authorization-header": {
    check: "cors.preflight",
    requirement: "SEC-05",
    message: /lacks Authorization/,
    suites: ["cors"],
  },
  "preflight-requires-auth": {
    check: "cors.preflight",
    requirement: "SEC-05",
    message: /preflight demands credentials.*answer OPTIONS before auth/,
    suites: ["cors"],
  },
  "redirect-302": {
    check: "redirect.http-to-https",
    requirement: "SEC-09",
    message: /302, not a permanent 301.*return 301/,
    suites: ["redirect"],
  },
  "redirect-drops-path": {
    check: "redirect.http-to-https",
    requirement: "SEC-09",
    message: /losing the path or query.*\$request_uri/,
    suites: ["redirect"],
  },
  "buffered-sse": {
    check: "streaming.incremental",
    requirement: "SEC-08",
    message: /buffered: \d+ chunks arrived in 1 burst.*proxy_buffering off/,
    suites: ["streaming"],
  },
  "bearer-rejected": {
    check: "auth.bearer-accepted",
    requirement: "SEC-03",
    message: /Bearer token refused \(401\).*Cline/,
    suites: ["auth"],
  },
  "tls10-accepted": {
    check: "tls.legacy-versions-refused",
    requirement: "SEC-01",
    message: /accepted TLSv1 and TLSv1\.1.*ssl_protocols/,
    suites: ["tls"],
  },
  "legacy-tls-only": {
    check: "tls.protocol",
    requirement: "SEC-01",
    message: /negotiated TLSv1\.1.*ssl_protocols TLSv1\.2 TLSv1\.3/,
    suites: ["tls"],
  },
  "expired-certificate": {
    check: "tls.certificate",
    requirement: "SEC-01",
    message: /certificate expired .*renew/,
    suites: ["tls"],
  },
  "reset-mid-stream": {
    check: "streaming.sse-format",
    requirement: "INFER-02",
    message: /connection broke mid-stream after \d+ events/,
    suites: ["streaming"],
  },
  "auth-bypass-raw-path": {
    check: "auth.path-tricks-refused",
    requirement: "SEC-02",
    message: /auth bypassed.*\/health\/\.\.\/v1\/models.*normalised URI/,
    suites: ["auth"],
  },
  "auth-skip-head": {
    check: "auth.path-tricks-refused",
    requirement: "SEC-02",
    message: /auth bypassed.*HEAD \/v1\/models \(none\) → 200/,
    suites: ["auth"],
  },
  "readiness-not-json": {
    check: "auth.readiness-json",
    requirement: "SEC-10",
    message:
      /\/health answered 200 "\{\\"status\\":\\"ok\\"\}".*expected \{"status":"ready"\} as JSON.*not the engine's own answer/,
    suites: ["auth"],
  },
  "readiness-accepts-post": {
    check: "auth.readiness-get-only",
    requirement: "SEC-10",
    message: /not refused with 405: POST \/health \(none\) → \d+.*allow only GET and HEAD/,
    suites: ["auth"],
  },
  "missing-done": {
    check: "streaming.sse-format",
    requirement: "INFER-02",
    message: /without "data: \[DONE\]"/,
    suites: ["streaming"],
  },
  "malformed-chunk": {
    check: "streaming.sse-format",
    requirement: "INFER-02",
    message: /malformed chunk: event #3 is not JSON/,
    suites: ["streaming"],
  },
  "bad-chunk-schema": {
    check: "streaming.sse-format",
    requirement: "INFER-02",
    message: /chat\.completion\.chunk schema.*delta/,
    suites: ["streaming"],
  },
  "wrong-chunk-object": {
    check: "streaming.sse-format",
    requirement: "INFER-02",
    message: /chat\.completion\.chunk schema.*object/,
    suites: ["streaming"],
  },
  "template-leak": {
    check: "clients.no-template-tokens",
    requirement: "IDE-01",
    message: /template tokens in output: .*\[\/INST\]/,
    suites: ["clients"],
  },
  "stalled-stream": {
    check: "streaming.sse-format",
    requirement: "INFER-02",
    message: /stream stalled after \d+ events.*no bytes for 1500 ms/,
    suites: ["streaming"],
  },
  "no-model-listed": {
    check: "api.models-listed",
    requirement: "INFER-01",
    message: /lists no model/,
    suites: ["api"],
  },
  "bad-completion-schema": {
    check: "api.chat-completion",
    requirement: "INFER-05",
    message: /does not follow the OpenAI schema: choices\.0\.message/,
    suites: ["api"],
  },
  "rejects-multi-turn": {
    check: "clients.multi-turn",
    requirement: "IDE-01",
    message: /6-message conversation answered 500.*alternating turns/,
    suites: ["clients"],
  },
  "huge-sse-line": {
    check: "streaming.sse-format",
    requirement: "INFER-02",
    message: /event larger than 1048576 bytes \(one line without a newline\) after 0 events.*stopped reading/,
    suites: ["streaming"],
  },
  "slow-trickle": {
    check: "streaming.sse-format",
    requirement: "INFER-02",
    message:
      /stream did not finish in time after 0 events \(0 with content\): response not complete within 3000 ms/,
    suites: ["streaming"],
    access: { streamTimeoutMs: 3000 },
  },
  "redirect-other-host": {
    check: "redirect.http-to-https",
    requirement: "SEC-09",
    message: /the host changed \(elsewhere\.example, not 127\.0\.0\.1.*own name or address/,
    suites: ["redirect"],
  },
  "redirect-reflects-host": {
    check: "redirect.host-not-reflected",
    requirement: "SEC-09",
    message: /reflects the request's Host header \(Location: https:\/\/attacker\.example.*not \$host/,
    suites: ["redirect"],
  },
  "http-proxies-api": {
    check: "redirect.http-serves-nothing",
    requirement: "SEC-09",
    message: /port \d+ serves more than a redirect: .*GET \/v1\/models → 200.*no proxy_pass, no auth/,
    suites: ["redirect"],
  },
  "completion-cut-short": {
    check: "api.chat-completion",
    requirement: "INFER-05",
    message: /answered 200, then the body broke: body cut short.*engine log/,
    suites: ["api"],
  },
  "short-content-length": {
    check: "api.chat-completion",
    requirement: "INFER-05",
    message:
      /then the body broke: body shorter than its Content-Length: connection closed after \d+ of \d+ announced bytes/,
    suites: ["api"],
  },
  "silent-after-headers": {
    check: "api.chat-completion",
    requirement: "INFER-05",
    message: /then the body broke: headers arrived, then silence: no body byte for 1500 ms/,
    suites: ["api"],
  },
  "health-always-200": {
    check: "api.health-readiness",
    requirement: "INFER-09",
    message:
      /\/health answered 200 while the engine could not answer \(completion: 503.*proxy_pass to its \/readyz/,
    suites: ["api"],
    simulator: { loadMs: 10_000, waitReady: false },
  },
  "tool-call-as-text": {
    check: "clients.tool-call-streamed",
    requirement: "IDE-02",
    message:
      /tool call arrived as plain text in content .*\[TOOL_CALLS\]read_file.*not as tool_calls.*OpenAI tool_calls/,
    suites: ["clients"],
  },
  "tool-args-invalid-json": {
    check: "clients.tool-call-completion",
    requirement: "IDE-02",
    message: /non-streamed tool call unusable: arguments of read_file are not valid JSON.*OpenAI tool_calls/,
    suites: ["clients"],
  },
  "metrics-frozen": {
    check: "metrics.api-calls",
    requirement: "MON-01",
    message:
      /api_call_count\{method="POST",path="\/v1\/chat\/completions"\} did not move after a completion.*not live/,
    suites: ["metrics"],
  },
  "metrics-malformed": {
    check: "metrics.api-calls",
    requirement: "MON-01",
    message:
      /not Prometheus text: line \d+ "api_call_count": a sample is: .*a scraper rejects the whole page/,
    suites: ["metrics"],
  },
  "nginx-metrics-down": {
    check: "metrics.nginx",
    requirement: "MON-01",
    message:
      /GET \/metrics\/nginx \(with the password\) answered 502: nginx must proxy it to prometheus-nginx-exporter on 127\.0\.0\.1:9113/,
    suites: ["metrics"],
  },
  "request-metrics-frozen": {
    check: "metrics.requests",
    requirement: "MON-01",
    message:
      /slmc_http_requests_total\{path="chat",status_class="2xx"\} did not move within 10 s of a completion \(absent → absent\): mtail must follow nginx's metrics log/,
    suites: ["metrics"],
  },
  "node-metrics-open": {
    check: "metrics.node",
    requirement: "MON-01",
    message: /GET \/metrics\/node without credentials answered 200, not 401: .*auth_basic/,
    suites: ["metrics"],
  },
  "readiness-metric-stuck": {
    check: "metrics.engine-ready",
    requirement: "MON-01",
    message:
      /slmc_engine_ready is 0 while \/readyz answers 200, even after a new probe: slm-copilot-readiness\.timer must probe/,
    suites: ["metrics"],
  },
  "strict-alternation": {
    check: "clients.turn-shapes",
    requirement: "IDE-03",
    message:
      /2 of 3 conversation shapes failed: consecutive user messages answered 500.*a tool-only assistant turn, its result, then the user answered 500.*merge consecutive turns/,
    suites: ["clients"],
  },
  "gzip-sse": {
    check: "clients.cline-shaped-request",
    requirement: "IDE-04",
    message:
      /Cline-shaped request \(21\.7 KB, 25 tools, Accept-Encoding: gzip, deflate, br, zstd.*compressed \(Content-Encoding: gzip\).*arrived in 1 burst.*gzip off/,
    suites: ["clients"],
  },
  "small-body-limit": {
    check: "clients.large-request-body",
    requirement: "IDE-05",
    message: /1\.1 MB request body was refused with 413.*raise client_max_body_size/,
    suites: ["clients"],
  },
};

t.test("every defect switch has an expectation", async (t) => {
  t.same(Object.keys(EXPECTED).sort(), Object.keys(ALL_DEFECTS).sort());
});

// Each defect runs its own simulator on its own port; most of a run is waiting on simulated timings
// (stalls, idle timeouts), so a few run side by side, and the tests after this one start when all
// of them have ended.
t.test("every defect is flagged by its check", async (t) => {
  t.jobs = 4;
  for (const [defect, expected] of Object.entries(EXPECTED) as [Defect, Expectation][]) {
    t.test(`defect ${defect} is flagged by ${expected.check}`, { buffered: true }, async (t) => {
      const { waitReady = true, ...options } = expected.simulator ?? {};
      const sim = await simulator(t, { ...options, defects: [defect] }, waitReady);
      const results = await runAgainst(accessFor(sim, expected.access), expected.suites, [expected.check]);
      const result = results.get(expected.check);
      t.equal(result?.status, "fail", `${expected.check} fails: ${result?.message}`);
      t.equal(result?.requirement, expected.requirement);
      t.match(result?.message, expected.message);
      t.ok(Object.keys(result?.evidence ?? {}).length > 0, "the failure carries evidence");
    });
  }
});

t.test("a wrong password fails both credential checks", async (t) => {
  const sim = await simulator(t);
  const results = await runAgainst(accessFor(sim, { password: "not-the-password" }), ["auth"]);
  t.equal(results.get("auth.basic-accepted")?.status, "fail");
  t.match(results.get("auth.basic-accepted")?.message, /HTTP Basic .* refused \(401\)/);
  t.equal(results.get("auth.bearer-accepted")?.status, "fail");
});

t.test('the SDK check names the underlying cause, not the SDK\'s "Connection error"', async (t) => {
  const causes: [Defect, RegExp][] = [
    ["huge-sse-line", /streaming failed: .*event larger than 1048576 bytes/],
    ["silent-after-headers", /create failed: .*headers arrived, then silence: no body byte for 1500 ms/],
    ["short-content-length", /create failed: .*body shorter than its Content-Length/],
  ];
  t.jobs = causes.length;
  for (const [defect, cause] of causes) {
    t.test(defect, { buffered: true }, async (t) => {
      const sim = await simulator(t, { defects: [defect] });
      const result = (await runAgainst(accessFor(sim), ["clients"], ["clients.openai-sdk"])).get(
        "clients.openai-sdk",
      );
      t.equal(result?.status, "fail", `${defect}: ${result?.message}`);
      t.match(result?.message, cause, defect);
      t.notMatch(result?.message, /^[^:]*: Connection error\.?$/, `${defect}: more than "Connection error"`);
    });
  }
});

t.test("describeSdkError unwraps the SDK's APIConnectionError to its cause", async (t) => {
  const cause = new Error("https://127.0.0.1:1: connection closed before a response");
  const described = describeSdkError(new OpenAI.APIConnectionError({ cause }));
  t.equal(described, "Connection error: caused by: https://127.0.0.1:1: connection closed before a response");
  t.equal(describeSdkError(new Error("plain")), "plain");
});

t.test("a loading engine: /health answers 503 and api.health-readiness passes", async (t) => {
  const sim = await simulator(t, { loadMs: 10_000 }, false);
  const result = (await runAgainst(accessFor(sim), ["api"])).get("api.health-readiness");
  t.equal(result?.status, "pass", String(result?.message));
  t.match(result?.message, /\/health answered 503 while the engine was not ready \(completion 503\)/);
});

t.test("each new defect fails its sibling checks too, and nothing else in clients", async (t) => {
  const cases: [Defect, string[]][] = [
    ["tool-call-as-text", ["clients.tool-call-streamed", "clients.tool-call-completion"]],
    ["tool-args-invalid-json", ["clients.tool-call-streamed", "clients.tool-call-completion"]],
    ["gzip-sse", ["clients.cline-shaped-request", "clients.continue-shaped-request"]],
    ["small-body-limit", ["clients.large-request-body"]],
    ["strict-alternation", ["clients.turn-shapes"]],
  ];
  // These also judge the clients checks that must pass (arrival times included): two at a time.
  t.jobs = 2;
  for (const [defect, failing] of cases) {
    t.test(defect, { buffered: true }, async (t) => {
      const sim = await simulator(t, { defects: [defect] });
      const results = await runAgainst(accessFor(sim), ["clients"]);
      const notPassed = [...results.values()].filter((r) => r.status !== "pass");
      t.same(
        notPassed.map((r) => r.id),
        failing,
        `${defect}: exactly these clients checks fail (${notPassed.map((r) => `${r.id}: ${r.message}`).join("; ")})`,
      );
    });
  }
});

t.test("the SDK check also catches what breaks real clients", async (t) => {
  const defects: Defect[] = ["bearer-rejected", "malformed-chunk", "stalled-stream"];
  t.jobs = defects.length;
  for (const defect of defects) {
    t.test(defect, { buffered: true }, async (t) => {
      const sim = await simulator(t, { defects: [defect] });
      const results = await runAgainst(accessFor(sim), ["clients"], ["clients.openai-sdk"]);
      t.equal(
        results.get("clients.openai-sdk")?.status,
        "fail",
        `${defect}: ${results.get("clients.openai-sdk")?.message}`,
      );
    });
  }
});
