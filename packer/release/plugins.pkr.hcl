# For current Packer (1.7+, where the qemu builder is a plugin): `packer init packer/release` installs
# it. Debian's Packer 1.6.6 (the lab and CI) rejects this block, so build.sh and the CI validation load
# the template WITHOUT this file (see build.sh, scripts/lint.sh).
packer {
  required_plugins {
    qemu = {
      version = "~> 1.1.0"
      source  = "github.com/hashicorp/qemu"
    }
  }
}
