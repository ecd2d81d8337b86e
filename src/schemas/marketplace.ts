// The community marketplace listing (marketplace/<uuid>.yaml) and the
// certification harness files next to it. Two modes: "draft" accepts the @@NAME@@ placeholders that
// build.sh fills in (checksums, size, URL, version, creation time, publisher e-mail); "release"
// rejects every placeholder anywhere, so no unfilled listing can ship.
import { z } from "zod";

export type Mode = "draft" | "release";

export const PLACEHOLDER = /^@@[A-Z0-9_]+@@$/;
const PLACEHOLDER_ANYWHERE = /@@[A-Z0-9_]+@@|VERIFY-BEFORE-RELEASE/;

// A field build.sh fills: the real value in release mode, the value or its named placeholder in draft.
function filled<T extends z.ZodType>(schema: T, placeholder: string, mode: Mode) {
  return mode === "release" ? schema : z.union([schema, z.literal(`@@${placeholder}@@`)]);
}

const USER_INPUT_TYPES = [
  "text",
  "text64",
  "password",
  "number",
  "number-float",
  "range",
  "range-float",
  "list",
  "boolean",
];

// "M|type|description|options|default" (pipe-separated; list options split on commas, 79d765f).
export const userInput = z.string().superRefine((value, ctx) => {
  const parts = value.split("|");
  if (parts.length !== 5) {
    ctx.addIssue({
      code: "custom",
      message: `needs 5 pipe-separated fields (M|type|description|options|default), has ${parts.length}`,
    });
    return;
  }
  const [mandatory, type, description, options, fallback] = parts as [string, string, string, string, string];
  if (mandatory !== "M" && mandatory !== "O")
    ctx.addIssue({ code: "custom", message: `first field must be M or O, not '${mandatory}'` });
  if (!USER_INPUT_TYPES.includes(type))
    ctx.addIssue({ code: "custom", message: `unknown input type '${type}'` });
  if (description.trim() === "") ctx.addIssue({ code: "custom", message: "empty description" });
  if (type === "list") {
    const items = options.split(",");
    if (items.some((item) => !/^[A-Za-z0-9._:/@+-]+$/.test(item))) {
      ctx.addIssue({
        code: "custom",
        message: `list options must be plain tokens separated by commas (no labels with spaces or commas): '${options}'`,
      });
    }
    if (fallback !== "" && !items.includes(fallback))
      ctx.addIssue({ code: "custom", message: `default '${fallback}' is not one of the options` });
  }
  if (type.startsWith("range")) {
    const match = /^(-?[0-9.]+)\.\.(-?[0-9.]+)$/.exec(options);
    if (!match) ctx.addIssue({ code: "custom", message: `range options must be MIN..MAX, not '${options}'` });
    else if (
      fallback !== "" &&
      (Number(fallback) < Number(match[1]) || Number(fallback) > Number(match[2]))
    ) {
      ctx.addIssue({ code: "custom", message: `default ${fallback} is outside ${options}` });
    }
  }
  if (type === "number" && fallback !== "" && !/^-?[0-9]+$/.test(fallback))
    ctx.addIssue({ code: "custom", message: `default '${fallback}' is not a number` });
});

const numeric = z.string().regex(/^[0-9]+$/, "a whole number as a string");

