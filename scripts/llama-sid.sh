#!/usr/bin/env bash
# Real llama.cpp without internet: Debian's build. Debian carries llama.cpp (package llama.cpp-tools:
# llama-server, llama-bench) only in sid, which needs sid's libc, so it lives in a side root built
# with mmdebstrap beside the system and runs through that root's own dynamic loader (no chroot).
#
#   llama-sid.sh [build]            build (or reuse) the side root      -> prints its directory
#   llama-sid.sh run PROGRAM ARGS   run PROGRAM (e.g. llama-server) from the side root
#   llama-sid.sh tarball FILE       the side root as FILE (.tar.gz, without device nodes), for an image:
#                                   extract anywhere (e.g. /opt/llama-sid) and use its run wrapper
#
# The root is cached in SLMC_LAB_CACHE (default /var/cache/slmc-lab) as llama-sid-<hash of this
# script>, built in a temporary directory and renamed into place. The directory holds:
#   root/          the Debian sid file system (mmdebstrap --variant=apt, about 170 MB)
#   run            the wrapper: DIR/run llama-server ARGS... (relocatable: copy DIR anywhere)
#   VERSIONS       the packages installed in root/, "name version" per line (dpkg-query)
# Exit codes: 0 ok, 1 build failed, 2 usage, 3 the Debian archive (SLMC_LAB_MIRROR) is unreachable.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly SELF="${ROOT}/scripts/llama-sid.sh"
readonly CACHE="${SLMC_LAB_CACHE:-/var/cache/slmc-lab}"
readonly MIRROR="${SLMC_LAB_MIRROR:-http://deb.debian.org/debian}"
readonly SUITE=sid
readonly PACKAGES=(llama.cpp-tools)
readonly MIRROR_TIMEOUT_S=20
readonly EXIT_BUILD=1 EXIT_USAGE=2 EXIT_UNREACHABLE=3

die() {
  local code="$1"
  shift
  echo "llama-sid: $*" >&2
  exit "${code}"
}

say() {
  echo "llama-sid: $*" >&2
}

root_dir() {
  echo "${CACHE}/llama-sid-$(sha256sum "${SELF}" | cut -c1-16)"
}

is_complete() {
  local dir="$1"
  [[ -f "${dir}/VERSIONS" && -x "${dir}/run" ]]
}

check_mirror() {
  local release="${MIRROR}/dists/${SUITE}/Release"
  curl -fsS --max-time "${MIRROR_TIMEOUT_S}" -o /dev/null "${release}" 2>/dev/null ||
    die "${EXIT_UNREACHABLE}" "the Debian archive ${MIRROR} is unreachable (GET ${release} failed within ${MIRROR_TIMEOUT_S} s); set SLMC_LAB_MIRROR to a reachable Debian mirror"
}

# The wrapper finds the root from its own path, so the directory can be copied anywhere (e.g. into
# the lab image).
write_wrapper() {
  local dir="$1"
  cat >"${dir}/run" <<'WRAPPER'
#!/bin/sh
# Runs a program of this Debian sid root through the root's own loader and libraries, without chroot:
#   run llama-server ARGS...
set -eu
root="$(cd "$(dirname "$0")" && pwd)/root"
[ "$#" -ge 1 ] || { echo "usage: $0 PROGRAM [ARGS...]" >&2; exit 2; }
program="$1"
shift
[ -x "${root}/usr/bin/${program}" ] || { echo "${root}: no program usr/bin/${program}" >&2; exit 2; }
libs="${root}/usr/lib/x86_64-linux-gnu/llama:${root}/usr/lib/x86_64-linux-gnu:${root}/lib/x86_64-linux-gnu"
exec "${root}/lib64/ld-linux-x86-64.so.2" --library-path "${libs}" "${root}/usr/bin/${program}" "$@"
WRAPPER
  chmod 0755 "${dir}/run"
}

