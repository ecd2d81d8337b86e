# Inputs of the release template. build.sh passes every path and checksum; the defaults are the
# real release build's. The lab run of build.sh overrides the marked ones to boot the Debian lab
# base image (a STAND-IN for the Ubuntu 24.04 cloud image) under TCG.

variable "base_image_url" {
  type        = string
  description = "the Ubuntu 24.04 cloud image; build.sh passes the file:// URL of its verified download"
}

variable "base_image_checksum" {
  type        = string
  description = "\"sha256:<hex>\" of base_image_url; Packer verifies it again before booting"
}

variable "ssh_private_key_file" {
  type        = string
  description = "build key; its public half is in the cloud-init seed (release) or baked into the lab base (lab)"
}

variable "seed_iso" {
  type        = string
  description = "cloud-init NoCloud seed (volume label cidata) made by build.sh from packer/release/cloud-init/"
}

variable "sources_dir" {
  type        = string
  description = "directory uploaded to /tmp/slmc-sources: sources.env (the SLMC_* install variables) and, in the lab, the stand-in files"
}

variable "one_apps_dir" {
  type        = string
  description = "one-apps framework files staged by build.sh from the pinned one-apps release (service, lib/, hooks)"
}

variable "one_context_dir" {
  type        = string
  description = "directory holding the pinned one-context .deb fetched and verified by build.sh"
}

variable "repo_dir" {
  type = string
}

variable "output_dir" {
  type = string
}

variable "vm_name" {
  type    = string
  default = "slm-copilot.qcow2"
}

variable "accelerator" {
  type    = string
  default = "kvm"
}

variable "cpu_model" {
  type        = string
  default     = "host"
  description = "lab: max (TCG has no host CPU)"
}

# Sized for the model: the 14 GB GGUF is downloaded inside the VM and pre-warmed (loaded once by
# service install), so the disk holds OS + LocalAI + backend + model and RAM holds the mapped model.
variable "memory" {
  type    = number
  default = 20480
}

variable "cpus" {
  type    = number
  default = 8
}

variable "disk_size" {
  type        = string
  default     = "25G"
  description = "virtual size of the image (20-25 GB target); cloud-init grows the root partition into it"
}

variable "skip_resize_disk" {
  type        = bool
  default     = false
  description = "lab: true (the Debian stand-in's root is an unpartitioned ext4 that nothing would grow)"
}

variable "boot_qemuargs" {
  type        = list(list(string))
  default     = []
  description = "extra QEMU arguments to boot the base; lab: -kernel/-initrd/-append (its kernel lives outside the image)"
}

variable "ssh_timeout" {
  type    = string
  default = "30m"
}

# The image's build record (/etc/slm-copilot/build-record.json, written by `service install`).
variable "build_id" {
  type        = string
  description = "unique per Packer run; build.sh's manifest.json maps it to the sha256 of the image it produced"
}

variable "image_version" {
  type = string
}

variable "build_profile" {
  type        = string
  default     = "release"
  description = "release, or lab-stand-in for a build from stand-in inputs"
}

variable "build_stand_ins" {
  type        = string
  default     = ""
  description = "what stands in for what (empty for a release build)"
}

variable "build_time" {
  type = string
}
