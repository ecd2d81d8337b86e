// SEC-02 / SEC-03 / SEC-10: who gets in. Every API route refuses anonymous and wrong credentials, path
// tricks do not slip past the auth layer, /health and /readyz stay open (JSON readiness, GET only), and
// the password works as Basic and as Bearer.
import { basicAuthorization, bearerAuthorization } from "../src/core/access.ts";
import { fail, pass, type CheckContext, type Suite } from "../src/core/check.ts";
import { defineCheck } from "./requirements.ts";

interface Probe {
  method: string;
  path: string;
  credentials: string;
  status: number;
}

export const PROTECTED_ROUTES: { method: string; path: string }[] = [
  { method: "GET", path: "/v1/models" },
  { method: "POST", path: "/v1/chat/completions" },
  { method: "GET", path: "/metrics" },
  { method: "GET", path: "/v1/no-such-route" },
];

export const PATH_TRICKS: { method: string; path: string }[] = [
  { method: "GET", path: "/health/../v1/models" },
  { method: "GET", path: "//v1/models" },
  { method: "GET", path: "/v1%2Fmodels" },
  { method: "GET", path: "/%76%31/models" },
  { method: "GET", path: "/./v1/models" },
  { method: "GET", path: "/V1/MODELS" },
  { method: "GET", path: "/v1/models/" },
  { method: "GET", path: "/v1/models?health" },
  { method: "HEAD", path: "/v1/models" },
  { method: "HEAD", path: "/metrics" },
];

const WRONG_PASSWORD = "slmc-wrong-password-0";
const CASE_VARIANT = "Bearer with the password in another case";

function swapCase(text: string): string {
  return [...text].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join("");
}

async function statusOf(
  ctx: CheckContext,
  method: string,
  path: string,
  authorization?: string,
): Promise<number> {
  const response = await ctx.probes.https({
    method,
    path,
    headers: {
      ...(authorization ? { authorization } : {}),
      ...(method === "POST" ? { "content-type": "application/json" } : {}),
    },
    ...(method === "POST" ? { body: "{}" } : {}),
  });
  return response.status;
}

function offenders(probes: Probe[], allowed: number[]): Probe[] {
  return probes.filter((probe) => !allowed.includes(probe.status));
}

function describe(list: Probe[]): string {
  return list.map((p) => `${p.method} ${p.path} (${p.credentials}) → ${p.status}`).join("; ");
}

const healthOpen = defineCheck({
  id: "auth.health-open",
  requirement: "SEC-02",
  title: "/health answers 200 without credentials",
  observe: async (ctx) => ({ status: await statusOf(ctx, "GET", "/health") }),
  judge: ({ status }) =>
    status === 200
      ? pass("/health is reachable without credentials")
      : status === 401
        ? fail(
            '/health demands credentials (401); exclude it from auth in nginx ("auth_basic off;" in location = /health)',
          )
        : fail(`/health answered ${status}, expected 200 (503 means the model is not loaded yet)`),
});

export const READINESS_ROUTES = ["/health", "/readyz"] as const;
const READINESS_BODIES: Record<number, string> = { 200: "ready", 503: "loading" };

interface ReadinessAnswer {
  path: string;
  status: number;
  contentType: string | null;
  body: string;
}

function readinessProblem(answer: ReadinessAnswer): string | undefined {
  const expected = READINESS_BODIES[answer.status];
  if (!expected) return `${answer.path} answered ${answer.status} (expected 200 or 503)`;
  let status: unknown;
  try {
    status = (JSON.parse(answer.body) as { status?: unknown }).status;
  } catch {
    status = undefined;
  }
  if (status !== expected || !/json/i.test(answer.contentType ?? ""))
    return `${answer.path} answered ${answer.status} ${JSON.stringify(answer.body.slice(0, 80))} (${answer.contentType ?? "no content type"}), expected {"status":"${expected}"} as JSON`;
  return undefined;
}

const readinessJson = defineCheck({
  id: "auth.readiness-json",
  requirement: "SEC-10",
  title:
    '/health and /readyz answer {"status":"ready"} (200) or {"status":"loading"} (503) without credentials',
  observe: async (ctx) => {
    const answers: ReadinessAnswer[] = [];
    for (const path of READINESS_ROUTES) {
      const response = await ctx.probes.https({ path });
      answers.push({
        path,
        status: response.status,
        contentType: response.headers["content-type"] ?? null,
        body: response.body.toString("utf8"),
      });
    }
    return { answers };
  },
  judge: ({ answers }) => {
    const problems = answers.map(readinessProblem).filter((p): p is string => p !== undefined);
    if (problems.length)
      return fail(
        `${problems.join("; ")}; answer both publicly with a JSON body ({"status":"ready"} with 200 only when the engine's /readyz is 200, else {"status":"loading"} with 503), not the engine's own answer`,
      );
    const states = answers.map((a) => `${a.path} ${a.status} ${READINESS_BODIES[a.status]}`).join(", ");
    return pass(`readiness answered as JSON without credentials: ${states}`);
  },
});