export function listingSchema(mode: Mode) {
  const template = z
    .object({
      context: z.record(z.string(), z.string()),
      cpu: numeric,
      vcpu: numeric,
      memory: numeric,
      cpu_model: z.object({ model: z.literal("host-passthrough") }),
      graphics: z.object({ listen: z.string(), type: z.string() }).optional(),
      os: z.object({ arch: z.literal("x86_64") }),
      inputs_order: z.string(),
      user_inputs: z.record(z.string(), userInput),
      // OpenNebula's marketplace export appends DISK=[IMAGE_ID=...] to this template: a DISK here would
      // become a second, image-less disk. The 50 GB is a resize at instantiation (see description).
      disk: z
        .undefined({
          error:
            "no DISK in opennebula_template: the export appends the image's DISK, so this one would be a second, image-less disk",
        })
        .optional(),
    })
    .superRefine((tpl, ctx) => {
      const ctxVars = tpl.context;
      if (ctxVars.network !== "YES")
        ctx.addIssue({ code: "custom", path: ["context", "network"], message: "must be 'YES'" });
      if (ctxVars.ssh_public_key !== "$USER[SSH_PUBLIC_KEY]") {
        ctx.addIssue({
          code: "custom",
          path: ["context", "ssh_public_key"],
          message: "must be $USER[SSH_PUBLIC_KEY] (0b00402)",
        });
      }
      for (const [key, value] of Object.entries(ctxVars)) {
        if (key.startsWith("oneapp_") && value !== `$${key.toUpperCase()}`) {
          ctx.addIssue({
            code: "custom",
            path: ["context", key],
            message: `must reference $${key.toUpperCase()}, not a literal (a916902)`,
          });
        }
      }
      const order = tpl.inputs_order.split(",").map((item) => item.trim());
      for (const key of Object.keys(tpl.user_inputs)) {
        if (!(key in ctxVars))
          ctx.addIssue({
            code: "custom",
            path: ["user_inputs", key],
            message: "input is not passed in context",
          });
        if (!order.includes(key.toUpperCase()))
          ctx.addIssue({
            code: "custom",
            path: ["inputs_order"],
            message: `${key.toUpperCase()} is missing`,
          });
      }
      for (const key of order) {
        if (!(key.toLowerCase() in tpl.user_inputs))
          ctx.addIssue({ code: "custom", path: ["inputs_order"], message: `${key} has no user input` });
      }
      for (const key of Object.keys(ctxVars).filter((k) => k.startsWith("oneapp_"))) {
        if (!(key in tpl.user_inputs))
          ctx.addIssue({
            code: "custom",
            path: ["context", key],
            message: "context variable without a user input",
          });
      }
    });

  const image = z.object({
    name: z.string().min(1),
    url: filled(
      z.string().regex(/^(https|file):\/\/\S+$/, "an https:// (or, for a lab build, file://) URL"),
      "IMAGE_URL",
      mode,
    ),
    type: z.literal("OS"),
    dev_prefix: z.literal("vd"),
    driver: z.literal("qcow2"),
    size: filled(z.number().int().positive(), "IMAGE_VIRTUAL_SIZE", mode),
    checksum: z.object({
      md5: filled(z.string().regex(/^[0-9a-f]{32}$/, "32 hex digits"), "IMAGE_MD5", mode),
      sha256: filled(z.string().regex(/^[0-9a-f]{64}$/, "64 hex digits"), "IMAGE_SHA256", mode),
    }),
  });

  return z
    .object({
      name: z.string().min(1),
      version: filled(
        z.string().regex(/^[0-9][0-9A-Za-z.+-]*$/, "a version like 0.1.0-release-20260101"),
        "VERSION",
        mode,
      ),
      "one-apps_version": z.string().optional(),
      publisher: z.string().min(1),
      publisher_email: filled(z.email(), "PUBLISHER_EMAIL", mode),
      description: z
        .string()
        .min(200)
        .refine(
          (text) => /sovereign/i.test(text) && /europe/i.test(text),
          "must present the appliance as European sovereign AI",
        ),
      short_description: z
        .string()
        .min(10)
        .max(120)
        .regex(/^[^\n]*$/, "one line"),
      tags: z.array(z.string().min(1)).min(1),
      format: z.literal("qcow2"),
      creation_time: filled(z.number().int().positive(), "CREATION_TIME", mode),
      "os-id": z.string().min(1),
      "os-release": z.string().min(1),
      "os-arch": z.literal("x86_64"),
      hypervisor: z.literal("KVM"),
      opennebula_version: z
        .string()
        .regex(/^[0-9]+\.[0-9]+(, ?[0-9]+\.[0-9]+)*$/, "a comma list like '6.10, 7.0'"),
      opennebula_template: template,
      logo: z.string().optional(),
      images: z.array(image).min(1),
    })
    .strict()
    .superRefine((listing, ctx) => {
      if (mode !== "release") return;
      for (const path of placeholderPaths(listing)) {
        ctx.addIssue({ code: "custom", path, message: "placeholder left in a release listing" });
      }
    });
}

export type Listing = z.infer<ReturnType<typeof listingSchema>>;

// Every path whose string value still holds a placeholder (release mode refuses them all).
export function placeholderPaths(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (typeof value === "string") return PLACEHOLDER_ANYWHERE.test(value) ? [path] : [];
  if (Array.isArray(value)) return value.flatMap((item, index) => placeholderPaths(item, [...path, index]));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([key, item]) => placeholderPaths(item, [...path, key]));
  }
  return [];
}

// The certification harness's metadata.yaml (marketplace-community lib/community).
export const harnessMetadataSchema = z.object({
  ":app": z.object({
    ":name": z.string().min(1),
    ":type": z.literal("service"),
    ":os": z.object({ ":type": z.literal("linux"), ":base": z.string().min(1) }),
    ":hypervisor": z.literal("KVM"),
    ":context": z.object({ ":prefixed": z.boolean(), ":params": z.record(z.string(), z.string()) }),
  }),
  ":one": z.object({
    ":template": z.object({ NAME: z.string().min(1) }),
    ":datastore_name": z.string().min(1),
    ":timeout": numeric,
  }),
  ":infra": z.object({ ":disk_format": z.literal("qcow2"), ":apps_path": z.string().min(1) }),
});

// The ONEAPP_* parameters the appliance script declares (ONE_SERVICE_PARAMS in appliance/appliance.sh).
export function applianceParams(applianceScript: string): string[] {
  const block = /ONE_SERVICE_PARAMS=\(([\s\S]*?)\n\)/.exec(applianceScript)?.[1] ?? "";
  return [...block.matchAll(/^\s*'(ONEAPP_[A-Z0-9_]+)'/gm)].map((match) => match[1] as string);
}

// Cross-file consistency: every parameter of the appliance has a user input, and vice versa; the
// harness's params and context.yaml name only real parameters.
export function consistencyIssues(
  listing: Listing,
  params: string[],
  harness: z.infer<typeof harnessMetadataSchema>,
  context: Record<string, unknown>,
): string[] {
  const issues: string[] = [];
  const inputs = Object.keys(listing.opennebula_template.user_inputs).map((key) => key.toUpperCase());
  for (const param of params)
    if (!inputs.includes(param)) issues.push(`${param} (appliance.sh) has no user input in the listing`);
  for (const input of inputs)
    if (!params.includes(input)) issues.push(`user input ${input} is not a parameter of appliance.sh`);
  const prefixed = harness[":app"][":context"][":prefixed"];
  for (const key of Object.keys(harness[":app"][":context"][":params"])) {
    const name = key.replace(/^:/, "");
    const full = prefixed ? `ONEAPP_${name}` : name;
    if (prefixed && name.startsWith("ONEAPP_"))
      issues.push(`metadata.yaml param ${name}: with :prefixed: true it becomes ONEAPP_${name}`);
    else if (!params.includes(full))
      issues.push(`metadata.yaml param ${name} is not a parameter of appliance.sh`);
  }
  for (const key of Object.keys(context))
    if (!params.includes(key)) issues.push(`context.yaml ${key} is not a parameter of appliance.sh`);
  return issues;
}
