// SEC-09: plain HTTP is only a doorway to HTTPS: it keeps where the user was going, it serves nothing
// else (no content, no auth challenge, no proxied answer), and a forged Host header cannot choose
// where the redirect points.
import { fail, pass, type CheckContext, type Suite } from "../src/core/check.ts";
import { defineCheck } from "./requirements.ts";
import { ConnectError, formatHostForUrl } from "../src/probes/http.ts";
import { PATH_TRICKS, PROTECTED_ROUTES } from "./auth.ts";

const PROBE_PATH = "/any/path?q=1";
export const FOREIGN_HOST = "attacker.example";
const REDIRECT_STATUSES = [301, 302, 307, 308];

function hostOf(location: string): string | null {
  try {
    return new URL(location).hostname.replace(/^\[|\]$/g, "").toLowerCase();
  } catch {
    return null;
  }
}

const httpToHttps = defineCheck({
  id: "redirect.http-to-https",
  requirement: "SEC-09",
  title: "http://host/any/path?q=1 answers 301 to the same path and query on https",
  observe: async (ctx) => {
    const response = await ctx.probes.http({ path: PROBE_PATH });
    const host = formatHostForUrl(ctx.access.host);
    return {
      request: `GET http://${host}:${ctx.access.httpPort}${PROBE_PATH}`,
      host: ctx.access.host.toLowerCase(),
      status: response.status,
      location: response.headers.location ?? null,
      accepted_locations: [
        `https://${host}:${ctx.access.httpsPort}${PROBE_PATH}`,
        `https://${host}${PROBE_PATH}`,
        `https://${host}:443${PROBE_PATH}`,
      ],
      note: "https://host/… (port 443) is accepted because the appliance may sit behind port forwarding",
    };
  },
  judge: (e) => {
    if (e.status === 302 || e.status === 307 || e.status === 308)
      return fail(
        `redirect status is ${e.status}, not a permanent 301; use "return 301 https://<appliance name or address>$request_uri;"`,
      );
    if (e.status !== 301) return fail(`HTTP answered ${e.status}, expected 301 to https`);
    if (!e.location) return fail(`${e.status} without a Location header`);
    if (!e.location.startsWith("https://")) return fail(`redirects to ${e.location}, not to https`);
    if (e.accepted_locations.includes(e.location)) return pass(`${e.status} → ${e.location}`);
    const target = hostOf(e.location);
    if (target !== null && target !== e.host)
      return fail(
        `redirect goes to ${e.location}: the host changed (${target}, not ${e.host}, the host that was asked); redirect to the appliance's own name or address`,
      );
    return fail(`redirect goes to ${e.location}, losing the path or query; use $request_uri in the redirect`);
  },
});

interface PortProbe {
  method: string;
  path: string;
  status: number | null;
  location: string | null;
  bodyBytes: number;
  error?: string;
}

/** Port 80 gets no credentials, ever: they would cross the network in clear text. */
async function probePlain(ctx: CheckContext, method: string, path: string): Promise<PortProbe> {
  try {
    const response = await ctx.probes.http({
      method,
      path,
      ...(method === "POST" ? { headers: { "content-type": "application/json" }, body: "{}" } : {}),
    });
    return {
      method,
      path,
      status: response.status,
      location: response.headers.location ?? null,
      bodyBytes: response.body.length,
    };
  } catch (error) {
    if (!(error instanceof ConnectError)) throw error;
    return { method, path, status: null, location: null, bodyBytes: 0, error: error.message };
  }
}

export const HTTP_PORT_ROUTES: { method: string; path: string }[] = [
  { method: "GET", path: "/health" },
  ...PROTECTED_ROUTES,
  ...PATH_TRICKS,
];

const servesNothing = defineCheck({
  id: "redirect.http-serves-nothing",
  requirement: "SEC-09",
  title: "every API route on the HTTP port gets only a redirect to https (no content, no 401, no proxy)",
  observe: async (ctx) => {
    const probes: PortProbe[] = [];
    for (const route of HTTP_PORT_ROUTES) probes.push(await probePlain(ctx, route.method, route.path));
    return { port: ctx.access.httpPort, credentials: "none (never sent over plain HTTP)", probes };
  },
  judge: (e) => {
    const served = e.probes.filter(
      (p) =>
        p.status === null ||
        !REDIRECT_STATUSES.includes(p.status) ||
        !(p.location ?? "").startsWith("https://"),
    );
    if (!served.length) return pass(`${e.probes.length} requests to port ${e.port} all redirected to https`);
    const list = served
      .map(
        (p) => `${p.method} ${p.path} → ${p.status ?? p.error}${p.status === 401 ? " (auth challenge)" : ""}`,
      )
      .join("; ");
    return fail(
      `port ${e.port} serves more than a redirect: ${list}; the HTTP server must only "return 301 https://…" (no proxy_pass, no auth, no content outside /.well-known/acme-challenge/)`,
    );
  },
});

const hostNotReflected = defineCheck({
  id: "redirect.host-not-reflected",
  requirement: "SEC-09",
  title: `a request with "Host: ${FOREIGN_HOST}" is not redirected to ${FOREIGN_HOST}`,
  observe: async (ctx) => {
    const probe = await (async () => {
      try {
        const response = await ctx.probes.http({ path: PROBE_PATH, headers: { host: FOREIGN_HOST } });
        return { status: response.status as number | null, location: response.headers.location ?? null };
      } catch (error) {
        if (!(error instanceof ConnectError)) throw error;
        return { status: null, location: null, error: error.message };
      }
    })();
    return {
      request: `GET ${PROBE_PATH} on port ${ctx.access.httpPort} with "Host: ${FOREIGN_HOST}"`,
      foreignHost: FOREIGN_HOST,
      ...probe,
      locationHost: probe.location ? hostOf(probe.location) : null,
    };
  },
  judge: (e) => {
    const host = e.locationHost ?? "";
    if (host === e.foreignHost || host.endsWith(`.${e.foreignHost}`))
      return fail(
        `the redirect reflects the request's Host header (Location: ${e.location}): anyone who can set Host chooses where users are sent; build the Location from the appliance's own name or address, not $host`,
      );
    if (e.status === null)
      return pass(`connection closed without an answer (${"error" in e ? e.error : ""})`);
    return pass(`${e.status}${e.location ? ` → ${e.location}` : ""}: the foreign host is not reflected`);
  },
});

export const redirectSuite: Suite = {
  name: "redirect",
  title: "HTTP redirect",
  checks: [httpToHttps, servesNothing, hostNotReflected],
};
