#!/usr/bin/env bash
# Prepares the LOCAL sources the lab feeds to the appliance's real download-and-verify code:
#   local-ai-stand-in-linux-amd64      the LocalAI STAND-IN binary (dist/local-ai-stand-in), not LocalAI
#   LocalAI-stand-in-checksums.txt     GoReleaser-style checksums file covering it
#   llama-cpp-stand-in-backend/        a backend directory (metadata only; the stand-in never runs it)
#   devstral-stand-in.gguf             a small generated file in place of the 14 GB Devstral GGUF
#   sources.env                        the SLMC_* install variables pointing at these files
#   make-sources.sh OUTPUT_DIR [GUEST_DIR]   (GUEST_DIR: where the files will sit inside the VM)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT
readonly STAND_IN="${ROOT}/dist/local-ai-stand-in"
readonly MODEL_FILE=devstral-stand-in.gguf
readonly MODEL_BYTES=$((4 * 1024 * 1024))

die() {
  echo "make-sources: $*" >&2
  exit 1
}

write_backend() {
  local dir="$1/llama-cpp-stand-in-backend"
  mkdir -p "${dir}"
  cat >"${dir}/run.sh" <<'RUN'
#!/bin/sh
echo "llama-cpp STAND-IN backend: the slmc stand-in engine serves synthetic tokens and never runs this" >&2
exit 1
RUN
  chmod 0755 "${dir}/run.sh"
  printf '{"name":"cpu-llama-cpp-stand-in","meta_backend_for":"llama-cpp","stand_in":true}\n' >"${dir}/metadata.json"
}

write_model() {
  local target="$1/${MODEL_FILE}"
  { printf 'GGUF'; head -c "${MODEL_BYTES}" /dev/urandom; } >"${target}"
}

main() {
  (($# >= 1)) || die "usage: make-sources.sh OUTPUT_DIR [GUEST_DIR]"
  local out="$1" guest="${2:-$1}"
  [[ -x "${STAND_IN}" ]] || die "${STAND_IN} is missing: run 'make build-cli' first"
  mkdir -p "${out}"
  install -m 0755 "${STAND_IN}" "${out}/local-ai-stand-in-linux-amd64"
  (cd "${out}" && sha256sum local-ai-stand-in-linux-amd64 >LocalAI-stand-in-checksums.txt)
  write_backend "${out}"
  write_model "${out}"
  cat >"${out}/sources.env" <<ENV
SLMC_LOCALAI_VERSION=stand-in
SLMC_LOCALAI_URL=file://${guest}/local-ai-stand-in-linux-amd64
SLMC_LOCALAI_CHECKSUMS_URL=file://${guest}/LocalAI-stand-in-checksums.txt
SLMC_BACKEND_SOURCE=file://${guest}/llama-cpp-stand-in-backend
SLMC_MODEL_FILE=${MODEL_FILE}
SLMC_MODEL_URL=file://${guest}/${MODEL_FILE}
SLMC_MODEL_SHA256=$(sha256sum "${out}/${MODEL_FILE}" | cut -d' ' -f1)
SLMC_KV_KIB_PER_TOKEN=0
ENV
  echo "make-sources: ${out} ready"
}

main "$@"
