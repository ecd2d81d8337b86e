// The pool's OneFlow service template: the checked-in file passes `scripts/lint.sh oneflow`, and each
// broken variant fails it with the key that is wrong named in the message.
import t from "tap";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { poolTemplateIssues, type ServiceTemplate } from "../src/schemas/oneflow.ts";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "..");
const TEMPLATE = join(ROOT, "marketplace/oneflow/slm-copilot-pool.json");
const original = JSON.parse(await readFile(TEMPLATE, "utf8")) as ServiceTemplate;

const lint = (...args: string[]) =>
  run("bash", [join(ROOT, "scripts/lint.sh"), "oneflow", ...args], { timeout: 60_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );

t.test("the checked-in template passes the lint step", async (t) => {
  t.same(poolTemplateIssues(original), []);
  const result = await lint();
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /lint: OneFlow template .*slm-copilot-pool\.json valid/);
  const roles = original.roles.map((r) => r.name);
  t.same(roles, ["lb", "worker"]);
});

type Mutation = [string, (template: ServiceTemplate) => void, RegExp];
const worker = (template: ServiceTemplate) => template.roles[1] as ServiceTemplate["roles"][number];
const lb = (template: ServiceTemplate) => template.roles[0] as ServiceTemplate["roles"][number];
const workerContext = (template: ServiceTemplate) =>
  worker(template).template_contents?.CONTEXT as Record<string, string>;

const MUTATIONS: Mutation[] = [
  ["worker without parents", (tpl) => delete worker(tpl).parents, /roles\.1\.parents: must include 'lb'/],
  [
    "min_vms above cardinality",
    (tpl) => (worker(tpl).min_vms = 3),
    /roles\.1\.min_vms: role 'worker': min_vms 3 > cardinality 2/,
  ],
  [
    "max_vms below cardinality",
    (tpl) => (worker(tpl).max_vms = 1),
    /roles\.1\.max_vms: role 'worker': max_vms 1 < cardinality 2/,
  ],
  [
    "an unknown policy type",
    (tpl) => ((worker(tpl).elasticity_policies as { type: string }[])[0]!.type = "SCALE"),
    /roles\.1\.elasticity_policies\.0\.type: Invalid option/,
  ],
  [
    "an expression OneFlow cannot parse",
    (tpl) => ((worker(tpl).elasticity_policies as { expression: string }[])[0]!.expression = "CPU is high"),
    /roles\.1\.elasticity_policies\.0\.expression: an OneFlow expression/,
  ],
  [
    "no cooldown",
    (tpl) => delete worker(tpl).cooldown,
    /roles\.1\.cooldown: the worker role needs a cooldown/,
  ],
  [
    "no elasticity policy",
    (tpl) => delete worker(tpl).elasticity_policies,
    /roles\.1\.elasticity_policies: the worker role needs an elasticity policy/,
  ],
  [
    "the workers name another load balancer",
    (tpl) => (workerContext(tpl).ONEAPP_COPILOT_LB_IP = "192.0.2.7"),
    /roles\.1\.template_contents\.CONTEXT\.ONEAPP_COPILOT_LB_IP: is 192\.0\.2\.7, but the lb role's ONEAPP_VNF_HAPROXY_LB0_IP is 192\.0\.2\.100/,
  ],
  [
    "HAProxy not fed through OneGate",
    (tpl) =>
      delete (lb(tpl).template_contents?.CONTEXT as Record<string, string>)
        .ONEAPP_VNF_HAPROXY_ONEGATE_ENABLED,
    /roles\.0\.template_contents\.CONTEXT\.ONEAPP_VNF_HAPROXY_ONEGATE_ENABLED: must be "YES"/,
  ],
  [
    "no shared certificate",
    (tpl) => delete workerContext(tpl).ONEAPP_COPILOT_TLS_CERT,
    /roles\.1\.template_contents\.CONTEXT\.ONEAPP_COPILOT_TLS_CERT: must be set/,
  ],
  [
    "a 6.x role key",
    (tpl) => Object.assign(worker(tpl), { vm_template: 1 }),
    /roles\.1: Unrecognized key: "vm_template"/,
  ],
  ["the lb role renamed", (tpl) => (lb(tpl).name = "balancer"), /roles: no role named 'lb'/],
];

t.test("a broken template fails the lint step, naming the key", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "slmc-oneflow-"));
  for (const [name, mutate, expected] of MUTATIONS) {
    const broken = structuredClone(original);
    mutate(broken);
    const file = join(dir, `${name.replace(/\W+/g, "-")}.json`);
    await writeFile(file, JSON.stringify(broken));
    const result = await lint(file);
    t.equal(result.code, 1, `${name}: exit 1`);
    t.match(result.stderr, expected, `${name}: the key is named`);
  }
  await writeFile(join(dir, "not.json"), "{ roles: ");
  const garbage = await lint(join(dir, "not.json"));
  t.equal(garbage.code, 2, "not JSON: exit 2");
  t.match(garbage.stderr, /oneflow: .*not\.json: .*JSON/);
});
