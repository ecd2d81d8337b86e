// SEC-04 / SEC-05: browsers (and Electron-based IDEs) only see responses that carry CORS headers, and
// only send credentials after a preflight that allows Authorization without asking for it.
import { basicAuthorization } from "../src/core/access.ts";
import { fail, pass, type Suite } from "../src/core/check.ts";
import { defineCheck } from "./requirements.ts";

const ORIGIN = "https://ide.example";

interface Observed {
  response: string;
  status: number;
  allowOrigin: string | null;
}

const headersEverywhere = defineCheck({
  id: "cors.headers-on-every-response",
  requirement: "SEC-04",
  title: "Access-Control-Allow-Origin on 200, 401, 404 and /health responses",
  observe: async (ctx) => {
    const cases: { response: string; path: string; authorized: boolean }[] = [
      { response: "/health", path: "/health", authorized: false },
      { response: "401 (no credentials)", path: "/v1/models", authorized: false },
    ];
    if (ctx.access.password) {
      cases.push({ response: "200 /v1/models", path: "/v1/models", authorized: true });
      cases.push({ response: "404 (unknown route)", path: "/v1/no-such-route", authorized: true });
    }
    const observed: Observed[] = [];
    for (const item of cases) {
      const authorization =
        item.authorized && ctx.access.password
          ? basicAuthorization(ctx.access.user, ctx.access.password)
          : undefined;
      const response = await ctx.probes.https({
        path: item.path,
        headers: { origin: ORIGIN, ...(authorization ? { authorization } : {}) },
      });
      observed.push({
        response: item.response,
        status: response.status,
        allowOrigin: response.headers["access-control-allow-origin"] ?? null,
      });
    }
    return { origin: ORIGIN, observed, authenticatedCasesSkipped: !ctx.access.password };
  },
  judge: ({ observed, authenticatedCasesSkipped }) => {
    const missing = observed.filter((o) => o.allowOrigin !== "*" && o.allowOrigin !== ORIGIN);
    if (missing.length)
      return fail(
        `no Access-Control-Allow-Origin on: ${missing.map((m) => `${m.response} (status ${m.status})`).join(", ")}; use "add_header ... always" so nginx adds it to error responses too`,
      );
    const note = authenticatedCasesSkipped ? " (200/404 cases skipped: no password given)" : "";
    return pass(`present on ${observed.length} responses${note}`);
  },
});

function listIncludes(list: string | null, wanted: string): boolean {
  return (list ?? "")
    .split(",")
    .map((item) => item.trim().toLowerCase())
    .includes(wanted.toLowerCase());
}

const preflight = defineCheck({
  id: "cors.preflight",
  requirement: "SEC-05",
  title: "OPTIONS preflight answers 204 without credentials, allowing POST, Authorization and Content-Type",
  observe: async (ctx) => {
    const response = await ctx.probes.https({
      method: "OPTIONS",
      path: "/v1/chat/completions",
      headers: {
        origin: ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    return {
      status: response.status,
      allowOrigin: response.headers["access-control-allow-origin"] ?? null,
      allowMethods: response.headers["access-control-allow-methods"] ?? null,
      allowHeaders: response.headers["access-control-allow-headers"] ?? null,
    };
  },
  judge: (e) => {
    if (e.status === 401)
      return fail(
        "preflight demands credentials (401); browsers never send them on OPTIONS: answer OPTIONS before auth",
      );
    if (e.status !== 204) return fail(`preflight answered ${e.status}, expected 204`);
    const problems: string[] = [];
    if (!e.allowOrigin) problems.push("no Access-Control-Allow-Origin");
    if (!listIncludes(e.allowMethods, "POST") && e.allowMethods !== "*")
      problems.push(`Allow-Methods "${e.allowMethods}" lacks POST`);
    // A "*" in Allow-Headers does not cover Authorization (Fetch standard), so it must be listed.
    if (!listIncludes(e.allowHeaders, "Authorization"))
      problems.push(`Allow-Headers "${e.allowHeaders}" lacks Authorization`);
    if (!listIncludes(e.allowHeaders, "Content-Type") && e.allowHeaders !== "*")
      problems.push(`Allow-Headers "${e.allowHeaders}" lacks Content-Type`);
    return problems.length
      ? fail(`preflight incomplete: ${problems.join("; ")}`)
      : pass("204 with origin, POST, Authorization and Content-Type allowed");
  },
});

export const corsSuite: Suite = { name: "cors", title: "CORS", checks: [headersEverywhere, preflight] };
