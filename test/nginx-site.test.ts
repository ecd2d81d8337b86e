// The appliance's nginx site, rendered from its template, under the real nginx binary in front of the
// LocalAI stand-in: every check passes, and every mutation of the site is flagged, by the right check or
// by a direct measurement (throttle, failed-auth log read by the real fail2ban-regex, TLS 1.2 cipher
// handshakes with openssl, what the readiness subrequest carries, the port-80 Location).
import t from "tap";
import { existsSync } from "node:fs";
import { execFile, spawn } from "node:child_process";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { createEngine, DEFAULT_SCHEDULE } from "../src/sim/engine/app.ts";
import {
  NGINX_BIN,
  NGINX_MUTATIONS,
  startRealNginx,
  type NginxMutationName,
  type RealNginx,
} from "../fixtures/nginx/real-nginx.ts";
import { serveFetch } from "../src/core/serve.ts";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Access } from "../src/core/access.ts";
import { runAgainst } from "./helpers.ts";

const PASSWORD = "Sl.m-Copilot_9x";
const WRONG = "Wrong.Guess-0000";
const FAIL2BAN_REGEX = "/usr/bin/fail2ban-regex";
const FILTER = join(import.meta.dirname, "../appliance/templates/fail2ban-filter.conf");
const run = promisify(execFile);

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const agent = new https.Agent({ keepAlive: true, maxSockets: 8, rejectUnauthorized: false });

