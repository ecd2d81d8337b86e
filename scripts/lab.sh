#!/usr/bin/env bash
# The lab: a real VM (QEMU, real kernel, systemd, sshd, nginx, reboots) running the appliance built by
# Packer from the Debian lab base, with the LocalAI STAND-IN and a generated model in place of LocalAI
# and Devstral (which cannot be downloaded here).
#
#   lab.sh image                    build (or reuse) the base image      -> prints its directory
#   lab.sh appliance                build (or reuse) the lab appliance   -> prints the qcow2 path
#                                   (manifest.json beside it: build id and sha256, for gate --build-manifest)
#   lab.sh up CONTEXT_FILE [NET]    boot it with a CONTEXT ISO made from a KEY='VALUE' file; NET is
#                                   "restricted" (default: no outbound network) or "open"
#   lab.sh wait-ready [SECONDS]     wait for bootstrap_success (exit 1 on *_failure or timeout)
#   lab.sh ssh [COMMAND...]         run a command in the VM (keep-alives, timeout)
#   lab.sh context CONTEXT_FILE     swap the CONTEXT ISO (takes effect at the next boot)
#   lab.sh reboot                   reboot, confirm a new boot_id, wait for bootstrap_success (a guest
#                                   that never starts again is hard-reset, saying so with its console)
#   lab.sh resize MEMORY_MB         power off, boot the same disk and context with that much memory
#                                   (waits for SSH only: a VM too small for the model must say so)
#   lab.sh prune                    remove cached images but the newest KEEP of each kind and any in use
#                                   (also after every build: each image is about 2 GB)
#   lab.sh env                      print the state (ports, key) as KEY=VALUE lines
#   lab.sh supervise                (started by up and resize, detached) run QEMU, and a fresh QEMU
#                                   each time the guest reboots, until it powers off or down stops it
#   lab.sh down                     power off and remove the run directory
#
# SLMC_LAB_ENGINE picks what the stand-in engine runs: "synthetic" (default: exact token schedules) or
# "llama-server" (Debian's llama.cpp on a generated 1m GGUF: real inference; the image is built apart,
# as appliance-llama-server-<hash>). The state file records the engine of the VM that is up, and every
# command but env and down refuses a VM of the other engine.
# Builds are cached in SLMC_LAB_CACHE (default /var/cache/slmc-lab) keyed by the hash of their inputs;
# the running VM lives in SLMC_LAB_RUN (default .lab/run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly CACHE="${SLMC_LAB_CACHE:-/var/cache/slmc-lab}"
readonly RUN_DIR="${SLMC_LAB_RUN:-${ROOT}/.lab/run}"
readonly SSH_TIMEOUT_S="${SLMC_LAB_SSH_TIMEOUT:-120}"
readonly MEMORY_MB="${SLMC_LAB_MEMORY_MB:-6144}"
readonly ENGINE="${SLMC_LAB_ENGINE:-synthetic}"
readonly QEMU="${SLMC_LAB_QEMU:-qemu-system-x86_64}"
# A QEMU that ends sooner than this after its start failed (a bad option, a port taken): not restarted.
readonly QEMU_MIN_RUN_S="${SLMC_LAB_QEMU_MIN_RUN_S:-10}"
# Cached images kept per kind (base, synthetic appliance, llama-server appliance): a checkout's inputs
# change with every commit that touches them, and a few worktrees may want their own at once.
readonly KEEP="${SLMC_LAB_KEEP:-3}"

die() {
  echo "lab: $*" >&2
  exit 1
}

say() {
  echo "lab: $*" >&2
}

# Hashes the files of each path; a directory's packer_cache (Packer's downloads and port locks, written
# by every build) is not an input: counting it made each later lookup miss and rebuild.
inputs_hash() {
  local path
  for path in "$@"; do
    if [[ -d "${path}" ]]; then
      find "${path}" -name packer_cache -prune -o -type f -print0 | sort -z | xargs -0 sha256sum
    else
      sha256sum "${path}"
    fi
  done | sed "s#${ROOT}/##" | sha256sum | cut -c1-16
}

base_dir() {
  echo "${CACHE}/base-$(inputs_hash "${ROOT}/packer/lab/build-base-image.sh")"
}

