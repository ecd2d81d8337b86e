// ONE-02..08 over SSH: the OpenNebula integration an operator relies on: status marker, report file
// (whose Cline settings, Continue config.yaml and Cline CLI commands must work as pasted), per-step
// log, login banner, and the effective LocalAI configuration matching the context variables.
import { parse as parseYaml } from "yaml";
import { fail, pass, type CheckContext, type Suite } from "../src/core/check.ts";
import { defineCheck } from "./requirements.ts";
import { parseContextFiles, READ_CONTEXT_COMMAND } from "../src/probes/one-context.ts";

export const REPORT_FILE = "/etc/one-appliance/config";
const REQUIRED_FIELDS = [
  "endpoint",
  "api_base_url",
  "api_username",
  "api_password",
  "model_id",
  "context_size",
  "threads",
  "mode",
  "sha256_fingerprint",
];
const LOG_STAGES = ["== configure", "== LocalAI: context size", "== bootstrap", "bootstrap finished"];

export function reportFields(report: string): Record<string, string> {
  return Object.fromEntries(
    [...report.matchAll(/^([a-z0-9_-]+) = (.*)$/gm)].map((m) => [m[1] ?? "", m[2] ?? ""]),
  );
}

async function readReport(ctx: CheckContext): Promise<{ text: string; mode: string }> {
  return ctx.memo("report", async () => {
    const result = await ctx.probes.ssh(`stat -c %a ${REPORT_FILE} && cat ${REPORT_FILE}`);
    const [mode = "", ...rest] = result.stdout.split("\n");
    return { text: result.code === 0 ? rest.join("\n") : "", mode: result.code === 0 ? mode : "missing" };
  });
}

const status = defineCheck({
  id: "one.status",
  requirement: "ONE-03",
  title: "the appliance status marker says bootstrap_success",
  needs: ["ssh"],
  observe: async (ctx) => ({ status: (await ctx.probes.ssh("cat /etc/one-appliance/status")).stdout.trim() }),
  judge: ({ status }) =>
    status === "bootstrap_success"
      ? pass("bootstrap_success")
      : fail(`status is "${status || "missing"}": read /var/log/one-appliance/{configure,bootstrap}.log`),
});

const report = defineCheck({
  id: "one.report",
  requirement: "ONE-02",
  title: `${REPORT_FILE} exists, is mode 0600, has every field, and its fingerprint is the served certificate's`,
  needs: ["ssh"],
  observe: async (ctx) => {
    const { text, mode } = await readReport(ctx);
    const fields = reportFields(text);
    const served = await ctx.probes.handshake().then(
      (h) => h.certificate.sha256Fingerprint,
      () => "unavailable",
    );
    return {
      mode,
      present: Object.keys(fields),
      missing: REQUIRED_FIELDS.filter((f) => !fields[f]),
      reportFingerprint: fields.sha256_fingerprint ?? null,
      servedFingerprint: served,
    };
  },
  judge: (e) => {
    if (e.mode === "missing") return fail(`${REPORT_FILE} is missing: bootstrap writes it`);
    if (e.mode !== "600") return fail(`${REPORT_FILE} is mode ${e.mode}; it holds the password: chmod 600`);
    if (e.missing.length) return fail(`the report lacks ${e.missing.join(", ")}`);
    if (e.reportFingerprint !== e.servedFingerprint)
      return fail(
        `the report's fingerprint ${e.reportFingerprint} is not the served certificate's ${e.servedFingerprint}`,
      );
    return pass(`mode 0600, ${e.present.length} fields, fingerprint matches the served certificate`);
  },
});

