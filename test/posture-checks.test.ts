// Verdicts of the posture checks on recorded observations: what the lab VM answered to each check's
// fixed commands (fixtures/lab/recorded/nginx-T.txt is its `nginx -T`, the bearer map's secret
// scrubbed), then the same observations with one thing broken per failure path, and its message.
// The lab test (test/lab.test.ts, "sabotaged appliances") shows each failure on a real VM.
import t from "tap";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Check, Evidence } from "../src/core/check.ts";
import {
  ENGINE_ARGV_COMMAND,
  PRIVILEGES_COMMAND,
  SANDBOX_COMMAND,
  SECRETS_COMMAND,
  SHIPPED_SANDBOXING,
  atLeastAsStrict,
  cipherProblems,
  engineFlagsEvidence,
  nginxEvidence,
  postureSuite,
  privilegesEvidence,
  sandboxEvidence,
  secretsEvidence,
} from "../suites/posture.ts";
import { nginxBytes, nginxSeconds, parseConfig, selectLocation } from "../suites/nginx-conf.ts";
import { SUITES } from "../suites/index.ts";

const ROOT = resolve(import.meta.dirname, "..");
const NGINX_T = await readFile(join(ROOT, "fixtures/lab/recorded/nginx-T.txt"), "utf8");
const check = (id: string): Check<Evidence> => {
  const found = postureSuite.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id}`);
  return found as Check<Evidence>;
};
const judge = (id: string, evidence: Evidence) => check(id).judge(evidence);

// Recorded on the lab VM (Debian 12, nginx 1.22.1) with the commands below.
const STATS_RECORDED = [
  "600\troot\troot\tf\t/var/lib/slm-copilot/password",
  "600\troot\troot\tf\t/etc/one-appliance/config",
  "600\troot\troot\tf\t/etc/nginx/slm-copilot.bearer-map",
  "640\troot\twww-data\tf\t/etc/nginx/slm-copilot.htpasswd",
  "600\troot\troot\tf\t/etc/slm-copilot/tls/self-signed.key",
  "400\troot\troot\tf\t/run/one-context/one_env",
  "600\troot\troot\tf\t/etc/slm-copilot/tls/self-signed.key",
  "",
].join("\0");
const SERVED_KEYS = ["/etc/slm-copilot/tls/self-signed.key"];
const PRIVILEGES_RECORDED = `MainPID=545
User=local-ai
Uid:\t999\t999\t999\t999
engine_user_uid=999
nginx:     667     0 root     nginx: master process /usr/sbin/nginx -g daemon on; master_process on;
nginx:     668    33 www-data nginx: worker process
nginx:     669    33 www-data nginx: worker process
`;
const SANDBOX_RECORDED = `@@unit local-ai.service
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
ProtectHome=yes
ProtectSystem=full
NoNewPrivileges=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
@@unit nginx.service
PrivateTmp=no
ProtectKernelTunables=no
ProtectKernelModules=no
ProtectControlGroups=no
ProtectHome=no
ProtectSystem=no
NoNewPrivileges=no
LockPersonality=no
RestrictRealtime=no
RestrictSUIDSGID=no
`;
const ARGV_RECORDED = `pid=545\n${[
  "/usr/local/bin/local-ai",
  "run",
  "--address",
  "127.0.0.1:8080",
  "--models-path",
  "/var/lib/local-ai/models",
  "--backends-path",
  "/var/lib/local-ai/backends",
  "--threads",
  "2",
  "--context-size",
  "32768",
  "",
].join("\0")}`;

t.test("the suite is registered, needs SSH, and sends only constant commands", async (t) => {
  t.ok(SUITES.includes(postureSuite), "in the registry");
  t.ok(postureSuite.requiresVm, "left out of the demo");
  for (const c of postureSuite.checks) t.same(c.needs, ["ssh"], `${c.id} needs SSH`);
  for (const command of [SECRETS_COMMAND, PRIVILEGES_COMMAND, SANDBOX_COMMAND, ENGINE_ARGV_COMMAND]) {
    t.notMatch(command, /\b(eval|source)\b|(^|[;&|]\s*)\.\s/, "never sources or evals");
    t.notMatch(
      command,
      /(cat|source|\.|<)\s+\S*(one_env|context\.sh)/,
      "never reads context values into the shell",
    );
  }
});

t.test("secrets: the recorded VM passes; each broken file is one line with its fix", async (t) => {
  const healthy = judge("posture.secrets", secretsEvidence(STATS_RECORDED, SERVED_KEYS));
  t.equal(healthy.status, "pass", healthy.message);
  t.match(healthy.message, /\/etc\/nginx\/slm-copilot\.htpasswd 0640 root:www-data/);

  const broken = STATS_RECORDED.replace(
    "600\troot\troot\tf\t/etc/slm-copilot/tls/self-signed.key",
    "644\troot\troot\tf\t/etc/slm-copilot/tls/self-signed.key",
  )
    .replace(
      "600\troot\troot\tf\t/var/lib/slm-copilot/password",
      "600\tlocal-ai\tlocal-ai\tf\t/var/lib/slm-copilot/password",
    )
    .replace(
      "600\troot\troot\tf\t/etc/nginx/slm-copilot.bearer-map",
      "640\troot\tlocal-ai\tf\t/etc/nginx/slm-copilot.bearer-map",
    )
    .replace(
      "640\troot\twww-data\tf\t/etc/nginx/slm-copilot.htpasswd",
      "660\troot\twww-data\tf\t/etc/nginx/slm-copilot.htpasswd",
    )
    .replace(
      "600\troot\troot\tf\t/etc/one-appliance/config",
      "644\troot\troot\tf\t/etc/one-appliance/config",
    );
  const verdict = judge("posture.secrets", secretsEvidence(broken, SERVED_KEYS));
  t.equal(verdict.status, "fail");
  const lines = verdict.message.split("\n");
  t.equal(lines.length, 5, "one line per broken file");
  t.match(
    verdict.message,
    "/etc/slm-copilot/tls/self-signed.key (self-signed TLS private key) is mode 0644 root:root: group root has access, other users have access; readable by root only: chown root:root /etc/slm-copilot/tls/self-signed.key && chmod 600 /etc/slm-copilot/tls/self-signed.key",
  );
  t.match(
    verdict.message,
    "/var/lib/slm-copilot/password (API password) is mode 0600 local-ai:local-ai: owned by local-ai",
  );
  t.match(
    verdict.message,
    "/etc/nginx/slm-copilot.bearer-map (bearer map (the password as a regex)) is mode 0640 root:local-ai: group local-ai has access; readable by root only",
  );
  t.match(
    verdict.message,
    "/etc/nginx/slm-copilot.htpasswd (htpasswd (read by the nginx workers)) is mode 0660 root:www-data: group www-data may write or execute it; readable by root and group www-data only: chown root:www-data /etc/nginx/slm-copilot.htpasswd && chmod 640 /etc/nginx/slm-copilot.htpasswd",
  );
  t.match(
    verdict.message,
    "/etc/one-appliance/config (report (carries the password)) is mode 0644 root:root: group root has access, other users have access",
  );

  const wrongGroup = STATS_RECORDED.replace("640\troot\twww-data", "640\troot\tlocal-ai");
  t.match(
    judge("posture.secrets", secretsEvidence(wrongGroup, SERVED_KEYS)).message,
    "htpasswd (read by the nginx workers)) is mode 0640 root:local-ai: group local-ai (not www-data) has access",
  );
  t.equal(
    judge(
      "posture.secrets",
      secretsEvidence(STATS_RECORDED.replace("640\troot\twww-data", "600\troot\troot"), SERVED_KEYS),
    ).status,
    "pass",
    "an htpasswd stricter than the policy is not a leak",
  );

  const missing = STATS_RECORDED.replace("600\troot\troot\tf\t/var/lib/slm-copilot/password\0", "");
  t.match(
    judge("posture.secrets", secretsEvidence(missing, SERVED_KEYS)).message,
    /^\/var\/lib\/slm-copilot\/password \(API password\) is missing: the appliance's configure step writes it$/,
  );
  const noOneEnv = STATS_RECORDED.replace("400\troot\troot\tf\t/run/one-context/one_env\0", "");
  t.equal(
    judge("posture.secrets", secretsEvidence(noOneEnv, SERVED_KEYS)).status,
    "pass",
    "one_env only when present",
  );
  t.match(
    judge(
      "posture.secrets",
      secretsEvidence(`${STATS_RECORDED}755\troot\troot\td\t/etc/slm-copilot/tls/x.key\0`, SERVED_KEYS),
    ).message,
    "/etc/slm-copilot/tls/x.key (private key) is not a regular file (type d)",
  );
});

t.test("secrets: certbot's keys are judged when present; a served key elsewhere is named", async (t) => {
  const acme = [
    STATS_RECORDED,
    "600\troot\troot\tf\t/etc/letsencrypt/archive/copilot.lab.test/privkey1.pem",
    "644\troot\troot\tf\t/etc/letsencrypt/archive/copilot.lab.test/privkey2.pem",
    "400\troot\troot\tf\t/etc/letsencrypt/accounts/acme.example/directory/abc/private_key.json",
    "644\troot\troot\tf\t/etc/letsencrypt/live/copilot.lab.test/privkey.pem",
    "",
  ].join("\0");
  const served = ["/etc/letsencrypt/live/copilot.lab.test/privkey.pem"];
  const verdict = judge("posture.secrets", secretsEvidence(acme, served));
  t.equal(verdict.status, "fail");
  t.equal(verdict.message.split("\n").length, 2);
  t.match(
    verdict.message,
    "/etc/letsencrypt/archive/copilot.lab.test/privkey2.pem (private key) is mode 0644 root:root",
  );
  t.match(
    verdict.message,
    "/etc/letsencrypt/live/copilot.lab.test/privkey.pem (private key) is mode 0644 root:root",
  );
  t.equal(
    judge("posture.secrets", secretsEvidence(acme.replace(/644\troot/g, "600\troot"), served)).status,
    "pass",
  );
  t.match(
    judge("posture.secrets", secretsEvidence(STATS_RECORDED, ["/srv/keys/server.key"])).message,
    "nginx serves the private key /srv/keys/server.key, outside /etc/slm-copilot/tls and /etc/letsencrypt: its permissions were not judged",
  );
  const unknown = judge("posture.secrets", secretsEvidence(STATS_RECORDED, "nginx -T failed (exit 1)"));
  t.equal(unknown.status, "pass", "modes are judged without nginx -T");
  t.match(
    unknown.message,
    "; the served keys were not cross-checked: nginx -T failed (exit 1)",
    "and it says so",
  );
  t.same(
    secretsEvidence(STATS_RECORDED, SERVED_KEYS).files.filter((f) => f.path.endsWith("self-signed.key"))
      .length,
    1,
    "a file found twice is judged once",
  );
  t.same(
    (await import("../suites/posture.ts")).nginxEvidence(NGINX_T).files,
    [
      "/etc/nginx/nginx.conf",
      "/etc/nginx/mime.types",
      "/etc/nginx/sites-enabled/slm-copilot.conf",
      "/etc/nginx/slm-copilot.bearer-map",
    ],
    "the dump's files are listed, never their text",
  );
  t.notMatch(
    JSON.stringify(nginxEvidence(NGINX_T)),
    /RecordedSecretScrubbed/,
    "the bearer map's secret is not evidence",
  );
});

t.test("privileges: the engine as root, a foreign uid, no process, root workers", async (t) => {
  t.equal(judge("posture.privileges", privilegesEvidence(PRIVILEGES_RECORDED)).status, "pass");
  const root = judge(
    "posture.privileges",
    privilegesEvidence(
      PRIVILEGES_RECORDED.replace("User=local-ai", "User=root").replace("999\t999\t999\t999", "0\t0\t0\t0"),
    ),
  );
  t.equal(root.status, "fail");
  t.match(
    root.message,
    "local-ai.service has User=root: the engine must run as local-ai; remove the drop-in or edit that sets it",
  );
  t.match(
    root.message,
    "the engine (PID 545) runs with uid 0 (real/effective/saved/fs 0/0/0/0): it must run as local-ai",
  );
  t.match(
    judge("posture.privileges", privilegesEvidence(PRIVILEGES_RECORDED.replace("User=local-ai", "User=")))
      .message,
    "has User=(none: root)",
  );
  t.match(
    judge(
      "posture.privileges",
      privilegesEvidence(PRIVILEGES_RECORDED.replace("999\t999\t999\t999", "1000\t1000\t1000\t1000")),
    ).message,
    "the engine (PID 545) runs as uid 1000, not local-ai (uid 999)",
  );
  t.match(
    judge(
      "posture.privileges",
      privilegesEvidence(PRIVILEGES_RECORDED.replace("\t999\t999\t999", "\t0\t999\t999")),
    ).message,
    "runs with uid 0 (real/effective/saved/fs 0/999/999/999)",
    "a real root uid is root too",
  );
  t.match(
    judge(
      "posture.privileges",
      privilegesEvidence(
        "MainPID=0\nUser=local-ai\nengine_user_uid=999\n" +
          PRIVILEGES_RECORDED.split("\n").slice(4).join("\n"),
      ),
    ).message,
    "local-ai.service has no main process: it is not running",
  );
  const rootWorkers = PRIVILEGES_RECORDED.replace(/33 www-data/g, " 0 root    ");
  t.match(
    judge("posture.privileges", privilegesEvidence(rootWorkers)).message,
    'nginx workers run as root (PIDs 668, 669): set "user www-data;" in /etc/nginx/nginx.conf',
  );
  t.match(
    judge("posture.privileges", privilegesEvidence(PRIVILEGES_RECORDED.split("\n").slice(0, 4).join("\n")))
      .message,
    "no nginx worker processes",
  );
});

t.test("sandboxing: a dropped or weakened setting fails, a stricter one passes", async (t) => {
  t.equal(judge("posture.sandboxing", sandboxEvidence(SANDBOX_RECORDED)).status, "pass");
  const weakened = SANDBOX_RECORDED.replace("ProtectSystem=full", "ProtectSystem=no").replace(
    "NoNewPrivileges=yes",
    "NoNewPrivileges=no",
  );
  const verdict = judge("posture.sandboxing", sandboxEvidence(weakened));
  t.equal(verdict.status, "fail");
  t.equal(verdict.message.split("\n").length, 2, "one line per setting");
  t.match(
    verdict.message,
    "local-ai.service runs with ProtectSystem=no, shipped ProtectSystem=full: remove the drop-in or edit that weakens it (systemctl cat local-ai.service)",
  );
  t.match(verdict.message, "local-ai.service runs with NoNewPrivileges=no, shipped NoNewPrivileges=yes");
  t.match(
    judge("posture.sandboxing", sandboxEvidence(SANDBOX_RECORDED.replace("ProtectHome=yes\n", ""))).message,
    "local-ai.service runs with ProtectHome=(unset), shipped ProtectHome=yes",
  );
  t.match(
    judge(
      "posture.sandboxing",
      sandboxEvidence(SANDBOX_RECORDED.replace("ProtectHome=yes", "ProtectHome=read-only")),
    ).message,
    "ProtectHome=read-only, shipped ProtectHome=yes",
  );
  t.equal(
    judge(
      "posture.sandboxing",
      sandboxEvidence(SANDBOX_RECORDED.replace("ProtectSystem=full", "ProtectSystem=strict")),
    ).status,
    "pass",
  );
  t.ok(atLeastAsStrict("ProtectSystem", "full", "strict"));
  t.notOk(atLeastAsStrict("ProtectSystem", "full", "yes"));
  t.notOk(atLeastAsStrict("NoNewPrivileges", "yes", ""));
});

t.test("sandboxing: the expectation is exactly what the shipped unit templates declare", async (t) => {
  const SANDBOX_KEY =
    /^(NoNewPrivileges|Private\w+|Protect\w+|Restrict\w+|LockPersonality|MemoryDenyWriteExecute|SystemCall\w+|CapabilityBoundingSet|AmbientCapabilities|DynamicUser|RemoveIPC)=(.*)$/gm;
  const declared = async (file: string) =>
    Object.fromEntries(
      [...(await readFile(join(ROOT, "appliance/templates", file), "utf8")).matchAll(SANDBOX_KEY)].map(
        (m) => [m[1], m[2]],
      ),
    );
  t.same(SHIPPED_SANDBOXING["local-ai.service"], await declared("local-ai.service"), "local-ai.service");
  t.same(
    SHIPPED_SANDBOXING["nginx.service"],
    await declared("nginx-restart.conf"),
    "nginx: the drop-in adds none",
  );
});

const dump = (edit: (text: string) => string) => nginxEvidence(edit(NGINX_T));

t.test(
  "proxy config (SEC-08): read timeout and buffering in the location that proxies the API",
  async (t) => {
    const healthy = judge("posture.proxy-config", nginxEvidence(NGINX_T));
    t.equal(healthy.status, "pass", healthy.message);
    t.match(
      healthy.message,
      "location / → http://127.0.0.1:8080: proxy_read_timeout 600s, proxy_buffering off",
    );

    const broken = judge(
      "posture.proxy-config",
      dump((d) =>
        d
          .replace("proxy_read_timeout 600s;", "proxy_read_timeout 60s;")
          .replace("proxy_buffering off;", "proxy_buffering on;"),
      ),
    );
    t.equal(broken.status, "fail");
    t.match(
      broken.message,
      "location / (*:443 ssl default_server): proxy_read_timeout 60s (set in location /); a generation can be silent longer before its first token: proxy_read_timeout 600s",
    );
    t.match(
      broken.message,
      "location / (*:443 ssl default_server): proxy_buffering on (set in location /) holds streamed tokens back: proxy_buffering off",
    );
    const defaults = judge(
      "posture.proxy-config",
      dump((d) => d.replace("proxy_read_timeout 600s;", "").replace("proxy_buffering off;", "")),
    );
    t.match(defaults.message, "proxy_read_timeout 60s (nginx's default)");
    t.match(defaults.message, "proxy_buffering on (nginx's default)");
    t.match(
      judge(
        "posture.proxy-config",
        dump((d) => d.replace("proxy_buffering off;", "").replace("http {", "http {\nproxy_buffering on;")),
      ).message,
      "proxy_buffering on (set in http)",
      "inherited from http",
    );
    t.equal(
      judge(
        "posture.proxy-config",
        dump((d) =>
          d
            .replace("proxy_buffering off;", "")
            .replace("http {", "http {\nproxy_buffering off;")
            .replace("proxy_read_timeout 600s;", "proxy_read_timeout 1h;"),
        ),
      ).status,
      "pass",
      "off inherited from http, 1h ≥ 600 s",
    );
    t.match(
      judge(
        "posture.proxy-config",
        dump((d) => d.replace(/proxy_pass http:\/\/127\.0\.0\.1:8080;/, "return 200;")),
      ).message,
      "the *:443 ssl default_server server has no location that proxies /v1/chat/completions (location /)",
    );
    t.match(
      judge(
        "posture.proxy-config",
        dump((d) => d.replace(/listen \*:443 ssl default_server;/, "listen *:443 default_server;")),
      ).message,
      "no TLS server (listen … ssl) in the running nginx configuration",
    );
  },
);

t.test("body size (IDE-01): at least 16m for the API", async (t) => {
  t.equal(judge("posture.body-size", nginxEvidence(NGINX_T)).status, "pass");
  t.match(
    judge(
      "posture.body-size",
      dump((d) => d.replace("client_max_body_size 64m;", "client_max_body_size 1m;")),
    ).message,
    "location / (*:443 ssl default_server): client_max_body_size 1m (set in server); Cline's first request is ~22 KB and a long agent conversation several MB, answered 413 above the limit: client_max_body_size 64m",
  );
  t.match(
    judge(
      "posture.body-size",
      dump((d) => d.replace("client_max_body_size 64m;", "")),
    ).message,
    "client_max_body_size 1m (nginx's default)",
  );
  t.match(
    judge(
      "posture.body-size",
      dump((d) => d.replace("proxy_buffering off;", "proxy_buffering off; client_max_body_size 8m;")),
    ).message,
    "client_max_body_size 8m (set in location /)",
    "the location's own value wins",
  );
  for (const ok of ["16m", "0", "1g", "20480k"])
    t.equal(
      judge(
        "posture.body-size",
        dump((d) => d.replace("client_max_body_size 64m;", `client_max_body_size ${ok};`)),
      ).status,
      "pass",
      ok,
    );
});

t.test("TLS config (SEC-01): protocols exactly, ciphers by rule", async (t) => {
  const today = judge("posture.tls-config", nginxEvidence(NGINX_T));
  t.equal(today.status, "fail", "the recorded template has no ssl_ciphers: OpenSSL's HIGH admits CBC suites");
  t.match(
    today.message,
    `*:443 ssl default_server: no ssl_ciphers: nginx's default HIGH:!aNULL:!MD5: "HIGH" admits TLS 1.2 suites that are not ECDHE with AES-GCM or CHACHA20-POLY1305 (CBC, CAMELLIA, ARIA or static RSA): use ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:`,
  );
  t.notMatch(today.message, /ssl_protocols/, "the protocols are right");
  const withCiphers = (ciphers: string) =>
    dump((d) =>
      d.replace(
        "ssl_protocols TLSv1.2 TLSv1.3;",
        `ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_ciphers ${ciphers};`,
      ),
    );
  for (const good of [
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL",
    "EECDH+AESGCM:EECDH+CHACHA20",
    "ECDHE+aRSA+AESGCM:-AES128:@STRENGTH",
    '"ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305"',
  ])
    t.equal(judge("posture.tls-config", withCiphers(good)).status, "pass", good);
  const bad: [string, string][] = [
    ["HIGH:!aNULL:!MD5", '"HIGH" admits'],
    ["ECDHE+AES:!SHA1", '"ECDHE+AES" admits'],
    ["ECDHE-RSA-AES128-GCM-SHA256:AES128-GCM-SHA256", '"AES128-GCM-SHA256" admits'],
    ["ECDHE-RSA-AES128-SHA256", '"ECDHE-RSA-AES128-SHA256" admits'],
    ["AESGCM", '"AESGCM" admits'],
    ["!aNULL", "admits no TLS 1.2 suite"],
  ];
  for (const [ciphers, message] of bad) {
    const verdict = judge("posture.tls-config", withCiphers(ciphers));
    t.equal(verdict.status, "fail", ciphers);
    t.match(verdict.message, `ssl_ciphers (set in server): `, `${ciphers}: says where`);
    t.match(verdict.message, message, ciphers);
  }
  t.same(cipherProblems("ECDHE+AESGCM:HIGH:DEFAULT").length, 2, "each offending element is named");
  t.match(
    judge(
      "posture.tls-config",
      dump((d) =>
        d.replace(
          "ssl_protocols TLSv1.2 TLSv1.3;",
          "ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_ciphers ECDHE+AESGCM;\n    ssl_conf_command CipherString DEFAULT;",
        ),
      ),
    ).message,
    'ssl_conf_command CipherString: "DEFAULT" admits',
    "an ssl_conf_command CipherString overrides ssl_ciphers and is judged",
  );

  const protocols = (value: string) =>
    judge(
      "posture.tls-config",
      dump((d) =>
        d.replace("ssl_protocols TLSv1.2 TLSv1.3;", `${value}\n    ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20;`),
      ),
    );
  t.equal(protocols("ssl_protocols TLSv1.3 TLSv1.2;").status, "pass", "order does not matter");
  t.match(
    protocols("ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;").message,
    "*:443 ssl default_server: ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3 (set in server): ssl_protocols TLSv1.2 TLSv1.3",
  );
  t.match(
    protocols("ssl_protocols TLSv1.2;").message,
    "ssl_protocols TLSv1.2 (set in server): ssl_protocols TLSv1.2 TLSv1.3",
  );
  t.match(
    protocols("").message,
    "ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3 (set in http)",
    "without the server's line, Debian's http-level line applies",
  );
});

