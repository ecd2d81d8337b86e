// Host fitness over SSH: is this VM able to run a 24B model at a usable speed? CPU flags (a VM CPU
// model that hides AVX2 makes llama.cpp ~20x slower), and RAM and disk headroom for the model plus
// the KV cache of the configured context.
import { shellQuote } from "../src/probes/ssh.ts";
import { fail, pass, skip, type Suite } from "../src/core/check.ts";
import { defineCheck } from "./requirements.ts";

/** Devstral Small 2: 40 layers × 8 KV heads × 128 dims × 2 (K and V) elements per token. */
export const KV_ELEMENTS_PER_TOKEN = 2 * 40 * 8 * 128;
export const KV_BYTES_PER_ELEMENT = { f16: 2, q8_0: 34 / 32 } as const;
const RUNTIME_OVERHEAD_BYTES = 2 * 1024 ** 3;
const GiB = 1024 ** 3;

export function kvCacheBytes(contextSize: number, type: keyof typeof KV_BYTES_PER_ELEMENT): number {
  return Math.round(contextSize * KV_ELEMENTS_PER_TOKEN * KV_BYTES_PER_ELEMENT[type]);
}

const cpuFlags = defineCheck({
  id: "host.cpu-flags",
  requirement: "HOST-01",
  title: "the VM's CPU exposes AVX2 (and reports AVX-512)",
  needs: ["ssh"],
  observe: async (ctx) => {
    const flags = (
      await ctx.probes.ssh("grep -m1 '^flags' /proc/cpuinfo; grep -m1 '^model name' /proc/cpuinfo; nproc")
    ).stdout;
    const has = (flag: string) => new RegExp(`\\b${flag}\\b`).test(flags);
    return {
      avx2: has("avx2"),
      avx512f: has("avx512f"),
      fma: has("fma"),
      modelName: /model name\s*:\s*(.*)/.exec(flags)?.[1] ?? "?",
      vcpus: Number(flags.trim().split("\n").at(-1)),
    };
  },
  judge: (e) => {
    if (!e.avx2)
      return fail(
        `no AVX2 in the VM (${e.modelName}): the VM's CPU model hides it; set CPU_MODEL to host-passthrough in OpenNebula, or inference runs ~20x slower`,
      );
    return pass(
      `${e.vcpus} vCPUs, ${e.modelName}: AVX2 yes, AVX-512 ${e.avx512f ? "yes" : "no (fine, AVX2 kernels are used)"}`,
    );
  },
});

const memoryDisk = defineCheck({
  id: "host.memory-disk",
  requirement: "HOST-02",
  title: "RAM holds model + KV cache for the configured context; the disk has room",
  needs: ["ssh"],
  observe: async (ctx) => {
    const out = (
      await ctx.probes.ssh(
        "awk '/MemTotal/ {print $2*1024}' /proc/meminfo; stat -c %s /var/lib/local-ai/models/*.gguf | head -n1; sed -n 's/^context_size: //p' /var/lib/local-ai/models/*.yaml | head -n1; df -B1 --output=avail /var/lib/local-ai | tail -n1",
      )
    ).stdout
      .trim()
      .split("\n")
      .map(Number);
    const [memTotal = 0, modelBytes = 0, contextSize = 0, diskFree = 0] = out;
    const kv = kvCacheBytes(contextSize, "q8_0");
    const needed = modelBytes + kv + RUNTIME_OVERHEAD_BYTES;
    return {
      memTotalGiB: +(memTotal / GiB).toFixed(2),
      modelGiB: +(modelBytes / GiB).toFixed(2),
      contextSize,
      kvCacheQ8GiB: +(kv / GiB).toFixed(2),
      overheadGiB: RUNTIME_OVERHEAD_BYTES / GiB,
      neededGiB: +(needed / GiB).toFixed(2),
      diskFreeGiB: +(diskFree / GiB).toFixed(2),
      formula:
        "needed = model file + context × 2 × 40 layers × 8 KV heads × 128 × 34/32 bytes (q8_0) + 2 GiB runtime",
    };
  },
  judge: (e) => {
    if (e.memTotalGiB < e.neededGiB)
      return fail(
        `${e.memTotalGiB} GiB RAM < ${e.neededGiB} GiB needed (model ${e.modelGiB} + KV ${e.kvCacheQ8GiB} at ${e.contextSize} tokens + ${e.overheadGiB}): give the VM more memory or lower ONEAPP_COPILOT_CONTEXT_SIZE`,
      );
    if (e.diskFreeGiB < 1) return fail(`only ${e.diskFreeGiB} GiB free on the model disk`);
    return pass(`${e.memTotalGiB} GiB RAM ≥ ${e.neededGiB} GiB needed; ${e.diskFreeGiB} GiB disk free`);
  },
});

interface OfflineEvidence {
  outboundHttp: boolean;
  answer: string;
  probeUrl: string;
  status: string;
  expectOffline: boolean;
  [key: string]: unknown;
}

const offline = defineCheck<OfflineEvidence>({
  id: "host.serves-offline",
  requirement: "INFER-03",
  title: "the appliance serves with no outbound network (demanded with --expect-offline)",
  needs: ["ssh"],
  observe: async (ctx) => {
    const url = ctx.access.outboundProbeUrl ?? "http://deb.debian.org/";
    const probe = await ctx.probes.ssh(
      `curl -s -o /dev/null -m 4 -w '%{http_code}' ${shellQuote(url)} || true; echo; cat /etc/one-appliance/status`,
      15_000,
    );
    const [answer = "", status = ""] = probe.stdout.trim().split("\n");
    return {
      outboundHttp: answer.trim() !== "000" && answer.trim() !== "",
      answer: answer.trim(),
      probeUrl: url,
      status: status.trim(),
      expectOffline: ctx.access.expectOffline ?? false,
    };
  },
  judge: (e) => {
    if (e.status !== "bootstrap_success")
      return fail(
        `the appliance is not serving (status "${e.status || "missing"}"), so offline operation is not shown`,
      );
    if (!e.outboundHttp)
      return pass("the VM has no outbound network and the appliance serves: offline operation demonstrated");
    if (e.expectOffline)
      return fail(
        `--expect-offline, but the VM reached ${e.probeUrl} (HTTP ${e.answer}): block its outbound traffic (security group / virtual network) to prove offline operation`,
      );
    return skip(
      `the VM has outbound network (${e.probeUrl} answered HTTP ${e.answer}): offline operation not demonstrated; cut outbound traffic and pass --expect-offline to demand it`,
    );
  },
});

export const hostSuite: Suite = {
  requiresVm: true,
  name: "host",
  title: "Host fitness (SSH)",
  checks: [cpuFlags, memoryDisk, offline],
};