const readinessGetOnly = defineCheck({
  id: "auth.readiness-get-only",
  requirement: "SEC-10",
  title: "POST to /health and /readyz is refused with 405 (no request body reaches the engine)",
  observe: async (ctx) => {
    const probes: Probe[] = [];
    for (const path of READINESS_ROUTES)
      probes.push({ method: "POST", path, credentials: "none", status: await statusOf(ctx, "POST", path) });
    return { probes };
  },
  judge: ({ probes }) => {
    const accepted = offenders(probes, [405]);
    return accepted.length
      ? fail(
          `not refused with 405: ${describe(accepted)}; allow only GET and HEAD there (return 405 for other methods) so no request body is passed to the engine`,
        )
      : pass(`${probes.length} POSTs refused with 405`);
  },
});

const routesProtected = defineCheck({
  id: "auth.routes-require-credentials",
  requirement: "SEC-02",
  title: "API routes answer 401 without credentials and with wrong ones",
  observe: async (ctx) => {
    const probes: Probe[] = [];
    const variants: [string, string | undefined][] = [
      ["none", undefined],
      ["wrong Basic", basicAuthorization(ctx.access.user, WRONG_PASSWORD)],
      ["wrong Bearer", bearerAuthorization(WRONG_PASSWORD)],
    ];
    const password = ctx.access.password;
    const swapped = password ? swapCase(password) : undefined;
    if (swapped && swapped !== password) variants.push([CASE_VARIANT, bearerAuthorization(swapped)]);
    for (const route of PROTECTED_ROUTES)
      for (const [credentials, header] of variants)
        probes.push({ ...route, credentials, status: await statusOf(ctx, route.method, route.path, header) });
    return { probes };
  },
  judge: ({ probes }) => {
    const open = offenders(probes, [401]);
    if (!open.length)
      return pass(`${probes.length} requests to ${PROTECTED_ROUTES.length} routes refused with 401`);
    const hint = open.every((p) => p.credentials === CASE_VARIANT)
      ? "compare the Bearer token case-sensitively (nginx map string keys ignore case; use a ~ regex key)"
      : "put every location except /health and /readyz behind auth";
    return fail(`not refused with 401: ${describe(open)}; ${hint}`);
  },
});

const pathTricks = defineCheck({
  id: "auth.path-tricks-refused",
  requirement: "SEC-02",
  title: "encoded, doubled, dotted, case-changed paths and HEAD do not bypass auth",
  observe: async (ctx) => {
    const probes: Probe[] = [];
    for (const trick of PATH_TRICKS)
      probes.push({ ...trick, credentials: "none", status: await statusOf(ctx, trick.method, trick.path) });
    return { probes, accepted_statuses: [400, 401] };
  },
  judge: ({ probes, accepted_statuses }) => {
    const open = offenders(probes, accepted_statuses);
    return open.length
      ? fail(
          `auth bypassed (expected 401): ${describe(open)}; decide auth on the normalised URI, not the raw path`,
        )
      : pass(`${probes.length} path variants refused`);
  },
});

function credentialCheck(kind: "Basic" | "Bearer") {
  return defineCheck({
    id: `auth.${kind.toLowerCase()}-accepted`,
    requirement: "SEC-03",
    title: `the appliance password is accepted as ${kind === "Basic" ? "HTTP Basic" : "Authorization: Bearer"}`,
    needs: ["password"],
    observe: async (ctx) => {
      const password = ctx.access.password ?? "";
      const header =
        kind === "Basic" ? basicAuthorization(ctx.access.user, password) : bearerAuthorization(password);
      return { request: "GET /v1/models", status: await statusOf(ctx, "GET", "/v1/models", header) };
    },
    judge: ({ status }) => {
      if (status === 200) return pass(`${kind} credentials accepted`);
      if (kind === "Bearer")
        return fail(
          `Bearer token refused (${status}): Cline, Continue, aider and the openai SDK send "Authorization: Bearer <key>" and cannot use this appliance; accept the password as Bearer in nginx`,
        );
      return fail(
        `HTTP Basic with user and password refused (${status}); check the password and the htpasswd file`,
      );
    },
  });
}

export const authSuite: Suite = {
  name: "auth",
  title: "Authentication",
  checks: [
    healthOpen,
    readinessJson,
    readinessGetOnly,
    routesProtected,
    pathTricks,
    credentialCheck("Basic"),
    credentialCheck("Bearer"),
  ],
};
