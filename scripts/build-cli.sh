#!/usr/bin/env bash
# Compiles slmc-check (x64 and x64-baseline) and the LocalAI stand-in into single executables in dist/.
# Offline: the baseline runtime comes from the @oven/bun-linux-x64-baseline npm package.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly BUN="${ROOT}/node_modules/.bin/bun"
readonly BASELINE_RUNTIME="${ROOT}/node_modules/@oven/bun-linux-x64-baseline/bin/bun"
readonly DIST="${ROOT}/dist"

package_version() {
  node -p 'require(process.argv[1]).version' "${ROOT}/package.json"
}

compile() {
  local entry="$1" outfile="$2"
  shift 2
  "${BUN}" build "${ROOT}/${entry}" --compile --minify --bytecode \
    --no-compile-autoload-dotenv --no-compile-autoload-bunfig \
    --define "SLMC_VERSION=\"$(package_version)\"" \
    --outfile "${outfile}" "$@"
}

main() {
  mkdir -p "${DIST}"
  compile src/main.ts "${DIST}/slmc-check"
  compile src/main.ts "${DIST}/slmc-check-baseline" \
    --target=bun-linux-x64-baseline --compile-executable-path="${BASELINE_RUNTIME}"
  compile fixtures/engine/main.ts "${DIST}/local-ai-stand-in"
  ls -l "${DIST}"
}

main "$@"