t.test("engine flags (INFER-08): the running process's --address", async (t) => {
  const healthy = engineFlagsEvidence(ARGV_RECORDED);
  t.same(healthy.addresses, ["127.0.0.1:8080"]);
  t.equal(healthy.argv.length, 12);
  t.equal(judge("posture.engine-flags", healthy).status, "pass");
  t.match(
    judge(
      "posture.engine-flags",
      engineFlagsEvidence(ARGV_RECORDED.replace("127.0.0.1:8080", "0.0.0.0:8080")),
    ).message,
    "the engine (PID 545) runs with --address 0.0.0.0:8080: ExecStart in local-ai.service must say --address 127.0.0.1:8080",
  );
  t.match(
    judge("posture.engine-flags", engineFlagsEvidence(`${ARGV_RECORDED}--address=:8080\0`)).message,
    "runs with --address :8080",
    "the last --address wins",
  );
  t.match(
    judge(
      "posture.engine-flags",
      engineFlagsEvidence(ARGV_RECORDED.replace("--address\u0000127.0.0.1:8080\u0000", "")),
    ).message,
    "runs with no --address (LocalAI's default :8080 is every interface)",
  );
  t.match(
    judge("posture.engine-flags", engineFlagsEvidence("pid=0\n")).message,
    "local-ai.service has no main process: it is not running",
  );
});

