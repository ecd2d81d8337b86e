# Lab appliance: boots the Debian bookworm lab base (a STAND-IN for the Ubuntu 24.04 cloud image)
# and runs the same provisioner scripts as the release build (packer/scripts/), with the LocalAI
# stand-in and a generated model served from local files. Written for Debian's Packer 1.6.6, so no
# required_plugins block.
packer {
  required_version = ">= 1.6.6"
}

variable "base_image" {
  type        = string
  description = "absolute path of the lab base qcow2"
}

variable "kernel" {
  type = string
}

variable "initrd" {
  type = string
}

variable "ssh_private_key_file" {
  type = string
}

variable "sources_dir" {
  type        = string
  description = "output of packer/lab/make-sources.sh (stand-in binary, checksums, backend, model)"
}

variable "repo_dir" {
  type = string
}

variable "output_dir" {
  type = string
}

variable "build_id" {
  type        = string
  description = "unique per lab build; scripts/lab.sh writes it with the image's sha256 to manifest.json beside the image"
}

variable "build_time" {
  type = string
}

variable "engine_stand_ins" {
  type        = string
  description = "what stands in for LocalAI's engine and Devstral in this build (scripts/lab.sh sets it per SLMC_LAB_ENGINE)"
  default     = "LocalAI stand-in binary, generated 4 MiB model (not Devstral)"
}

variable "accelerator" {
  type    = string
  default = "tcg"
}

source "qemu" "lab" {
  accelerator          = var.accelerator
  disk_image           = true
  iso_url              = "file://${var.base_image}"
  iso_checksum         = "none"
  skip_resize_disk     = true
  format               = "qcow2"
  disk_interface       = "virtio"
  net_device           = "virtio-net"
  output_directory     = var.output_dir
  vm_name              = "slm-copilot-lab.qcow2"
  headless             = true
  memory               = 2048
  cpus                 = 2
  communicator         = "ssh"
  ssh_username         = "root"
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = "15m"
  shutdown_command     = "systemctl poweroff"
  qemuargs = [
    ["-kernel", var.kernel],
    ["-initrd", var.initrd],
    ["-append", "root=/dev/vda rw console=ttyS0"],
    ["-cpu", "max"],
    # The console is the serial port: a framebuffer console only costs emulated CPU.
    ["-vga", "none"],
    ["-netdev", "user,id=user.0,hostfwd=tcp:127.0.0.1:{{ .SSHHostPort }}-:22"],
  ]
}

build {
  name    = "slm-copilot-lab"
  sources = ["source.qemu.lab"]

  provisioner "shell" {
    inline = ["mkdir -p /tmp/slmc-sources /tmp/slmc-appliance /tmp/slmc-one-apps /tmp/slmc-context"]
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
    source      = "${var.repo_dir}/fixtures/lab/one-apps/"
    destination = "/tmp/slmc-one-apps"
  }

  provisioner "file" {
    source      = "${var.repo_dir}/fixtures/lab/context/"
    destination = "/tmp/slmc-context"
  }

  provisioner "shell" {
    environment_vars = [
      "SLMC_ONE_APPS_DIR=/tmp/slmc-one-apps",
      "SLMC_APPLIANCE_DIR=/tmp/slmc-appliance",
      "SLMC_LAB_CONTEXT_DIR=/tmp/slmc-context",
      "SLMC_SOURCES_ENV=/tmp/slmc-sources/sources.env",
      "SLMC_BUILD_ID=${var.build_id}",
      "SLMC_BUILD_PROFILE=lab",
      "SLMC_BUILD_STAND_INS=LAB STAND-IN: Debian bookworm lab base (not Ubuntu 24.04), slmc lab one-apps driver and one-context, ${var.engine_stand_ins}",
      "SLMC_BUILD_TIME=${var.build_time}",
    ]
    scripts = [
      "${var.repo_dir}/packer/scripts/install-one-apps.sh",
      "${var.repo_dir}/packer/lab/install-lab-context.sh",
      "${var.repo_dir}/packer/scripts/install-appliance.sh",
    ]
  }

  provisioner "shell" {
    inline = ["rm -rf /tmp/slmc-sources /tmp/slmc-appliance /tmp/slmc-one-apps /tmp/slmc-context", "sync"]
  }
}
