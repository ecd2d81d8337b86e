#!/usr/bin/env bash
# Renders a template: every {{KEY}} is replaced by the value given as KEY=VALUE; an unknown or missing
# key is an error, so a typo never ships a half-rendered file. Values are inserted literally (no
# shell or sed interpretation). Used by appliance.sh, the lab and the tests alike.
#   render-template.sh TEMPLATE KEY=VALUE... > output
set -euo pipefail

die() {
  echo "render-template: $*" >&2
  exit 2
}

render() {
  local template="$1"
  shift
  local text pair key value
  text="$(<"${template}")"
  for pair in "$@"; do
    [[ "${pair}" == *=* ]] || die "argument '${pair}' is not KEY=VALUE"
    key="${pair%%=*}"
    value="${pair#*=}"
    [[ "${key}" =~ ^[A-Z][A-Z0-9_]*$ ]] || die "bad key '${key}'"
    [[ "${value}" != *$'\n'* ]] || die "value of ${key} contains a newline"
    [[ "${text}" == *"{{${key}}}"* ]] || die "${template} has no placeholder {{${key}}}"
    # Quoted replacement: bash 5.2 otherwise expands "&" in it to the matched placeholder.
    text="${text//"{{${key}}}"/"${value}"}"
  done
  if [[ "${text}" =~ \{\{([A-Z][A-Z0-9_]*)\}\} ]]; then
    die "${template}: no value for {{${BASH_REMATCH[1]}}}"
  fi
  printf '%s\n' "${text}"
}

main() {
  (($# >= 1)) || die "usage: render-template.sh TEMPLATE KEY=VALUE..."
  [[ -r "$1" ]] || die "cannot read template '$1'"
  render "$@"
}

main "$@"
