#!/usr/bin/env bash
# Packer provisioner, RELEASE template: installs the pinned one-context package that build.sh fetched
# and verified (SLMC_ONE_CONTEXT_DIR holds exactly one .deb). cloud-init is purged first, as the
# one-apps build does: once the image ships, only one-context contextualizes the VM. In the lab run
# the .deb is the one-context STAND-IN packaged from fixtures/lab/context (its name says so).
set -euo pipefail

readonly SOURCE="${SLMC_ONE_CONTEXT_DIR:?SLMC_ONE_CONTEXT_DIR must hold the one-context .deb}"

find_package() {
  local packages=("${SOURCE}"/*.deb)
  if ((${#packages[@]} != 1)) || [[ ! -f "${packages[0]}" ]]; then
    echo "install-one-context: expected exactly one .deb in ${SOURCE}" >&2
    exit 1
  fi
  echo "${packages[0]}"
}

purge_cloud_init() {
  if dpkg-query -W -f='${Status}' cloud-init 2>/dev/null | grep -q "install ok installed"; then
    echo "install-one-context: purging cloud-init (one-context takes over contextualization)"
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq cloud-init
    rm -rf /etc/cloud /var/lib/cloud
  fi
}

install_package() {
  local package="$1"
  echo "install-one-context: installing $(basename "${package}")"
  # apt resolves the package's dependencies from the distribution's archive (none for the stand-in):
  # try with the image's package lists first, refresh them only if that is not enough.
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${package}"; then
    echo "install-one-context: refreshing package lists for its dependencies"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${package}"
  fi
}

main() {
  local package
  package="$(find_package)"
  purge_cloud_init
  install_package "${package}"
  dpkg-query -W -f='install-one-context: ${Package} ${Version} installed\n' "$(dpkg-deb -f "${package}" Package)"
}

main "$@"
