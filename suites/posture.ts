// The posture inside the VM, over SSH: who can read each secret, who the engine runs as, whether the
// units keep the sandboxing they ship with, and whether the values the requirements name are in the
// configuration nginx and the engine are running (not only visible in their behaviour).
//
// Every command sent here is a constant string: nothing read from the target is ever put into a
// command, sourced or expanded. Outputs are parsed as data (suites/nginx-conf.ts) and judged purely.
import { fail, pass, type CheckContext, type Suite } from "../src/core/check.ts";
import { defineCheck } from "./requirements.ts";
import {
  inherited,
  nginxBytes,
  nginxSeconds,
  own,
  resolveDump,
  selectLocation,
  tlsServers,
} from "./nginx-conf.ts";

const SSH_TIMEOUT_MS = 20_000;
const ENGINE_UNIT = "local-ai.service";
const ENGINE_USER = "local-ai";
export const ENGINE_ADDRESS = "127.0.0.1:8080";

// --- secrets ----------------------------------------------------------------------------------------

/**
 * Who may read each secret, from appliance/appliance.sh: everything is root's alone (the nginx master
 * runs as root and reads the TLS keys and the bearer map at load), except the htpasswd file, which
 * nginx's workers (group www-data) read on every Basic request: 0640 root:www-data.
 */
export interface SecretPolicy {
  path: string;
  what: string;
  /** A group allowed to read (never write); undefined = root only. */
  readerGroup?: string;
  /** Must exist on every appliance (otherwise judged only when present). */
  required: boolean;
}

export const SECRET_FILES: SecretPolicy[] = [
  { path: "/var/lib/slm-copilot/password", what: "API password", required: true },
  { path: "/etc/one-appliance/config", what: "report (carries the password)", required: true },
  { path: "/etc/nginx/slm-copilot.bearer-map", what: "bearer map (the password as a regex)", required: true },
  {
    path: "/etc/nginx/slm-copilot.htpasswd",
    what: "htpasswd (read by the nginx workers)",
    readerGroup: "www-data",
    required: true,
  },
  { path: "/etc/slm-copilot/tls/self-signed.key", what: "self-signed TLS private key", required: true },
  {
    path: "/run/one-context/one_env",
    what: "one-context's environment (carries ONEAPP_COPILOT_PASSWORD)",
    required: false,
  },
];

/** Where private keys live besides the fixed files: the appliance's TLS directory and certbot's tree. */
const KEY_SEARCH = {
  roots: [
    "/etc/slm-copilot/tls",
    "/etc/letsencrypt/archive",
    "/etc/letsencrypt/keys",
    "/etc/letsencrypt/accounts",
  ],
  names: ["*.key", "privkey*.pem", "*_key-certbot.pem", "private_key.json"],
  live: "/etc/letsencrypt/live",
};

const STAT_FORMAT = "%m\\t%u\\t%g\\t%y\\t%p\\0";
export const SECRETS_COMMAND = [
  // -L: judge what a reader gets (certbot's live/ names are symlinks into archive/).
  `find -L ${SECRET_FILES.map((s) => s.path).join(" ")} -maxdepth 0 -printf '${STAT_FORMAT}' 2>/dev/null`,
  `find -L ${KEY_SEARCH.roots.join(" ")} -type f \\( ${KEY_SEARCH.names.map((n) => `-name '${n}'`).join(" -o ")} \\) -printf '${STAT_FORMAT}' 2>/dev/null`,
  `find -L ${KEY_SEARCH.live} -name privkey.pem -printf '${STAT_FORMAT}' 2>/dev/null`,
  "true",
].join("; ");

export interface FileStat {
  path: string;
  mode: number;
  owner: string;
  group: string;
  type: string;
}

/** `find -printf '%m\t%u\t%g\t%y\t%p\0'` records, first occurrence of each path kept. */
export function parseStats(output: string): FileStat[] {
  const seen = new Map<string, FileStat>();
  for (const record of output.split("\0")) {
    const [mode = "", owner = "", group = "", type = "", ...rest] = record.replace(/^\n/, "").split("\t");
    const path = rest.join("\t");
    if (!path || !/^[0-7]{1,4}$/.test(mode) || seen.has(path)) continue;
    seen.set(path, { path, mode: parseInt(mode, 8), owner, group, type });
  }
  return [...seen.values()];
}

