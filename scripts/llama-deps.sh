#!/usr/bin/env bash
# Installs the stand-in engine's optional llama.cpp binding (node-llama-cpp + its prebuilt linux-x64 CPU
# binary only) into fixtures/engine/llama/node_modules. No install scripts run: node-llama-cpp's
# postinstall would download or build llama.cpp; the prebuilt binary is used as shipped.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly DIR="${ROOT}/fixtures/engine/llama"

installed() {
  [[ -f "${DIR}/node_modules/node-llama-cpp/package.json" && -d "${DIR}/node_modules/@node-llama-cpp/linux-x64" ]]
}

main() {
  if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
    echo "llama-deps: the prebuilt CPU binary used here is linux-x64 only; skipping" >&2
    return 0
  fi
  # Already as pinned (a content check, fast): nothing to do.
  if installed && node "${ROOT}/scripts/deps-current.mjs" "${DIR}"; then
    return 0
  fi
  npm install --prefix "${DIR}" --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error
  installed || { echo "llama-deps: node-llama-cpp did not install into ${DIR}" >&2; return 1; }
}

main "$@"
