#!/usr/bin/env bash
# Release build of the SLM-Copilot image (BUILD-06), step by step:
#   1 dependencies (with versions; prints how to install what is missing)
#   2 base image: download + sha256 verify (Ubuntu 24.04 cloud image)
#   3 one-apps: fetch the pinned release + verify, stage the framework files
#   4 one-context: fetch the pinned package + verify
#   5 build key + cloud-init seed ISO
#   6 Packer (packer/release/) with progress
#   7 compress: qemu-img convert -c -O qcow2
#   8 sha256 + md5 checksum files, virtual size, manifest.json
#   9 marketplace YAML filled in (checksums, size, version, URL) and schema-checked in release mode;
#     with --evidence, only from a release gate bundle that verifies, passed, and gated this image
# Resumable: downloads are kept in the cache and reused when their checksum still verifies; the Packer
# image and the compressed image are reused when their inputs did not change.
#
#   build.sh [--config FILE] [--output DIR] [--cache DIR] [--evidence DIR [--allowed-signer PUBKEY]]
#     --config  KEY=VALUE file (default packer/release/release.env; the lab uses the file written by
#               packer/lab/make-release-inputs.sh, whose inputs are all STAND-INS)
#     --output  where the image, checksums, manifest and marketplace YAML go (default out/)
#     --cache   downloads and intermediate images (default .build-cache/)
#     --evidence the `slmc-check gate --build-manifest <output>/manifest.json` bundle of a VM booted
#               from this image; run build.sh again with it after the gate (every step is reused)
#     --allowed-signer  the bundle must be signed by this SSH public key
#
# Exit codes: 0 built; 1 a build step failed; 2 usage or config error (incl. unverified pins);
# 3 missing dependency; 4 checksum mismatch of a download; 5 download failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly ROOT
readonly EXIT_STEP=1 EXIT_CONFIG=2 EXIT_DEPENDENCY=3 EXIT_CHECKSUM=4 EXIT_DOWNLOAD=5
readonly MARKETPLACE_TEMPLATE="${ROOT}/marketplace/bc128fd6-e83f-413a-8855-584c7db51e8c.yaml"
readonly STEPS=9
START_S="$(date +%s)"
readonly START_S

die() {
  local code="$1"
  shift
  echo "build: ERROR: $*" >&2
  exit "${code}"
}

say() {
  echo "build: $*"
}

step() {
  echo
  echo "== [$1/${STEPS}] $2 ($(($(date +%s) - START_S)) s)"
}

# --- configuration ---------------------------------------------------------------------------------

CONFIG="${ROOT}/packer/release/release.env"
OUTPUT="${ROOT}/out"
CACHE="${ROOT}/.build-cache"
EVIDENCE=""
ALLOWED_SIGNER=""

parse_args() {
  while (($# > 0)); do
    case "$1" in
      --config) CONFIG="${2:?--config needs a file}" ;;
      --output) OUTPUT="${2:?--output needs a directory}" ;;
      --cache) CACHE="${2:?--cache needs a directory}" ;;
      --evidence) EVIDENCE="${2:?--evidence needs a directory}" ;;
      --allowed-signer) ALLOWED_SIGNER="${2:?--allowed-signer needs a public key file}" ;;
      -h | --help)
        sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
      *) die "${EXIT_CONFIG}" "unknown argument '$1' (try --help)" ;;
    esac
    shift 2
  done
}

readonly REQUIRED_CONFIG=(
  SLMC_BUILD_PROFILE SLMC_IMAGE_NAME SLMC_IMAGE_VERSION SLMC_IMAGE_PUBLISH_URL SLMC_PUBLISHER_EMAIL
  SLMC_BASE_IMAGE_URL SLMC_BASE_IMAGE_SHA256 SLMC_ONE_APPS_URL SLMC_ONE_APPS_SHA256
  SLMC_ONE_CONTEXT_URL SLMC_ONE_CONTEXT_SHA256 SLMC_PACKER_ACCELERATOR SLMC_PACKER_CPU_MODEL
  SLMC_PACKER_MEMORY SLMC_PACKER_CPUS SLMC_PACKER_DISK_SIZE SLMC_PACKER_SKIP_RESIZE_DISK
)

