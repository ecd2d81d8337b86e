#!/usr/bin/env bash
# Installs the system packages the tests need, on Debian/Ubuntu when run as root; otherwise says
# exactly what to install. Packages already present are left alone.
set -euo pipefail

# Tests: shellcheck, nginx (the appliance site under real nginx), fail2ban + python3-systemd (fail2ban-regex
# on its failed-auth log, fail2ban-client --test of the jail), ruby-rspec (the marketplace certification
# specs, run by test/marketplace-rspec), prometheus-nginx-exporter + mtail + prometheus-node-exporter (the
# appliance's metrics exporters behind the site in test/nginx-site.test.ts). Lab: mmdebstrap, QEMU, Packer, genisoimage (CONTEXT ISO),
# pebble (ACME), socat (QEMU monitor), openssh-client. Release build (build.sh): jq, curl.
readonly PACKAGES=(shellcheck git nginx-light fail2ban python3-systemd openssl mmdebstrap qemu-system-x86 qemu-utils packer genisoimage
  pebble socat openssh-client openssh-server e2fsprogs chromium jq curl ruby-rspec
  prometheus-nginx-exporter mtail prometheus-node-exporter)

missing_packages() {
  local package
  for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "${package}" 2>/dev/null | grep -q "install ok installed" || echo "${package}"
  done
}

main() {
  if ! command -v dpkg-query >/dev/null; then
    echo "system-deps: not a Debian/Ubuntu system; make sure these are installed: ${PACKAGES[*]}" >&2
    return 0
  fi
  local missing
  mapfile -t missing < <(missing_packages)
  ((${#missing[@]} == 0)) && return 0
  if ((EUID != 0)); then
    echo "system-deps: missing packages: ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
    return 1
  fi
  echo "system-deps: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

main "$@"
