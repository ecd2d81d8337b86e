# Release image: boots the Ubuntu 24.04 cloud image (verified download, cloud-init seed for the first
# SSH), installs one-context and the one-apps framework from their pinned releases, our service
# files, runs `service install` (LocalAI, backend, model download + pre-warm), cleans up, powers off.
# build.sh drives it and compresses the result. Loadable by Debian's Packer 1.6.6 (the lab, CI); the
# required_plugins block for current Packer lives in plugins.pkr.hcl, which the lab does not load.
# The provisioner scripts under packer/scripts/ are SHARED with packer/lab/slm-copilot-lab.pkr.hcl.
packer {
  required_version = ">= 1.6.6"
}

source "qemu" "release" {
  accelerator          = var.accelerator
  disk_image           = true
  iso_url              = var.base_image_url
  iso_checksum         = var.base_image_checksum
  disk_size            = var.disk_size
  skip_resize_disk     = var.skip_resize_disk
  format               = "qcow2"
  disk_compression     = false
  disk_interface       = "virtio"
  disk_discard         = "unmap"
  net_device           = "virtio-net"
  output_directory     = var.output_dir
  vm_name              = var.vm_name
  headless             = true
  memory               = var.memory
  cpus                 = var.cpus
  communicator         = "ssh"
  ssh_username         = "root"
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = var.ssh_timeout
  shutdown_command     = "systemctl poweroff"
  shutdown_timeout     = "10m"
  qemuargs = concat(var.boot_qemuargs, [
    ["-cpu", var.cpu_model],
    ["-cdrom", var.seed_iso],
    ["-netdev", "user,id=user.0,hostfwd=tcp:127.0.0.1:{{ .SSHHostPort }}-:22"],
  ])
}

build {
  name    = "slm-copilot-release"
  sources = ["source.qemu.release"]

  provisioner "shell" {
    script = "${var.repo_dir}/packer/release/scripts/prepare-build-vm.sh"
  }

  provisioner "file" {
    source      = "${var.sources_dir}/"
    destination = "/tmp/slmc-sources"
  }

  provisioner "file" {
    source      = "${var.repo_dir}/appliance/"
    destination = "/tmp/slmc-appliance"
  }

  provisioner "file" {
    source      = "${var.one_apps_dir}/"
    destination = "/tmp/slmc-one-apps"
  }

  provisioner "file" {
    source      = "${var.one_context_dir}/"
    destination = "/tmp/slmc-one-context"
  }

  provisioner "shell" {
    environment_vars = [
      "SLMC_ONE_CONTEXT_DIR=/tmp/slmc-one-context",
      "SLMC_ONE_APPS_DIR=/tmp/slmc-one-apps",
      "SLMC_APPLIANCE_DIR=/tmp/slmc-appliance",
      "SLMC_SOURCES_ENV=/tmp/slmc-sources/sources.env",
      "SLMC_BUILD_ID=${var.build_id}",
      "SLMC_IMAGE_VERSION=${var.image_version}",
      "SLMC_BUILD_PROFILE=${var.build_profile}",
      "SLMC_BUILD_STAND_INS=${var.build_stand_ins}",
      "SLMC_BUILD_TIME=${var.build_time}",
    ]
    scripts = [
      "${var.repo_dir}/packer/release/scripts/install-one-context.sh",
      "${var.repo_dir}/packer/scripts/install-one-apps.sh",
      "${var.repo_dir}/packer/scripts/install-appliance.sh",
    ]
  }

  provisioner "shell" {
    script = "${var.repo_dir}/packer/release/scripts/cleanup.sh"
  }
}
