// Requirement ids from the appliance specification, with the one-line meaning each check reports.
// A check can only name an id of this table: the suites' defineCheck takes a RequirementId.
import type { Check, Evidence } from "../src/core/check.ts";

export const REQUIREMENTS = {
  "SEC-01": "TLS 1.2/1.3 only, with a certificate that matches the appliance",
  "SEC-02": "every route except /health, /readyz and CORS preflights requires authentication",
  "SEC-03": "the appliance password works as HTTP Basic and as Bearer token",
  "SEC-04": "CORS headers on every response, including 401s and errors",
  "SEC-05": "OPTIONS preflight answers 204 without credentials and allows Authorization and Content-Type",
  "SEC-08": "event streams reach the client unbuffered",
  "SEC-09": "HTTP redirects permanently (301) to HTTPS, keeping path and query",
  "SEC-10":
    '/health and /readyz are public, answer {"status":"ready"} (200) only when the model is loaded, else {"status":"loading"} (503), and accept only GET and HEAD',
  "INFER-01": "the OpenAI-compatible API lists the served model",
  "INFER-02": "streamed chat completions are well-formed SSE ending with [DONE]",
  "INFER-05": "non-streaming chat completions follow the OpenAI schema",
  "IDE-01": "IDE clients (Cline, Continue, the openai SDK) work as configured",
  "IDE-02":
    "(slmc) tool calls arrive as OpenAI tool_calls with arguments valid against the tool's schema (streamed and not), and a tool result gets a text answer ending with stop",
  "IDE-03":
    "(slmc) the turn shapes agents produce (consecutive user turns, a tool result then the user, a resumed task) are accepted",
  "IDE-04":
    "(slmc) Cline- and Continue-shaped requests are accepted, stream incrementally as those clients receive them, end with a finish_reason and report usage",
  "IDE-05":
    "(slmc) a file-sized request body (≥ 256 KB; the check sends 1.1 MB, over nginx's default 1m) is not refused by the proxy",
  "INFER-03": "the appliance boots and serves without outbound network",
  "INFER-04": "LocalAI and nginx are enabled, active and recover from crashes within 30 s",
  "INFER-08": "the engine listens on loopback only",
  "INFER-09": "(slmc) /health is not 200 while the engine is down or still loading the model",
  "ONE-02": "the report file exists, mode 0600, with every field",
  "ONE-03": "the one-apps status reaches bootstrap_success",
  "ONE-04": "the effective configuration follows the context variables",
  "ONE-05": "the report's client snippets (Cline settings, Continue config.yaml, Cline CLI) work as pasted",
  "ONE-07": "every appliance step is logged with a timestamp",
  "ONE-08": "a login shows the ready banner with connection info",
  "HOST-01": "(slmc) the VM CPU exposes AVX2",
  "HOST-02": "(slmc) RAM and disk fit the model and the configured context",
  "HARD-01": "(slmc) every secret is readable by root only, or by the one service that needs it",
  "HARD-02": "(slmc) the engine runs as its unprivileged user; units keep the sandboxing they ship with",
  "MON-01":
    "/metrics (behind auth) serves Prometheus text with LocalAI's api_call histogram, and a completion moves it",
} as const;

export type RequirementId = keyof typeof REQUIREMENTS;

export function defineCheck<E extends Evidence>(check: Check<E, RequirementId>): Check<E, RequirementId> {
  return check;
}
