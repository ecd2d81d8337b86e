// SEC-09: plain HTTP is only a doorway to HTTPS, and the doorway keeps where the user was going.
import { defineCheck, fail, pass, type Suite } from "../src/core/check.ts";
import { formatHostForUrl } from "../src/probes/http.ts";

const PROBE_PATH = "/any/path?q=1";

const httpToHttps = defineCheck({
  id: "redirect.http-to-https",
  requirement: "SEC-09",
  title: "http://host/any/path?q=1 answers 301 to the same path and query on https",
  observe: async (ctx) => {
    const response = await ctx.probes.http({ path: PROBE_PATH });
    const host = formatHostForUrl(ctx.access.host);
    return {
      request: `GET http://${host}:${ctx.access.httpPort}${PROBE_PATH}`,
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
        `redirect status is ${e.status}, not a permanent 301; use "return 301 https://$host$request_uri;"`,
      );
    if (e.status !== 301) return fail(`HTTP answered ${e.status}, expected 301 to https`);
    if (!e.location) return fail(`${e.status} without a Location header`);
    if (!e.location.startsWith("https://")) return fail(`redirects to ${e.location}, not to https`);
    if (!e.accepted_locations.includes(e.location))
      return fail(
        `redirect goes to ${e.location}, losing the path or query; use $request_uri in the redirect`,
      );
    return pass(`${e.status} → ${e.location}`);
  },
});

export const redirectSuite: Suite = { name: "redirect", title: "HTTP redirect", checks: [httpToHttps] };