# libggml picks its CPU backend (libggml-cpu-<variant>.so, best for this CPU) at run time from its
# compiled-in /usr/lib/x86_64-linux-gnu/ggml/backends0, absent outside the root, and from the running
# executable's directory: run through the root's loader, that is the loader's own directory.
link_cpu_backends() {
  local dir="$1" libdir backend
  libdir="${dir}/root/usr/lib/x86_64-linux-gnu"
  for backend in "${libdir}"/ggml/backends0/libggml-cpu-*.so; do
    [[ -f "${backend}" ]] || die "${EXIT_BUILD}" "no ggml CPU backend in ${libdir}/ggml/backends0"
    ln -s "ggml/backends0/${backend##*/}" "${libdir}/${backend##*/}"
  done
}

record_versions() {
  local dir="$1"
  dpkg-query --admindir="${dir}/root/var/lib/dpkg" -W -f='${Package} ${Version}\n' | sort >"${dir}/VERSIONS"
}

build_root() {
  local target="$1" include
  command -v mmdebstrap >/dev/null || die "${EXIT_BUILD}" "mmdebstrap is not installed (scripts/system-deps.sh installs it)"
  check_mirror
  include="$(
    IFS=,
    echo "${PACKAGES[*]}"
  )"
  WORK_DIR="$(mktemp -d "${CACHE}/.llama-sid-build.XXXXXX")"
  trap 'rm -rf "${WORK_DIR}"' EXIT
  # The mirror's sid Release file can be older than its Valid-Until; the content is still consistent.
  mmdebstrap --quiet --variant=apt --aptopt='Acquire::Check-Valid-Until "false"' \
    --include="${include}" "${SUITE}" "${WORK_DIR}/root" "${MIRROR}" >&2 ||
    die "${EXIT_BUILD}" "mmdebstrap of ${SUITE} with ${include} from ${MIRROR} failed (see above)"
  link_cpu_backends "${WORK_DIR}"
  write_wrapper "${WORK_DIR}"
  record_versions "${WORK_DIR}"
  mv -T "${WORK_DIR}" "${target}"
  trap - EXIT
}

cmd_build() {
  local dir start
  dir="$(root_dir)"
  if is_complete "${dir}"; then
    say "cached in ${dir} ($(grep '^llama.cpp-tools ' "${dir}/VERSIONS"))"
    echo "${dir}"
    return
  fi
  start="${SECONDS}"
  say "building the Debian ${SUITE} side root with ${PACKAGES[*]} in ${dir} (mmdebstrap, about 30 s)"
  mkdir -p "${CACHE}"
  exec 9>"${CACHE}/.llama-sid.lock"
  flock 9
  # Another build may have finished while this one waited for the lock.
  if ! is_complete "${dir}"; then
    rm -rf "${dir}"
    build_root "${dir}"
  fi
  say "built in $((SECONDS - start)) s: $(grep '^llama.cpp-tools ' "${dir}/VERSIONS")"
  echo "${dir}"
}

cmd_run() {
  local dir
  dir="$(cmd_build)"
  exec "${dir}/run" "$@"
}

# Device nodes are left out: nothing runs chrooted, and image builders may not create them.
cmd_tarball() {
  local out="$1" dir
  dir="$(cmd_build)"
  tar -C "${dir}" --exclude='./root/dev/*' -czf "${out}" .
  say "wrote ${out} ($(du -h "${out}" | cut -f1))"
  echo "${out}"
}

main() {
  local command="${1:-build}"
  if (($# > 0)); then shift; fi
  case "${command}" in
  build) cmd_build ;;
  run)
    (($# >= 1)) || die "${EXIT_USAGE}" "usage: llama-sid.sh run PROGRAM [ARGS...]"
    cmd_run "$@"
    ;;
  tarball)
    (($# == 1)) || die "${EXIT_USAGE}" "usage: llama-sid.sh tarball FILE"
    cmd_tarball "$1"
    ;;
  *) die "${EXIT_USAGE}" "unknown command '${command}'; usage: llama-sid.sh [build] | run PROGRAM [ARGS...] | tarball FILE" ;;
  esac
}

main "$@"
