// The OneFlow service template of the pool (marketplace/oneflow/slm-copilot-pool.json): OpenNebula 7's
// schema (opennebula flow service_template.rb: VM_ROLE_SCHEMA, SCHEMA and its validate_values checks),
// then what this pool needs on top — a load balancer role on the one-apps VRouter with HAProxy fed
// through OneGate, and a worker role of SLM-Copilot appliances that register with that same load
// balancer, share one password and one certificate, and scale by an elasticity policy with a cooldown.
import { z } from "zod";

const count = z.number().int().min(0);
const ADJUST_TYPES = ["CHANGE", "CARDINALITY", "PERCENTAGE_CHANGE"] as const;

const elasticityPolicy = z
  .object({
    type: z.enum(ADJUST_TYPES),
    adjust: z.number().int(),
    min_adjust_step: z.number().int().min(1).optional(),
    period_number: count.optional(),
    period: count.optional(),
    // OneFlow's grammar: ATTRIBUTE OP NUMBER, joined with && or ||.
    expression: z
      .string()
      .regex(
        /^\s*[A-Za-z_][A-Za-z0-9_/]*\s*(<|>|<=|>=|==|!=)\s*-?[0-9.]+(\s*(&&|\|\|)\s*[A-Za-z_][A-Za-z0-9_/]*\s*(<|>|<=|>=|==|!=)\s*-?[0-9.]+)*\s*$/,
        "an OneFlow expression like 'CPU > 1200'",
      ),
    cooldown: count.optional(),
  })
  .strict();

const scheduledPolicy = z
  .object({
    type: z.enum(ADJUST_TYPES),
    adjust: z.number().int(),
    min_adjust_step: z.number().int().min(1).optional(),
    start_time: z.string().optional(),
    recurrence: z.string().optional(),
  })
  .strict();

const context = z.record(z.string().regex(/^[A-Z][A-Z0-9_]*$/, "upper-case attribute name"), z.string());

const role = z
  .object({
    name: z.string().regex(/^\w+$/, "letters, digits and _ only"),
    type: z.literal("vm"),
    template_id: count,
    cardinality: count,
    template_contents: z
      .object({ CONTEXT: context.optional(), NIC: z.array(z.record(z.string(), z.string())).optional() })
      .passthrough()
      .optional(),
    user_inputs: z.record(z.string(), z.string()).optional(),
    parents: z.array(z.string()).optional(),
    shutdown_action: z.enum(["terminate", "terminate-hard", "shutdown", "shutdown-hard"]).optional(),
    min_vms: count.optional(),
    max_vms: count.optional(),
    cooldown: count.optional(),
    on_hold: z.boolean().optional(),
    elasticity_policies: z.array(elasticityPolicy).optional(),
    scheduled_policies: z.array(scheduledPolicy).optional(),
  })
  .strict();

export type Role = z.infer<typeof role>;

const serviceTemplate = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    deployment: z.enum(["none", "straight"]),
    shutdown_action: z.enum(["terminate", "terminate-hard", "shutdown", "shutdown-hard"]).optional(),
    ready_status_gate: z.boolean().optional(),
    automatic_deletion: z.boolean().optional(),
    networks: z.record(z.string(), z.string()).optional(),
    user_inputs: z.record(z.string(), z.string()).optional(),
    on_hold: z.boolean().optional(),
    roles: z.array(role).min(1),
  })
  .strict();

export type ServiceTemplate = z.infer<typeof serviceTemplate>;

type Issue = { path: (string | number)[]; message: string };

// OneFlow's own checks (validate_values): unique names, min_vms <= cardinality <= max_vms, policies
// only with both bounds; plus parents that name a role defined before the child (deployment: straight).
function oneflowIssues(template: ServiceTemplate): Issue[] {
  const issues: Issue[] = [];
  const seen: string[] = [];
  template.roles.forEach((r, i) => {
    const at = (...path: (string | number)[]) => ["roles", i, ...path];
    if (seen.includes(r.name))
      issues.push({ path: at("name"), message: `role name '${r.name}' is repeated` });
    if (r.min_vms !== undefined && r.min_vms > r.cardinality)
      issues.push({
        path: at("min_vms"),
        message: `role '${r.name}': min_vms ${r.min_vms} > cardinality ${r.cardinality}`,
      });
    if (r.max_vms !== undefined && r.max_vms < r.cardinality)
      issues.push({
        path: at("max_vms"),
        message: `role '${r.name}': max_vms ${r.max_vms} < cardinality ${r.cardinality}`,
      });
    const policies = (r.elasticity_policies?.length ?? 0) + (r.scheduled_policies?.length ?? 0);
    if (policies > 0 && (r.min_vms === undefined || r.max_vms === undefined))
      issues.push({
        path: at("min_vms"),
        message: `role '${r.name}' has policies: it needs both min_vms and max_vms`,
      });
    for (const parent of r.parents ?? [])
      if (!seen.includes(parent))
        issues.push({
          path: at("parents"),
          message: `role '${r.name}': parent '${parent}' is not a role defined before it`,
        });
    seen.push(r.name);
  });
  return issues;
}