cmd_image() {
  local dir
  dir="$(base_dir)"
  if [[ -f "${dir}/SHA256SUMS" ]] && (cd "${dir}" && sha256sum --quiet -c SHA256SUMS); then
    say "base image cached in ${dir}"
    touch "${dir}"
    echo "${dir}"
    return
  fi
  say "building the base image in ${dir} (mmdebstrap, about 2 minutes)"
  rm -rf "${dir}"
  mkdir -p "${dir}"
  ssh-keygen -q -t ed25519 -N '' -C slmc-lab -f "${dir}/lab_key"
  "${ROOT}/packer/lab/build-base-image.sh" "${dir}" "${dir}/lab_key.pub" >&2
  cmd_prune
  echo "${dir}"
}

# The cache directories of one kind (a glob under CACHE), most recently used first (a cache hit touches
# its directory); the llama-server appliances are their own kind, so the synthetic glob leaves them out.
cache_dirs_newest_first() {
  local kind="$1" dir
  find "${CACHE}" -mindepth 1 -maxdepth 1 -type d -name "${kind}-*" -printf '%T@ %p\n' | sort -rn | cut -d' ' -f2- |
    while read -r dir; do
      if [[ "${kind}" == appliance && "${dir##*/}" == appliance-llama-server-* ]]; then continue; fi
      echo "${dir}"
    done
}

