// Lint of the OneFlow service template (make lint): node --import tsx scripts/oneflow.ts [FILE]
// checks FILE (default marketplace/oneflow/slm-copilot-pool.json) against src/schemas/oneflow.ts and
// prints every problem with its key. Exit codes: 0 valid, 1 invalid, 2 unreadable or not JSON.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { poolTemplateIssues } from "../src/schemas/oneflow.ts";

const file = process.argv[2] ?? resolve(import.meta.dirname, "../marketplace/oneflow/slm-copilot-pool.json");
let value: unknown;
try {
  value = JSON.parse(await readFile(file, "utf8"));
} catch (error) {
  console.error(`oneflow: ${file}: ${(error as Error).message}`);
  process.exit(2);
}
const issues = poolTemplateIssues(value);
for (const issue of issues) console.error(`oneflow: ${file}: ${issue}`);
if (issues.length > 0) process.exit(1);
console.log(`lint: OneFlow template ${file} valid`);
