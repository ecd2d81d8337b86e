#!/usr/bin/env bash
# Packer provisioner (release and lab alike): installs the SLM-Copilot service files and runs
# `service install`. Download sources come from SLMC_* variables, or from the env file named by
# SLMC_SOURCES_ENV (the lab's file:// sources).
set -euo pipefail

readonly SOURCE="${SLMC_APPLIANCE_DIR:?SLMC_APPLIANCE_DIR must point at the appliance/ directory}"
readonly HOME_DIR=/opt/one-appliance/slm-copilot

load_sources() {
  if [[ -n "${SLMC_SOURCES_ENV:-}" ]]; then
    set -a
    # shellcheck source=/dev/null
    source "${SLMC_SOURCES_ENV}"
    set +a
    echo "install-appliance: download sources from ${SLMC_SOURCES_ENV}"
  fi
}

install_service_files() {
  install -m 0640 "${SOURCE}/appliance.sh" /etc/one-appliance/service.d/appliance.sh
  install -d -m 0755 "${HOME_DIR}" "${HOME_DIR}/templates"
  install -m 0755 "${SOURCE}/render-template.sh" "${HOME_DIR}/render-template.sh"
  install -m 0644 "${SOURCE}"/templates/* "${HOME_DIR}/templates/"
}

main() {
  load_sources
  install_service_files
  /etc/one-appliance/service install
  sync
}

main "$@"