const octal = (mode: number) => mode.toString(8).padStart(4, "0");

/** The policy for a path: a fixed secret's own, else root only (every private key found). */
export function policyFor(path: string): SecretPolicy {
  return SECRET_FILES.find((s) => s.path === path) ?? { path, what: "private key", required: false };
}

/** One line per file that breaks its policy: what is wrong, then the commands that fix it. */
export function secretProblem(file: FileStat, policy: SecretPolicy): string | undefined {
  const owner = `${file.owner}:${file.group}`;
  const group = policy.readerGroup;
  const fix = group
    ? `chown root:${group} ${file.path} && chmod 640 ${file.path}`
    : `chown root:root ${file.path} && chmod 600 ${file.path}`;
  if (file.type !== "f") return `${file.path} (${policy.what}) is not a regular file (type ${file.type})`;
  const reasons: string[] = [];
  if (file.owner !== "root") reasons.push(`owned by ${file.owner}`);
  if (file.mode & 0o070) {
    if (!group) reasons.push(`group ${file.group} has access`);
    else if (file.group !== group) reasons.push(`group ${file.group} (not ${group}) has access`);
    else if (file.mode & 0o030) reasons.push(`group ${group} may write or execute it`);
  }
  if (file.mode & 0o007) reasons.push("other users have access");
  if (!reasons.length) return undefined;
  return `${file.path} (${policy.what}) is mode ${octal(file.mode)} ${owner}: ${reasons.join(", ")}; readable by ${group ? `root and group ${group}` : "root"} only: ${fix}`;
}

export interface SecretsEvidence {
  files: (FileStat & { what: string; policy: string })[];
  missing: string[];
  servedKeys: string[];
  unjudgedServedKeys: string[];
  servedKeysUnknown?: string;
  [key: string]: unknown;
}

/** servedKeys: the ssl_certificate_key paths of the running nginx, or why they are unknown. */
export function secretsEvidence(statOutput: string, served: string[] | string): SecretsEvidence {
  const stats = parseStats(statOutput);
  const servedKeys = typeof served === "string" ? [] : served;
  const paths = new Set(stats.map((s) => s.path));
  return {
    files: stats.map((s) => {
      const policy = policyFor(s.path);
      return {
        ...s,
        what: policy.what,
        policy: policy.readerGroup ? `root rw, group ${policy.readerGroup} r` : "root only",
      };
    }),
    missing: SECRET_FILES.filter((s) => s.required && !paths.has(s.path)).map((s) => s.path),
    servedKeys,
    unjudgedServedKeys: servedKeys.filter((k) => !paths.has(k)),
    ...(typeof served === "string" ? { servedKeysUnknown: served } : {}),
  };
}

async function nginxDump(ctx: CheckContext): Promise<string> {
  return ctx.memo("nginx -T", async () => {
    const result = await ctx.probes.ssh("nginx -T 2>/dev/null", SSH_TIMEOUT_MS);
    if (result.code !== 0 || !result.stdout.includes("# configuration file "))
      throw new Error(
        `nginx -T failed (exit ${result.code}): the running configuration cannot be read; run nginx -t in the VM`,
      );
    return result.stdout;
  });
}

const secrets = defineCheck<SecretsEvidence>({
  id: "posture.secrets",
  requirement: "HARD-01",
  title:
    "every secret (password, report, htpasswd, bearer map, TLS and ACME private keys) is readable by root only, or by the one service that needs it",
  needs: ["ssh"],
  observe: async (ctx) => {
    const stats = await ctx.probes.ssh(SECRETS_COMMAND, SSH_TIMEOUT_MS);
    // The file modes are judged even when nginx -T fails; only the served-key cross-check is lost.
    const served = await nginxDump(ctx).then(
      (dump) => [
        ...new Set(
          tlsServers(resolveDump(dump).tree).flatMap((s) => own(s.block, "ssl_certificate_key") ?? []),
        ),
      ],
      (error: Error) => error.message,
    );
    return secretsEvidence(stats.stdout, served);
  },
  judge: (e) => {
    const problems = [
      ...e.missing.map(
        (path) => `${path} (${policyFor(path).what}) is missing: the appliance's configure step writes it`,
      ),
      ...e.files.flatMap((f) => secretProblem(f, policyFor(f.path)) ?? []),
      ...e.unjudgedServedKeys.map(
        (path) =>
          `nginx serves the private key ${path}, outside ${KEY_SEARCH.roots[0]} and /etc/letsencrypt: its permissions were not judged; keep keys where the appliance puts them`,
      ),
    ];
    if (problems.length) return fail(problems.join("\n"));
    const files = e.files.map((f) => `${f.path} ${octal(f.mode)} ${f.owner}:${f.group}`).join(", ");
    return pass(
      e.servedKeysUnknown
        ? `${files}; the served keys were not cross-checked: ${e.servedKeysUnknown}`
        : files,
    );
  },
});

