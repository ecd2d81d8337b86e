#!/usr/bin/env bash
# Packer provisioner, RELEASE template: first step inside the build VM. On the Ubuntu cloud image it
# waits for cloud-init (which installed the build key from the seed) to finish, then hardens sshd the
# one-apps way. The lab's Debian stand-in has no cloud-init: its build
# key is baked into the base image, so the wait is skipped and says so.
set -euo pipefail

wait_for_cloud_init() {
  if command -v cloud-init >/dev/null; then
    echo "prepare-build-vm: waiting for cloud-init (seed: build key, growpart)"
    cloud-init status --wait >/dev/null || echo "prepare-build-vm: cloud-init reported an error; continuing" >&2
  else
    echo "prepare-build-vm: no cloud-init on this base (lab stand-in: build key baked into the image)"
  fi
}

harden_sshd() {
  local config=/etc/ssh/sshd_config
  sed -i -E 's/^#?PasswordAuthentication.*/PasswordAuthentication no/' "${config}"
  sed -i -E 's/^#?PermitRootLogin.*/PermitRootLogin without-password/' "${config}"
  sed -i -E 's/^#?UseDNS.*/UseDNS no/' "${config}"
  grep -q '^PermitRootLogin' "${config}" || echo 'PermitRootLogin without-password' >>"${config}"
}

main() {
  wait_for_cloud_init
  harden_sshd
  mkdir -p /tmp/slmc-sources /tmp/slmc-appliance /tmp/slmc-one-apps /tmp/slmc-one-context
  echo "prepare-build-vm: $(grep -oP "^PRETTY_NAME=\"?\K[^\"]*" /etc/os-release), $(nproc) vCPU, $(free -m | awk '/^Mem:/ {print $2}') MiB RAM, $(df -h --output=size / | tail -n1 | tr -d ' ') root"
}

main "$@"
