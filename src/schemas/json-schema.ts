// A small JSON Schema validator for the subset that OpenAI function tools use (type, properties,
// required, enum, const, items, additionalProperties, anyOf/oneOf, minItems/maxItems, minLength).
// Unknown keywords are ignored, as a permissive validator would. Pure: value + schema → problems.

export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  [keyword: string]: unknown;
};

const MAX_PROBLEMS = 10;
const MAX_DEPTH = 32;

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function matchesType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  if (type === "number") return actual === "number" || actual === "integer";
  return actual === type;
}

function isSchema(value: unknown): value is JsonSchema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every way `value` breaks `schema` (JSON-pointer-like paths, at most 10 problems); [] when valid. */
export function validateJson(value: unknown, schema: unknown, at = "$", depth = 0): string[] {
  if (!isSchema(schema) || depth > MAX_DEPTH) return [];
  const problems: string[] = [];
  const add = (problem: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(problem);
  };
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((type) => matchesType(value, type))) {
      add(`${at}: expected ${types.join(" or ")}, got ${typeOf(value)}`);
      return problems;
    }
  }
  if (
    schema.enum !== undefined &&
    !schema.enum.some((option) => JSON.stringify(option) === JSON.stringify(value))
  )
    add(
      `${at}: ${JSON.stringify(value)?.slice(0, 60)} is not one of ${JSON.stringify(schema.enum).slice(0, 120)}`,
    );
  if ("const" in schema && JSON.stringify(schema.const) !== JSON.stringify(value))
    add(`${at}: must be ${JSON.stringify(schema.const)}`);
  for (const keyword of ["anyOf", "oneOf"] as const) {
    const options = schema[keyword];
    if (Array.isArray(options) && options.length > 0) {
      const passing = options.filter(
        (option) => validateJson(value, option, at, depth + 1).length === 0,
      ).length;
      if (passing === 0 || (keyword === "oneOf" && passing > 1))
        add(`${at}: matches ${passing} of the ${keyword} alternatives`);
    }
  }
  if (typeof value === "string" && typeof schema.minLength === "number" && value.length < schema.minLength)
    add(`${at}: shorter than ${schema.minLength} characters`);
  if (Array.isArray(value)) {
    if (typeof schema.minItems === "number" && value.length < schema.minItems)
      add(`${at}: fewer than ${schema.minItems} items`);
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems)
      add(`${at}: more than ${schema.maxItems} items`);
    value.forEach((item, i) => validateJson(item, schema.items, `${at}[${i}]`, depth + 1).forEach(add));
  }
  if (typeOf(value) === "object") {
    const object = value as Record<string, unknown>;
    for (const name of schema.required ?? [])
      if (!Object.hasOwn(object, name)) add(`${at}: required property "${name}" is missing`);
    const properties = schema.properties ?? {};
    for (const [name, item] of Object.entries(object)) {
      const where = `${at}.${name}`;
      if (Object.hasOwn(properties, name))
        validateJson(item, properties[name], where, depth + 1).forEach(add);
      else if (schema.additionalProperties === false) add(`${where}: property not allowed by the schema`);
      else if (isSchema(schema.additionalProperties))
        validateJson(item, schema.additionalProperties, where, depth + 1).forEach(add);
    }
  }
  return problems;
}