// --- privileges and sandboxing ----------------------------------------------------------------------

export interface PrivilegesEvidence {
  unitUser: string;
  mainPid: number;
  uids: number[];
  engineUserUid: number | null;
  nginxWorkers: { pid: number; euid: number; user: string }[];
  [key: string]: unknown;
}

// The PID is read and used inside the VM only after the shell has checked it is all digits; the
// harness itself never puts a value it read into a command.
export const PRIVILEGES_COMMAND = [
  `systemctl show -p User,MainPID ${ENGINE_UNIT}`,
  `p=$(systemctl show -p MainPID --value ${ENGINE_UNIT})`,
  'case "$p" in ""|0|*[!0-9]*) ;; *) grep "^Uid:" "/proc/$p/status" ;; esac',
  `echo "engine_user_uid=$(id -u ${ENGINE_USER} 2>/dev/null)"`,
  "ps -C nginx -o pid=,euid=,user=,args= | sed 's/^/nginx: /'",
  "true",
].join("; ");

export function privilegesEvidence(output: string): PrivilegesEvidence {
  const field = (name: string) => new RegExp(`^${name}=(.*)$`, "m").exec(output)?.[1]?.trim() ?? "";
  const uidLine = /^Uid:\s+(.*)$/m.exec(output)?.[1] ?? "";
  const engineUid = field("engine_user_uid");
  return {
    unitUser: field("User"),
    mainPid: Number(field("MainPID") || 0),
    uids: uidLine.split(/\s+/).filter(Boolean).map(Number),
    engineUserUid: /^\d+$/.test(engineUid) ? Number(engineUid) : null,
    nginxWorkers: [...output.matchAll(/^nginx: +(\d+) +(\d+) +(\S+) +nginx: worker process/gm)].map((m) => ({
      pid: Number(m[1]),
      euid: Number(m[2]),
      user: m[3] ?? "",
    })),
  };
}

const privileges = defineCheck<PrivilegesEvidence>({
  id: "posture.privileges",
  requirement: "HARD-02",
  title: `the engine runs as its unprivileged user ${ENGINE_USER} (unit User= and the process's uids), nginx workers not as root`,
  needs: ["ssh"],
  observe: async (ctx) =>
    privilegesEvidence((await ctx.probes.ssh(PRIVILEGES_COMMAND, SSH_TIMEOUT_MS)).stdout),
  judge: (e) => {
    const problems: string[] = [];
    if (e.unitUser !== ENGINE_USER)
      problems.push(
        `${ENGINE_UNIT} has User=${e.unitUser || "(none: root)"}: the engine must run as ${ENGINE_USER}; remove the drop-in or edit that sets it (systemctl cat ${ENGINE_UNIT})`,
      );
    if (!e.mainPid) problems.push(`${ENGINE_UNIT} has no main process: it is not running`);
    else if (e.uids.length < 4)
      problems.push(`no uids for the engine's PID ${e.mainPid} (/proc/${e.mainPid}/status)`);
    else if (e.uids.some((uid) => uid === 0))
      problems.push(
        `the engine (PID ${e.mainPid}) runs with uid 0 (real/effective/saved/fs ${e.uids.join("/")}): it must run as ${ENGINE_USER}, User=${ENGINE_USER} in ${ENGINE_UNIT}`,
      );
    else if (e.engineUserUid !== null && e.uids[1] !== e.engineUserUid)
      problems.push(
        `the engine (PID ${e.mainPid}) runs as uid ${e.uids[1]}, not ${ENGINE_USER} (uid ${e.engineUserUid})`,
      );
    if (!e.nginxWorkers.length) problems.push("no nginx worker processes: is nginx running?");
    const rootWorkers = e.nginxWorkers.filter((w) => w.euid === 0);
    if (rootWorkers.length)
      problems.push(
        `nginx workers run as root (PIDs ${rootWorkers.map((w) => w.pid).join(", ")}): set "user www-data;" in /etc/nginx/nginx.conf`,
      );
    if (problems.length) return fail(problems.join("\n"));
    return pass(
      `engine PID ${e.mainPid} as ${e.unitUser} (uids ${e.uids.join("/")}); ${e.nginxWorkers.length} nginx workers as ${[...new Set(e.nginxWorkers.map((w) => w.user))].join(", ")}`,
    );
  },
});