load_config() {
  [[ -r "${CONFIG}" ]] || die "${EXIT_CONFIG}" "cannot read config ${CONFIG}"
  set -a
  # shellcheck source=/dev/null
  source "${CONFIG}"
  set +a
  local key missing=() unverified=()
  for key in "${REQUIRED_CONFIG[@]}"; do
    [[ -n "${!key:-}" ]] || missing+=("${key}")
  done
  ((${#missing[@]} == 0)) || die "${EXIT_CONFIG}" "${CONFIG} does not set: ${missing[*]}"
  for key in SLMC_BASE_IMAGE_SHA256 SLMC_ONE_APPS_SHA256 SLMC_ONE_CONTEXT_SHA256; do
    [[ "${!key}" =~ ^[0-9a-f]{64}$ ]] || unverified+=("${key}=${!key}")
  done
  if [[ -z "${SLMC_BUILD_SOURCES_DIR:-}" ]]; then
    [[ "${SLMC_MODEL_SHA256:-}" =~ ^[0-9a-f]{64}$ ]] || unverified+=("SLMC_MODEL_SHA256=${SLMC_MODEL_SHA256:-}")
  fi
  [[ "${SLMC_IMAGE_PUBLISH_URL}" =~ ^(https|file):// ]] || unverified+=("SLMC_IMAGE_PUBLISH_URL=${SLMC_IMAGE_PUBLISH_URL}")
  [[ "${SLMC_PUBLISHER_EMAIL}" =~ ^[^@[:space:]]+@[^@[:space:]]+\.[A-Za-z]+$ ]] || unverified+=("SLMC_PUBLISHER_EMAIL=${SLMC_PUBLISHER_EMAIL}")
  ((${#unverified[@]} == 0)) || die "${EXIT_CONFIG}" "refusing to build with unverified pins in ${CONFIG} (each needs the real sha256 / URL): ${unverified[*]}"
  if [[ "${SLMC_BUILD_PROFILE}" != release ]]; then
    say "profile ${SLMC_BUILD_PROFILE}: STAND-IN inputs: ${SLMC_BUILD_STAND_INS:-(not described)}"
  fi
}

# --- 1 dependencies --------------------------------------------------------------------------------

# command|Debian package|how to print its version
readonly DEPENDENCIES=(
  "packer|packer|packer version"
  "qemu-system-x86_64|qemu-system-x86|qemu-system-x86_64 --version"
  "qemu-img|qemu-utils|qemu-img --version"
  "curl|curl|curl --version"
  "sha256sum|coreutils|sha256sum --version"
  "md5sum|coreutils|md5sum --version"
  "tar|tar|tar --version"
  "genisoimage|genisoimage|genisoimage --version"
  "ssh-keygen|openssh-client|ssh -V"
  "jq|jq|jq --version"
  "node|nodejs|node --version"
)

check_dependencies() {
  local entry command package version_cmd version missing=() packages=()
  for entry in "${DEPENDENCIES[@]}"; do
    IFS='|' read -r command package version_cmd <<<"${entry}"
    if command -v "${command}" >/dev/null; then
      version="$(${version_cmd} 2>&1 || true)"
      version="$(grep -oE '[0-9]+\.[0-9]+(\.[0-9]+)?' <<<"${version}" | head -n1 || true)"
      printf '  ok       %-20s %s\n' "${command}" "${version:-?}"
    else
      printf '  MISSING  %-20s (Debian/Ubuntu package: %s)\n' "${command}" "${package}"
      missing+=("${command}")
      [[ " ${packages[*]} " == *" ${package} "* ]] || packages+=("${package}")
    fi
  done
  if ((${#missing[@]} > 0)); then
    echo "build: missing: ${missing[*]}" >&2
    echo "build: install them with: sudo apt-get install -y ${packages[*]}" >&2
    echo "build: (Packer >= 1.6.6; newer releases: https://developer.hashicorp.com/packer/install)" >&2
    exit "${EXIT_DEPENDENCY}"
  fi
  check_packer_version
  [[ -e "${ROOT}/node_modules/tsx" ]] || die "${EXIT_DEPENDENCY}" "node_modules is missing (the marketplace schema check needs it): run 'npm ci' in ${ROOT}"
}

PACKER_MINOR=0

check_packer_version() {
  local version major
  version="$(packer version | grep -m1 -oE '[0-9]+\.[0-9]+\.[0-9]+')"
  major="${version%%.*}"
  PACKER_MINOR="$(cut -d. -f2 <<<"${version}")"
  if ((major < 1 || (major == 1 && PACKER_MINOR < 6))); then
    die "${EXIT_DEPENDENCY}" "Packer ${version} is too old: need >= 1.6.6"
  fi
}

# --- downloads (2-4) -------------------------------------------------------------------------------

sha256_of() {
  sha256sum "$1" | cut -d' ' -f1
}

# fetch NAME URL SHA256 -> path of the verified file in the cache (stdout)
fetch() {
  local name="$1" url="$2" expected="$3" target actual
  target="${CACHE}/downloads/$(basename "${url%%\?*}")"
  mkdir -p "${CACHE}/downloads"
  if [[ -f "${target}" ]]; then
    if [[ "$(sha256_of "${target}")" == "${expected}" ]]; then
      say "${name}: reusing verified download ${target}" >&2
      echo "${target}"
      return
    fi
    say "${name}: cached ${target} no longer matches its sha256; downloading again" >&2
    rm -f "${target}"
  fi
  say "${name}: downloading ${url}" >&2
  local progress=(-sS)
  [[ -t 2 ]] && progress=(--progress-bar)
  if ! curl -fL --retry 3 "${progress[@]}" -C - -o "${target}.part" "${url}"; then
    # A .part left complete by an interrupted run cannot be resumed further: accept it if it verifies.
    if [[ ! -f "${target}.part" || "$(sha256_of "${target}.part")" != "${expected}" ]]; then
      die "${EXIT_DOWNLOAD}" "${name}: download of ${url} failed; ${target}.part is kept and resumed next run (delete it to start over)"
    fi
  fi
  actual="$(sha256_of "${target}.part")"
  if [[ "${actual}" != "${expected}" ]]; then
    rm -f "${target}.part"
    die "${EXIT_CHECKSUM}" "${name}: checksum mismatch for ${url}: expected sha256 ${expected}, got ${actual}; the file was deleted, nothing was built"
  fi
  mv "${target}.part" "${target}"
  say "${name}: verified sha256 ${actual}" >&2
  echo "${target}"
}

# The one-apps release is its repository archive: appliances/service.sh (driver), appliances/lib/*.sh,
# appliances/scripts/net-90-service-appliance and net-99-report-ready. Staged in the layout that
# packer/scripts/install-one-apps.sh expects (service, lib/, hooks).
stage_one_apps() {
  local archive="$1" stage="$2" extract top
  extract="${CACHE}/one-apps-extract"
  rm -rf "${extract}" "${stage}"
  mkdir -p "${extract}" "${stage}"
  tar -xzf "${archive}" -C "${extract}"
  top="$(find "${extract}" -mindepth 1 -maxdepth 1 -type d | head -n1)"
  [[ -f "${top}/appliances/service.sh" && -f "${top}/appliances/scripts/net-90-service-appliance" ]] ||
    die "${EXIT_STEP}" "one-apps: ${archive} has no appliances/service.sh or appliances/scripts/net-90-service-appliance"
  install -m 0755 "${top}/appliances/service.sh" "${stage}/service"
  install -m 0755 "${top}/appliances/scripts/net-90-service-appliance" "${stage}/net-90-service-appliance"
  if [[ -f "${top}/appliances/scripts/net-99-report-ready" ]]; then
    install -m 0755 "${top}/appliances/scripts/net-99-report-ready" "${stage}/net-99-report-ready"
  fi
  if [[ -d "${top}/appliances/lib" ]]; then
    mkdir -p "${stage}/lib"
    cp "${top}"/appliances/lib/*.sh "${stage}/lib/"
  fi
  say "one-apps: staged $(find "${stage}" -type f | wc -l) framework files from $(basename "${top}")"
}

stage_one_context() {
  local package="$1" stage="$2"
  rm -rf "${stage}"
  mkdir -p "${stage}"
  cp "${package}" "${stage}/"
  say "one-context: $(basename "${package}") ready for the build VM"
}

# --- 5 build key and cloud-init seed ----------------------------------------------------------------

BUILD_KEY=""

make_seed() {
  local seed_dir="${CACHE}/seed"
  if [[ -n "${SLMC_BUILD_SSH_KEY:-}" ]]; then
    BUILD_KEY="${SLMC_BUILD_SSH_KEY}"
    say "build key: ${BUILD_KEY} (given by the config)"
  else
    BUILD_KEY="${CACHE}/build_key"
    [[ -f "${BUILD_KEY}" ]] || ssh-keygen -q -t ed25519 -N '' -C slm-copilot-build -f "${BUILD_KEY}"
    say "build key: ${BUILD_KEY} (generated; cleanup.sh removes it from the image)"
  fi
  [[ -r "${BUILD_KEY}.pub" ]] || die "${EXIT_CONFIG}" "no public key ${BUILD_KEY}.pub"
  rm -rf "${seed_dir}"
  mkdir -p "${seed_dir}"
  sed "s|@@BUILD_SSH_PUBLIC_KEY@@|$(cat "${BUILD_KEY}.pub")|" "${ROOT}/packer/release/cloud-init/user-data.in" >"${seed_dir}/user-data"
  cp "${ROOT}/packer/release/cloud-init/meta-data" "${seed_dir}/meta-data"
  genisoimage -quiet -output "${CACHE}/seed.iso" -volid cidata -joliet -rock "${seed_dir}"
  say "cloud-init seed: ${CACHE}/seed.iso (NoCloud, label cidata)"
  if [[ "${SLMC_BUILD_PROFILE}" != release ]]; then
    say "cloud-init seed: attached, but the ${SLMC_BUILD_PROFILE} base has no cloud-init; it trusts the build key already"
  fi
}

# --- 6 Packer ---------------------------------------------------------------------------------------

SOURCES_DIR=""

prepare_sources() {
  if [[ -n "${SLMC_BUILD_SOURCES_DIR:-}" ]]; then
    SOURCES_DIR="${SLMC_BUILD_SOURCES_DIR}"
    [[ -f "${SOURCES_DIR}/sources.env" ]] || die "${EXIT_CONFIG}" "${SOURCES_DIR}/sources.env is missing"
    say "service install sources: ${SOURCES_DIR} (STAND-IN LocalAI and model, file:// inside the VM)"
    return
  fi
  SOURCES_DIR="${CACHE}/sources"
  mkdir -p "${SOURCES_DIR}"
  {
    echo "# written by build.sh from ${CONFIG}"
    local key
    for key in SLMC_LOCALAI_VERSION SLMC_LOCALAI_URL SLMC_LOCALAI_CHECKSUMS_URL SLMC_BACKEND_SOURCE \
      SLMC_MODEL_FILE SLMC_MODEL_URL SLMC_MODEL_SHA256; do
      [[ -z "${!key:-}" ]] || printf '%s=%q\n' "${key}" "${!key}"
    done
  } >"${SOURCES_DIR}/sources.env"
  say "service install sources: ${SOURCES_DIR}/sources.env (LocalAI and model downloaded inside the VM)"
}

template_dir() {
  local dir="${CACHE}/template"
  rm -rf "${dir}"
  mkdir -p "${dir}"
  cp "${ROOT}/packer/release/slm-copilot.pkr.hcl" "${ROOT}/packer/release/variables.pkr.hcl" "${dir}/"
  # Packer >= 1.7 needs required_plugins + `packer init`; 1.6.6 rejects the block (built-in qemu).
  if ((PACKER_MINOR >= 7)); then
    cp "${ROOT}/packer/release/plugins.pkr.hcl" "${dir}/"
    packer init "${dir}" >&2
  fi
  echo "${dir}"
}

inputs_hash() {
  {
    grep -v '^#' "${CONFIG}"
    printf '%s\n' "$@"
    find "${ROOT}/appliance" "${ROOT}/packer/release" "${ROOT}/packer/scripts" "${SOURCES_DIR}" \
      "${CACHE}/one-apps" "${CACHE}/one-context" -type f -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16
}

with_elapsed() {
  local line
  while IFS= read -r line; do
    printf '[%4d s] %s\n' "$(($(date +%s) - START_S))" "${line}"
  done
}

PACKER_IMAGE=""
PACKER_HASH=""
BUILD_ID=""
BUILD_TIME=""

# A new id for every Packer run (kept with the Packer image it made, so a reused image keeps its id):
# the image carries it in its build record, manifest.json maps it to the image's sha256.
new_build_id() {
  BUILD_TIME="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  BUILD_ID="${SLMC_IMAGE_NAME}-${SLMC_IMAGE_VERSION}-$(date -u +%Y%m%dT%H%M%SZ)-${PACKER_HASH}-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
}

run_packer() {
  local base="$1" dir work boot_args="[]"
  PACKER_HASH="$(inputs_hash "${base}")"
  work="${CACHE}/packer-output"
  PACKER_IMAGE="${work}/${SLMC_IMAGE_NAME}.qcow2"
  if [[ -f "${PACKER_IMAGE}" && -f "${work}.build-id" && "$(cat "${work}.stamp" 2>/dev/null)" == "${PACKER_HASH}" ]]; then
    read -r BUILD_ID BUILD_TIME <"${work}.build-id"
    say "Packer: reusing ${PACKER_IMAGE} (inputs unchanged, ${PACKER_HASH}; build id ${BUILD_ID})"
    return
  fi
  rm -f "${work}.stamp" "${work}.build-id"
  new_build_id
  say "Packer: build id ${BUILD_ID} (written into the image's /etc/slm-copilot/build-record.json)"
  if [[ -n "${SLMC_BUILD_KERNEL:-}" ]]; then
    boot_args="[[\"-kernel\",\"${SLMC_BUILD_KERNEL}\"],[\"-initrd\",\"${SLMC_BUILD_INITRD:?}\"],[\"-append\",\"${SLMC_BUILD_KERNEL_APPEND:?}\"]]"
    say "Packer: booting the base with its external kernel ${SLMC_BUILD_KERNEL} (lab stand-in base)"
  fi
  dir="$(template_dir)"
  say "Packer: ${SLMC_PACKER_ACCELERATOR}, ${SLMC_PACKER_CPUS} vCPU, ${SLMC_PACKER_MEMORY} MiB, disk ${SLMC_PACKER_DISK_SIZE}"
  mkdir -p "${CACHE}/packer_cache"
  (cd "${dir}" && PACKER_CACHE_DIR="${CACHE}/packer_cache" PACKER_LOG=0 packer build -force -color=false \
    -var "base_image_url=file://${base}" -var "base_image_checksum=sha256:${SLMC_BASE_IMAGE_SHA256}" \
    -var "ssh_private_key_file=${BUILD_KEY}" -var "seed_iso=${CACHE}/seed.iso" \
    -var "sources_dir=${SOURCES_DIR}" -var "one_apps_dir=${CACHE}/one-apps" \
    -var "one_context_dir=${CACHE}/one-context" -var "repo_dir=${ROOT}" -var "output_dir=${work}" \
    -var "vm_name=${SLMC_IMAGE_NAME}.qcow2" -var "accelerator=${SLMC_PACKER_ACCELERATOR}" \
    -var "cpu_model=${SLMC_PACKER_CPU_MODEL}" -var "memory=${SLMC_PACKER_MEMORY}" -var "cpus=${SLMC_PACKER_CPUS}" \
    -var "disk_size=${SLMC_PACKER_DISK_SIZE}" -var "skip_resize_disk=${SLMC_PACKER_SKIP_RESIZE_DISK}" \
    -var "ssh_timeout=${SLMC_PACKER_SSH_TIMEOUT:-30m}" -var "boot_qemuargs=${boot_args}" \
    -var "build_id=${BUILD_ID}" -var "build_time=${BUILD_TIME}" -var "image_version=${SLMC_IMAGE_VERSION}" \
    -var "build_profile=${SLMC_BUILD_PROFILE}" -var "build_stand_ins=${SLMC_BUILD_STAND_INS:-}" .) 2>&1 | with_elapsed ||
    die "${EXIT_STEP}" "Packer build failed (output above)"
  [[ -f "${PACKER_IMAGE}" ]] || die "${EXIT_STEP}" "Packer finished without ${PACKER_IMAGE}"
  echo "${BUILD_ID} ${BUILD_TIME}" >"${work}.build-id"
  echo "${PACKER_HASH}" >"${work}.stamp"
}

# --- 7 compress, 8 checksums ------------------------------------------------------------------------

ARTIFACT=""

compress() {
  ARTIFACT="${OUTPUT}/${SLMC_IMAGE_NAME}-${SLMC_IMAGE_VERSION}.qcow2"
  mkdir -p "${OUTPUT}"
  if [[ -f "${ARTIFACT}" && "$(cat "${CACHE}/compressed.from" 2>/dev/null)" == "${PACKER_HASH} ${ARTIFACT}" ]]; then
    say "compress: reusing ${ARTIFACT} (made from the same Packer image)"
    return
  fi
  local progress=()
  [[ -t 1 ]] && progress=(-p)
  rm -f "${ARTIFACT}" "${CACHE}/compressed.from"
  qemu-img convert "${progress[@]}" -c -O qcow2 "${PACKER_IMAGE}" "${ARTIFACT}.part"
  mv "${ARTIFACT}.part" "${ARTIFACT}"
  echo "${PACKER_HASH} ${ARTIFACT}" >"${CACHE}/compressed.from"
  say "compress: $(du -h --apparent-size "${PACKER_IMAGE}" | cut -f1) -> $(du -h --apparent-size "${ARTIFACT}" | cut -f1)"
}

VIRTUAL_SIZE=0
FILE_SIZE=0
SHA256=""
MD5=""

write_checksums() {
  local name
  name="$(basename "${ARTIFACT}")"
  (cd "${OUTPUT}" && sha256sum "${name}" >"${name}.sha256" && md5sum "${name}" >"${name}.md5")
  SHA256="$(cut -d' ' -f1 "${ARTIFACT}.sha256")"
  MD5="$(cut -d' ' -f1 "${ARTIFACT}.md5")"
  VIRTUAL_SIZE="$(qemu-img info --output=json "${ARTIFACT}" | jq -r '."virtual-size"')"
  FILE_SIZE="$(stat -c %s "${ARTIFACT}")"
  say "sha256 ${SHA256}"
  say "md5    ${MD5}"
  say "virtual size ${VIRTUAL_SIZE} bytes ($((VIRTUAL_SIZE / 1024 / 1024 / 1024)) GiB), file ${FILE_SIZE} bytes"
  if [[ "${SLMC_BUILD_PROFILE}" == release ]] &&
    ((VIRTUAL_SIZE < 20 * 1000 * 1000 * 1000 || VIRTUAL_SIZE > 25 * 1024 * 1024 * 1024)); then
    die "${EXIT_STEP}" "virtual size ${VIRTUAL_SIZE} is outside the 20-25 GB target (SLMC_PACKER_DISK_SIZE)"
  fi
}

write_manifest() {
  local created="$1"
  jq -n --arg name "${SLMC_IMAGE_NAME}" --arg version "${SLMC_IMAGE_VERSION}" --arg profile "${SLMC_BUILD_PROFILE}" \
    --arg stand_ins "${SLMC_BUILD_STAND_INS:-}" --arg file "$(basename "${ARTIFACT}")" --arg sha256 "${SHA256}" \
    --arg md5 "${MD5}" --arg build_id "${BUILD_ID}" --arg built_at "${BUILD_TIME}" --argjson virtual_size "${VIRTUAL_SIZE}" --argjson file_size "${FILE_SIZE}" \
    --argjson creation_time "${created}" --arg base_url "${SLMC_BASE_IMAGE_URL}" \
    --arg base_sha256 "${SLMC_BASE_IMAGE_SHA256}" --arg one_apps "${SLMC_ONE_APPS_URL}" \
    --arg one_context "${SLMC_ONE_CONTEXT_URL}" --argjson seconds "$(($(date +%s) - START_S))" \
    '{name: $name, version: $version, build_id: $build_id, built_at: $built_at, profile: $profile,
      stand_ins: (if $stand_ins == "" then null else $stand_ins end), format: "qcow2", file: $file,
      virtual_size: $virtual_size, file_size: $file_size, sha256: $sha256, md5: $md5,
      creation_time: $creation_time, build_seconds: $seconds,
      inputs: {base_image: {url: $base_url, sha256: $base_sha256}, one_apps: $one_apps, one_context: $one_context}}' \
    >"${OUTPUT}/manifest.json"
  say "manifest: ${OUTPUT}/manifest.json"
}

# --- 9 marketplace ----------------------------------------------------------------------------------

# With --evidence, marketplace.ts refuses (and build.sh fails) unless the bundle verifies, its verdict
# passed and its image sha256 is this image's checksum file's.
fill_marketplace() {
  local created="$1" filled gate=()
  filled="${OUTPUT}/$(basename "${MARKETPLACE_TEMPLATE}")"
  if [[ -n "${EVIDENCE}" ]]; then
    gate=(--evidence "${EVIDENCE}" --checksum-file "${ARTIFACT}.sha256")
    if [[ -n "${ALLOWED_SIGNER}" ]]; then gate+=(--allowed-signer "${ALLOWED_SIGNER}"); fi
  else
    say "marketplace: no --evidence: the listing is filled but NOT gated; run slmc-check gate on a VM of this image, then build.sh --evidence DIR"
  fi
  rm -f "${filled}"
  (cd "${ROOT}" && node --import tsx scripts/marketplace.ts fill "${MARKETPLACE_TEMPLATE}" "${filled}" \
    --url "${SLMC_IMAGE_PUBLISH_URL}" --sha256 "${SHA256}" --md5 "${MD5}" --size "${VIRTUAL_SIZE}" \
    --version "${SLMC_IMAGE_VERSION}-${SLMC_BUILD_PROFILE}-$(date -u -d "@${created}" +%Y%m%d)" \
    --creation-time "${created}" --publisher-email "${SLMC_PUBLISHER_EMAIL}" "${gate[@]}") ||
    die "${EXIT_STEP}" "the marketplace YAML was not filled: a refused evidence bundle or the release schema (above)"
  say "marketplace: ${filled} (no placeholders; release schema passed${EVIDENCE:+; gated by ${EVIDENCE}})"
}

report() {
  echo
  echo "== built $(basename "${ARTIFACT}") in $(($(date +%s) - START_S)) s (profile ${SLMC_BUILD_PROFILE})"
  if [[ "${SLMC_BUILD_PROFILE}" != release ]]; then
    echo "   STAND-IN build, NOT a release image: ${SLMC_BUILD_STAND_INS:-}"
  fi
  find "${OUTPUT}" -maxdepth 1 -type f -printf '   %10s  %f\n' | sort -k2
}

check_evidence_args() {
  if [[ -n "${EVIDENCE}" && ! -f "${EVIDENCE}/verdict.json" ]]; then
    die "${EXIT_CONFIG}" "--evidence ${EVIDENCE} is not a gate evidence bundle (no verdict.json)"
  fi
  if [[ -n "${ALLOWED_SIGNER}" && ( -z "${EVIDENCE}" || ! -r "${ALLOWED_SIGNER}" ) ]]; then
    die "${EXIT_CONFIG}" "--allowed-signer needs --evidence and a readable public key file (${ALLOWED_SIGNER})"
  fi
  EVIDENCE="${EVIDENCE:+$(realpath "${EVIDENCE}")}"
  ALLOWED_SIGNER="${ALLOWED_SIGNER:+$(realpath "${ALLOWED_SIGNER}")}"
}

main() {
  parse_args "$@"
  check_evidence_args
  load_config
  step 1 "dependencies"
  check_dependencies
  mkdir -p "${CACHE}" "${OUTPUT}"
  CACHE="$(cd "${CACHE}" && pwd)"
  OUTPUT="$(cd "${OUTPUT}" && pwd)"
  step 2 "base image"
  local base one_apps one_context created
  base="$(fetch "base image" "${SLMC_BASE_IMAGE_URL}" "${SLMC_BASE_IMAGE_SHA256}")"
  step 3 "one-apps release"
  one_apps="$(fetch "one-apps" "${SLMC_ONE_APPS_URL}" "${SLMC_ONE_APPS_SHA256}")"
  stage_one_apps "${one_apps}" "${CACHE}/one-apps"
  step 4 "one-context release"
  one_context="$(fetch "one-context" "${SLMC_ONE_CONTEXT_URL}" "${SLMC_ONE_CONTEXT_SHA256}")"
  stage_one_context "${one_context}" "${CACHE}/one-context"
  step 5 "build key and cloud-init seed"
  make_seed
  step 6 "Packer"
  prepare_sources
  run_packer "${base}"
  step 7 "compress"
  compress
  step 8 "checksums and virtual size"
  created="$(date +%s)"
  write_checksums
  write_manifest "${created}"
  step 9 "marketplace YAML"
  fill_marketplace "${created}"
  report
}

main "$@"
