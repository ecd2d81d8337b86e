// A VM too small for the model: configure and bootstrap run in a scratch SLMC_ROOT with a fake
// /proc/meminfo (SLMC_MEMINFO) and a sparse model file of Devstral's size, with systemctl, nginx and
// fail2ban-client replaced by recorders. Too little RAM must not crash-loop the engine: it is stopped
// and disabled, nginx still comes up and answers /health with 503 insufficient_memory (proved under
// the real nginx binary), the report and the log say what to resize to, and bootstrap fails at once
// instead of waiting for a model that cannot load. Enough RAM (after a resize) starts the engine again.
import t from "tap";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, truncate, writeFile } from "node:fs/promises";
import https from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { startRealNginx } from "../fixtures/nginx/real-nginx.ts";
import { enableStateCases } from "./systemctl-stand-in.ts";

const run = promisify(execFile);
const APPLIANCE = resolve(import.meta.dirname, "../appliance");
const GIB = 1024 ** 3;
// Devstral Small 2 24B Q4_K_M: 13.35 GiB of weights (README, Performance expectations).
const MODEL_BYTES = Math.round(13.35 * GIB);
const MODEL = "var/lib/local-ai/models/Devstral-Small-2-24B-Instruct-2512-Q4_K_M.gguf";
const SITE = "etc/nginx/sites-available/slm-copilot.conf";
const EFFECTIVE = "var/lib/slm-copilot/effective.env";

interface Step {
  code: number;
  calls: string[];
  stderr: string;
}

