// Lint of the Grafana dashboard (make lint): node --import tsx scripts/dashboard.ts [FILE] checks FILE
// (default dashboards/slm-copilot.grafana.json): JSON, panels with queries, and every query naming only
// series the metrics checks know. Exit codes: 0 valid, 1 invalid, 2 unreadable or not JSON.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { dashboardIssues } from "./dashboard-lint.ts";

const file = process.argv[2] ?? resolve(import.meta.dirname, "../dashboards/slm-copilot.grafana.json");
let value: unknown;
try {
  value = JSON.parse(await readFile(file, "utf8"));
} catch (error) {
  console.error(`dashboard: ${file}: ${(error as Error).message}`);
  process.exit(2);
}
const issues = dashboardIssues(value);
for (const issue of issues) console.error(`dashboard: ${file}: ${issue}`);
if (issues.length > 0) process.exit(1);
console.log(`lint: Grafana dashboard ${file} valid`);
