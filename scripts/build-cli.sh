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
    --external cpu-features \
    --outfile "${outfile}" "$@"
}

# ssh2's optional native parts (cpu-features, sshcrypto.node) must not be built: the binary would embed
# host-specific code. package.json's allowScripts denies their install scripts; check it held.
assert_no_native_addons() {
  local found
  found="$(find "${ROOT}/node_modules/ssh2" "${ROOT}/node_modules/cpu-features" -name '*.node' 2>/dev/null || true)"
  if [[ -n "${found}" ]]; then
    echo "build-cli: native addons present (would be embedded): ${found}" >&2
    exit 1
  fi
}

main() {
  assert_no_native_addons
  mkdir -p "${DIST}"
  compile src/main.ts "${DIST}/slmc-check"
  compile src/main.ts "${DIST}/slmc-check-baseline" \
    --target=bun-linux-x64-baseline --compile-executable-path="${BASELINE_RUNTIME}"
  compile fixtures/engine/main.ts "${DIST}/local-ai-stand-in"
  ls -l "${DIST}"
}

main "$@"
