// The layers of docs/architecture.md, enforced on every import in the tree (static, `export … from`,
// dynamic `import()` and `import("…")` types): shipped code never reaches into suites/ or the test
// rigs in fixtures/, suites never use fixtures/, and a lower layer never imports a higher one.
import t from "tap";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const ROOT = resolve(import.meta.dirname, "..");
const SCANNED = ["src", "suites", "fixtures", "scripts", "test"];

export interface Edge {
  from: string;
  to: string;
}

interface Rule {
  from: RegExp;
  to: RegExp;
  why: string;
}

const SHIPPED_LOWER = /^src\/(core|probes|bench|soak|reporters|schemas|sim|gate)\//;

export const RULES: Rule[] = [
  { from: SHIPPED_LOWER, to: /^suites\//, why: "library code must not depend on checks (suites/)" },
  { from: /^src\//, to: /^fixtures\//, why: "shipped code must not import test rigs (fixtures/)" },
  { from: /^suites\//, to: /^fixtures\//, why: "a suite must not import test rigs (fixtures/)" },
  {
    from: /^src\/probes\//,
    to: /^src\/(core|reporters|commands|cli|bench|soak|sim|gate)\//,
    why: "probes are the lowest layer: they import no core, reporter, command or CLI code",
  },
  {
    from: /^src\/core\//,
    to: /^src\/(reporters|commands|cli|bench|soak|sim|gate)\//,
    why: "core must not import reporters, commands, the CLI or the commands' libraries",
  },
  {
    from: /^src\/(reporters|bench|soak|schemas|sim|gate)\//,
    to: /^src\/(commands|cli)\//,
    why: "libraries must not import commands or the CLI",
  },
  {
    from: /^src\/(reporters|bench|soak|sim)\//,
    to: /^src\/gate\//,
    why: "the gate judges what reporters, bench and soak produce: they must not depend on it",
  },
  {
    from: /^src\/schemas\//,
    to: /^src\/(core|probes|reporters|bench|soak|sim|gate)\//,
    why: "schemas are data definitions only",
  },
];

export function violations(edges: Edge[]): string[] {
  return edges.flatMap((edge) =>
    RULES.filter((rule) => rule.from.test(edge.from) && rule.to.test(edge.to)).map(
      (rule) => `${edge.from} imports ${edge.to}: ${rule.why}`,
    ),
  );
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(ROOT, dir), { withFileTypes: true });
  const nested = await Promise.all(
    entries.map(async (entry) => {
      const path = join(dir, entry.name);
      if (entry.name === "node_modules") return [];
      if (entry.isDirectory()) return sourceFiles(path);
      return /\.(ts|mts)$/.test(entry.name) ? [path] : [];
    }),
  );
  return nested.flat();
}

function specifiers(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    )
      found.push(node.moduleSpecifier.text);
    else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    )
      found.push(node.arguments[0].text);
    else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    )
      found.push(node.argument.literal.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

async function importEdges(): Promise<Edge[]> {
  const files = (await Promise.all(SCANNED.map(sourceFiles))).flat();
  const edges = await Promise.all(
    files.map(async (file) => {
      const text = await readFile(join(ROOT, file), "utf8");
      return specifiers(file, text)
        .filter((spec) => spec.startsWith("."))
        .map((spec) => ({ from: file, to: relative(ROOT, resolve(ROOT, dirname(file), spec)) }));
    }),
  );
  return edges.flat();
}

t.test("the rules flag each kind of layer breach", async (t) => {
  const breaches: Edge[] = [
    { from: "src/bench/send.ts", to: "suites/api.ts" },
    { from: "src/soak/load.ts", to: "fixtures/engine/process.ts" },
    { from: "src/commands/demo.ts", to: "fixtures/simulator.ts" },
    { from: "suites/api.ts", to: "fixtures/defects.ts" },
    { from: "src/probes/index.ts", to: "src/core/access.ts" },
    { from: "src/core/runner.ts", to: "src/reporters/index.ts" },
    { from: "src/core/check.ts", to: "src/cli/args.ts" },
    { from: "src/gate/evaluate.ts", to: "suites/soak.ts" },
    { from: "src/gate/bundle.ts", to: "src/commands/run.ts" },
    { from: "src/reporters/index.ts", to: "src/gate/layout.ts" },
  ];
  for (const edge of breaches) t.equal(violations([edge]).length, 1, `${edge.from} → ${edge.to} is flagged`);
  t.match(violations([breaches[0]!])[0], /src\/bench\/send\.ts imports suites\/api\.ts: .*suites/);
  const allowed: Edge[] = [
    { from: "src/commands/run.ts", to: "suites/index.ts" },
    { from: "src/core/check.ts", to: "src/probes/index.ts" },
    { from: "fixtures/engine/main.ts", to: "src/sim/engine/app.ts" },
    { from: "test/defects.test.ts", to: "fixtures/lab/pebble.ts" },
    { from: "src/gate/bundle.ts", to: "src/reporters/index.ts" },
    { from: "src/gate/evaluate.ts", to: "src/bench/report.ts" },
  ];
  t.same(violations(allowed), [], "imports that follow the layers pass");
});

t.test("no import in the tree crosses a layer the wrong way", async (t) => {
  const edges = await importEdges();
  const has = (from: string, to: string) => edges.some((e) => e.from === from && e.to === to);
  // The scan itself works: it sees static, type-only and dynamic imports.
  t.ok(has("src/commands/run.ts", "suites/index.ts"), "static import seen");
  t.ok(has("src/core/check.ts", "src/probes/index.ts"), "type-only import seen");
  t.ok(has("src/probes/access.ts", "src/probes/ssh.ts"), "import type seen");
  t.ok(has("fixtures/engine/main.ts", "fixtures/engine/llama-backend.ts"), "dynamic import() seen");
  t.ok(edges.length > 300, `${edges.length} relative imports scanned`);
  t.same(violations(edges), [], "every import follows docs/architecture.md's layers");
});
