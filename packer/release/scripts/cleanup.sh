#!/usr/bin/env bash
# Packer provisioner, RELEASE template: last step before power-off. Removes what the build left that
# must not ship: the build key, SSH host keys (regenerated on first boot by a unit installed here),
# machine-id, apt caches and lists, logs of the build, the staged files; then zeroes free space via
# discard so the compressed image stays small. The model and LocalAI stay (they ARE the appliance).
set -euo pipefail

regenerate_host_keys_on_boot() {
  cat >/etc/systemd/system/slmc-ssh-host-keys.service <<'UNIT'
[Unit]
Description=Generate SSH host keys on the first boot of an SLM-Copilot image
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
Before=ssh.service

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
  systemctl enable slmc-ssh-host-keys.service
  rm -f /etc/ssh/ssh_host_*
}

remove_build_state() {
  rm -f /root/.ssh/authorized_keys
  rm -rf /tmp/slmc-sources /tmp/slmc-appliance /tmp/slmc-one-apps /tmp/slmc-one-context
  apt-get clean
  rm -rf /var/lib/apt/lists/*
  truncate -s 0 /etc/machine-id
  rm -f /var/lib/dbus/machine-id
  find /var/log -type f \( -name '*.gz' -o -name '*.[0-9]' \) -delete
  find /var/log -type f ! -path '/var/log/one-appliance/*' -exec truncate -s 0 {} +
  rm -f /root/.bash_history
}

main() {
  regenerate_host_keys_on_boot
  remove_build_state
  fstrim -av || echo "cleanup: fstrim unsupported here; compression still drops zeroed clusters"
  sync
  echo "cleanup: build key, host keys, machine-id, apt caches and logs removed"
}

main "$@"
