#!/usr/bin/env bash
# SLM-Copilot: probes the engine's readiness and writes slmc_engine_ready (1 ready, 0 not) for node
# exporter's textfile collector; run every 15 s by slm-copilot-readiness.timer. Written by configure.
set -euo pipefail

readonly URL="http://127.0.0.1:{{ENGINE_PORT}}/readyz"
readonly OUT="{{OUT}}"

engine_ready() {
  if curl -fsS -o /dev/null --max-time 5 "${URL}" 2>/dev/null; then echo 1; else echo 0; fi
}

# Written beside the target and renamed over it: node exporter never reads half a file (it skips
# names that do not end in .prom).
write_metrics() {
  local ready="$1" tmp="${OUT}.$$"
  {
    echo "# HELP slmc_engine_ready 1 when the engine's /readyz answered 200 at the last probe, else 0."
    echo "# TYPE slmc_engine_ready gauge"
    echo "slmc_engine_ready ${ready}"
    echo "# HELP slmc_engine_ready_probe_timestamp_seconds When the readiness probe last ran."
    echo "# TYPE slmc_engine_ready_probe_timestamp_seconds gauge"
    echo "slmc_engine_ready_probe_timestamp_seconds $(date +%s)"
  } >"${tmp}"
  chmod 0644 "${tmp}"
  mv -f "${tmp}" "${OUT}"
}

write_metrics "$(engine_ready)"