/**
 * The sandboxing each unit ships with, as `systemctl show` reports it. local-ai's is what
 * appliance/templates/local-ai.service declares (test/posture-checks.test.ts keeps the two equal);
 * nginx runs Debian's/Ubuntu's unit, which declares none, plus the appliance's Restart= drop-in.
 */
export const SHIPPED_SANDBOXING: Record<string, Record<string, string>> = {
  "local-ai.service": {
    NoNewPrivileges: "yes",
    PrivateTmp: "yes",
    ProtectSystem: "full",
    ProtectHome: "yes",
    ProtectKernelTunables: "yes",
    ProtectKernelModules: "yes",
    ProtectControlGroups: "yes",
    RestrictSUIDSGID: "yes",
    RestrictRealtime: "yes",
    LockPersonality: "yes",
  },
  "nginx.service": {},
};

/** Settings from weakest to strictest; anything not listed is a yes/no switch. */
const STRICTNESS: Record<string, string[]> = {
  ProtectSystem: ["no", "yes", "full", "strict"],
  ProtectHome: ["no", "read-only", "tmpfs", "yes"],
};

export function atLeastAsStrict(property: string, shipped: string, running: string): boolean {
  const order = STRICTNESS[property] ?? ["no", "yes"];
  const have = order.indexOf(running);
  return have >= 0 && have >= order.indexOf(shipped);
}

const SANDBOX_PROPERTIES = [...new Set(Object.values(SHIPPED_SANDBOXING).flatMap((p) => Object.keys(p)))];
export const SANDBOX_COMMAND = Object.keys(SHIPPED_SANDBOXING)
  .map((unit) => `echo '@@unit ${unit}'; systemctl show -p ${SANDBOX_PROPERTIES.join(",")} ${unit}`)
  .join("; ");

export interface SandboxEvidence {
  units: { unit: string; shipped: Record<string, string>; running: Record<string, string> }[];
  [key: string]: unknown;
}

export function sandboxEvidence(output: string): SandboxEvidence {
  const running: Record<string, Record<string, string>> = {};
  let unit = "";
  for (const line of output.split("\n")) {
    const header = /^@@unit (\S+)$/.exec(line);
    if (header?.[1]) {
      unit = header[1];
      running[unit] = {};
    } else if (unit && line.includes("=")) {
      const properties = running[unit] ?? {};
      properties[line.slice(0, line.indexOf("="))] = line.slice(line.indexOf("=") + 1).trim();
      running[unit] = properties;
    }
  }
  return {
    units: Object.entries(SHIPPED_SANDBOXING).map(([name, shipped]) => ({
      unit: name,
      shipped,
      running: running[name] ?? {},
    })),
  };
}

const sandboxing = defineCheck<SandboxEvidence>({
  id: "posture.sandboxing",
  requirement: "HARD-02",
  title: "local-ai and nginx keep at least the sandboxing their shipped units declare (systemctl show)",
  needs: ["ssh"],
  observe: async (ctx) => sandboxEvidence((await ctx.probes.ssh(SANDBOX_COMMAND, SSH_TIMEOUT_MS)).stdout),
  judge: (e) => {
    const problems = e.units.flatMap(({ unit, shipped, running }) =>
      Object.entries(shipped)
        .filter(([property, value]) => !atLeastAsStrict(property, value, running[property] ?? ""))
        .map(
          ([property, value]) =>
            `${unit} runs with ${property}=${running[property] || "(unset)"}, shipped ${property}=${value}: remove the drop-in or edit that weakens it (systemctl cat ${unit})`,
        ),
    );
    if (problems.length) return fail(problems.join("\n"));
    return pass(
      e.units
        .map((u) =>
          Object.keys(u.shipped).length
            ? `${u.unit}: ${Object.keys(u.shipped).length} shipped sandboxing settings in force`
            : `${u.unit}: ships none`,
        )
        .join("; "),
    );
  },
});