const clineSnippet = defineCheck({
  id: "one.cline-snippet",
  requirement: "ONE-05",
  title: "the report's Cline settings parse and work as pasted (base URL path, key, model)",
  needs: ["ssh"],
  observe: async (ctx) => {
    const { text } = await readReport(ctx);
    const json = /\[Cline settings\.json\]\n(\{[\s\S]*?\n\})/.exec(text)?.[1];
    if (!json) return { parsed: false, error: "no [Cline settings.json] section" };
    let settings: Record<string, string>;
    try {
      settings = JSON.parse(json) as Record<string, string>;
    } catch (error) {
      return { parsed: false, error: `not JSON: ${(error as Error).message}` };
    }
    const base = new URL(settings["cline.openAiBaseUrl"] ?? "https://invalid/");
    const response = await ctx.probes.https({
      method: "POST",
      path: `${base.pathname.replace(/\/$/, "")}/chat/completions`,
      headers: {
        authorization: `Bearer ${settings["cline.openAiApiKey"] ?? ""}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({
        model: settings["cline.openAiModelId"],
        messages: [{ role: "user", content: "Say ok." }],
        max_tokens: 4,
      }),
      timeoutMs: ctx.access.streamTimeoutMs,
    });
    return {
      parsed: true,
      baseUrl: base.href,
      model: settings["cline.openAiModelId"] ?? null,
      status: response.status,
      note: `sent to ${ctx.access.host}:${ctx.access.httpsPort} (the harness's route to ${base.host}) with the snippet's path, key and model`,
    };
  },
  judge: (e) => {
    if (!e.parsed) return fail(`Cline snippet unusable: ${e.error}`);
    if (e.status !== 200) return fail(`a chat completion with the snippet's settings answered ${e.status}`);
    return pass(`Cline settings for ${e.baseUrl} (model ${e.model}) complete a chat`);
  },
});

/** The report's sections: "[Title]" lines, each with the text up to the next one. */
export function reportSections(report: string): Map<string, string> {
  const sections = new Map<string, string>();
  let title: string | null = null;
  let lines: string[] = [];
  for (const line of report.split("\n")) {
    const heading = /^\[([^\]\n]+)\]$/.exec(line);
    if (heading) {
      if (title !== null) sections.set(title, lines.join("\n").trim());
      title = heading[1] ?? "";
      lines = [];
    } else lines.push(line);
  }
  if (title !== null) sections.set(title, lines.join("\n").trim());
  return sections;
}

/** Shell words of one command line: '…' and "…" quoting, backslash escapes outside single quotes. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    const next = line[i + 1] ?? "";
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === "\\" && next) word += line[++i];
      else word += c;
    } else if (c === " " || c === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      inWord = true;
      if (c === "'" || c === '"') quote = c;
      else if (c === "\\" && next) word += line[++i];
      else word += c;
    }
  }
  if (inWord) words.push(word);
  return words;
}

function flagValue(words: string[], ...names: string[]): string | undefined {
  const at = words.findIndex((w) => names.includes(w));
  return at >= 0 ? words[at + 1] : undefined;
}

export interface ClientSnippets {
  /** What the report itself says (the values every snippet must carry). */
  report: {
    baseUrl: string;
    model: string;
    key: string;
    tlsMode: string;
    caCertificate: string;
    caFetch: string;
  };
  continue:
    | {
        provider?: unknown;
        model?: unknown;
        apiBase?: unknown;
        apiKey?: unknown;
        roles?: unknown;
        schema?: unknown;
        caBundlePath?: unknown;
      }
    | { error: string };
  cline: { auth: string[]; run: string[]; env: Record<string, string> } | { error: string };
}

/** Parses the report's Continue config.yaml and Cline CLI sections (nothing is judged here). */
export function parseClientSnippets(text: string): ClientSnippets {
  const fields = reportFields(text);
  const sections = reportSections(text);
  const report = {
    baseUrl: fields.api_base_url ?? "",
    model: fields.model_id ?? "",
    key: fields.api_password ?? "",
    tlsMode: fields.mode ?? "",
    caCertificate: fields.ca_certificate ?? "",
    caFetch: fields.ca_certificate_fetch ?? "",
  };
  let continueConfig: ClientSnippets["continue"];
  const yamlText = sections.get("Continue config.yaml");
  if (yamlText === undefined) continueConfig = { error: "the report has no [Continue config.yaml] section" };
  else {
    try {
      const doc = parseYaml(yamlText) as { schema?: unknown; models?: unknown } | null;
      const model = (Array.isArray(doc?.models) ? doc.models[0] : undefined) as
        Record<string, unknown> | undefined;
      if (!model || typeof model !== "object")
        continueConfig = { error: "the Continue config.yaml has no models list" };
      else {
        const options = model.requestOptions as Record<string, unknown> | undefined;
        continueConfig = {
          provider: model.provider,
          model: model.model,
          apiBase: model.apiBase,
          apiKey: model.apiKey,
          roles: model.roles,
          schema: doc?.schema,
          caBundlePath: options?.caBundlePath,
        };
      }
    } catch (error) {
      continueConfig = {
        error: `the Continue config.yaml is not YAML: ${(error as Error).message.split("\n")[0]}`,
      };
    }
  }
  let cline: ClientSnippets["cline"];
  const commands = (sections.get("Cline CLI") ?? "")
    .split("\n")
    .filter((line) => line.trim() && !line.trimStart().startsWith("#"))
    .map(shellWords);
  const auth = commands.find((w) => w[0] === "cline" && w[1] === "auth");
  const runAt = commands.findIndex((w) => w.includes("cline") && !(w[0] === "cline" && w[1] === "auth"));
  if (!sections.has("Cline CLI")) cline = { error: "the report has no [Cline CLI] section" };
  else if (!auth) cline = { error: "the [Cline CLI] section has no `cline auth` command" };
  else if (runAt < 0) cline = { error: "the [Cline CLI] section has no command that runs a prompt" };
  else {
    const words = commands[runAt] ?? [];
    const env: Record<string, string> = {};
    let i = 0;
    for (; i < words.length && /^[A-Z_][A-Z0-9_]*=/.test(words[i] ?? ""); i++) {
      const w = words[i] as string;
      env[w.slice(0, w.indexOf("="))] = w.slice(w.indexOf("=") + 1);
    }
    cline = { auth, run: words.slice(i), env };
  }
  return { report, continue: continueConfig, cline };
}

/** Every way the report's Continue and Cline CLI snippets would not work as pasted. */
export function clientSnippetProblems(s: ClientSnippets): string[] {
  const problems: string[] = [];
  const stale =
    "(a stale snippet: reboot the VM, or run the one-apps configure and bootstrap steps, to rewrite the report)";
  const selfSigned = s.report.tlsMode !== "letsencrypt";
  const caFile = s.report.caFetch.split(" ").at(-1) ?? "";
  if (selfSigned && !s.report.caCertificate.startsWith("/"))
    problems.push("the report does not say where the appliance's CA certificate is (ca_certificate)");
  if (selfSigned && !/^scp \S+:\/\S+ \S+$/.test(s.report.caFetch))
    problems.push("the report does not say how to fetch the CA certificate (ca_certificate_fetch: scp …)");
  const c = s.continue;
  if ("error" in c) problems.push(`Continue: ${c.error}`);
  else {
    if (c.schema !== "v1") problems.push(`Continue: schema is ${JSON.stringify(c.schema)}, must be "v1"`);
    if (c.provider !== "openai")
      problems.push(`Continue: provider is ${JSON.stringify(c.provider)}, must be "openai"`);
    if (c.model !== s.report.model)
      problems.push(
        `Continue: model ${JSON.stringify(c.model)} is not the report's model_id "${s.report.model}" ${stale}`,
      );
    if (c.apiBase !== s.report.baseUrl)
      problems.push(
        `Continue: apiBase ${JSON.stringify(c.apiBase)} is not the report's api_base_url ${s.report.baseUrl} ${stale}`,
      );
    if (c.apiKey !== s.report.key)
      problems.push(`Continue: apiKey is not the report's api_password ${stale}`);
    if (!Array.isArray(c.roles) || !c.roles.includes("chat"))
      problems.push("Continue: roles lack chat (Continue would not offer the model for chat)");
    if (selfSigned && c.caBundlePath !== caFile)
      problems.push(
        `Continue: requestOptions.caBundlePath is ${JSON.stringify(c.caBundlePath ?? null)}, not the fetched certificate ${caFile || "(none)"}: Continue refuses the self-signed certificate`,
      );
  }
  const l = s.cline;
  if ("error" in l) problems.push(`Cline CLI: ${l.error}`);
  else {
    if (flagValue(l.auth, "-p", "--provider") !== "openai")
      problems.push("Cline CLI: `cline auth` lacks -p openai");
    if (flagValue(l.auth, "-k", "--apikey", "--api-key") !== s.report.key)
      problems.push(`Cline CLI: the key in \`cline auth -k\` is not the report's api_password ${stale}`);
    const model = flagValue(l.auth, "-m", "--modelid", "--model");
    if (model !== s.report.model)
      problems.push(
        `Cline CLI: \`cline auth -m\` is ${JSON.stringify(model ?? null)}, not the report's model_id "${s.report.model}" ${stale}`,
      );
    const base = flagValue(l.auth, "-b", "--baseurl", "--base-url");
    if (base !== s.report.baseUrl)
      problems.push(
        `Cline CLI: \`cline auth -b\` is ${JSON.stringify(base ?? null)}, not the report's api_base_url ${s.report.baseUrl} ${stale}`,
      );
    const dir = flagValue(l.auth, "--data-dir");
    if (!dir || flagValue(l.run, "--data-dir") !== dir)
      problems.push(
        "Cline CLI: both commands need the same --data-dir (the run would not find the stored settings)",
      );
    if (l.env.CLINE_SESSION_BACKEND_MODE !== "local")
      problems.push(
        "Cline CLI: the run lacks CLINE_SESSION_BACKEND_MODE=local (Cline's background hub would outlive it and ignore a CA given later)",
      );
    if (selfSigned && l.env.NODE_EXTRA_CA_CERTS !== caFile)
      problems.push(
        `Cline CLI: the run's NODE_EXTRA_CA_CERTS is ${JSON.stringify(l.env.NODE_EXTRA_CA_CERTS ?? null)}, not the fetched certificate ${caFile || "(none)"}: Cline refuses the self-signed certificate`,
      );
  }
  return problems;
}

const clientSnippets = defineCheck({
  id: "one.client-snippets",
  requirement: "ONE-05",
  title:
    "the report's Continue config.yaml and Cline CLI commands carry the right base URL, model, key and CA, and complete a chat",
  needs: ["ssh"],
  observe: async (ctx) => {
    const { text } = await readReport(ctx);
    const snippets = parseClientSnippets(text);
    const problems = clientSnippetProblems(snippets);
    const c = snippets.continue;
    if ("error" in c || typeof c.apiBase !== "string") return { problems, status: null };
    let base: URL;
    try {
      base = new URL(c.apiBase);
    } catch {
      return { problems, status: null };
    }
    const response = await ctx.probes.https({
      method: "POST",
      path: `${base.pathname.replace(/\/$/, "")}/chat/completions`,
      headers: { authorization: `Bearer ${String(c.apiKey ?? "")}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: c.model,
        messages: [{ role: "user", content: "Say ok." }],
        max_tokens: 4,
      }),
      timeoutMs: ctx.access.streamTimeoutMs,
    });
    return {
      problems,
      status: response.status,
      baseUrl: base.href,
      note: `sent to ${ctx.access.host}:${ctx.access.httpsPort} with the Continue snippet's path, key and model`,
    };
  },
  judge: (e) => {
    if (e.problems.length) return fail(e.problems.join("; "));
    if (e.status !== 200)
      return fail(
        `a chat completion with the Continue snippet's apiBase, apiKey and model answered ${e.status}`,
      );
    return pass("Continue config.yaml and Cline CLI commands match the report and complete a chat");
  },
});

const log = defineCheck({
  id: "one.log",
  requirement: "ONE-07",
  title: "the appliance log has timestamped entries for every stage",
  needs: ["ssh"],
  observe: async (ctx) => {
    const text = (await ctx.probes.ssh("cat /var/log/one-appliance/slm-copilot.log")).stdout;
    const stamped = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[(INFO|WARN|ERROR)\] /;
    const lines = text.split("\n").filter(Boolean);
    return {
      lines: lines.length,
      unstamped: lines.filter((l) => !stamped.test(l)).slice(0, 5),
      stagesMissing: LOG_STAGES.filter((stage) => !lines.some((l) => stamped.test(l) && l.includes(stage))),
    };
  },
  judge: (e) => {
    if (e.lines === 0) return fail("the log /var/log/one-appliance/slm-copilot.log is empty or missing");
    if (e.stagesMissing.length) return fail(`no timestamped entry for: ${e.stagesMissing.join(", ")}`);
    if (e.unstamped.length) return fail(`lines without a timestamp, e.g. ${JSON.stringify(e.unstamped[0])}`);
    return pass(`${e.lines} timestamped lines covering every stage`);
  },
});

const banner = defineCheck({
  id: "one.banner",
  requirement: "ONE-08",
  title: "a login shows the ready banner with connection info",
  needs: ["ssh"],
  observe: async (ctx) => {
    const login = await ctx.probes.ssh("cat /etc/motd; bash -l -c true 2>&1 </dev/null");
    return { output: login.stdout.slice(0, 1200) };
  },
  judge: ({ output }) => {
    if (!output.includes("All set and ready to serve"))
      return fail('the motd does not say "All set and ready to serve"');
    if (!/SLM-Copilot: https:\/\/\S+/.test(output))
      return fail("no SLM-Copilot banner with the endpoint at login");
    return pass("motd ready and SLM-Copilot banner with endpoint shown at login");
  },
});

/** Constant: what the model YAML and the running engine say, one `name=value` line each. */
const ENGINE_FACTS_COMMAND = [
  "echo \"cores=$(lscpu -p=core,socket | grep -v '^#' | sort -u | wc -l)\"",
  "echo \"yaml_ctx=$(sed -n 's/^context_size: //p' /var/lib/local-ai/models/*.yaml | head -n1)\"",
  "echo \"yaml_threads=$(sed -n 's/^threads: //p' /var/lib/local-ai/models/*.yaml | head -n1)\"",
  "echo \"cmdline=$(tr '\\0' ' ' </proc/$(systemctl show -p MainPID --value local-ai)/cmdline)\"",
].join("; ");

export const effectiveConfig = defineCheck({
  id: "one.effective-config",
  requirement: "ONE-04",
  title: "LocalAI runs with the context size and threads the context asked for",
  needs: ["ssh"],
  observe: async (ctx) => {
    const context = parseContextFiles((await ctx.probes.ssh(READ_CONTEXT_COMMAND)).stdout);
    const values: Record<string, string> = Object.fromEntries(
      (await ctx.probes.ssh(ENGINE_FACTS_COMMAND)).stdout
        .trim()
        .split("\n")
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
    values.ctx_var = context.values.ONEAPP_COPILOT_CONTEXT_SIZE ?? "";
    values.threads_var = context.values.ONEAPP_COPILOT_THREADS ?? "";
    const valid = (v: string | undefined, min: number, max: number) =>
      v && /^\d+$/.test(v) && +v >= min && +v <= max ? v : undefined;
    const expectedContext = valid(values.ctx_var, 2048, 262144) ?? "32768";
    const expectedThreads = valid(values.threads_var, 1, 512) ?? values.cores ?? "";
    return {
      contextSource: context.source,
      contextVariable: values.ctx_var ?? "",
      threadsVariable: values.threads_var ?? "",
      physicalCores: values.cores ?? "",
      yaml_ctx: values.yaml_ctx ?? "",
      yaml_threads: values.yaml_threads ?? "",
      cmdline: values.cmdline ?? "",
      expectedContext,
      expectedThreads,
    };
  },
  judge: (e) => {
    const problems: string[] = [];
    if (e.yaml_ctx !== e.expectedContext)
      problems.push(`model YAML context_size ${e.yaml_ctx}, expected ${e.expectedContext}`);
    if (e.yaml_threads !== e.expectedThreads)
      problems.push(`model YAML threads ${e.yaml_threads}, expected ${e.expectedThreads}`);
    if (!(e.cmdline ?? "").includes(`--context-size ${e.expectedContext}`))
      problems.push(`running engine lacks --context-size ${e.expectedContext}`);
    if (!(e.cmdline ?? "").includes(`--threads ${e.expectedThreads}`))
      problems.push(`running engine lacks --threads ${e.expectedThreads}`);
    return problems.length
      ? fail(problems.join("; "))
      : pass(
          `context size ${e.expectedContext}, threads ${e.expectedThreads}, in the YAML and the running process`,
        );
  },
});

export const integrationSuite: Suite = {
  requiresVm: true,
  name: "integration",
  title: "OpenNebula integration (SSH)",
  checks: [status, report, clineSnippet, clientSnippets, log, banner, effectiveConfig],
};