t.test("nginx syntax: units, location choice, quoting", async (t) => {
  t.equal(nginxSeconds("600s"), 600);
  t.equal(nginxSeconds("1h30m"), 5400);
  t.equal(nginxSeconds("90"), 90);
  t.equal(nginxSeconds("500ms"), 0.5);
  t.ok(Number.isNaN(nginxSeconds("10 minutes")));
  t.equal(nginxBytes("64m"), 64 * 1024 ** 2);
  t.equal(nginxBytes("512K"), 512 * 1024);
  t.equal(nginxBytes("1024"), 1024);
  t.ok(Number.isNaN(nginxBytes("1mb")));
  const [server] = parseConfig(`server {
    location = /health { proxy_pass http://e/readyz; }
    location ^~ /.well-known/acme-challenge/ { root /a; }
    location /v1/ { proxy_pass http://e; }
    location ~ ^/v1/chat { proxy_pass http://regex; }
    location ^~ /v1/models { return 404; }
    location / { return 301 "https://$host$request_uri"; } # comment ; {
  }`);
  if (!server) throw new Error("no server");
  const args = (path: string) => selectLocation(server, path)?.args.join(" ");
  t.equal(args("/health"), "= /health");
  t.equal(args("/health/x"), "/", "an exact location matches only itself");
  t.equal(args("/v1/chat/completions"), "~ ^/v1/chat", "a regex beats a plain prefix");
  t.equal(args("/v1/models"), "^~ /v1/models", "^~ stops the regex search");
  t.equal(args("/v1/embeddings"), "/v1/");
  t.equal(
    selectLocation(server, "/")?.block?.find((d) => d.name === "return")?.args[1],
    "https://$host$request_uri",
    "quotes removed, comments skipped",
  );
});
