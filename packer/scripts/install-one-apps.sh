#!/usr/bin/env bash
# Packer provisioner (release and lab alike): lays out the one-apps framework files as the one-apps
# build does. SLMC_ONE_APPS_DIR holds service, lib/ (optional) and
# net-90-service-appliance; the release passes the real one-apps files, the lab its stand-in driver.
set -euo pipefail

readonly SOURCE="${SLMC_ONE_APPS_DIR:?SLMC_ONE_APPS_DIR must point at the one-apps framework files}"

install_framework_dirs() {
  install -d -m 0750 /etc/one-appliance /etc/one-appliance/service.d /etc/one-appliance/lib
  install -d -m 0755 /opt/one-appliance /opt/one-appliance/bin /etc/one-context.d
}

install_driver_and_libs() {
  install -m 0755 "${SOURCE}/service" /etc/one-appliance/service
  if [[ -d "${SOURCE}/lib" ]]; then
    install -m 0644 "${SOURCE}"/lib/*.sh /etc/one-appliance/lib/
  fi
}

install_hooks() {
  install -m 0755 "${SOURCE}/net-90-service-appliance" /etc/one-context.d/net-90-service-appliance
  if [[ -f "${SOURCE}/net-99-report-ready" ]]; then
    install -m 0755 "${SOURCE}/net-99-report-ready" /etc/one-context.d/net-99-report-ready
  fi
}

main() {
  install_framework_dirs
  install_driver_and_libs
  install_hooks
  echo "install-one-apps: framework files installed from ${SOURCE}"
}

main "$@"
