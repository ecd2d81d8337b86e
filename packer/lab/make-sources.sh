#!/usr/bin/env bash
# Prepares the LOCAL sources the lab feeds to the appliance's real download-and-verify code:
#   local-ai-stand-in-linux-amd64      the LocalAI STAND-IN binary (dist/local-ai-stand-in), not LocalAI
#   LocalAI-stand-in-checksums.txt     GoReleaser-style checksums file covering it
#   sources.env                        the SLMC_* install variables pointing at these files
# and, by SLMC_LAB_ENGINE (the engine the stand-in runs in the lab):
#   synthetic (default)  llama-cpp-stand-in-backend/   a backend directory (metadata only; never run)
#                        devstral-stand-in.gguf        a small random file in place of the 14 GB GGUF
#   llama-server         llama-server-backend.tar.gz   Debian's llama.cpp side root (scripts/llama-sid.sh)
#                                                      with a metadata.json naming llama-server: the
#                                                      stand-in runs it as its backend process
#                        slmc-1m-q8_0-stand-in.gguf    a generated 1.2M-parameter GGUF (random weights;
#                                                      the 50m one prefills at a few tokens/s under TCG)
#   make-sources.sh OUTPUT_DIR [GUEST_DIR]   (GUEST_DIR: where the files will sit inside the VM)
# Exit codes: 0 ok, 1 failed, 2 usage, 3 the Debian archive is unreachable (llama-server mode).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT
readonly STAND_IN="${ROOT}/dist/local-ai-stand-in"
readonly LLAMA_SID="${ROOT}/scripts/llama-sid.sh"
readonly ENGINE="${SLMC_LAB_ENGINE:-synthetic}"
readonly SYNTHETIC_MODEL_FILE=devstral-stand-in.gguf
readonly SYNTHETIC_MODEL_BYTES=$((4 * 1024 * 1024))
readonly LLAMA_MODEL_SIZE=1m
readonly LLAMA_MODEL_FILE="slmc-${LLAMA_MODEL_SIZE}-q8_0-stand-in.gguf"
readonly LLAMA_BACKEND_FILE=llama-server-backend.tar.gz
# The 1m model's KV cache in q8_0 (the appliance YAML's cache types): 2 x 4 layers x 128 x 1.0625 B
# = 1.06 KiB per token of context, rounded up. llama-server allocates it for the whole context_size
# even where it caps a slot at the model's trained 2,048 tokens.
readonly LLAMA_KV_KIB_PER_TOKEN=2
readonly EXIT_USAGE=2

die() {
  local code="$1"
  shift
  echo "make-sources: $*" >&2
  exit "${code}"
}

write_synthetic_backend() {
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

write_synthetic_model() {
  local target="$1/${SYNTHETIC_MODEL_FILE}"
  { printf 'GGUF'; head -c "${SYNTHETIC_MODEL_BYTES}" /dev/urandom; } >"${target}"
}

# The cached side root (scripts/llama-sid.sh) plus the metadata that tells the stand-in to run it, as
# one archive: a directory tree with absolute symlinks does not survive Packer's file upload, an
# archive does (the stand-in's `backends install` unpacks it, as LocalAI unpacks an OCI image). One
# pass of gzip -1: this archive only crosses into the lab image, where speed matters more than size.
write_llama_server_backend() {
  local out="$1" stage="$2" dir version
  dir="$("${LLAMA_SID}" build)"
  version="$(sed -n 's/^llama\.cpp-tools //p' "${dir}/VERSIONS")"
  printf '{"name":"cpu-llama-server-debian","meta_backend_for":"llama-cpp","engine":"llama-server","llama_cpp":"%s","stand_in":true}\n' \
    "${version}" >"${stage}/metadata.json"
  tar -I 'gzip -1' -cf "${out}/${LLAMA_BACKEND_FILE}" --exclude='./root/dev/*' -C "${dir}" . -C "${stage}" metadata.json
}

write_llama_model() {
  local out="$1"
  (cd "${ROOT}" && npx tsx fixtures/gguf/generate.ts --out "${out}/${LLAMA_MODEL_FILE}" --size "${LLAMA_MODEL_SIZE}" \
    --type q8_0 --seed 1) >&2
}

write_stand_in() {
  local out="$1"
  install -m 0755 "${STAND_IN}" "${out}/local-ai-stand-in-linux-amd64"
  (cd "${out}" && sha256sum local-ai-stand-in-linux-amd64 >LocalAI-stand-in-checksums.txt)
}

write_env() {
  local out="$1" guest="$2" backend="$3" model="$4" kv="$5"
  cat >"${out}/sources.env" <<ENV
SLMC_LOCALAI_VERSION=stand-in
SLMC_LOCALAI_URL=file://${guest}/local-ai-stand-in-linux-amd64
SLMC_LOCALAI_CHECKSUMS_URL=file://${guest}/LocalAI-stand-in-checksums.txt
SLMC_BACKEND_SOURCE=file://${guest}/${backend}
SLMC_MODEL_FILE=${model}
SLMC_MODEL_URL=file://${guest}/${model}
SLMC_MODEL_SHA256=$(sha256sum "${out}/${model}" | cut -d' ' -f1)
SLMC_KV_KIB_PER_TOKEN=${kv}
ENV
}

main() {
  (($# >= 1)) || die "${EXIT_USAGE}" "usage: make-sources.sh OUTPUT_DIR [GUEST_DIR]"
  local out="$1" guest="${2:-$1}"
  case "${ENGINE}" in
    synthetic | llama-server) ;;
    *) die "${EXIT_USAGE}" "SLMC_LAB_ENGINE='${ENGINE}' is not an engine: use synthetic (the default) or llama-server" ;;
  esac
  [[ -x "${STAND_IN}" ]] || die 1 "${STAND_IN} is missing: run 'make build-cli' first"
  mkdir -p "${out}"
  write_stand_in "${out}"
  if [[ "${ENGINE}" == llama-server ]]; then
    STAGE="$(mktemp -d)"
    trap 'rm -rf "${STAGE}"' EXIT
    write_llama_server_backend "${out}" "${STAGE}"
    write_llama_model "${out}"
    write_env "${out}" "${guest}" "${LLAMA_BACKEND_FILE}" "${LLAMA_MODEL_FILE}" "${LLAMA_KV_KIB_PER_TOKEN}"
  else
    write_synthetic_backend "${out}"
    write_synthetic_model "${out}"
    write_env "${out}" "${guest}" llama-cpp-stand-in-backend "${SYNTHETIC_MODEL_FILE}" 0
  fi
  echo "make-sources: ${out} ready (engine ${ENGINE})"
}

main "$@"
