#!/usr/bin/env bash
# Builds the lab's base image: Debian bookworm made offline-capable with mmdebstrap (Debian's archive
# is the only reachable mirror), with the appliance's apt packages pre-installed so its install step
# is a fast no-op under TCG. It STANDS IN for the Ubuntu 24.04 cloud image of the release build.
#   build-base-image.sh OUTPUT_DIR SSH_PUBLIC_KEY_FILE
# Produces OUTPUT_DIR/{base.qcow2,vmlinuz,initrd.img,SHA256SUMS}. Needs root, mmdebstrap, qemu-img.
set -euo pipefail

readonly MIRROR="${SLMC_LAB_MIRROR:-http://deb.debian.org/debian}"
readonly SUITE=bookworm
readonly DISK_SIZE=4G
readonly PACKAGES=(
  systemd-sysv systemd-resolved openssh-server dbus udev kmod procps iproute2 util-linux mount
  linux-image-amd64 initramfs-tools ca-certificates curl openssl jq nginx certbot fail2ban python3-systemd nftables
  prometheus-node-exporter prometheus-nginx-exporter mtail
)

die() {
  echo "build-base-image: $*" >&2
  exit 1
}

write_customize_hook() {
  local hook="$1" public_key="$2"
  cat >"${hook}" <<HOOK
#!/bin/sh
set -eu
root="\$1"
echo slmc-lab >"\${root}/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 slmc-lab\n' >"\${root}/etc/hosts"
install -d -m 0700 "\${root}/root/.ssh"
printf '%s\n' '$(cat "${public_key}")' >"\${root}/root/.ssh/authorized_keys"
chmod 0600 "\${root}/root/.ssh/authorized_keys"
cat >"\${root}/etc/systemd/network/10-lab.network" <<'NET'
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
IPv6AcceptRA=no
LinkLocalAddressing=no
NET
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"\${root}/etc/fstab"
chroot "\${root}" systemctl enable systemd-networkd.service systemd-resolved.service ssh.service serial-getty@ttyS0.service
chroot "\${root}" systemctl disable nginx.service || true
ln -sf /run/systemd/resolve/resolv.conf "\${root}/etc/resolv.conf"
printf '[Resolve]\nDNS=10.0.2.3\n' >"\${root}/etc/systemd/resolved.conf"
sed -i 's/^#\?PasswordAuthentication.*/PasswordAuthentication no/' "\${root}/etc/ssh/sshd_config"
sed -i 's/^#\?UseDNS.*/UseDNS no/' "\${root}/etc/ssh/sshd_config"
echo 'root:*' | chroot "\${root}" chpasswd -e
HOOK
  chmod +x "${hook}"
}

build_rootfs() {
  local rootfs="$1" hook="$2"
  local include
  include="$(IFS=,; echo "${PACKAGES[*]}")"
  mmdebstrap --mode=root --variant=minbase --include="${include}" \
    --customize-hook="${hook} \"\$1\"" "${SUITE}" "${rootfs}" "${MIRROR}"
}

make_disk() {
  local rootfs="$1" out="$2" raw
  raw="${out}/root.raw"
  cp "${rootfs}"/boot/vmlinuz-* "${out}/vmlinuz"
  cp "${rootfs}"/boot/initrd.img-* "${out}/initrd.img"
  truncate -s "${DISK_SIZE}" "${raw}"
  mkfs.ext4 -q -F -L root -d "${rootfs}" "${raw}"
  qemu-img convert -O qcow2 "${raw}" "${out}/base.qcow2"
  rm -f "${raw}"
  (cd "${out}" && sha256sum base.qcow2 vmlinuz initrd.img >SHA256SUMS)
}

main() {
  (($# == 2)) || die "usage: build-base-image.sh OUTPUT_DIR SSH_PUBLIC_KEY_FILE"
  ((EUID == 0)) || die "needs root (mmdebstrap --mode=root)"
  local out="$1" public_key="$2"
  [[ -r "${public_key}" ]] || die "cannot read ${public_key}"
  WORK_DIR="$(mktemp -d)"
  trap 'rm -rf "${WORK_DIR}"' EXIT
  local work="${WORK_DIR}"
  mkdir -p "${out}"
  write_customize_hook "${work}/customize.sh" "${public_key}"
  build_rootfs "${work}/rootfs" "${work}/customize.sh"
  make_disk "${work}/rootfs" "${out}"
  echo "build-base-image: ${out}/base.qcow2 ($(qemu-img info --output=json "${out}/base.qcow2" | jq -r '."virtual-size"') bytes virtual)"
}

main "$@"