# Prints "yes" when a process holds a file under DIR open (a running VM's disk is backed by its image).
dir_in_use() {
  local dir="$1" holder
  # find exits non-zero for processes that end while it reads /proc: only its output counts.
  holder="$(find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 -lname "${dir}/*" -print -quit 2>/dev/null || true)"
  if [[ -n "${holder}" ]]; then echo yes; else echo no; fi
}

cmd_prune() {
  [[ "${KEEP}" =~ ^[1-9][0-9]*$ ]] || die "SLMC_LAB_KEEP='${KEEP}' must be a whole number of at least 1"
  [[ -d "${CACHE}" ]] || return 0
  local kind dir index freed
  for kind in base appliance appliance-llama-server; do
    index=0
    while read -r dir; do
      index=$((index + 1))
      ((index > KEEP)) || continue
      if [[ "$(dir_in_use "${dir}")" == yes ]]; then
        say "kept ${dir}: in use"
        continue
      fi
      freed="$(du -sh "${dir}" | cut -f1)"
      rm -rf "${dir}"
      say "pruned ${dir} (${freed})"
    done < <(cache_dirs_newest_first "${kind}")
  done
}

# What every lab appliance image is built from (BASE: the base image's directory), one path a line.
appliance_inputs() {
  local base="$1"
  printf '%s\n' "${base}/SHA256SUMS" "${ROOT}/appliance" "${ROOT}/fixtures/lab/one-apps" "${ROOT}/fixtures/lab/context" \
    "${ROOT}/packer/scripts" "${ROOT}/packer/lab" "${ROOT}/dist/local-ai-stand-in"
}

appliance_dir() {
  local base="$1" inputs
  mapfile -t inputs < <(appliance_inputs "${base}")
  echo "${CACHE}/appliance-$(inputs_hash "${inputs[@]}")"
}

# The llama-server image's inputs add the side root (its package versions and wrapper; its directory
# name already carries the hash of llama-sid.sh) and the model generator; the engine is in the name
# and in the hash.
llama_server_appliance_dir() {
  local base="$1" side hash inputs
  side="$("${ROOT}/scripts/llama-sid.sh" build)"
  mapfile -t inputs < <(appliance_inputs "${base}")
  hash="$({
    echo "engine=llama-server"
    inputs_hash "${inputs[@]}" "${ROOT}/scripts/llama-sid.sh" "${side}/VERSIONS" "${side}/run" "${ROOT}/fixtures/gguf"
  } | sha256sum | cut -c1-16)"
  echo "${CACHE}/appliance-llama-server-${hash}"
}

engine_appliance_dir() {
  local base="$1"
  if [[ "${ENGINE}" == llama-server ]]; then llama_server_appliance_dir "${base}"; else appliance_dir "${base}"; fi
}

# What the build record and manifest name as the engine's stand-ins.
engine_stand_ins() {
  if [[ "${ENGINE}" == llama-server ]]; then
    echo "LocalAI stand-in binary running the llama-server of Debian (real llama.cpp), generated 1.2M-parameter GGUF with random weights (not Devstral)"
  else
    echo "LocalAI stand-in binary, generated 4 MiB model (not Devstral)"
  fi
}

# What build.sh's manifest.json says of a release image, for the lab image: the build id the image's
# build record carries and the image's sha256 (slmc-check gate --build-manifest ties the two).
write_lab_manifest() {
  local dir="$1" build_id="$2" built_at="$3" version sha
  version="$(sed -n "s/^ONE_SERVICE_VERSION='\(.*\)'$/\1/p" "${ROOT}/appliance/appliance.sh")"
  sha="$(sha256sum "${dir}/slm-copilot-lab.qcow2")"
  jq -n --arg version "${version}" --arg build_id "${build_id}" --arg built_at "${built_at}" \
    --arg sha256 "${sha%% *}" --arg stand_ins "$(engine_stand_ins)" \
    '{name: "slm-copilot-lab", version: $version, build_id: $build_id, built_at: $built_at, profile: "lab",
      stand_ins: ("LAB STAND-IN image built by scripts/lab.sh (packer/lab): " + $stand_ins), format: "qcow2",
      file: "slm-copilot-lab.qcow2", sha256: $sha256}' >"${dir}/manifest.json"
}

cmd_appliance() {
  local base dir sources accel build_id built_at
  base="$(cmd_image)"
  [[ -x "${ROOT}/dist/local-ai-stand-in" ]] || die "dist/local-ai-stand-in is missing: run 'make build-cli'"
  dir="$(engine_appliance_dir "${base}")"
  if [[ -f "${dir}/slm-copilot-lab.qcow2" && -f "${dir}/manifest.json" && -f "${dir}/.complete" ]]; then
    say "lab appliance (engine ${ENGINE}) cached in ${dir}"
    touch "${dir}"
    echo "${dir}/slm-copilot-lab.qcow2"
    return
  fi
  rm -rf "${dir}"
  sources="$(mktemp -d)"
  SLMC_LAB_ENGINE="${ENGINE}" "${ROOT}/packer/lab/make-sources.sh" "${sources}" /tmp/slmc-sources >&2
  accel="$(choose_accelerator "${base}")"
  built_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  build_id="slm-copilot-lab-$(date -u +%Y%m%dT%H%M%SZ)-${dir##*-}"
  say "building the lab appliance (engine ${ENGINE}) with Packer (${accel}), build id ${build_id}"
  (cd "${ROOT}/packer/lab" && PACKER_LOG=0 PACKER_CACHE_DIR="${CACHE}/packer-cache" packer build -color=false \
    -var "base_image=${base}/base.qcow2" -var "kernel=${base}/vmlinuz" -var "initrd=${base}/initrd.img" \
    -var "ssh_private_key_file=${base}/lab_key" -var "sources_dir=${sources}" -var "repo_dir=${ROOT}" \
    -var "output_dir=${dir}" -var "accelerator=${accel}" -var "build_id=${build_id}" \
    -var "build_time=${built_at}" -var "engine_stand_ins=$(engine_stand_ins)" slm-copilot-lab.pkr.hcl) >&2
  rm -rf "${sources}"
  write_lab_manifest "${dir}" "${build_id}" "${built_at}"
  touch "${dir}/.complete"
  cmd_prune
  echo "${dir}/slm-copilot-lab.qcow2"
}

# KVM only when a kernel really boots under it (on PVM hosts it hangs after decompression).
choose_accelerator() {
  local base="$1" verdict="${CACHE}/accelerator"
  if [[ -n "${SLMC_LAB_ACCEL:-}" ]]; then
    echo "${SLMC_LAB_ACCEL}"
    return
  fi
  if [[ -f "${verdict}" ]]; then
    cat "${verdict}"
    return
  fi
  local choice=tcg log
  if [[ -w /dev/kvm ]]; then
    log="$(mktemp)"
    timeout 25 qemu-system-x86_64 -accel kvm -cpu host -m 256 -display none -serial "file:${log}" -no-reboot \
      -kernel "${base}/vmlinuz" -append "console=ttyS0 panic=-1" >/dev/null 2>&1 || true
    grep -q "Kernel panic\|VFS: Unable to mount root" "${log}" && choice=kvm
    rm -f "${log}"
  fi
  mkdir -p "${CACHE}"
  echo "${choice}" >"${verdict}"
  say "accelerator: ${choice}"
  echo "${choice}"
}

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

make_context_iso() {
  local context_file="$1" iso="$2" dir
  [[ -r "${context_file}" ]] || die "cannot read context file ${context_file}"
  dir="$(mktemp -d)"
  {
    echo "# Context variables generated by OpenNebula (slmc lab)"
    grep -v '^[[:space:]]*#' "${context_file}" | grep -v '^[[:space:]]*$' || true
  } >"${dir}/context.sh"
  genisoimage -quiet -o "${iso}" -V CONTEXT -J -R "${dir}" 2>/dev/null
  rm -rf "${dir}"
}

# The state of whatever VM is up (env, down).
load_any_state() {
  [[ -f "${RUN_DIR}/state.env" ]] || die "no lab VM is up (${RUN_DIR}/state.env missing): run 'lab.sh up CONTEXT_FILE'"
  # shellcheck source=/dev/null
  source "${RUN_DIR}/state.env"
  # A state file from before engines were recorded is the synthetic one.
  LAB_ENGINE="${LAB_ENGINE:-synthetic}"
}

# The state of the VM up, which must run this command's engine.
load_state() {
  load_any_state
  [[ "${LAB_ENGINE}" == "${ENGINE}" ]] ||
    die "the lab VM up in ${RUN_DIR} runs the ${LAB_ENGINE} engine, not ${ENGINE} (SLMC_LAB_ENGINE): run this with SLMC_LAB_ENGINE=${LAB_ENGINE}, or 'lab.sh down' first"
}

lab_ssh() {
  lab_ssh_within "${SSH_TIMEOUT_S}" "$@"
}

lab_ssh_within() {
  local seconds="$1"
  shift
  timeout "${seconds}" ssh -i "${LAB_SSH_KEY}" -p "${LAB_SSH_PORT}" -o BatchMode=yes \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5 \
    -o ServerAliveInterval=5 -o ServerAliveCountMax=3 root@127.0.0.1 "$@"
}

# Waits for a login, by the wall clock: an attempt is cut at 30 s, as a guest that accepts nothing
# behind QEMU's port forward never answers the SSH banner.
wait_for_ssh() {
  local deadline=$((SECONDS + $1))
  until lab_ssh_within 30 true 2>/dev/null; do
    ((SECONDS >= deadline)) && return 1
    if [[ "$(supervisor_alive)" == no ]]; then
      die "QEMU exited and was not started again; $(tail -n 5 "${RUN_DIR}/supervisor.log" 2>/dev/null); serial log: ${RUN_DIR}/serial.log"
    fi
    sleep 3
  done
}

serial_lines() {
  if [[ -f "${RUN_DIR}/serial.log" ]]; then wc -l <"${RUN_DIR}/serial.log"; else echo 0; fi
}

# The guest's console after line $1, for the reason a boot did not finish.
serial_tail_since() {
  local from="$1"
  echo "last console lines of the guest (${RUN_DIR}/serial.log):"
  tail -n "+$((from + 1))" "${RUN_DIR}/serial.log" 2>/dev/null | tr -d '\r' |
    sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g; s/\x1b[A-Za-z]//g' | tail -n 12
}

# Does the guest's console say $2 (a fixed string) after line $1?
console_says_since() {
  local from="$1" text="$2"
  tail -n "+$((from + 1))" "${RUN_DIR}/serial.log" 2>/dev/null | grep -qF "${text}"
}

cmd_up() {
  local context_file="${1:?usage: lab.sh up CONTEXT_FILE [restricted|open]}" net="${2:-restricted}"
  local image base accel restrict
  if [[ -f "${RUN_DIR}/state.env" ]]; then
    load_any_state
    die "a lab VM (engine ${LAB_ENGINE}) is already up in ${RUN_DIR}; run 'lab.sh down' first"
  fi
  image="$(cmd_appliance)"
  base="$(cmd_image)"
  accel="$(choose_accelerator "${base}")"
  case "${net}" in
    restricted) restrict=on ;;
    open) restrict=off ;;
    *) die "network mode must be restricted or open, not '${net}'" ;;
  esac
  mkdir -p "${RUN_DIR}"
  qemu-img create -q -f qcow2 -F qcow2 -b "${image}" "${RUN_DIR}/disk.qcow2"
  make_context_iso "${context_file}" "${RUN_DIR}/context.iso"
  cat >"${RUN_DIR}/state.env" <<STATE
LAB_SSH_PORT=$(free_port)
LAB_HTTP_PORT=$(free_port)
LAB_HTTPS_PORT=$(free_port)
LAB_ENGINE_PORT=$(free_port)
LAB_SSH_KEY=${base}/lab_key
LAB_ACCEL=${accel}
LAB_NET=${net}
LAB_RESTRICT=${restrict}
LAB_BASE=${base}
LAB_MEMORY_MB=${MEMORY_MB}
LAB_CONTEXT_ISO=${RUN_DIR}/context.iso
LAB_RUN_DIR=${RUN_DIR}
LAB_ENGINE=${ENGINE}
LAB_IMAGE=${image}
STATE
  load_state
  start_qemu
  say "booting the ${ENGINE} engine's image (${accel}, ${LAB_MEMORY_MB} MiB, network ${net}); ssh 127.0.0.1:${LAB_SSH_PORT}, https 127.0.0.1:${LAB_HTTPS_PORT}, http 127.0.0.1:${LAB_HTTP_PORT}"
  wait_for_ssh 300 || die "no SSH within 300 s of boot; $(serial_tail_since 0)"
  cmd_wait_ready
}

# QEMU runs with -no-reboot under a supervisor (lab.sh supervise, detached): when the guest reboots, QEMU
# exits and the supervisor starts a fresh one on the same disk, ports, memory and current context ISO.
# Why: under TCG, a guest reset inside the same QEMU process booted 2-4x slower than a fresh process
# (measured here: kernel phase 30-76 s after a reset, 9-10 s fresh; whole reboot 80-124 s against 60 s).
# To the guest and to SSH it is still a reboot: the disk persists, the port forwards come back.
start_qemu() {
  rm -f "${RUN_DIR}/stopping"
  setsid "${BASH_SOURCE[0]}" supervise </dev/null >>"${RUN_DIR}/supervisor.log" 2>&1 &
  echo "$!" >"${RUN_DIR}/supervisor.pid"
}

# One QEMU process in the foreground, until the guest powers off or resets. No VGA device: the guest's
# console is the serial port (appended to across restarts), and a framebuffer console only costs
# emulated CPU under TCG.
run_qemu() {
  local cpu=max
  [[ "${LAB_ACCEL}" == kvm ]] && cpu=host
  "${QEMU}" -accel "${LAB_ACCEL}" -cpu "${cpu}" -smp 2 -m "${LAB_MEMORY_MB}" -display none -vga none \
    -no-reboot -pidfile "${RUN_DIR}/qemu.pid" \
    -chardev "file,id=console,path=${RUN_DIR}/serial.log,append=on" -serial chardev:console \
    -monitor "unix:${RUN_DIR}/monitor.sock,server,nowait" \
    -kernel "${LAB_BASE}/vmlinuz" -initrd "${LAB_BASE}/initrd.img" -append "root=/dev/vda rw console=ttyS0" \
    -drive "file=${RUN_DIR}/disk.qcow2,if=virtio,format=qcow2" -cdrom "${LAB_CONTEXT_ISO}" \
    -netdev "user,id=n0,restrict=${LAB_RESTRICT},hostfwd=tcp:127.0.0.1:${LAB_SSH_PORT}-:22,hostfwd=tcp:127.0.0.1:${LAB_HTTP_PORT}-:80,hostfwd=tcp:127.0.0.1:${LAB_HTTPS_PORT}-:443,hostfwd=tcp:127.0.0.1:${LAB_ENGINE_PORT}-:8080" \
    -device virtio-net-pci,netdev=n0
}

# What a QEMU exit means for the supervisor: "stop" (lab.sh stops the VM, or the guest powered off:
# Linux's last console word says power-off or reset),
# "failed" (QEMU ended within QEMU_MIN_RUN_S of its start; starting it again would only loop) or
# "restart" (the guest reset).
after_qemu_exit() {
  local from="$1" ran_s="$2"
  if [[ -e "${RUN_DIR}/stopping" ]] || console_says_since "${from}" "reboot: Power down"; then
    echo stop
  elif ((ran_s < QEMU_MIN_RUN_S)); then
    echo failed
  else
    echo restart
  fi
}

cmd_supervise() {
  local from started ran_s status outcome
  while true; do
    load_any_state
    from="$(serial_lines)"
    started="${SECONDS}"
    status=0
    run_qemu || status=$?
    ran_s=$((SECONDS - started))
    outcome="$(after_qemu_exit "${from}" "${ran_s}")"
    say "$(date -u +%FT%TZ) QEMU exited (status ${status}) after ${ran_s} s: ${outcome}"
    [[ "${outcome}" == restart ]] || break
  done
  rm -f "${RUN_DIR}/supervisor.pid"
  [[ "${outcome}" != failed ]]
}

# Is the VM's supervisor (and so the VM, or its next boot) still there?
supervisor_alive() {
  local pid
  pid="$(cat "${RUN_DIR}/supervisor.pid" 2>/dev/null || true)"
  if [[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null; then echo yes; else echo no; fi
}

# Sets KEY=VALUE in the run's state file.
set_state() {
  local key="$1" value="$2" text
  text="$(grep -v "^${key}=" "${RUN_DIR}/state.env")"
  printf '%s\n%s=%s\n' "${text}" "${key}" "${value}" >"${RUN_DIR}/state.env"
  load_state
}

# Powers the guest off for good (the supervisor starts no new QEMU), waits up to $1 seconds for it to end
# (then kills QEMU and the supervisor), and says how it ended.
power_off_guest() {
  local budget="$1" waited=0 supervisor qemu
  supervisor="$(cat "${RUN_DIR}/supervisor.pid" 2>/dev/null || true)"
  [[ "$(supervisor_alive)" == yes ]] || return 0
  touch "${RUN_DIR}/stopping"
  lab_ssh_within 30 systemctl poweroff >/dev/null 2>&1 || true
  while [[ "$(supervisor_alive)" == yes ]] && ((waited < budget)); do
    sleep 1
    waited=$((waited + 1))
  done
  if [[ "$(supervisor_alive)" == yes ]]; then
    qemu="$(cat "${RUN_DIR}/qemu.pid" 2>/dev/null || true)"
    # Either may still exit between the check and the kill.
    kill "${supervisor}" 2>/dev/null || true
    if [[ -n "${qemu}" ]]; then kill -9 "${qemu}" 2>/dev/null || true; fi
    rm -f "${RUN_DIR}/supervisor.pid"
    say "the guest did not power off within ${budget} s: QEMU killed"
  else
    say "powered off after ${waited} s"
  fi
}

# What an operator does with 'onevm resize' on a powered-off VM: power off, change the memory, boot the
# same disk and context again. Waits for SSH only: the appliance may rightly refuse to start.
cmd_resize() {
  local memory="${1:?usage: lab.sh resize MEMORY_MB}"
  if [[ ! "${memory}" =~ ^[0-9]+$ ]] || ((memory < 512 || memory > 65536)); then
    die "memory must be a whole number of MiB from 512 to 65536, not '${memory}'"
  fi
  load_state
  power_off_guest 60
  set_state LAB_MEMORY_MB "${memory}"
  start_qemu
  say "booting again with ${memory} MiB"
  wait_for_ssh 300 || die "no SSH within 300 s of the resized boot; $(serial_tail_since 0)"
}

cmd_wait_ready() {
  local budget="${1:-900}" waited=0 status=""
  load_state
  # The status file survives reboots; only a finished one-context run of THIS boot (its files live in
  # the /run tmpfs) makes it current.
  local current='if [ -e /run/one-context/context.sh.network ] && [ ! -d /run/one-context/one-context.lock ]; then cat /etc/one-appliance/status; else echo context_pending; fi'
  while ((waited < budget)); do
    status="$(lab_ssh "${current}" 2>/dev/null || true)"
    case "${status}" in
      bootstrap_success)
        say "appliance ready (bootstrap_success) after ${waited} s of polling"
        say "try: slmc-check 127.0.0.1 --https-port ${LAB_HTTPS_PORT} --http-port ${LAB_HTTP_PORT} --insecure --password-file <(scripts/lab.sh ssh cat /var/lib/slm-copilot/password)"
        return 0
        ;;
      *_failure)
        say "appliance failed: ${status}; last log lines:"
        lab_ssh tail -n 30 /var/log/one-appliance/slm-copilot.log >&2 || true
        return 1
        ;;
    esac
    sleep 3
    waited=$((waited + 3))
  done
  say "not ready within ${budget} s (status: ${status:-unknown})"
  return 1
}

cmd_ssh() {
  load_state
  lab_ssh "$@"
}

monitor() {
  { printf '%s\n' "$1"; sleep 1; } | timeout 10 socat - "UNIX-CONNECT:${RUN_DIR}/monitor.sock"
}

cmd_context() {
  local context_file="${1:?usage: lab.sh context CONTEXT_FILE}" iso
  load_state
  iso="${RUN_DIR}/context-$(date +%s%N).iso"
  make_context_iso "${context_file}" "${iso}"
  # The guest locks the tray while the CD is known to it: force the eject, then insert the new medium.
  monitor "eject -f ide1-cd0" >/dev/null
  monitor "change ide1-cd0 ${iso}" >/dev/null
  local attached
  attached="$(monitor "info block ide1-cd0")"
  [[ "${attached}" == *"${iso}"* ]] || die "QEMU did not take the new context ISO ${iso}: ${attached}"
  set_state LAB_CONTEXT_ISO "${iso}"
  say "context ISO swapped to ${iso}; it takes effect at the next boot"
}

cmd_reboot() {
  local before after from
  load_state
  before="$(lab_ssh cat /proc/sys/kernel/random/boot_id)"
  from="$(serial_lines)"
  lab_ssh systemctl reboot >/dev/null 2>&1 || true
  sleep 5
  if ! wait_for_ssh 300; then
    # A new kernel started: the reboot reached the firmware and a new boot.
    if console_says_since "${from}" "Linux version"; then
      die "no SSH within 300 s after reboot, though a new kernel started; $(serial_tail_since "${from}")"
    fi
    # No new kernel: the guest is stuck in shutdown or in the emulated reset. A cloud operator's next
    # step is a hard reboot; the lab does the same and says so.
    say "the guest did not start again within 300 s of 'systemctl reboot'; $(serial_tail_since "${from}")"
    say "hard reset through the QEMU monitor (system_reset), as 'onevm reboot --hard' would"
    from="$(serial_lines)"
    monitor "system_reset" >/dev/null
    wait_for_ssh 300 || die "no SSH within 300 s after a hard reset; $(serial_tail_since "${from}")"
  fi
  after="$(lab_ssh cat /proc/sys/kernel/random/boot_id)"
  [[ "${before}" != "${after}" ]] || die "boot_id unchanged (${after}): the VM did not reboot"
  say "rebooted: boot_id ${before} -> ${after}"
  cmd_wait_ready
}

cmd_env() {
  load_any_state
  cat "${RUN_DIR}/state.env"
}

cmd_down() {
  [[ -f "${RUN_DIR}/state.env" ]] || return 0
  load_any_state
  power_off_guest 20
  rm -rf "${RUN_DIR}"
  say "lab VM (engine ${LAB_ENGINE}) down"
}

main() {
  local command="${1:-}"
  shift || true
  case "${ENGINE}" in
    synthetic | llama-server) ;;
    *) die "SLMC_LAB_ENGINE='${ENGINE}' is not an engine: use synthetic (the default) or llama-server" ;;
  esac
  case "${command}" in
    image) cmd_image ;;
    appliance) cmd_appliance ;;
    up) cmd_up "$@" ;;
    wait-ready) cmd_wait_ready "$@" ;;
    ssh) cmd_ssh "$@" ;;
    context) cmd_context "$@" ;;
    reboot) cmd_reboot ;;
    resize) cmd_resize "$@" ;;
    env) cmd_env ;;
    down) cmd_down ;;
    prune) cmd_prune ;;
    supervise)
      cmd_supervise
      exit
      ;;
    *) die "usage: lab.sh image|appliance|up CONTEXT_FILE [restricted|open]|wait-ready|ssh|context FILE|reboot|resize MEMORY_MB|env|down|prune|supervise" ;;
  esac
}

main "$@"