const LB_PREFIX = "ONEAPP_VNF_HAPROXY_LB";

// What the pool needs beyond OneFlow's schema.
function poolIssues(template: ServiceTemplate): Issue[] {
  const issues: Issue[] = [];
  const index = (name: string) => template.roles.findIndex((r) => r.name === name);
  const lbAt = index("lb");
  const workerAt = index("worker");
  if (lbAt < 0)
    issues.push({ path: ["roles"], message: "no role named 'lb' (the one-apps VRouter with HAProxy)" });
  if (workerAt < 0)
    issues.push({ path: ["roles"], message: "no role named 'worker' (the SLM-Copilot appliances)" });
  if (lbAt < 0 || workerAt < 0) return issues;
  const lb = template.roles[lbAt] as Role;
  const worker = template.roles[workerAt] as Role;
  const lbContext = lb.template_contents?.CONTEXT ?? {};
  const workerContext = worker.template_contents?.CONTEXT ?? {};
  const lbPath = (key: string) => ["roles", lbAt, "template_contents", "CONTEXT", key];
  const workerPath = (key: string) => ["roles", workerAt, "template_contents", "CONTEXT", key];
  for (const key of ["ONEAPP_VNF_HAPROXY_ENABLED", "ONEAPP_VNF_HAPROXY_ONEGATE_ENABLED", "TOKEN"])
    if (lbContext[key] !== "YES")
      issues.push({
        path: lbPath(key),
        message: `must be "YES" (HAProxy with backends read through OneGate)`,
      });
  if (workerContext.TOKEN !== "YES")
    issues.push({ path: workerPath("TOKEN"), message: `must be "YES": workers register through OneGate` });
  if (!(worker.parents ?? []).includes("lb"))
    issues.push({
      path: ["roles", workerAt, "parents"],
      message: "must include 'lb': the load balancer is deployed first",
    });
  const lbIndex = workerContext.ONEAPP_COPILOT_LB_INDEX || "0";
  const lbIp = workerContext.ONEAPP_COPILOT_LB_IP;
  if (!lbIp)
    issues.push({
      path: workerPath("ONEAPP_COPILOT_LB_IP"),
      message: "must name the load balancer's address",
    });
  else if (lbContext[`${LB_PREFIX}${lbIndex}_IP`] !== lbIp)
    issues.push({
      path: workerPath("ONEAPP_COPILOT_LB_IP"),
      message: `is ${lbIp}, but the lb role's ${LB_PREFIX}${lbIndex}_IP is ${lbContext[`${LB_PREFIX}${lbIndex}_IP`] ?? "not set"}`,
    });
  const port = workerContext.ONEAPP_COPILOT_LB_PORT || "443";
  if ((lbContext[`${LB_PREFIX}${lbIndex}_PORT`] ?? "") !== port)
    issues.push({
      path: workerPath("ONEAPP_COPILOT_LB_PORT"),
      message: `is ${port}, but the lb role's ${LB_PREFIX}${lbIndex}_PORT is ${lbContext[`${LB_PREFIX}${lbIndex}_PORT`] ?? "not set"}`,
    });
  // Every worker must accept the same credential and present the same certificate: HAProxy sends
  // each connection to any of them.
  for (const key of ["ONEAPP_COPILOT_PASSWORD", "ONEAPP_COPILOT_TLS_CERT", "ONEAPP_COPILOT_TLS_KEY"])
    if (!workerContext[key])
      issues.push({ path: workerPath(key), message: "must be set (one value for every worker of the pool)" });
  if (!worker.elasticity_policies?.length)
    issues.push({
      path: ["roles", workerAt, "elasticity_policies"],
      message: "the worker role needs an elasticity policy",
    });
  if (worker.cooldown === undefined)
    issues.push({
      path: ["roles", workerAt, "cooldown"],
      message: "the worker role needs a cooldown (seconds)",
    });
  return issues;
}

export const poolTemplateSchema = serviceTemplate.superRefine((template, ctx) => {
  for (const issue of [...oneflowIssues(template), ...poolIssues(template)])
    ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
});

/** Every problem of a parsed template as "path: message" lines (empty when it is valid). */
export function poolTemplateIssues(value: unknown): string[] {
  const result = poolTemplateSchema.safeParse(value);
  if (result.success) return [];
  return result.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
}