// --- values in the running configuration -----------------------------------------------------------

/** The request the API location must serve: what Cline and the openai SDK post to. */
export const API_PATH = "/v1/chat/completions";
/** SEC-08: a long generation may be silent for minutes before its first token (prompt processing). */
export const MIN_READ_TIMEOUT_S = 600;
/**
 * Cline's first request is ~22 KB (its system prompt and tool definitions); a long agent conversation
 * resends every earlier turn and file it read, several MB; nginx's default of 1m answers 413 midway.
 */
export const MIN_BODY_BYTES = 16 * 1024 ** 2;
export const TLS_PROTOCOLS = ["TLSv1.2", "TLSv1.3"];

export interface ServerFacts {
  listen: string;
  apiLocation: string | null;
  proxyPass: string | null;
  proxyReadTimeout: { value: string | null; from: string };
  proxyBuffering: { value: string | null; from: string };
  clientMaxBodySize: { value: string | null; from: string };
  sslProtocols: { value: string | null; from: string };
  sslCiphers: { value: string | null; from: string };
  cipherStringOverride: string | null;
}

export interface NginxEvidence {
  files: string[];
  servers: ServerFacts[];
  [key: string]: unknown;
}

/** The facts the value checks judge, per TLS server (no secret: the bearer map is never copied). */
export function nginxEvidence(dump: string): NginxEvidence {
  const { tree, files } = resolveDump(dump);
  return {
    files,
    servers: tlsServers(tree).map((server) => {
      const location = selectLocation(server, API_PATH);
      const value = (name: string) => {
        const found = inherited(tree, server, location, name);
        return { value: found.value?.join(" ") ?? null, from: found.from };
      };
      const cipherString = [
        ...(own(location?.block, "ssl_conf_command") ?? []),
        ...(own(server.block, "ssl_conf_command") ?? []),
      ];
      return {
        listen: (own(server.block, "listen") ?? []).join(" "),
        apiLocation: location ? location.args.join(" ") : null,
        proxyPass: own(location?.block, "proxy_pass")?.[0] ?? null,
        proxyReadTimeout: value("proxy_read_timeout"),
        proxyBuffering: value("proxy_buffering"),
        clientMaxBodySize: value("client_max_body_size"),
        sslProtocols: value("ssl_protocols"),
        sslCiphers: value("ssl_ciphers"),
        cipherStringOverride: cipherString[0] === "CipherString" ? (cipherString[1] ?? null) : null,
      };
    }),
  };
}

const where = (v: { from: string }) => (v.from === "default" ? "nginx's default" : `set in ${v.from}`);

function needsServers(e: NginxEvidence): string | undefined {
  return e.servers.length ? undefined : "no TLS server (listen … ssl) in the running nginx configuration";
}

const proxyConfig = defineCheck<NginxEvidence>({
  id: "posture.proxy-config",
  requirement: "SEC-08",
  title: `the location serving ${API_PATH} proxies with proxy_read_timeout ≥ ${MIN_READ_TIMEOUT_S}s and proxy_buffering off (nginx -T)`,
  needs: ["ssh"],
  observe: async (ctx) => nginxEvidence(await nginxDump(ctx)),
  judge: (e) => {
    const missing = needsServers(e);
    if (missing) return fail(missing);
    const problems = e.servers.flatMap((s) => {
      if (!s.apiLocation || !s.proxyPass)
        return [
          `the ${s.listen} server has no location that proxies ${API_PATH} (location ${s.apiLocation ?? "none"})`,
        ];
      const at = `location ${s.apiLocation} (${s.listen})`;
      const lines: string[] = [];
      const timeout = nginxSeconds(s.proxyReadTimeout.value ?? "60s");
      if (!(timeout >= MIN_READ_TIMEOUT_S))
        lines.push(
          `${at}: proxy_read_timeout ${s.proxyReadTimeout.value ?? "60s"} (${where(s.proxyReadTimeout)}); a generation can be silent longer before its first token: proxy_read_timeout ${MIN_READ_TIMEOUT_S}s`,
        );
      if ((s.proxyBuffering.value ?? "on") !== "off")
        lines.push(
          `${at}: proxy_buffering ${s.proxyBuffering.value ?? "on"} (${where(s.proxyBuffering)}) holds streamed tokens back: proxy_buffering off`,
        );
      return lines;
    });
    if (problems.length) return fail(problems.join("\n"));
    return pass(
      e.servers
        .map(
          (s) =>
            `location ${s.apiLocation} → ${s.proxyPass}: proxy_read_timeout ${s.proxyReadTimeout.value}, proxy_buffering off`,
        )
        .join("; "),
    );
  },
});

