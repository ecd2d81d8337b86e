#!/usr/bin/env bash
# Prepares LAB STAND-IN inputs for build.sh (the release build) and writes a build.sh config for them:
#   base image    the lab's Debian bookworm base (scripts/lab.sh image), served as file://, in place of
#                 the Ubuntu 24.04 cloud image; booted with its external kernel/initrd
#   one-apps      fixtures/lab/one-apps packed as a release tarball in one-apps' repository layout
#                 (appliances/service.sh, appliances/scripts/net-90-...), in place of the pinned release
#   one-context   fixtures/lab/context packed as a .deb, in place of the pinned one-context package
#   LocalAI/model packer/lab/make-sources.sh (stand-in binary, checksums file, generated model)
#   make-release-inputs.sh OUTPUT_DIR      -> OUTPUT_DIR/lab-stand-in.env (pass it to build.sh --config)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT
readonly ONE_APPS_TOP=one-apps-LAB-STAND-IN
readonly CONTEXT_PACKAGE=one-context-lab-stand-in

die() {
  echo "make-release-inputs: $*" >&2
  exit 1
}

pack_one_apps() {
  local out="$1" stage
  stage="$(mktemp -d)"
  install -D -m 0755 "${ROOT}/fixtures/lab/one-apps/service" "${stage}/${ONE_APPS_TOP}/appliances/service.sh"
  install -D -m 0755 "${ROOT}/fixtures/lab/one-apps/net-90-service-appliance" \
    "${stage}/${ONE_APPS_TOP}/appliances/scripts/net-90-service-appliance"
  echo "LAB STAND-IN for the one-apps release: the slmc lab driver, not OpenNebula's" >"${stage}/${ONE_APPS_TOP}/STAND-IN"
  tar -C "${stage}" --sort=name --mtime=@0 --owner=0 --group=0 -czf "${out}/${ONE_APPS_TOP}.tar.gz" "${ONE_APPS_TOP}"
  rm -rf "${stage}"
}

pack_one_context() {
  local out="$1" stage
  stage="$(mktemp -d)"
  install -D -m 0755 "${ROOT}/fixtures/lab/context/one-context-lab" "${stage}/usr/sbin/one-context-lab"
  install -D -m 0644 "${ROOT}/fixtures/lab/context/one-context-lab.service" \
    "${stage}/lib/systemd/system/one-context-lab.service"
  install -d "${stage}/DEBIAN"
  cat >"${stage}/DEBIAN/control" <<CONTROL
Package: ${CONTEXT_PACKAGE}
Version: 0.0.0-lab
Architecture: all
Maintainer: SLM-Copilot lab <lab@invalid>
Description: LAB STAND-IN for OpenNebula's one-context package (slmc lab)
 Runs the /etc/one-context.d network-stage hooks at every boot from the CONTEXT CD-ROM.
CONTROL
  printf '#!/bin/sh\nset -e\nsystemctl enable one-context-lab.service\n' >"${stage}/DEBIAN/postinst"
  chmod 0755 "${stage}/DEBIAN/postinst"
  SOURCE_DATE_EPOCH=0 dpkg-deb --root-owner-group -Zgzip --build "${stage}" "${out}/${CONTEXT_PACKAGE}_0.0.0-lab_all.deb" >/dev/null
  rm -rf "${stage}"
}

sha() {
  sha256sum "$1" | cut -d' ' -f1
}

write_config() {
  local out="$1" base="$2"
  cat >"${out}/lab-stand-in.env" <<ENV
# build.sh config for the LAB run: every input below is a STAND-IN (see packer/lab/make-release-inputs.sh).
SLMC_BUILD_PROFILE=lab-stand-in
SLMC_BUILD_STAND_INS="base image: Debian bookworm lab image (not Ubuntu 24.04); one-apps: slmc lab driver tarball; one-context: slmc lab .deb; LocalAI: slmc stand-in binary; model: 4 MiB generated file (not Devstral)"
SLMC_IMAGE_NAME=slm-copilot-LAB-STAND-IN
SLMC_IMAGE_VERSION=0.1.0
SLMC_IMAGE_PUBLISH_URL=file://${out}/published/slm-copilot-LAB-STAND-IN.qcow2
SLMC_PUBLISHER_EMAIL=lab-stand-in@example.org
SLMC_BASE_IMAGE_URL=file://${base}/base.qcow2
SLMC_BASE_IMAGE_SHA256=$(sha "${base}/base.qcow2")
SLMC_ONE_APPS_URL=file://${out}/${ONE_APPS_TOP}.tar.gz
SLMC_ONE_APPS_SHA256=$(sha "${out}/${ONE_APPS_TOP}.tar.gz")
SLMC_ONE_CONTEXT_URL=file://${out}/${CONTEXT_PACKAGE}_0.0.0-lab_all.deb
SLMC_ONE_CONTEXT_SHA256=$(sha "${out}/${CONTEXT_PACKAGE}_0.0.0-lab_all.deb")
SLMC_BUILD_SOURCES_DIR=${out}/sources
SLMC_BUILD_SSH_KEY=${base}/lab_key
SLMC_BUILD_KERNEL=${base}/vmlinuz
SLMC_BUILD_INITRD=${base}/initrd.img
SLMC_BUILD_KERNEL_APPEND="root=/dev/vda rw console=ttyS0"
SLMC_PACKER_ACCELERATOR=${SLMC_LAB_ACCEL:-$(cat "${SLMC_LAB_CACHE:-/var/cache/slmc-lab}/accelerator" 2>/dev/null || echo tcg)}
SLMC_PACKER_CPU_MODEL=max
SLMC_PACKER_MEMORY=2048
SLMC_PACKER_CPUS=2
SLMC_PACKER_DISK_SIZE=4G
SLMC_PACKER_SKIP_RESIZE_DISK=true
SLMC_PACKER_SSH_TIMEOUT=15m
ENV
}

main() {
  (($# == 1)) || die "usage: make-release-inputs.sh OUTPUT_DIR"
  local out base
  mkdir -p "$1"
  out="$(cd "$1" && pwd)"
  base="$("${ROOT}/scripts/lab.sh" image)"
  "${ROOT}/packer/lab/make-sources.sh" "${out}/sources" /tmp/slmc-sources >&2
  pack_one_apps "${out}"
  pack_one_context "${out}"
  write_config "${out}" "${base}"
  echo "make-release-inputs: LAB STAND-IN inputs and ${out}/lab-stand-in.env ready" >&2
  echo "${out}/lab-stand-in.env"
}

main "$@"
