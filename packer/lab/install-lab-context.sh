#!/usr/bin/env bash
# Packer provisioner, LAB ONLY: installs the one-context STAND-IN (one-context-lab) in place of the
# one-context package, which cannot be downloaded here. The release build installs the real package.
set -euo pipefail

readonly SOURCE="${SLMC_LAB_CONTEXT_DIR:?SLMC_LAB_CONTEXT_DIR must point at fixtures/lab/context}"

install -m 0755 "${SOURCE}/one-context-lab" /usr/sbin/one-context-lab
install -m 0644 "${SOURCE}/one-context-lab.service" /etc/systemd/system/one-context-lab.service
systemctl enable one-context-lab.service
echo "install-lab-context: one-context STAND-IN installed"