const bodySize = defineCheck<NginxEvidence>({
  id: "posture.body-size",
  requirement: "IDE-01",
  title: `client_max_body_size for ${API_PATH} is at least 16m (Cline resends whole conversations)`,
  needs: ["ssh"],
  observe: async (ctx) => nginxEvidence(await nginxDump(ctx)),
  judge: (e) => {
    const missing = needsServers(e);
    if (missing) return fail(missing);
    const problems = e.servers.flatMap((s) => {
      const value = s.clientMaxBodySize.value ?? "1m";
      const bytes = nginxBytes(value);
      return bytes === 0 || bytes >= MIN_BODY_BYTES
        ? []
        : [
            `location ${s.apiLocation ?? "?"} (${s.listen}): client_max_body_size ${value} (${where(s.clientMaxBodySize)}); Cline's first request is ~22 KB and a long agent conversation several MB, answered 413 above the limit: client_max_body_size 64m`,
          ];
    });
    if (problems.length) return fail(problems.join("\n"));
    return pass(
      e.servers
        .map((s) => `client_max_body_size ${s.clientMaxBodySize.value} (${where(s.clientMaxBodySize)})`)
        .join("; "),
    );
  },
});

const AEAD_SUITE = /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/;
const ECDHE_ALIASES = new Set(["ECDHE", "EECDH", "kECDHE", "kEECDH"]);
const AEAD_ALIASES = new Set(["AESGCM", "CHACHA20"]);
export const NGINX_DEFAULT_CIPHERS = "HIGH:!aNULL:!MD5";

/**
 * Judges an OpenSSL cipher string by rule, not by text: every TLS 1.2 suite it can admit must be ECDHE
 * with AES-GCM or CHACHA20-POLY1305. A positive element passes when it names such a suite, or when it
 * is an intersection (a+b) of an ECDHE key-exchange alias and an AEAD alias; exclusions (!x, -x),
 * reorderings (+x), @STRENGTH/@SECLEVEL and TLS 1.3 names only narrow or sort. Anything else (HIGH,
 * DEFAULT, AES256, kRSA…) can admit CBC, CAMELLIA, ARIA or static RSA and is named.
 */
export function cipherProblems(cipherString: string): string[] {
  const elements = cipherString.split(/[:, ]+/).filter(Boolean);
  const positive = elements.filter((e) => !/^[!\-+@]/.test(e) && !e.startsWith("TLS_"));
  const bad = positive.filter((element) => {
    if (AEAD_SUITE.test(element)) return false;
    const parts = element.split("+");
    return !(parts.some((p) => ECDHE_ALIASES.has(p)) && parts.some((p) => AEAD_ALIASES.has(p)));
  });
  if (!positive.length) return [`"${cipherString}" admits no TLS 1.2 suite`];
  return bad.map(
    (element) =>
      `"${element}" admits TLS 1.2 suites that are not ECDHE with AES-GCM or CHACHA20-POLY1305 (CBC, CAMELLIA, ARIA or static RSA)`,
  );
}

