#!/usr/bin/env bash
# Lint pieces, shared by `make lint` (all of them) and scripts/test.sh, which runs tsc, prettier and
# ShellCheck as its own steps and calls the packer and marketplace pieces from here.
#   lint.sh packer       packer fmt -check and packer validate of the release and lab templates; the
#                        release template is validated WITHOUT plugins.pkr.hcl (Packer 1.6.6 rejects
#                        required_plugins; current Packer needs it, see packer/release/plugins.pkr.hcl)
#   lint.sh marketplace  marketplace/ listing (draft mode), metadata.yaml, context.yaml: zod schema
#   lint.sh oneflow [F]  the OneFlow service template (marketplace/oneflow/, or F): zod schema
#   lint.sh dashboard [F] the Grafana dashboard (dashboards/, or F): JSON, and every query names only
#                        series the metrics checks know (src/probes/metrics-series.ts)
#   lint.sh shellcheck   shellcheck --severity=style on every bash file in the repository
#   lint.sh all          tsc, prettier --check, shellcheck, packer, marketplace, oneflow, dashboard
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT

bash_files() {
  git -C "${ROOT}" ls-files -co --exclude-standard '*.sh' 'build.sh' '.ci/run' 'appliance/*' 'packer/*' 'fixtures/lab/*' 'scripts/*' |
    sort -u | while read -r file; do
      [[ -f "${ROOT}/${file}" ]] && head -n1 "${ROOT}/${file}" | grep -qE '^#!.*(bash|sh)' && echo "${ROOT}/${file}"
    done
}

lint_shellcheck() {
  local files
  mapfile -t files < <(bash_files)
  shellcheck --severity=style "${files[@]}"
  echo "lint: shellcheck clean (${#files[@]} files)"
}

lint_packer() {
  local work status=0
  work="$(mktemp -d)"
  # shellcheck disable=SC2064  # expand now: the directory is this call's
  trap "rm -rf '${work}'" RETURN
  ssh-keygen -q -t ed25519 -N '' -f "${work}/key"
  touch "${work}/seed.iso" "${work}/base.qcow2"
  packer fmt -check -diff "${ROOT}/packer/release" || status=1
  packer fmt -check -diff "${ROOT}/packer/lab" || status=1
  mkdir -p "${work}/release"
  cp "${ROOT}/packer/release/slm-copilot.pkr.hcl" "${ROOT}/packer/release/variables.pkr.hcl" "${work}/release/"
  packer validate -var "base_image_url=file://${work}/base.qcow2" \
    -var "base_image_checksum=sha256:$(sha256sum "${work}/base.qcow2" | cut -d' ' -f1)" \
    -var "ssh_private_key_file=${work}/key" -var "seed_iso=${work}/seed.iso" -var "sources_dir=${work}" \
    -var "one_apps_dir=${work}" -var "one_context_dir=${work}" -var "repo_dir=${ROOT}" \
    -var "output_dir=${work}/out" -var "build_id=lint" -var "image_version=0.0.0" \
    -var "build_time=1970-01-01T00:00:00Z" "${work}/release" || status=1
  packer validate -var "base_image=${work}/base.qcow2" -var "kernel=${work}/base.qcow2" \
    -var "initrd=${work}/base.qcow2" -var "ssh_private_key_file=${work}/key" -var "sources_dir=${work}" \
    -var "repo_dir=${ROOT}" -var "output_dir=${work}/out" -var "build_id=lint" \
    -var "build_time=1970-01-01T00:00:00Z" "${ROOT}/packer/lab/slm-copilot-lab.pkr.hcl" || status=1
  ((status == 0)) && echo "lint: packer fmt and validate clean (release without plugins.pkr.hcl, lab)"
  return "${status}"
}

lint_marketplace() {
  (cd "${ROOT}" && node --import tsx scripts/marketplace.ts check)
}

lint_oneflow() {
  (cd "${ROOT}" && node --import tsx scripts/oneflow.ts "$@")
}

lint_dashboard() {
  (cd "${ROOT}" && node --import tsx scripts/dashboard.ts "$@")
}

lint_all() {
  local status=0
  (cd "${ROOT}" && npx tsc -p .) || status=1
  (cd "${ROOT}" && npx prettier --check --log-level warn .) || status=1
  lint_shellcheck || status=1
  lint_packer || status=1
  lint_marketplace || status=1
  lint_oneflow || status=1
  lint_dashboard || status=1
  ((status == 0)) && echo "lint: all clean"
  return "${status}"
}

main() {
  case "${1:-}" in
    packer) lint_packer ;;
    marketplace) lint_marketplace ;;
    oneflow) lint_oneflow "${@:2}" ;;
    dashboard) lint_dashboard "${@:2}" ;;
    shellcheck) lint_shellcheck ;;
    all) lint_all ;;
    *)
      echo "usage: lint.sh packer|marketplace|oneflow [FILE]|dashboard [FILE]|shellcheck|all" >&2
      return 2
      ;;
  esac
}

main "$@"
