#!/usr/bin/env bash
# The test command (README: `make test`). Builds the binaries (or reuses dist/), then runs every test and lint step and
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

# Lint steps run in the background beside the parallel tap phase (they only read the tree); each
# writes its output and exit status to files, read back in order by finish_lint_steps.
LINT_NAMES=()

start_lint_step() {
  local name="$1" index="${#LINT_NAMES[@]}"
  shift
  LINT_NAMES+=("${name}")
  (
    status=0
    "$@" >"${LOG_DIR}/lint-${index}.log" 2>&1 || status=$?
    echo "${status}" >"${LOG_DIR}/lint-${index}.status"
  ) &
}

finish_lint_steps() {
  wait
  local index status
  for index in "${!LINT_NAMES[@]}"; do
    echo "== ${LINT_NAMES[index]}"
    cat "${LOG_DIR}/lint-${index}.log"
    status="$(cat "${LOG_DIR}/lint-${index}.status" 2>/dev/null || echo missing)"
    if [[ "${status}" == "0" ]]; then
      passed=$((passed + 1))
      echo "ok - ${LINT_NAMES[index]}"
    else
      failed=$((failed + 1))
      echo "not ok - ${LINT_NAMES[index]} (exit ${status})"
    fi
  done
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

# Test files whose assertions judge wall-clock timing (exact schedules, the compiled binary's demo): they
# run after the others, when no CPU-bound test loads the two cores, side by side at nice 10 beside the
# PRECISE_FILES; each nginx they start binds ports no other one drew (fixtures/ports.ts).
readonly TIMING_FILES=(
  test/nginx-site.test.ts
  test/binary.test.ts
  test/healthy.test.ts
)
# A timing file that runs alone: it judges a 500 tok/s stream's 2 ms gaps, which the other timing files'
# CPU merged into bursts when it ran beside them.
readonly ALONE_FILES=(
  test/fast-stream.test.ts
)
readonly TIMING_JOBS=4
# Timing files whose bounds are a few milliseconds or percent (the bench's TTFT and decode rate against
# the stand-in's send instants): one at a time, beside the other timing files but ahead of them for the
# CPU (at nice 10 beside them, bench-agentic's TTFT was 88 ms late).
readonly PRECISE_FILES=(
  test/bench-accuracy.test.ts
  test/bench-agentic.test.ts
)
# Test files that boot a VM under TCG: one at a time, last.
readonly VM_FILES=(
  test/release-build.test.ts
  test/lab.test.ts
  test/lab-real-engine.test.ts
)
# The rest mostly wait on sockets, timeouts and child processes (measured: ~200 s of CPU over ~500 s of
# file wall time), so four at a time keep the two cores busy without queueing them.
readonly PARALLEL_JOBS=4

# The files that wait longest (hung-host timeouts, fault schedules, builds), started first so that none
# of them begins near the end and holds the phase open alone (measured one at a time: 45 and 39 s for
# the first two, under 20 s for every other file).
readonly LONG_FILES=(
  test/fleet.test.ts
  test/defects.test.ts
  test/gate-command.test.ts
  test/bench-report.test.ts
  test/bench-real-engine.test.ts
  test/marketplace.test.ts
  test/real-clients.test.ts
  test/tune-command.test.ts
  test/llama-sid.test.ts
)

is_listed() {
  local file="$1" listed
  shift
  for listed in "$@"; do
    [[ "${file}" == "${listed}" ]] && return 0
  done
  return 1
}

other_test_files() {
  local file
  for file in "${LONG_FILES[@]}" test/*.test.ts; do
    if is_listed "${file}" "${TIMING_FILES[@]}" "${PRECISE_FILES[@]}" "${ALONE_FILES[@]}" "${VM_FILES[@]}"; then
      continue
    fi
    if [[ -f "${file}" ]]; then echo "${file}"; fi
  done | awk '!seen[$0]++'
}

# One tap run at the given niceness, its output shown and kept in .tap/tap-NAME.log and its exit status
# in .tap/tap-NAME.status. Returns 0 whatever tap did: count_tap judges the run.
run_tap() {
  local name="$1" jobs="$2" niceness="$3"
  shift 3
  local log="${LOG_DIR}/tap-${name}.log" status=0
  mkdir -p "${LOG_DIR}"
  echo "== tap (${name}, --jobs=${jobs}, nice ${niceness})"
  (cd "${ROOT}" && nice -n "${niceness}" npx tap --reporter=tap --jobs="${jobs}" "$@") | tee "${log}" || status=$?
  echo "${status}" >"${LOG_DIR}/tap-${name}.status"
}

# Adds a finished run's summary to the totals. A run that printed no summary, or exited non-zero
# without a failed assertion (crash, timeout), counts as one failure.
count_tap() {
  local name="$1"
  local log="${LOG_DIR}/tap-${name}.log" status
  status="$(cat "${LOG_DIR}/tap-${name}.status" 2>/dev/null || echo missing)"
  local summary
  summary="$(grep -E '^# \{ total: ' "${log}" 2>/dev/null | tail -n1 || true)"
  if [[ -z "${summary}" ]]; then
    echo "tap (${name}) printed no summary (exit ${status})" >&2
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
  if [[ "${status}" != 0 && "${fail}" == 0 ]]; then failed=$((failed + 1)); fi
  # Skips count neither as passed nor as failed; they are listed by name in the tap log above.
  echo "tap (${name}): ${total} assertions, ${pass} passed, ${fail} failed, ${skip} skipped (exit ${status})"
}

tap_phase() {
  local name="$1" jobs="$2"
  shift 2
  run_tap "${name}" "${jobs}" 0 "$@"
  count_tap "${name}"
}

# The timing files: PRECISE_FILES at normal priority, beside the others at nice 10, so that when both
# want a core the sub-millisecond measurements get it. The precise run's output is shown after it ends.
timing_phase() {
  local precise_pid
  run_tap precise 1 0 "${PRECISE_FILES[@]}" >/dev/null &
  precise_pid=$!
  run_tap timing "${TIMING_JOBS}" 10 "$@"
  wait "${precise_pid}"
  cat "${LOG_DIR}/tap-precise.log"
  count_tap precise
  count_tap timing
}

# tsc and prettier keep their caches (keyed by file contents and their own versions) in node_modules/.cache:
# a rerun checks only what changed, ~20 s of CPU less beside the tests.
readonly LINT_CACHE="${ROOT}/node_modules/.cache/slmc-check"

start_lint_steps() {
  mkdir -p "${LINT_CACHE}"
  start_lint_step "type check (tsc --strict)" npx tsc -p . --incremental --tsBuildInfoFile "${LINT_CACHE}/tsc.tsbuildinfo"
  start_lint_step "format (prettier --check)" npx prettier --check --log-level warn \
    --cache --cache-strategy content --cache-location "${LINT_CACHE}/prettier-cache" .
  start_lint_step "shellcheck" run_shellcheck
  start_lint_step "packer fmt + validate (release, lab)" scripts/lint.sh packer
  start_lint_step "marketplace schema" scripts/lint.sh marketplace
  start_lint_step "OneFlow template schema" scripts/lint.sh oneflow
  start_lint_step "Grafana dashboard queries" scripts/lint.sh dashboard
}

# With arguments (files or tap options): one serial run of exactly those. Without: every test file,
# the timing ones after the rest and after the lint steps have ended (the fast stream alone, the others
# side by side), then the VM ones one at a time.
run_tests() {
  start_lint_steps
  if (($# > 0)); then
    tap_phase selected 1 "$@"
    finish_lint_steps
    return
  fi
  local others
  mapfile -t others < <(other_test_files)
  tap_phase parallel "${PARALLEL_JOBS}" "${others[@]}"
  finish_lint_steps
  tap_phase alone 1 "${ALONE_FILES[@]}"
  if [[ "${SLMC_SKIP_LAB:-}" == "1" ]]; then
    # The VM files only report their skip: no phase of their own.
    timing_phase "${TIMING_FILES[@]}" "${VM_FILES[@]}"
  else
    timing_phase "${TIMING_FILES[@]}"
    tap_phase vm 1 "${VM_FILES[@]}"
  fi
}

main() {
  cd "${ROOT}"
  mkdir -p "${LOG_DIR}"
  rm -f "${LOG_DIR}"/lint-*
  step "build binaries" npm run --silent build
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
  run_tests "$@"
  echo
  echo "${passed} passed, ${failed} failed"
  ((failed == 0))
}

main "$@"