const tlsConfig = defineCheck<NginxEvidence>({
  id: "posture.tls-config",
  requirement: "SEC-01",
  title:
    "the TLS server runs ssl_protocols TLSv1.2 TLSv1.3 exactly, and only ECDHE + AEAD suites for TLS 1.2 (nginx -T)",
  needs: ["ssh"],
  observe: async (ctx) => nginxEvidence(await nginxDump(ctx)),
  judge: (e) => {
    const missing = needsServers(e);
    if (missing) return fail(missing);
    const problems = e.servers.flatMap((s) => {
      const lines: string[] = [];
      const protocols = s.sslProtocols.value;
      if (protocols?.split(/\s+/).sort().join(" ") !== TLS_PROTOCOLS.join(" "))
        lines.push(
          `${s.listen}: ssl_protocols ${protocols ?? "unset (nginx's default depends on its version: 1.22 still enables TLSv1 and TLSv1.1)"}${protocols ? ` (${where(s.sslProtocols)})` : ""}: ssl_protocols ${TLS_PROTOCOLS.join(" ")}`,
        );
      const ciphers = s.cipherStringOverride ?? s.sslCiphers.value ?? NGINX_DEFAULT_CIPHERS;
      const origin = s.cipherStringOverride
        ? "ssl_conf_command CipherString"
        : s.sslCiphers.value
          ? `ssl_ciphers (${where(s.sslCiphers)})`
          : `no ssl_ciphers: nginx's default ${NGINX_DEFAULT_CIPHERS}`;
      const cipherIssues = cipherProblems(ciphers);
      if (cipherIssues.length)
        lines.push(
          `${s.listen}: ${origin}: ${cipherIssues.join("; ")}: use ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305`,
        );
      return lines;
    });
    if (problems.length) return fail(problems.join("\n"));
    return pass(
      e.servers
        .map(
          (s) =>
            `${s.listen}: ssl_protocols ${s.sslProtocols.value}; ciphers ${s.cipherStringOverride ?? s.sslCiphers.value}`,
        )
        .join("; "),
    );
  },
});

export interface EngineFlagsEvidence {
  mainPid: number;
  argv: string[];
  addresses: string[];
  [key: string]: unknown;
}

export const ENGINE_ARGV_COMMAND = [
  `p=$(systemctl show -p MainPID --value ${ENGINE_UNIT})`,
  'echo "pid=$p"',
  'case "$p" in ""|0|*[!0-9]*) ;; *) cat "/proc/$p/cmdline" ;; esac',
].join("; ");

/** Every --address the engine was started with (`--address X`, `--address=X`; LocalAI's last wins). */
export function engineFlagsEvidence(output: string): EngineFlagsEvidence {
  const newline = output.indexOf("\n");
  const pid = Number(/^pid=(\d*)$/.exec(output.slice(0, newline < 0 ? undefined : newline))?.[1] || 0);
  const argv =
    newline < 0
      ? []
      : output
          .slice(newline + 1)
          .split("\0")
          .filter((a, i, all) => a || i < all.length - 1);
  const addresses: string[] = [];
  argv.forEach((arg, i) => {
    if (arg === "--address" || arg === "-address") addresses.push(argv[i + 1] ?? "");
    else if (/^--?address=/.test(arg)) addresses.push(arg.slice(arg.indexOf("=") + 1));
  });
  return { mainPid: pid, argv, addresses };
}

const engineFlags = defineCheck<EngineFlagsEvidence>({
  id: "posture.engine-flags",
  requirement: "INFER-08",
  title: `the running engine was started with --address ${ENGINE_ADDRESS} (/proc/<pid>/cmdline)`,
  needs: ["ssh"],
  observe: async (ctx) =>
    engineFlagsEvidence((await ctx.probes.ssh(ENGINE_ARGV_COMMAND, SSH_TIMEOUT_MS)).stdout),
  judge: (e) => {
    if (!e.mainPid) return fail(`${ENGINE_UNIT} has no main process: it is not running`);
    const effective = e.addresses.at(-1);
    if (effective !== ENGINE_ADDRESS)
      return fail(
        `the engine (PID ${e.mainPid}) runs with ${effective === undefined ? "no --address (LocalAI's default :8080 is every interface)" : `--address ${effective}`}: ExecStart in ${ENGINE_UNIT} must say --address ${ENGINE_ADDRESS}`,
      );
    return pass(`PID ${e.mainPid}: --address ${effective}`);
  },
});

export const postureSuite: Suite = {
  requiresVm: true,
  name: "posture",
  title: "Posture inside the VM (SSH)",
  checks: [secrets, privileges, sandboxing, proxyConfig, bodySize, tlsConfig, engineFlags],
};
