// build-cli.sh's cache of dist/: `inputs OUT META...` writes the union of bun metafiles' input paths
// (relative to the checkout), sorted, one a line; `key ROOT BUN_VERSION INPUTS FIXED...` prints a
// sha256 over the bun version and the contents of the fixed files and of every listed input (a listed
// file that is gone enters the key as missing, so the key changes).
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [command, ...args] = process.argv.slice(2);

function inputs(out, metas) {
  const all = new Set(metas.flatMap((m) => Object.keys(JSON.parse(readFileSync(m, "utf8")).inputs)));
  writeFileSync(out, [...all].sort().join("\n") + "\n");
}

function key(root, bunVersion, inputsFile, fixed) {
  const listed = existsSync(inputsFile) ? readFileSync(inputsFile, "utf8").split("\n").filter(Boolean) : [];
  const hash = createHash("sha256").update(`bun ${bunVersion}\n`);
  for (const file of [...fixed, ...listed]) {
    const path = join(root, file);
    hash.update(`${file}\n`);
    hash.update(existsSync(path) ? readFileSync(path) : "missing\n");
  }
  console.log(hash.digest("hex"));
}

if (command === "inputs") inputs(args[0], args.slice(1));
else if (command === "key") key(args[0], args[1], args[2], args.slice(3));
else {
  console.error(`build-cache: unknown command ${command ?? "(none)"}; expected inputs or key`);
  process.exit(2);
}
