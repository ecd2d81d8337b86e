#!/usr/bin/env bash
# SLM-Copilot: re-applies only the engine's thread count (slmc-check tune's override, else the count
# the context gave at the last configure). Reads no context; prints retune-exit=N as its last line.
set -euo pipefail
trap 'echo "retune-exit=$?"' EXIT
# shellcheck source=/dev/null
source '{{SERVICE_SCRIPT}}'
service_retune