async function scratch() {
  const dir = await mkdtemp(join(tmpdir(), "slmc-memory-"));
  const root = join(dir, "root");
  const bin = join(dir, "bin");
  const calls = join(dir, "calls");
  const meminfo = join(dir, "meminfo");
  for (const sub of ["etc/nginx/sites-enabled", "var/log/nginx", "var/lib/local-ai/models"])
    await mkdir(join(root, sub), { recursive: true });
  await writeFile(join(root, MODEL), "");
  await truncate(join(root, MODEL), MODEL_BYTES);
  await mkdir(bin);
  for (const name of ["nginx", "fail2ban-client"])
    await writeFile(join(bin, name), `#!/bin/sh\necho "${name} $*" >>"${calls}"\n`, { mode: 0o755 });
  // Every unit is active, but local-ai as systemd would have it: stopped by disable --now until started.
  const stopped = join(dir, "local-ai.stopped");
  await writeFile(
    join(bin, "systemctl"),
    [
      "#!/bin/sh",
      `echo "systemctl $*" >>"${calls}"`,
      'case "$*" in',
      `  "disable --now local-ai.service") touch "${stopped}" ;;`,
      `  "restart local-ai.service" | "start local-ai.service") rm -f "${stopped}" ;;`,
      `  "is-active --quiet local-ai.service") [ ! -e "${stopped}" ] || exit 3 ;;`,
      "esac",
      'case "$1" in',
      ...enableStateCases(join(dir, "enabled")),
      "esac",
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  const step = async (functions: string, memTotalKib: number, env: Record<string, string> = {}) => {
    await writeFile(calls, "");
    await writeFile(meminfo, `MemTotal:       ${memTotalKib} kB\nMemFree:        1024 kB\n`);
    const result = await run(
      "bash",
      ["-c", `umask 0077; set -e; source "$1/appliance.sh"; ${functions}`, "_", APPLIANCE],
      {
        env: {
          PATH: `${bin}:${process.env.PATH ?? ""}`,
          SLMC_ROOT: root,
          SLMC_HOME: APPLIANCE,
          SLMC_MEMINFO: meminfo,
          SLMC_READY_TIMEOUT_S: "600",
          ...env,
        },
        timeout: 60_000,
      },
    ).then(
      ({ stderr }) => ({ code: 0, stderr }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );
    return {
      ...result,
      calls: (await readFile(calls, "utf8")).trim().split("\n"),
    } satisfies Step;
  };
  const read = (file: string) => readFile(join(root, file), "utf8");
  return { root, step, read };
}

const KIB = (gib: number) => Math.round(gib * 1024 * 1024);

t.test(
  "8 GiB of RAM for a 13.35 GiB model: engine held, nginx up with a clear /health, report and log say what to resize to",
  async (t) => {
    const { step, read } = await scratch();
    const configure = await step("service_configure", KIB(8));
    t.equal(configure.code, 0, `configure does not fail the boot: ${configure.stderr}`);
    t.ok(
      configure.calls.includes("systemctl disable --now local-ai.service"),
      "the engine is stopped and disabled",
    );
    t.notOk(
      configure.calls.some((c) => /^systemctl (restart|start|enable) local-ai/.test(c)),
      "and never started: no OOM restart loop",
    );
    t.ok(
      configure.calls.includes("systemctl start nginx.service") ||
        configure.calls.includes("systemctl reload nginx.service"),
      "nginx comes up",
    );
    // 13.35 GiB weights + 32768 x 85 KiB (2720 MiB) + 2048 MiB = 18439 MiB; resize to 19 + 1 GiB.
    t.match(
      configure.stderr,
      /\[ERROR\] not enough memory for the model: the VM has 8192 MiB of RAM, the model needs 18439 MiB \(weights 13670 MiB \+ KV cache 2720 MiB at context 32768 \+ 2048 MiB runtime and OS\); LocalAI is not started: resize the VM to at least 20 GiB of RAM$/m,
      "the log says how much is needed and what to resize to",
    );
    t.match(await read("var/lib/slm-copilot/configure-errors"), /not enough memory for the model/);
    t.match(await read(EFFECTIVE), /^MEMORY_STATE=insufficient$/m);
    t.match(
      await read(SITE),
      /return 503 '\{"status":"insufficient_memory","memory_mib":8192,"needed_mib":18439,"resize_to_gib":20\}\\n';/,
      "/health answers insufficient_memory",
    );

    const started = Date.now();
    const bootstrap = await step("service_bootstrap", KIB(8));
    t.equal(bootstrap.code, 1, "bootstrap fails: the one-apps status says bootstrap_failure, once");
    t.ok(Date.now() - started < 30_000, "at once, without waiting for a model that cannot load");
    t.notMatch(bootstrap.stderr, /waiting up to/);
    t.match(
      bootstrap.stderr,
      /\[ERROR\] not enough memory for the model, LocalAI not started: resize the VM to at least 20 GiB/,
    );
    const report = await read("etc/one-appliance/config");
    t.match(
      report,
      /\[Memory\]\nstate = insufficient\ntotal_mib = 8192\nneeded_mib = 18439 .*\nadvice = resize the VM to at least 20 GiB of RAM/,
    );
    t.match(report, /error = not enough memory for the model/);

    // After a resize to 32 GiB the next boot's configure starts the engine and /health asks it again.
    const resized = await step("service_configure", KIB(32));
    t.equal(resized.code, 0);
    t.ok(resized.calls.includes("systemctl restart local-ai.service"), "the engine starts");
    t.notMatch(
      await read(SITE),
      /return 503 '\{"status":"insufficient_memory"/,
      "/health is the engine's readiness again",
    );
    t.match(await read(EFFECTIVE), /^MEMORY_STATE=ok$/m);
    t.equal(await read("var/lib/slm-copilot/configure-errors"), "", "no configuration error left");
  },
);

t.test(
  "18 GiB: the default context does not fit; the advice names the context that does, and it then starts",
  async (t) => {
    const { step } = await scratch();
    const tight = await step("service_configure", KIB(18));
    t.match(
      tight.stderr,
      /resize the VM to at least 20 GiB of RAM, or set ONEAPP_COPILOT_CONTEXT_SIZE to 31744 or less$/m,
    );
    const smaller = await step("service_configure", KIB(18), { ONEAPP_COPILOT_CONTEXT_SIZE: "31744" });
    t.notMatch(smaller.stderr, /not enough memory/);
    t.ok(smaller.calls.includes("systemctl restart local-ai.service"), "at that context the engine starts");
  },
);

t.test("the lab's stand-in engine (no KV cache, 4 MiB model) fits a 4 GiB VM, not a 1 GiB one", async (t) => {
  const { root, step } = await scratch();
  await writeFile(
    join(root, "var/lib/local-ai/models/devstral-stand-in.gguf"),
    Buffer.alloc(4 * 1024 * 1024),
  );
  const lab = { SLMC_KV_KIB_PER_TOKEN: "0", SLMC_MODEL_FILE: "devstral-stand-in.gguf" };
  const fits = await step("service_configure", KIB(3.8), lab);
  t.equal(fits.code, 0, fits.stderr);
  t.notMatch(fits.stderr, /not enough memory/, "2 GiB of runtime and OS fit in 3.8 GiB");
  const small = await step("service_configure", KIB(0.9), lab);
  t.equal(small.code, 0, small.stderr);
  t.match(
    small.stderr,
    /the model needs 2052 MiB \(weights 4 MiB \+ KV cache 0 MiB .*resize the VM to at least 4 GiB of RAM$/m,
  );
  t.notMatch(small.stderr, /ONEAPP_COPILOT_CONTEXT_SIZE/, "no context would help");
  const broken = await step("service_configure", KIB(8), { SLMC_KV_KIB_PER_TOKEN: "x" });
  t.equal(broken.code, 1, "a broken build value fails configure");
  t.match(broken.stderr, /SLMC_KV_KIB_PER_TOKEN='x' .* is not a whole number/);
});

t.test("under the real nginx: /health is 503 insufficient_memory, its method rules still hold", async (t) => {
  const nginx = await startRealNginx({
    enginePort: 9, // nothing listens: the engine is not running
    password: "Memory.Test-Password1",
    insufficientMemory: { totalMib: 8192, neededMib: 18439, resizeGib: 20 },
  });
  t.teardown(() => nginx.stop());
  const request = (method: string) =>
    new Promise<{ status: number; type: string; body: string }>((done, fail) => {
      const req = https.request(
        {
          host: "127.0.0.1",
          port: nginx.httpsPort,
          path: "/health",
          method,
          ca: nginx.certificatePem,
          servername: "localhost",
          timeout: 10_000,
        },
        (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () =>
            done({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }),
          );
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", fail);
      req.end();
    });
  const get = await request("GET");
  t.equal(get.status, 503);
  t.equal(get.type, "application/json");
  t.same(JSON.parse(get.body), {
    status: "insufficient_memory",
    memory_mib: 8192,
    needed_mib: 18439,
    resize_to_gib: 20,
  });
  t.equal((await request("POST")).status, 405, "POST is still refused");
  t.equal((await request("OPTIONS")).status, 204, "preflight still answered");
});
