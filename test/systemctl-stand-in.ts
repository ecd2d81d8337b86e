// A systemctl stand-in for the appliance's shell tests: enabled units are files in a state directory,
// so `is-enabled` answers as systemd would after `enable` and `disable` (the appliance enables a unit
// only when it is not enabled yet).

/** `case "$1" in` branches for is-enabled, enable and disable: UNIT is the third argument in each. */
export function enableStateCases(stateDir: string): string[] {
  return [
    `  is-enabled) test -e "${stateDir}/$3" ;;`,
    `  enable) mkdir -p "${stateDir}" && touch "${stateDir}/$3" ;;`,
    `  disable) rm -f "${stateDir}/$3" ;;`,
  ];
}

/** A script that appends "systemctl ARGS" to CALLS and keeps the enabled state; everything else succeeds. */
export function enabledStateRecorder(calls: string, stateDir: string): string {
  return [
    "#!/bin/sh",
    `echo "systemctl $*" >>"${calls}"`,
    'case "$1" in',
    ...enableStateCases(stateDir),
    "esac",
    "",
  ].join("\n");
}
