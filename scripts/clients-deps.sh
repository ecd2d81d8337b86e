#!/usr/bin/env bash
# Installs the real coding clients that test/real-clients.test.ts (and the lab test) run against the
# appliance's nginx site: Cline CLI and Continue CLI, pinned in fixtures/clients/package.json (+ lock),
# into fixtures/clients/node_modules. Test-only: never part of the root package or dist/slmc-check.
# Cline's linux-x64 binary package is listed explicitly, so optional dependencies are omitted (the other
# platforms' binaries, which the registry mirror here lacks, and Continue's image library). No install
# scripts run: Cline's postinstall only caches a hard link to that binary, which its wrapper finds anyway.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly DIR="${ROOT}/fixtures/clients"
readonly PING_TIMEOUT_S=30
readonly INSTALL_TIMEOUT_S=900

installed() {
  [[ -x "${DIR}/node_modules/.bin/cline" && -x "${DIR}/node_modules/.bin/cn" &&
    -x "${DIR}/node_modules/@cline/cli-linux-x64/bin/cline" ]]
}

main() {
  if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
    echo "clients-deps: only Cline's linux-x64 binary is pinned here; skipping on $(uname -s)-$(uname -m)" >&2
    return 0
  fi
  # Already as pinned (a content check, fast): nothing to do.
  if installed && node "${ROOT}/scripts/deps-current.mjs" "${DIR}"; then
    return 0
  fi
  local registry
  registry="$(npm config get registry)"
  if ! timeout "${PING_TIMEOUT_S}" npm ping --loglevel=error >/dev/null 2>&1; then
    echo "clients-deps: the npm registry ${registry} did not answer within ${PING_TIMEOUT_S} s;" \
      "cline and @continuedev/cli cannot be installed (retry: scripts/clients-deps.sh)" >&2
    return 1
  fi
  if ! timeout "${INSTALL_TIMEOUT_S}" npm install --prefix "${DIR}" --omit=optional --ignore-scripts \
    --no-audit --no-fund --loglevel=error; then
    echo "clients-deps: npm install into ${DIR} failed or took over ${INSTALL_TIMEOUT_S} s (registry ${registry})" >&2
    return 1
  fi
  installed || {
    echo "clients-deps: cline or cn did not install into ${DIR}/node_modules" >&2
    return 1
  }
}

main "$@"
