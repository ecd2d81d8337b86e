// Exit 0 when DIR/node_modules holds what DIR's package.json and package-lock.json pin: the lock's
// root dependencies are package.json's, and every non-optional package of the lock is installed at its
// locked version (npm's own record, node_modules/.package-lock.json). A content check, so a fresh
// checkout's newer file times do not force a reinstall. Exit 1 with the first difference otherwise.
import { existsSync, readFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { join } from "node:path";

const dir = process.argv[2];
const read = (file) => JSON.parse(readFileSync(join(dir, file), "utf8"));

function difference() {
  if (!existsSync(join(dir, "node_modules/.package-lock.json"))) return "nothing installed yet";
  const manifest = read("package.json");
  const lock = read("package-lock.json");
  const installed = read("node_modules/.package-lock.json").packages ?? {};
  if (!isDeepStrictEqual(lock.packages?.[""]?.dependencies ?? {}, manifest.dependencies ?? {}))
    return "package-lock.json does not pin package.json's dependencies";
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (path === "" || entry.optional) continue;
    if (installed[path]?.version !== entry.version)
      return `${path}: locked ${entry.version}, installed ${installed[path]?.version ?? "none"}`;
    if (!existsSync(join(dir, path, "package.json"))) return `${path} is missing`;
  }
  return undefined;
}

const why = difference();
if (why) {
  console.log(`${dir}: ${why}`);
  process.exit(1);
}