function request(
  port: number,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string; tls?: boolean },
): Promise<Answer> {
  const client = options.tls === false ? http : https;
  return new Promise((done, reject) => {
    const req = client.request(
      {
        host: "127.0.0.1",
        port,
        method: options.method ?? "GET",
        path: options.path,
        headers: options.headers,
        ...(options.tls === false ? {} : { agent, servername: "localhost" }),
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (part: Buffer) => parts.push(part));
        res.on("end", () =>
          done({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(parts).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

const basic = (password: string) => `Basic ${Buffer.from(`copilot:${password}`).toString("base64")}`;

/** N requests, `parallel` at a time; the statuses in order of completion. */
async function flood(n: number, parallel: number, send: () => Promise<Answer>): Promise<Answer[]> {
  const answers: Answer[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next += 1;
      answers.push(await send());
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return answers;
}

const count = (answers: Answer[], status: number) => answers.filter((a) => a.status === status).length;

/** An engine that answers /readyz like LocalAI (empty body) and records what reaches it. */
async function recordingEngine(status: () => number): Promise<{
  port: number;
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders; bodyBytes: number }[];
  close(): void;
}> {
  const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; bodyBytes: number }[] = [];
  const server = http.createServer((req, res) => {
    let bodyBytes = 0;
    req.on("data", (part: Buffer) => (bodyBytes += part.length));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, bodyBytes });
      res.writeHead(status(), { "content-length": 0 });
      res.end();
    });
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  return { port: (server.address() as AddressInfo).port, seen, close: () => server.close() };
}

/** A TLS 1.2 (or 1.3) handshake with exactly this cipher, by the system openssl (which still has CAMELLIA and ARIA). */
async function handshake(port: number, cipher: string | undefined, version = "-tls1_2"): Promise<boolean> {
  const args = ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost", version];
  if (cipher) args.push("-cipher", `${cipher}:@SECLEVEL=0`);
  try {
    const running = run("openssl", args, { timeout: 10_000 });
    running.child.stdin?.end();
    const { stdout } = await running;
    return /Cipher is (?!\(NONE\))/.test(stdout);
  } catch {
    return false;
  }
}

const REFUSED_TLS12 = {
  ecdsa: [
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-ECDSA-CAMELLIA128-SHA256",
    "ECDHE-ECDSA-ARIA128-GCM-SHA256",
  ],
  rsa: [
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-RSA-CAMELLIA128-SHA256",
    "ECDHE-ARIA128-GCM-SHA256",
    "AES128-GCM-SHA256",
    "AES128-SHA",
    "DHE-RSA-AES128-GCM-SHA256",
  ],
};
const ACCEPTED_TLS12 = {
  ecdsa: ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"],
  rsa: ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"],
};

/** What TLS 1.2 accepts on this nginx; undefined when only ECDHE + AEAD suites are. */
async function tlsProblem(nginx: RealNginx, kind: "ecdsa" | "rsa"): Promise<string | undefined> {
  const accepted: string[] = [];
  for (const cipher of REFUSED_TLS12[kind])
    if (await handshake(nginx.httpsPort, cipher)) accepted.push(cipher);
  const refused: string[] = [];
  for (const cipher of ACCEPTED_TLS12[kind])
    if (!(await handshake(nginx.httpsPort, cipher))) refused.push(cipher);
  if (!(await handshake(nginx.httpsPort, undefined, "-tls1_3"))) refused.push("TLS 1.3");
  const problems = [
    ...(accepted.length ? [`TLS 1.2 accepts ${accepted.join(", ")}`] : []),
    ...(refused.length ? [`refuses ${refused.join(", ")}`] : []),
  ];
  return problems.length ? `${kind.toUpperCase()} certificate: ${problems.join("; ")}` : undefined;
}

if (!existsSync(NGINX_BIN)) {
  t.fail(
    `${NGINX_BIN} is missing: run "make test" as root (installs nginx-light) or apt-get install nginx-light`,
  );
} else {
  if (!existsSync(FAIL2BAN_REGEX))
    t.fail(
      `${FAIL2BAN_REGEX} is missing: run "make test" as root (installs fail2ban) or apt-get install fail2ban`,
    );
  const modelsPath = await mkdtemp(join(tmpdir(), "slmc-nginx-models-"));
  await writeFile(join(modelsPath, "m.gguf"), Buffer.alloc(4096));
  await writeFile(join(modelsPath, "m.yaml"), "name: devstral-small-2\nparameters:\n  model: m.gguf\n");
  const engine = createEngine({
    modelsPath,
    threads: 1,
    contextSize: 4096,
    loadMs: 0,
    schedule: DEFAULT_SCHEDULE,
    defects: new Set(),
  });
  await engine.ready;
  const served = await serveFetch(engine.app.fetch, "127.0.0.1", 0);
  t.teardown(() => served.close());
  t.teardown(() => agent.destroy());

  const accessFor = (nginx: { httpsPort: number; httpPort: number; certificatePem: string }): Access => ({
    host: "127.0.0.1",
    httpsPort: nginx.httpsPort,
    httpPort: nginx.httpPort,
    user: "copilot",
    password: PASSWORD,
    ca: nginx.certificatePem,
    caFile: "(test certificate)",
    insecure: false,
    requestTimeoutMs: 5000,
    streamTimeoutMs: 15000,
    streamIdleTimeoutMs: 2000,
    maxTokens: 12,
    simulated: false,
  });

  t.test("the rendered site passes every check under real nginx", async (t) => {
    const nginx = await startRealNginx({ enginePort: served.port, password: PASSWORD, exporters: true });
    t.teardown(() => nginx.stop());
    const results = await runAgainst(accessFor(nginx));
    // The template's redirect still reflects $host until the appliance's fix (issue 10) lands; this
    // expectation turns strict by itself once the port-80 server stops using the request's Host.
    const reflects = /return 301 https:\/\/\$(host|http_host)\b/.test(nginx.site);
    for (const result of results.values()) {
      if (result.id === "api.health-readiness") {
        t.equal(result.status, "skip", `${result.id}: ${result.message}`);
        t.match(result.message, /not demonstrated: the engine was ready throughout/);
      } else if (result.id === "redirect.host-not-reflected" && reflects) {
        t.equal(result.status, "fail", `${result.id} flags the template's $host redirect: ${result.message}`);
        t.match(result.message, /reflects the request's Host header/);
      } else t.equal(result.status, "pass", `${result.id}: ${result.message}`);
    }
  });

  const EXPECTED: Partial<
    Record<NginxMutationName, { check: string; requirement: string; message: RegExp; suites: string[] }>
  > = {
    "host-metrics-open": {
      check: "metrics.node",
      requirement: "MON-01",
      message: /GET \/metrics\/node without credentials answered 200, not 401/,
      suites: ["metrics"],
    },
    "metrics-log-off": {
      check: "metrics.requests",
      requirement: "MON-01",
      message:
        /slmc_http_requests_total\{path="chat",status_class="2xx"\} did not move within 10 s of a completion \(absent → absent\): mtail must follow nginx's metrics log/,
      suites: ["metrics"],
    },
    "body-limit-default": {
      check: "clients.large-request-body",
      requirement: "IDE-05",
      message: /1\.1 MB request body was refused with 413.*client_max_body_size/,
      suites: ["clients"],
    },
    "buffering-on": {
      check: "streaming.incremental",
      requirement: "SEC-08",
      message: /buffered:.*proxy_buffering off/,
      suites: ["streaming"],
    },
    "cors-not-always": {
      check: "cors.headers-on-every-response",
      requirement: "SEC-04",
      message: /no Access-Control-Allow-Origin on: 401/,
      suites: ["cors"],
    },
    "auth-on-health": {
      check: "auth.health-open",
      requirement: "SEC-02",
      message: /\/health demands credentials/,
      suites: ["auth"],
    },
    "bearer-ignored": {
      check: "auth.bearer-accepted",
      requirement: "SEC-03",
      message: /Bearer token refused \(401\)/,
      suites: ["auth"],
    },
    "http-proxies-api": {
      check: "redirect.http-serves-nothing",
      requirement: "SEC-09",
      message:
        /serves more than a redirect: GET \/v1\/models → 200.*POST \/v1\/chat\/completions → 400.*no proxy_pass/,
      suites: ["redirect"],
    },
    "redirect-reflects-host": {
      check: "redirect.host-not-reflected",
      requirement: "SEC-09",
      message: /reflects the request's Host header \(Location: https:\/\/attacker\.example\/any\/path\?q=1\)/,
      suites: ["redirect"],
    },
    "bearer-case-insensitive": {
      check: "auth.routes-require-credentials",
      requirement: "SEC-02",
      message: /Bearer with the password in another case/,
      suites: ["auth"],
    },
    "readiness-proxied": {
      check: "auth.readiness-json",
      requirement: "SEC-10",
      message: /\/health answered 200 .*expected \{"status":"ready"\} as JSON/,
      suites: ["auth"],
    },
    "readiness-any-method": {
      check: "auth.readiness-get-only",
      requirement: "SEC-10",
      message: /not refused with 405: POST \/health \(none\) → 200; POST \/readyz \(none\) → 200/,
      suites: ["auth"],
    },
  };

  // Properties no slmc-check check may probe (it would trip the throttle and the ban on a real
  // appliance) or can see (what reaches the engine): measured here, each broken by its mutation.
  type Start = (extra?: {
    rsa?: boolean;
    domain?: string;
    rateLimit?: number;
    enginePort?: number;
  }) => Promise<RealNginx>;
  interface Measured {
    problem?: string;
    note: string;
  }
  const GUESSES = 600;

  async function measureThrottle(start: Start): Promise<Measured> {
    const nginx = await start();
    const begun = performance.now();
    const answers = await flood(GUESSES, 8, () =>
      request(nginx.httpsPort, { path: "/v1/models", headers: { authorization: `Bearer ${WRONG}` } }),
    );
    const seconds = (performance.now() - begun) / 1000;
    const limited = count(answers, 429);
    // 600/min with a burst of 300: at most 300 + 10 per elapsed second get through.
    const allowed = 300 + Math.ceil(10 * seconds) + 2;
    const note = `${GUESSES} rapid wrong Bearer guesses from one address in ${seconds.toFixed(2)} s: ${count(answers, 401)} answered 401, ${limited} answered 429`;
    if (GUESSES - limited > allowed)
      return {
        note,
        problem: `only ${limited} of ${GUESSES} rapid wrong guesses were throttled (429); at most ${allowed} may pass`,
      };
    const sample = answers.find((a) => a.status === 429);
    if (
      sample?.headers["retry-after"] !== "1" ||
      sample.headers["access-control-allow-origin"] !== "*" ||
      !/json/.test(sample.headers["content-type"] ?? "") ||
      (JSON.parse(sample.body) as { error?: { type?: string } }).error?.type !== "rate_limit_exceeded"
    )
      return {
        note,
        problem: `429 lacks Retry-After, CORS or its JSON body: ${JSON.stringify(sample?.headers)} ${sample?.body}`,
      };
    return { note };
  }

  async function fail2banMatches(log: string): Promise<string[]> {
    if (!existsSync(log)) return [];
    const { stdout } = await run(FAIL2BAN_REGEX, ["-o", "ip", log, FILTER]);
    return stdout.split("\n").filter((line) => /^[0-9a-f.:]+$/i.test(line.trim()));
  }

  async function measureAuthLog(start: Start): Promise<Measured> {
    const nginx = await start();
    const send = (authorization?: string) =>
      request(nginx.httpsPort, { path: "/v1/models", headers: authorization ? { authorization } : {} });
    for (let i = 0; i < 3; i++) await send(basic(WRONG));
    for (let i = 0; i < 3; i++) await send(`Bearer ${WRONG}`);
    await send();
    await send();
    await send(basic(PASSWORD));
    await send(`Bearer ${PASSWORD}`);
    await request(nginx.httpsPort, { path: "/health", headers: { authorization: basic(WRONG) } });
    const lines = existsSync(nginx.logs.auth)
      ? (await readFile(nginx.logs.auth, "utf8")).trim().split("\n").filter(Boolean)
      : [];
    const matched = await fail2banMatches(nginx.logs.auth);
    const note = `failed-auth log: ${lines.length} lines (${lines[0] ?? "none"} …); fail2ban-regex matched ${matched.length}`;
    const schemes = lines.map((line) => /scheme=(\w+)$/.exec(line)?.[1]);
    if (matched.length !== 6 || lines.length !== 6 || matched.some((ip) => ip.trim() !== "127.0.0.1"))
      return {
        note,
        problem: `expected 6 failed authentications (3 Basic, 3 Bearer) matched by fail2ban-regex, got ${matched.length} of ${lines.length} lines`,
      };
    if (
      schemes.filter((x) => x === "Basic").length !== 3 ||
      schemes.filter((x) => x === "Bearer").length !== 3
    )
      return { note, problem: `schemes logged: ${schemes.join(", ")}` };
    return { note };
  }

  async function measureReadinessForwarding(start: Start): Promise<Measured> {
    let engineStatus = 200;
    const recorder = await recordingEngine(() => engineStatus);
    try {
      const nginx = await start({ enginePort: recorder.port });
      const answers: string[] = [];
      const ask = async (path: string, headers: Record<string, string>, body?: string) => {
        const answer = await request(nginx.httpsPort, { path, headers, ...(body ? { body } : {}) });
        answers.push(`${path} ${answer.status} ${answer.body.trim()}`);
        return answer;
      };
      const ready = await ask(
        "/health",
        { authorization: basic(PASSWORD), cookie: "session=secret-cookie", "content-length": "11" },
        "hello world",
      );
      await ask("/readyz", { authorization: `Bearer ${PASSWORD}` });
      const head = await request(nginx.httpsPort, { method: "HEAD", path: "/health" });
      answers.push(`HEAD /health ${head.status} ${head.headers["content-type"] ?? ""}`);
      engineStatus = 503;
      const loading = await ask("/readyz", {});
      recorder.close();
      const down = await ask("/health", {});
      const note = `readiness answers: ${answers.join("; ")}; engine saw ${recorder.seen.map((r) => `${r.method} ${r.url} headers [${Object.keys(r.headers).join(" ")}] body ${r.bodyBytes} B`).join("; ")}`;
      const leaked = recorder.seen.filter(
        (r) =>
          r.headers.authorization ||
          r.headers.cookie ||
          r.headers["content-length"] ||
          r.bodyBytes > 0 ||
          r.method !== "GET" ||
          r.url !== "/readyz",
      );
      if (leaked.length)
        return {
          note,
          problem: `the engine received client data: ${JSON.stringify(leaked.map((r) => r.headers))}`,
        };
      if (
        head.status !== 200 ||
        down.status !== 503 ||
        down.body.trim() !== '{"status":"loading"}' ||
        ready.status !== 200 ||
        ready.body.trim() !== '{"status":"ready"}' ||
        loading.status !== 503 ||
        loading.body.trim() !== '{"status":"loading"}'
      )
        return { note, problem: `readiness contract broken: ${answers.join("; ")}` };
      return { note };
    } finally {
      recorder.close();
    }
  }

  async function measureRedirect(start: Start): Promise<Measured> {
    const nginx = await start();
    const locations: Record<string, string> = {};
    for (const host of ["evil.example", "evil.example:8080", `127.0.0.1:${nginx.httpPort}`, "localhost"]) {
      const answer = await request(nginx.httpPort, { path: "/a/b?c=1", headers: { host }, tls: false });
      locations[host] = `${answer.status} ${answer.headers.location ?? ""}`;
    }
    const note = `port 80 Location by Host: ${JSON.stringify(locations)}`;
    const expected: Record<string, string> = {
      "evil.example": "301 https://127.0.0.1/a/b?c=1",
      "evil.example:8080": "301 https://127.0.0.1/a/b?c=1",
      [`127.0.0.1:${nginx.httpPort}`]: "301 https://127.0.0.1/a/b?c=1",
      localhost: "301 https://localhost/a/b?c=1",
    };
    const wrong = Object.entries(expected).filter(([host, want]) => locations[host] !== want);
    return wrong.length
      ? {
          note,
          problem: `Host reflected or path lost: ${wrong.map(([host]) => `Host ${host} → ${locations[host]}`).join("; ")}`,
        }
      : { note };
  }

  const DIRECT: Partial<
    Record<
      NginxMutationName,
      { property: string; problem: RegExp; measure: (start: Start) => Promise<Measured> }
    >
  > = {
    "rate-limit-off": {
      property: "rapid wrong guesses from one address are throttled with 429 + Retry-After + CORS",
      problem: /only 0 of 600 rapid wrong guesses were throttled/,
      measure: measureThrottle,
    },
    "auth-failure-not-logged": {
      property: "every failed Basic and Bearer authentication is a line fail2ban-regex matches",
      problem: /expected 6 failed authentications .* got 0 of 0 lines/,
      measure: measureAuthLog,
    },
    "cbc-ciphers-allowed": {
      property: "TLS 1.2 accepts only ECDHE + AEAD suites (ECDSA certificate), TLS 1.3 works",
      problem:
        /TLS 1\.2 accepts ECDHE-ECDSA-AES128-SHA, ECDHE-ECDSA-AES256-SHA384, ECDHE-ECDSA-CAMELLIA128-SHA256, ECDHE-ECDSA-ARIA128-GCM-SHA256/,
      measure: async (start) => {
        const problem = await tlsProblem(await start(), "ecdsa");
        return { note: "ECDSA certificate cipher handshakes", ...(problem ? { problem } : {}) };
      },
    },
    "readiness-forwards-client": {
      property: "the readiness subrequest carries no credentials, cookies or body; JSON ready/loading",
      problem: /the engine received client data/,
      measure: measureReadinessForwarding,
    },
    "host-reflected": {
      property: "port 80 never echoes a foreign Host into Location",
      problem: /Host reflected or path lost: Host evil\.example → 301 https:\/\/evil\.example\/a\/b\?c=1/,
      measure: measureRedirect,
    },
  };

  // Every mutation and direct measurement has its own nginx on its own ports, and most of their time is
  // waiting (mtail's 10 s follow budget, fail2ban's ban, paced bursts): four at a time. The healthy
  // run above, which judges streaming gaps, has ended before they start.
  t.test("mutations and direct measurements, four at a time", { jobs: 4 }, async (t) => {
    t.test("every mutation has an expectation", async (t) => {
      t.same([...Object.keys(EXPECTED), ...Object.keys(DIRECT)].sort(), Object.keys(NGINX_MUTATIONS).sort());
    });

    for (const [name, expected] of Object.entries(EXPECTED) as [
      NginxMutationName,
      NonNullable<(typeof EXPECTED)[NginxMutationName]>,
    ][]) {
      t.test(`mutation ${name} is flagged by ${expected.check}`, async (t) => {
        const nginx = await startRealNginx({
          enginePort: served.port,
          password: PASSWORD,
          mutation: NGINX_MUTATIONS[name],
          exporters: expected.suites.includes("metrics"),
        });
        t.teardown(() => nginx.stop());
        const results = await runAgainst(accessFor(nginx), expected.suites);
        const result = results.get(expected.check);
        t.equal(result?.status, "fail", `${expected.check}: ${result?.message}`);
        t.equal(result?.requirement, expected.requirement);
        t.match(result?.message, expected.message);
      });
    }

    for (const [name, direct] of Object.entries(DIRECT) as [
      NginxMutationName,
      NonNullable<(typeof DIRECT)[NginxMutationName]>,
    ][]) {
      t.test(`the rendered site: ${direct.property}`, async (t) => {
        const measured = await direct.measure(async (extra = {}) => {
          const nginx = await startRealNginx({ enginePort: served.port, password: PASSWORD, ...extra });
          t.teardown(() => nginx.stop());
          return nginx;
        });
        t.comment(measured.note);
        t.equal(measured.problem, undefined, measured.note);
      });
      t.test(`mutation ${name} breaks: ${direct.property}`, async (t) => {
        const measured = await direct.measure(async (extra = {}) => {
          const nginx = await startRealNginx({
            enginePort: served.port,
            password: PASSWORD,
            mutation: NGINX_MUTATIONS[name],
            ...extra,
          });
          t.teardown(() => nginx.stop());
          return nginx;
        });
        t.match(measured.problem, direct.problem, measured.note);
      });
    }

    t.test("an RSA certificate (a private ACME CA's) gets the same ECDHE + AEAD suites", async (t) => {
      const nginx = await startRealNginx({ enginePort: served.port, password: PASSWORD, rsa: true });
      t.teardown(() => nginx.stop());
      t.equal(await tlsProblem(nginx, "rsa"), undefined);
    });

    t.test("ONEAPP_COPILOT_RATE_LIMIT=0 turns throttling off", async (t) => {
      const nginx = await startRealNginx({ enginePort: served.port, password: PASSWORD, rateLimit: 0 });
      t.teardown(() => nginx.stop());
      const answers = await flood(400, 8, () =>
        request(nginx.httpsPort, { path: "/v1/models", headers: { authorization: `Bearer ${WRONG}` } }),
      );
      t.equal(count(answers, 429), 0, "no 429 with rate limiting off");
      t.match(nginx.site, /# per-client rate limiting is off/);
    });

    t.test("real-client-shaped bursts never hit the limit (default 600/min, burst 300)", async (t) => {
      const nginx = await startRealNginx({ enginePort: served.port, password: PASSWORD });
      t.teardown(() => nginx.stop());
      // Cline / Continue: a handful of requests at once (models list, chat, autocomplete), a pause, again.
      // Here 8 rounds of 12 concurrent authenticated requests 250 ms apart: ~40 per second, well above
      // what an IDE sends, for 2 seconds.
      const statuses: number[] = [];
      const begun = performance.now();
      for (let round = 0; round < 8; round++) {
        const answers = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            i % 3 === 0
              ? request(nginx.httpsPort, {
                  path: "/v1/models",
                  headers: { authorization: `Bearer ${PASSWORD}` },
                })
              : request(nginx.httpsPort, {
                  method: "POST",
                  path: "/v1/chat/completions",
                  headers: { authorization: `Bearer ${PASSWORD}`, "content-type": "application/json" },
                  body: JSON.stringify({
                    model: "devstral-small-2",
                    max_tokens: 2,
                    messages: [{ role: "user", content: "hi" }],
                  }),
                }),
          ),
        );
        statuses.push(...answers.map((a) => a.status));
        await new Promise((wait) => setTimeout(wait, 250));
      }
      const seconds = (performance.now() - begun) / 1000;
      t.comment(
        `${statuses.length} IDE-shaped requests in ${seconds.toFixed(2)} s: ${statuses.filter((s) => s === 200).length} × 200, ${statuses.filter((s) => s === 429).length} × 429`,
      );
      t.equal(statuses.filter((s) => s === 429).length, 0, "no 429");
      t.equal(statuses.filter((s) => s === 200).length, statuses.length, "all served");
    });

    t.test(
      "the port-80 redirect with a domain names the domain; credentials never reach any log",
      async (t) => {
        const nginx = await startRealNginx({
          enginePort: served.port,
          password: PASSWORD,
          domain: "copilot.example.org",
        });
        t.teardown(() => nginx.stop());
        const foreign = await request(nginx.httpPort, {
          path: "/x?y=2",
          headers: { host: "evil.example" },
          tls: false,
        });
        t.equal(foreign.headers.location, "https://copilot.example.org/x?y=2");
        await request(nginx.httpsPort, { path: "/v1/models", headers: { authorization: basic(WRONG) } });
        await request(nginx.httpsPort, { path: "/v1/models", headers: { authorization: `Bearer ${WRONG}` } });
        await request(nginx.httpsPort, {
          path: "/v1/models",
          headers: { authorization: `Bearer ${PASSWORD}` },
        });
        await request(nginx.httpsPort, { path: "/v1/models", headers: { authorization: basic(PASSWORD) } });
        const logs = (
          await Promise.all(Object.values(nginx.logs).map((log) => readFile(log, "utf8").catch(() => "")))
        ).join("\n");
        t.ok(logs.length > 0, "something was logged");
        for (const secret of [
          PASSWORD,
          WRONG,
          Buffer.from(`copilot:${WRONG}`).toString("base64"),
          Buffer.from(`copilot:${PASSWORD}`).toString("base64"),
        ])
          t.notOk(logs.includes(secret), `no log carries ${secret.slice(0, 4)}…`);
      },
    );

    t.test("IPv6: a foreign Host is answered with the arrival address in brackets", async (t) => {
      const nginx = await startRealNginx({
        enginePort: served.port,
        password: PASSWORD,
        // test setup, not a mistake: also listen on [::1]
        mutation: {
          description: "also listen on [::1]",
          apply: (site) =>
            site.replace(
              /listen 127\.0\.0\.1:(\d+) default_server;/,
              "listen 127.0.0.1:$1 default_server; listen [::1]:$1 default_server;",
            ),
        },
      }).catch(() => undefined);
      if (!nginx) {
        t.comment("no IPv6 loopback here: not checked");
        return;
      }
      t.teardown(() => nginx.stop());
      const answer = await new Promise<http.IncomingMessage>((done, reject) =>
        http
          .get({ host: "::1", port: nginx.httpPort, path: "/a?b=1", headers: { host: "evil.example" } }, done)
          .on("error", reject),
      );
      answer.resume();
      t.equal(answer.headers.location, "https://[::1]/a?b=1");
    });

    t.test(
      "fail2ban's jail, reading the real nginx's failed-auth log, bans after exactly 60 failures",
      {
        skip: existsSync("/usr/bin/fail2ban-server")
          ? false
          : "fail2ban is not installed (make test installs it as root)",
      },
      async (t) => {
        const nginx = await startRealNginx({ enginePort: served.port, password: PASSWORD });
        t.teardown(() => nginx.stop());
        const dir = await mkdtemp(join(tmpdir(), "slmc-f2b-"));
        t.teardown(() => rm(dir, { recursive: true, force: true }));
        const conf = join(dir, "etc");
        await cp("/etc/fail2ban", conf, { recursive: true });
        await rm(join(conf, "jail.d"), { recursive: true, force: true });
        await cp(FILTER, join(conf, "filter.d/slm-copilot-auth.conf"));
        const jail = (
          await run(join(import.meta.dirname, "../appliance/render-template.sh"), [
            join(import.meta.dirname, "../appliance/templates/fail2ban-jail.conf"),
            `AUTH_LOG=${nginx.logs.auth}`,
          ])
        ).stdout;
        await mkdir(join(conf, "jail.d"));
        await writeFile(join(conf, "jail.d/slm-copilot-auth.local"), jail);
        // Test-only: ban with fail2ban's dummy action into a file (no nftables here), and do not ignore
        // this machine's own addresses (the requests come from 127.0.0.1).
        await writeFile(
          join(conf, "jail.d/zz-test.local"),
          `[slm-copilot-auth]\naction = dummy[target="${dir}/bans"]\nignoreself = false\nbackend = polling\n`,
        );
        await writeFile(
          join(conf, "fail2ban.local"),
          `[Definition]\nlogtarget = ${dir}/fail2ban.log\nsocket = ${dir}/fail2ban.sock\npidfile = ${dir}/fail2ban.pid\ndbfile = :memory:\n`,
        );
        const server = spawn("fail2ban-server", ["-f", "-x", "-c", conf], { stdio: "ignore" });
        t.teardown(() => void server.kill("SIGTERM"));
        const banned = async () =>
          (await readFile(join(dir, "bans"), "utf8").catch(() => "")).includes("+127.0.0.1");
        const waitFor = async (what: () => Promise<boolean>, ms: number) => {
          const until = Date.now() + ms;
          while (Date.now() < until) {
            if (await what()) return true;
            await new Promise((wait) => setTimeout(wait, 200));
          }
          return false;
        };
        t.ok(
          await waitFor(async () => {
            const ping = await run("fail2ban-client", ["-c", conf, "status", "slm-copilot-auth"]).catch(
              () => undefined,
            );
            return ping !== undefined;
          }, 20_000),
          "fail2ban-server runs the slm-copilot-auth jail",
        );
        const guess = (i: number) =>
          request(nginx.httpsPort, {
            path: "/v1/models",
            headers: { authorization: i % 2 ? `Bearer ${WRONG}` : basic(WRONG) },
          });
        for (let i = 0; i < 59; i++) await guess(i);
        await new Promise((wait) => setTimeout(wait, 3000));
        t.notOk(await banned(), "59 failures (Basic and Bearer mixed): not banned");
        const started = Date.now();
        await guess(59);
        t.ok(await waitFor(banned, 15_000), "the 60th failure bans 127.0.0.1");
        const status = (await run("fail2ban-client", ["-c", conf, "status", "slm-copilot-auth"])).stdout;
        t.match(status, /Total failed:\s+60/);
        t.match(status, /Banned IP list:\s+127\.0\.0\.1/);
        t.comment(
          `banned ${((Date.now() - started) / 1000).toFixed(1)} s after the 60th failure; ${status.replace(/\s+/g, " ")}`,
        );
      },
    );
  });
}
