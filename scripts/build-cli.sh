#!/usr/bin/env bash
# Compiles slmc-check (x64 and x64-baseline) and the LocalAI stand-in into single executables in dist/.
# Offline: the baseline runtime comes from the @oven/bun-linux-x64-baseline npm package.
# Reused when nothing it reads changed: dist/.build-key is a hash of the bun version, this script, the
# package manifests and every file the last build read (bun's metafiles, listed in dist/.build-inputs).
# A new import changes a file already listed, so the key moves with the import graph. A fresh clone,
# `make clean` or SLMC_REBUILD=1 builds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly BUN="${ROOT}/node_modules/.bin/bun"
readonly BASELINE_RUNTIME="${ROOT}/node_modules/@oven/bun-linux-x64-baseline/bin/bun"
readonly DIST="${ROOT}/dist"
readonly KEY_FILE="${DIST}/.build-key"
readonly INPUTS_FILE="${DIST}/.build-inputs"
readonly OUTPUTS=(slmc-check slmc-check-baseline local-ai-stand-in)

package_version() {
  node -p 'require(process.argv[1]).version' "${ROOT}/package.json"
}

compile() {
  local entry="$1" name="$2"
  shift 2
  (cd "${ROOT}" && "${BUN}" build "${entry}" --compile --minify --bytecode \
    --no-compile-autoload-dotenv --no-compile-autoload-bunfig \
    --define "SLMC_VERSION=\"$(package_version)\"" \
    --external cpu-features \
    --metafile="${DIST}/.meta-${name}.json" \
    --outfile "${DIST}/${name}" "$@")
}

# Every input file of the three builds (paths relative to ROOT), one a line; the metafiles go.
write_inputs() {
  local name metas=()
  for name in "${OUTPUTS[@]}"; do metas+=("${DIST}/.meta-${name}.json"); done
  node "${ROOT}/scripts/build-cache.mjs" inputs "${INPUTS_FILE}" "${metas[@]}"
  rm -f "${metas[@]}"
}

build_key() {
  node "${ROOT}/scripts/build-cache.mjs" key "${ROOT}" "$("${BUN}" --version)" "${INPUTS_FILE}" \
    scripts/build-cli.sh scripts/build-cache.mjs package.json package-lock.json
}

# True when every output exists and the key written by the last complete build still holds.
reusable() {
  local name
  [[ -z "${SLMC_REBUILD:-}" && -s "${INPUTS_FILE}" && -f "${KEY_FILE}" ]] || return 1
  for name in "${OUTPUTS[@]}"; do [[ -x "${DIST}/${name}" ]] || return 1; done
  [[ "$(build_key)" == "$(cat "${KEY_FILE}")" ]]
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
  if reusable; then
    echo "build-cli: dist/ reused (inputs unchanged, key $(cut -c1-12 "${KEY_FILE}"); SLMC_REBUILD=1 forces a build)"
    return 0
  fi
  mkdir -p "${DIST}"
  rm -f "${KEY_FILE}"
  compile src/main.ts slmc-check
  compile src/main.ts slmc-check-baseline \
    --target=bun-linux-x64-baseline --compile-executable-path="${BASELINE_RUNTIME}"
  compile fixtures/engine/main.ts local-ai-stand-in
  write_inputs
  build_key >"${KEY_FILE}"
  ls -l "${DIST}"
}

main "$@"
