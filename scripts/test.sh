#!/usr/bin/env bash
# The test command (README: `make test`). Builds the binaries, then runs every test and lint step and
# ends with one line: "N passed, N failed", counting every tap assertion and every lint step.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly LOG_DIR="${ROOT}/.tap"
passed=0
failed=0

step() {
  local name="$1"
  shift
  echo "== ${name}"
  if "$@"; then
    passed=$((passed + 1))
    echo "ok - ${name}"
  else
    failed=$((failed + 1))
    echo "not ok - ${name}"
  fi
}

bash_files() {
  git -C "${ROOT}" ls-files -co --exclude-standard '*.sh' '.ci/run' 'appliance/*' 'packer/*' 'fixtures/lab/*' 'scripts/*' |
    while read -r file; do
      [[ -f "${ROOT}/${file}" ]] && head -n1 "${ROOT}/${file}" | grep -qE '^#!.*(bash|sh)' && echo "${ROOT}/${file}"
    done
}

run_shellcheck() {
  local files
  mapfile -t files < <(bash_files)
  ((${#files[@]} == 0)) || shellcheck --severity=style "${files[@]}"
}

run_tap() {
  mkdir -p "${LOG_DIR}"
  local status=0
  (cd "${ROOT}" && npx tap --reporter=tap --jobs=1 "$@") | tee "${LOG_DIR}/tap.log" || status=$?
  local summary
  summary="$(grep -E '^# \{ total: ' "${LOG_DIR}/tap.log" | tail -n1 || true)"
  if [[ -z "${summary}" ]]; then
    echo "tap printed no summary" >&2
    failed=$((failed + 1))
    return
  fi
  local total pass fail skip
  total="$(sed -E 's/.*total: ([0-9]+).*/\1/' <<<"${summary}")"
  pass="$(grep -oE 'pass: [0-9]+' <<<"${summary}" | grep -oE '[0-9]+' || echo 0)"
  fail="$(grep -oE 'fail: [0-9]+' <<<"${summary}" | grep -oE '[0-9]+' || echo 0)"
  skip="$(grep -oE 'skip: [0-9]+' <<<"${summary}" | grep -oE '[0-9]+' || echo 0)"
  passed=$((passed + pass))
  failed=$((failed + fail))
  # A non-zero exit without failed assertions (crash, timeout, coverage) still counts as a failure.
  if ((status != 0 && fail == 0)); then failed=$((failed + 1)); fi
  # Skips count neither as passed nor as failed; they are listed by name in the tap log above.
  echo "tap: ${total} assertions, ${pass} passed, ${fail} failed, ${skip} skipped (exit ${status})"
}

main() {
  cd "${ROOT}"
  step "build binaries" npm run --silent build
  step "type check (tsc --strict)" npx tsc -p .
  step "format (prettier --check)" npx prettier --check --log-level warn .
  step "shellcheck" run_shellcheck
  step "packer fmt + validate (release, lab)" scripts/lint.sh packer
  step "marketplace schema" scripts/lint.sh marketplace
  # The stand-in's real llama.cpp backend: installed apart from the root package; once it is, its test
  # must run (not skip).
  step "llama.cpp CPU binding (scripts/llama-deps.sh)" scripts/llama-deps.sh
  if [[ -f fixtures/engine/llama/node_modules/node-llama-cpp/package.json ]]; then export SLMC_REQUIRE_LLAMA=1; fi
  # The real coding clients (Cline CLI, Continue CLI), installed apart from the root package; once they
  # are, test/real-clients.test.ts must run them (not skip).
  step "real clients: Cline CLI, Continue CLI (scripts/clients-deps.sh)" scripts/clients-deps.sh
  if [[ -x fixtures/clients/node_modules/.bin/cline && -x fixtures/clients/node_modules/.bin/cn ]]; then
    export SLMC_REQUIRE_CLIENTS=1
  fi
  run_tap "$@"
  echo
  echo "${passed} passed, ${failed} failed"
  ((failed == 0))
}

main "$@"
