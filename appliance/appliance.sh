#!/usr/bin/env bash
# SLM-Copilot one-apps service: LocalAI serving Devstral Small 2 24B on 127.0.0.1:8080 behind nginx
# (TLS, Basic + Bearer auth, CORS, SSE). Installed as /etc/one-appliance/service.d/appliance.sh and
# sourced by the one-apps driver, which calls service_install (image build) and service_configure +
# service_bootstrap (every boot). Configuration comes only from ONEAPP_COPILOT_* context variables.
# service_retune (via /usr/local/sbin/slm-copilot-retune, for slmc-check tune) reads no context: it
# re-applies only the thread count from what configure recorded.
# shellcheck disable=SC2034  # ONE_SERVICE_* are read by the one-apps driver

ONE_SERVICE_NAME='Service SLM-Copilot - sovereign CPU-only AI coding copilot'
ONE_SERVICE_VERSION='0.1.0'
ONE_SERVICE_BUILD=$(date +%s)
ONE_SERVICE_SHORT_DESCRIPTION='Devstral Small 2 24B on LocalAI (CPU) behind TLS nginx, for Cline and other OpenAI-compatible IDE clients'
ONE_SERVICE_DESCRIPTION='European, sovereign, CPU-only coding copilot. LocalAI serves Mistral Devstral Small 2 24B
(GGUF Q4_K_M) on 127.0.0.1:8080; nginx terminates TLS (self-signed or Let'"'"'s Encrypt), enforces Basic and
Bearer authentication, adds CORS headers and streams SSE unbuffered. Connection details, Cline (VS Code
and CLI) and Continue configurations are in /etc/one-appliance/config.'
ONE_SERVICE_RECONFIGURABLE=true

ONE_SERVICE_PARAMS=(
  'ONEAPP_COPILOT_PASSWORD' 'configure' 'API password for user "copilot" (Basic and Bearer); default: 16 random alphanumerics generated once and kept' 'O|password'
  'ONEAPP_COPILOT_DOMAIN' 'configure' 'DNS name for a Let'"'"'s Encrypt certificate; default: empty = self-signed certificate' 'O|text'
  'ONEAPP_COPILOT_ACME_EMAIL' 'configure' 'e-mail for the ACME account; default: empty = register without e-mail' 'O|text'
  'ONEAPP_COPILOT_ACME_SERVER' 'configure' 'ACME directory URL (private CAs); default: https://acme-v02.api.letsencrypt.org/directory' 'O|text'
  'ONEAPP_COPILOT_CONTEXT_SIZE' 'configure' 'model context size in tokens, 2048-262144; default: 32768' 'O|number'
  'ONEAPP_COPILOT_THREADS' 'configure' 'inference threads, 1-512; default: empty = physical cores of the VM' 'O|number'
  'ONEAPP_COPILOT_RATE_LIMIT' 'configure' 'API requests per minute per client address (burst: half of it), 60-60000, 0 = off; default: 600' 'O|number'
  'ONEAPP_COPILOT_TLS_CERT' 'configure' 'certificate chain (PEM, base64-encoded) to serve instead of the appliance'"'"'s own, e.g. one valid for a pool'"'"'s name shared by every worker; needs ONEAPP_COPILOT_TLS_KEY; default: empty' 'O|text64'
  'ONEAPP_COPILOT_TLS_KEY' 'configure' 'its private key (PEM, unencrypted, base64-encoded); default: empty' 'O|password'
  'ONEAPP_COPILOT_LB_IP' 'configure' 'IPv4 address of the one-apps VRouter HAProxy load balancer this VM registers with through OneGate (its ONEAPP_VNF_HAPROXY_LB<n>_IP); default: empty = not in a pool' 'O|text'
  'ONEAPP_COPILOT_LB_PORT' 'configure' 'port of that load balancer, 1-65535; default: 443' 'O|number'
  'ONEAPP_COPILOT_LB_INDEX' 'configure' 'which load balancer of the VRouter (the <n> of ONEAPP_VNF_HAPROXY_LB<n>), 0-9; default: 0' 'O|number'
)

# --- constants ------------------------------------------------------------------------------------
ENGINE_PORT=8080
API_USER=copilot
# File names the report's client snippets use on the operator's machine (relative to the directory
# the client runs in): the appliance's certificate as fetched, and the Cline CLI's settings.
CLIENT_CA_FILE=slm-copilot-ca.pem
CLINE_DATA_DIR=slm-copilot-cline
MODEL_NAME=devstral-small-2
DEFAULT_CONTEXT_SIZE=32768
DEFAULT_ACME_SERVER=https://acme-v02.api.letsencrypt.org/directory
DEFAULT_RATE_LIMIT=600
DEFAULT_LB_PORT=443
# The port HAProxy forwards to: nginx's HTTPS listener (TLS passes through the load balancer).
SERVER_PORT=443
ONEGATE_CONNECT_TIMEOUT_S=5
ONEGATE_MAX_TIME_S=15
RECOMMENDED_PASSWORD_LENGTH=16
READY_TIMEOUT_S="${SLMC_READY_TIMEOUT_S:-1800}"
# RAM the model needs (README, Performance expectations): the weights (the GGUF file's size), the KV
# cache (SLMC_KV_KIB_PER_TOKEN, below) and about 2 GiB of runtime buffers and OS.
readonly RUNTIME_OVERHEAD_KIB=$((2 * 1024 * 1024))
readonly MIN_CONTEXT_SIZE=2048

# --- file layout: every path the appliance reads or writes, defined here only ----------------------
# SLMC_ROOT is empty on the appliance; the tests point it at a scratch directory so that install,
# configure and bootstrap write there instead of under /. SLMC_HOME may point at a checkout of appliance/.
readonly SLMC_ROOT="${SLMC_ROOT:-}"
readonly SLMC_MEMINFO="${SLMC_MEMINFO:-/proc/meminfo}"
readonly SLMC_HOME="${SLMC_HOME:-${SLMC_ROOT}/opt/one-appliance/slm-copilot}"
readonly SLMC_TEMPLATES="${SLMC_HOME}/templates"
readonly SLMC_RENDER="${SLMC_HOME}/render-template.sh"
readonly SLMC_CHAT_TEMPLATE_SOURCE="${SLMC_TEMPLATES}/devstral-small-2.jinja"
readonly SLMC_STATE_DIR="${SLMC_ROOT}/var/lib/slm-copilot"
readonly SLMC_PASSWORD_FILE="${SLMC_STATE_DIR}/password"
readonly SLMC_EFFECTIVE_ENV="${SLMC_STATE_DIR}/effective.env"
readonly SLMC_ERRORS_FILE="${SLMC_STATE_DIR}/configure-errors"
readonly SLMC_WARNINGS_FILE="${SLMC_STATE_DIR}/configure-warnings"
readonly SLMC_LB_ENV="${SLMC_STATE_DIR}/load-balancer.env"
readonly SLMC_ONEGATE_STATE="${SLMC_STATE_DIR}/onegate-registered"
readonly ONE_ENV_FILE="${SLMC_ROOT}/run/one-context/one_env"
readonly SLMC_ONEGATE_UNIT="${SLMC_ROOT}/etc/systemd/system/slm-copilot-onegate.service"
readonly SLMC_CONFIG_DIR="${SLMC_ROOT}/etc/slm-copilot"
readonly SLMC_BUILD_ENV="${SLMC_CONFIG_DIR}/build.env"
readonly SLMC_TUNE_THREADS_FILE="${SLMC_CONFIG_DIR}/tune-threads"
readonly SLMC_SERVICE_SCRIPT="${SLMC_ROOT}/etc/one-appliance/service.d/appliance.sh"
readonly SLMC_RETUNE_BIN="${SLMC_ROOT}/usr/local/sbin/slm-copilot-retune"
readonly SLMC_BUILD_RECORD="${SLMC_CONFIG_DIR}/build-record.json"
readonly SLMC_TLS_DIR="${SLMC_CONFIG_DIR}/tls"
readonly SLMC_SELF_SIGNED_CERT="${SLMC_TLS_DIR}/self-signed.crt"
readonly SLMC_SELF_SIGNED_KEY="${SLMC_TLS_DIR}/self-signed.key"
readonly SLMC_SELF_SIGNED_NAMES="${SLMC_TLS_DIR}/self-signed.names"
readonly SLMC_PROVIDED_CERT="${SLMC_TLS_DIR}/provided.crt"
readonly SLMC_PROVIDED_KEY="${SLMC_TLS_DIR}/provided.key"
readonly SLMC_ACME_WEBROOT="${SLMC_ROOT}/var/www/slm-copilot-acme"
readonly LETSENCRYPT_LIVE_DIR="${SLMC_ROOT}/etc/letsencrypt/live"
readonly CERTBOT_DEPLOY_HOOK="${SLMC_ROOT}/etc/letsencrypt/renewal-hooks/deploy/slm-copilot.sh"
readonly SLMC_LOG_DIR="${SLMC_ROOT}/var/log/one-appliance"
readonly SLMC_LOG="${SLMC_LOG_DIR}/slm-copilot.log"
readonly SLMC_REPORT="${ONE_SERVICE_REPORT:-${SLMC_ROOT}/etc/one-appliance/config}"
readonly SLMC_BANNER="${SLMC_ROOT}/etc/profile.d/slm-copilot-banner.sh"
readonly SLMC_HTPASSWD="${SLMC_ROOT}/etc/nginx/slm-copilot.htpasswd"
readonly SLMC_BEARER_MAP="${SLMC_ROOT}/etc/nginx/slm-copilot.bearer-map"
readonly SLMC_NGINX_SITE="${SLMC_ROOT}/etc/nginx/sites-available/slm-copilot.conf"
readonly SLMC_NGINX_SITE_ENABLED="${SLMC_ROOT}/etc/nginx/sites-enabled/slm-copilot.conf"
readonly NGINX_DEFAULT_SITE_ENABLED="${SLMC_ROOT}/etc/nginx/sites-enabled/default"
readonly NGINX_DROPIN="${SLMC_ROOT}/etc/systemd/system/nginx.service.d/slm-copilot-restart.conf"
readonly SLMC_ACCESS_LOG="${SLMC_ROOT}/var/log/nginx/access.log"
readonly SLMC_AUTH_LOG="${SLMC_ROOT}/var/log/nginx/slm-copilot-auth.log"
readonly SLMC_METRICS_LOG="${SLMC_ROOT}/var/log/nginx/slm-copilot-metrics.log"
# Metrics (MON-01): the exporters' loopback ports, as src/probes/metrics-series.ts documents them.
readonly STUB_STATUS_PORT=8081
readonly NGINX_EXPORTER_PORT=9113
readonly MTAIL_PORT=3903
readonly NODE_EXPORTER_PORT=9100
readonly NODE_EXPORTER_DEFAULT="${SLMC_ROOT}/etc/default/prometheus-node-exporter"
readonly NGINX_EXPORTER_DEFAULT="${SLMC_ROOT}/etc/default/prometheus-nginx-exporter"
readonly MTAIL_DEFAULT="${SLMC_ROOT}/etc/default/mtail"
readonly MTAIL_PROGRAM="${SLMC_ROOT}/etc/mtail/slm-copilot.mtail"
readonly NODE_TEXTFILE_DIR="${SLMC_ROOT}/var/lib/prometheus/node-exporter"
readonly SLMC_READINESS_BIN="${SLMC_ROOT}/usr/local/sbin/slm-copilot-readiness"
readonly SLMC_READINESS_SERVICE="${SLMC_ROOT}/etc/systemd/system/slm-copilot-readiness.service"
readonly SLMC_READINESS_TIMER="${SLMC_ROOT}/etc/systemd/system/slm-copilot-readiness.timer"
readonly FAIL2BAN_DIR="${SLMC_ROOT}/etc/fail2ban"
readonly FAIL2BAN_JAIL="${FAIL2BAN_DIR}/jail.d/slm-copilot-auth.local"
readonly FAIL2BAN_FILTER="${FAIL2BAN_DIR}/filter.d/slm-copilot-auth.conf"
readonly FAIL2BAN_SSHD_JOURNAL="${FAIL2BAN_DIR}/jail.d/slm-copilot-sshd-journal.local"
readonly RESOLVED_DROPIN="${SLMC_ROOT}/etc/systemd/resolved.conf.d/slm-copilot.conf"
readonly LOCALAI_BIN="${SLMC_ROOT}/usr/local/bin/local-ai"
readonly LOCALAI_HOME="${SLMC_ROOT}/var/lib/local-ai"
readonly LOCALAI_MODELS="${LOCALAI_HOME}/models"
readonly LOCALAI_MODEL_CONFIG="${LOCALAI_MODELS}/${MODEL_NAME}.yaml"
readonly LOCALAI_BACKENDS="${LOCALAI_HOME}/backends"
readonly LOCALAI_CHAT_TEMPLATE="${LOCALAI_HOME}/chat-templates/devstral-small-2.jinja"
readonly LOCALAI_UNIT="${SLMC_ROOT}/etc/systemd/system/local-ai.service"

# --- build-time inputs (Packer passes them to `service install`; the lab points them at file://) ----
# install records what it installed in SLMC_BUILD_ENV; later boots read it back from there.
if [[ -r "${SLMC_BUILD_ENV}" ]]; then
  # shellcheck source=/dev/null
  source "${SLMC_BUILD_ENV}"
fi
SLMC_LOCALAI_VERSION="${SLMC_LOCALAI_VERSION:-v4.9.0}"
SLMC_LOCALAI_URL="${SLMC_LOCALAI_URL:-https://github.com/mudler/LocalAI/releases/download/${SLMC_LOCALAI_VERSION}/local-ai-${SLMC_LOCALAI_VERSION}-linux-amd64}"
SLMC_LOCALAI_CHECKSUMS_URL="${SLMC_LOCALAI_CHECKSUMS_URL:-https://github.com/mudler/LocalAI/releases/download/${SLMC_LOCALAI_VERSION}/LocalAI-${SLMC_LOCALAI_VERSION}-checksums.txt}"
SLMC_LOCALAI_SHA256="${SLMC_LOCALAI_SHA256:-}"
SLMC_BACKEND_SOURCE="${SLMC_BACKEND_SOURCE:-quay.io/go-skynet/local-ai-backends:${SLMC_LOCALAI_VERSION}-cpu-llama-cpp}"
SLMC_MODEL_FILE="${SLMC_MODEL_FILE:-Devstral-Small-2-24B-Instruct-2512-Q4_K_M.gguf}"
SLMC_MODEL_URL="${SLMC_MODEL_URL:-https://huggingface.co/unsloth/Devstral-Small-2-24B-Instruct-2512-GGUF/resolve/main/${SLMC_MODEL_FILE}}"
SLMC_MODEL_SHA256="${SLMC_MODEL_SHA256:-}"
# Devstral's KV cache in q8_0: 2 x 40 layers x 8 KV heads x 128 x 1.0625 B = 85 KiB per token of context.
# The lab's stand-in engine keeps none (packer/lab/make-sources.sh sets 0).
SLMC_KV_KIB_PER_TOKEN="${SLMC_KV_KIB_PER_TOKEN:-85}"
# Where the model lives depends on the build input above.
readonly LOCALAI_MODEL_PATH="${LOCALAI_MODELS}/${SLMC_MODEL_FILE}"
SLMC_APT_PACKAGES=(nginx certbot openssl curl ca-certificates iproute2 jq fail2ban python3-systemd nftables
  prometheus-node-exporter prometheus-nginx-exporter mtail)

# --- logging --------------------------------------------------------------------------------------
log() {
  local level="$1"
  shift
  local line
  line="$(date -u '+%Y-%m-%dT%H:%M:%SZ') [${level}] $*"
  mkdir -p "${SLMC_LOG_DIR}"
  printf '%s\n' "${line}" >>"${SLMC_LOG}"
  printf '%s\n' "${line}" >&2
}

info() { log INFO "$@"; }
warn() { log WARN "$@"; }
config_error() {
  log ERROR "$@"
  printf '%s\n' "$*" >>"${SLMC_ERRORS_FILE}"
}
config_warning() {
  log WARN "$@"
  printf '%s\n' "$*" >>"${SLMC_WARNINGS_FILE}"
}

stage() {
  info "== $*"
}

# --- small helpers --------------------------------------------------------------------------------
# Set by write_file (and the functions that write through it): "changed" or "unchanged", what the
# caller's restart/reload decision reads.
WRITTEN=""

# Writes stdin (or the file $3) to TARGET with MODE when the content differs, and sets WRITTEN.
# Any failure logs TARGET with the reason and returns 1. Callers never run it under if/||/&&, so
# set -e ends the step right there.
write_file() {
  local target="$1" mode="$2" source="${3:--}" tmp error="" result
  WRITTEN=""
  if ! tmp="$(mktemp 2>&1)"; then
    log ERROR "could not write ${target}: ${tmp}"
    return 1
  fi
  if ! error="$(cat -- "${source}" 2>&1 >"${tmp}")"; then
    result=failed
  elif [[ -f "${target}" ]] && cmp -s "${tmp}" "${target}"; then
    result=unchanged
    error="$(chmod "${mode}" "${target}" 2>&1)" || result=failed
  else
    result=changed
    # The one-apps driver runs with umask 0077: create missing parent directories world-readable, or
    # daemons that are not root (systemd-resolved, nginx workers) silently cannot read what is inside.
    error="$( (umask 022 && mkdir -p "${target%/*}" && install -T -m "${mode}" "${tmp}" "${target}") 2>&1)" ||
      result=failed
  fi
  rm -f "${tmp}"
  if [[ "${result}" == failed ]]; then
    log ERROR "could not write ${target}: ${error:-no reason given}"
    return 1
  fi
  if [[ "${result}" == changed ]]; then info "wrote ${target}"; fi
  WRITTEN="${result}"
}

# Renders template $3 with the KEY=VALUE arguments into TARGET through write_file (sets WRITTEN). A
# template that does not render fails the step and leaves TARGET as it was.
render_to() {
  local target="$1" mode="$2" template="$3" text
  shift 3
  if ! text="$("${SLMC_RENDER}" "${SLMC_TEMPLATES}/${template}" "$@")"; then
    log ERROR "could not write ${target}: rendering ${template} failed; ${target} left unchanged"
    return 1
  fi
  write_file "${target}" "${mode}" <<<"${text}"
}

# Enables UNIT at boot unless it already is. For a unit that also ships a SysV script (nginx, fail2ban,
# the exporters, mtail), `systemctl enable` runs update-rc.d: measured about 5.5 s each under TCG, paid on
# every boot since configure runs at each one; asking first costs about 0.2 s. Fails when enabling does.
enable_unit() {
  local unit="$1"
  if systemctl is-enabled --quiet "${unit}" 2>/dev/null; then return 0; fi
  systemctl enable --no-reload "${unit}" >/dev/null 2>&1
}

download() {
  local url="$1" target="$2"
  info "downloading ${url} -> ${target}"
  curl --fail --location --silent --show-error --retry 5 --retry-delay 5 --connect-timeout 30 \
    --continue-at - --output "${target}.part" "${url}"
  mv "${target}.part" "${target}"
}

verify_sha256() {
  local file="$1" expected="$2" actual
  actual="$(sha256sum "${file}" | cut -d' ' -f1)"
  if [[ "${actual}" != "${expected,,}" ]]; then
    log ERROR "sha256 mismatch for ${file}: expected ${expected}, got ${actual}"
    return 1
  fi
  info "sha256 verified for ${file}: ${actual}"
}

physical_cores() {
  local cores
  cores="$(lscpu -p=core,socket 2>/dev/null | grep -v '^#' | sort -u | wc -l || true)"
  if [[ -z "${cores}" || "${cores}" -lt 1 ]]; then cores="$(nproc)"; fi
  echo "${cores}"
}

# --- context validation (never trusts a value; falls back to safe defaults) -----------------------
is_integer_in_range() {
  local value="$1" min="$2" max="$3"
  [[ "${value}" =~ ^[0-9]{1,9}$ ]] && ((10#${value} >= min && 10#${value} <= max))
}

effective_context_size() {
  local value="${ONEAPP_COPILOT_CONTEXT_SIZE:-}"
  if [[ -z "${value}" ]]; then
    echo "${DEFAULT_CONTEXT_SIZE}"
  elif is_integer_in_range "${value}" 2048 262144; then
    echo "$((10#${value}))"
  else
    config_error "ONEAPP_COPILOT_CONTEXT_SIZE='${value:0:40}' is not a whole number from 2048 to 262144; using ${DEFAULT_CONTEXT_SIZE}"
    echo "${DEFAULT_CONTEXT_SIZE}"
  fi
}

# `slmc-check tune` writes one integer here for the length of its sweep and removes it afterwards; while
# present and valid it wins over ONEAPP_COPILOT_THREADS, so the sweep goes through this configure path.
tune_threads_override() {
  local value vcpus
  [[ -f "${SLMC_TUNE_THREADS_FILE}" ]] || return 0
  value="$(head -c 16 "${SLMC_TUNE_THREADS_FILE}" | tr -d '[:space:]')"
  vcpus="$(nproc)"
  if is_integer_in_range "${value}" 1 "${vcpus}"; then
    echo "$((10#${value}))"
  else
    warn "tuning override ${SLMC_TUNE_THREADS_FILE} ignored: '${value:0:16}' is not a whole number from 1 to ${vcpus} (vCPUs)"
  fi
}

# The count the context asks for (ONEAPP_COPILOT_THREADS, validated), whatever the tuning override says.
context_threads() {
  local value="${ONEAPP_COPILOT_THREADS:-}" fallback
  fallback="$(physical_cores)"
  if [[ -z "${value}" ]]; then
    echo "${fallback}"
  elif is_integer_in_range "${value}" 1 512; then
    echo "$((10#${value}))"
  else
    config_error "ONEAPP_COPILOT_THREADS='${value:0:40}' is not a whole number from 1 to 512; using ${fallback} (physical cores)"
    echo "${fallback}"
  fi
}

# The tuning override when present and valid, else $1 (the context's count; default: context_threads).
effective_threads() {
  local context_count="${1:-}" override
  override="$(tune_threads_override)"
  if [[ -n "${override}" ]]; then
    info "threads ${override} from the tuning override ${SLMC_TUNE_THREADS_FILE} (slmc-check tune)"
    echo "${override}"
    return
  fi
  if [[ -z "${context_count}" ]]; then context_count="$(context_threads)"; fi
  echo "${context_count}"
}

is_valid_domain() {
  local domain="$1"
  ((${#domain} <= 253)) && [[ "${domain}" =~ ^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$ ]]
}

effective_domain() {
  local value="${ONEAPP_COPILOT_DOMAIN:-}"
  value="${value,,}"
  if [[ -z "${value}" ]]; then
    echo ""
  elif is_valid_domain "${value}"; then
    echo "${value}"
  else
    config_error "ONEAPP_COPILOT_DOMAIN='${value:0:60}' is not a valid DNS name; using a self-signed certificate"
    echo ""
  fi
}

effective_acme_server() {
  local value="${ONEAPP_COPILOT_ACME_SERVER:-}"
  if [[ -z "${value}" ]]; then
    echo "${DEFAULT_ACME_SERVER}"
  elif ((${#value} <= 512)) && [[ "${value}" =~ ^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$ ]]; then
    echo "${value}"
  else
    config_error "ONEAPP_COPILOT_ACME_SERVER='${value:0:60}' is not an https:// URL; using ${DEFAULT_ACME_SERVER}"
    echo "${DEFAULT_ACME_SERVER}"
  fi
}

effective_acme_email() {
  local value="${ONEAPP_COPILOT_ACME_EMAIL:-}"
  if [[ -z "${value}" ]] || [[ "${value}" =~ ^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}$ ]]; then
    echo "${value}"
  else
    config_error "ONEAPP_COPILOT_ACME_EMAIL='${value:0:60}' is not an e-mail address; registering without e-mail"
    echo ""
  fi
}

# Requests per minute per client address; 0 turns rate limiting off.
effective_rate_limit() {
  local value="${ONEAPP_COPILOT_RATE_LIMIT:-}"
  if [[ -z "${value}" ]]; then
    echo "${DEFAULT_RATE_LIMIT}"
  elif [[ "${value}" =~ ^0{1,9}$ ]] || is_integer_in_range "${value}" 60 60000; then
    echo "$((10#${value}))"
  else
    config_error "ONEAPP_COPILOT_RATE_LIMIT='${value:0:40}' is not 0 (off) or a whole number of requests per minute from 60 to 60000; using ${DEFAULT_RATE_LIMIT}"
    echo "${DEFAULT_RATE_LIMIT}"
  fi
}

# --- load balancer (a OneFlow pool behind the one-apps VRouter's HAProxy) ------------------------
is_ipv4() {
  local value="$1" part
  [[ "${value}" =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || return 1
  for part in "${BASH_REMATCH[@]:1}"; do ((10#${part} <= 255)) || return 1; done
}

effective_lb_ip() {
  local value="${ONEAPP_COPILOT_LB_IP:-}"
  if [[ -z "${value}" ]] || is_ipv4 "${value}"; then
    echo "${value}"
  else
    config_error "ONEAPP_COPILOT_LB_IP='${value:0:40}' is not an IPv4 address (the VRouter's ONEAPP_VNF_HAPROXY_LB<n>_IP); not registering with a load balancer"
    echo ""
  fi
}

effective_lb_port() {
  local value="${ONEAPP_COPILOT_LB_PORT:-}"
  if [[ -z "${value}" ]]; then
    echo "${DEFAULT_LB_PORT}"
  elif is_integer_in_range "${value}" 1 65535; then
    echo "$((10#${value}))"
  else
    config_error "ONEAPP_COPILOT_LB_PORT='${value:0:40}' is not a port from 1 to 65535; using ${DEFAULT_LB_PORT}"
    echo "${DEFAULT_LB_PORT}"
  fi
}

effective_lb_index() {
  local value="${ONEAPP_COPILOT_LB_INDEX:-}"
  if [[ -z "${value}" ]]; then
    echo 0
  elif [[ "${value}" =~ ^[0-9]$ ]]; then
    echo "${value}"
  else
    config_error "ONEAPP_COPILOT_LB_INDEX='${value:0:40}' is not a load balancer number from 0 to 9; using 0"
    echo 0
  fi
}

# A value of OpenNebula's context for OneGate: the environment one-contextd exported, else the line
# in one_env (read, never sourced: its values are not escaped). ExecStop at shutdown has only one_env.
one_context_value() {
  local name="$1" line
  if [[ -n "${!name:-}" ]]; then
    printf '%s' "${!name}"
    return
  fi
  [[ -r "${ONE_ENV_FILE}" ]] || return 0
  line="$(grep -E "^export ${name}=" "${ONE_ENV_FILE}" | tail -n1 || true)"
  line="${line#export "${name}"=}"
  line="${line#\"}"
  printf '%s' "${line%\"}"
}

# The user-template attributes one-apps VRouter (vrouter.rb, parse_dynamic) reads from the service's VMs
# to build HAProxy's dynamic backends: LB<n>_IP/PORT name the load balancer, SERVER_HOST/PORT this VM.
onegate_attributes() {
  local index="$1" lb_ip="$2" lb_port="$3" server_host="$4"
  printf 'ONEGATE_HAPROXY_LB%s_IP=%s\n' "${index}" "${lb_ip}"
  printf 'ONEGATE_HAPROXY_LB%s_PORT=%s\n' "${index}" "${lb_port}"
  printf 'ONEGATE_HAPROXY_LB%s_SERVER_HOST=%s\n' "${index}" "${server_host}"
  printf 'ONEGATE_HAPROXY_LB%s_SERVER_PORT=%s\n' "${index}" "${SERVER_PORT}"
}

# Sets ONEGATE_ERROR to why OneGate cannot be used (empty when it can) and ONEGATE_URL, ONEGATE_TOKEN,
# ONEGATE_VMID.
onegate_access() {
  ONEGATE_ERROR=""
  ONEGATE_URL="$(one_context_value ONEGATE_ENDPOINT)"
  ONEGATE_TOKEN="$(one_context_value TOKENTXT)"
  ONEGATE_VMID="$(one_context_value VMID)"
  if [[ ! "${ONEGATE_URL}" =~ ^https?://[A-Za-z0-9.:-]+(/[A-Za-z0-9._~/-]*)?$ ]]; then
    ONEGATE_ERROR="no usable ONEGATE_ENDPOINT in the context ('${ONEGATE_URL:0:60}'): OneGate must be configured on the front-end"
  elif [[ ! "${ONEGATE_TOKEN}" =~ ^[A-Za-z0-9+/=._:-]{1,512}$ ]]; then
    ONEGATE_ERROR="no OneGate token (TOKENTXT) in the context: set TOKEN=\"YES\" in the VM template's CONTEXT"
  elif [[ ! "${ONEGATE_VMID}" =~ ^[0-9]{1,10}$ ]]; then
    ONEGATE_ERROR="no VMID in the context"
  fi
}

# PUT $1 (query string included) with body $2 to OneGate, as `onegate vm update` does; the token goes in
# a header read from a file descriptor, never on a command line or in the log. Sets ONEGATE_RESULT to
# "ok" or to why not; never fails the caller.
onegate_put() {
  local query="$1" body="$2" output
  ONEGATE_RESULT=ok
  if ! output="$(curl --silent --show-error --fail --connect-timeout "${ONEGATE_CONNECT_TIMEOUT_S}" \
    --max-time "${ONEGATE_MAX_TIME_S}" --request PUT \
    --header @<(printf 'X-ONEGATE-TOKEN: %s\nX-ONEGATE-VMID: %s\n' "${ONEGATE_TOKEN}" "${ONEGATE_VMID}") \
    --data-binary "${body}" --output /dev/null "${ONEGATE_URL%/}/vm${query}" 2>&1)"; then
    ONEGATE_RESULT="${output:0:300}"
    ONEGATE_RESULT="${ONEGATE_RESULT:-curl failed without a message}"
  fi
}

# Registers this VM as a backend of load balancer LB_INDEX (configure validated the values into
# SLMC_LB_ENV). A OneGate that cannot be reached is a configuration error in the log and the report,
# not a failed boot: the VM still serves on its own address.
onegate_register() {
  local lb_ip lb_port index server_host attributes
  lb_ip="$(lb_value LB_IP)"
  index="$(lb_value LB_INDEX)"
  if [[ -r "${SLMC_ONEGATE_STATE}" ]] && [[ -z "${lb_ip}" || "$(<"${SLMC_ONEGATE_STATE}")" != "${index}" ]]; then
    info "OneGate: the context no longer names load balancer $(<"${SLMC_ONEGATE_STATE}"): leaving it"
    onegate_deregister
  fi
  if [[ -z "${lb_ip}" ]]; then
    info "no load balancer in the context (ONEAPP_COPILOT_LB_IP empty): not registering through OneGate"
    return 0
  fi
  lb_port="$(lb_value LB_PORT)"
  server_host="$(vm_addresses | awk '!/:/ && !found { print; found = 1 }')"
  stage "OneGate: registering ${server_host}:${SERVER_PORT} as a backend of load balancer ${index} (${lb_ip}:${lb_port})"
  onegate_access
  if [[ -n "${ONEGATE_ERROR}" ]]; then
    config_error "OneGate registration with load balancer ${lb_ip}:${lb_port} failed: ${ONEGATE_ERROR}"
    return 0
  fi
  if [[ -z "${server_host}" ]]; then
    config_error "OneGate registration with load balancer ${lb_ip}:${lb_port} failed: the VM has no IPv4 address"
    return 0
  fi
  attributes="$(onegate_attributes "${index}" "${lb_ip}" "${lb_port}" "${server_host}")"
  onegate_put "" "${attributes}"
  if [[ "${ONEGATE_RESULT}" != ok ]]; then
    config_error "OneGate registration with load balancer ${lb_ip}:${lb_port} failed: ${ONEGATE_URL}/vm: ${ONEGATE_RESULT}; the load balancer does not send traffic to this VM"
    return 0
  fi
  write_file "${SLMC_ONEGATE_STATE}" 0600 <<<"${index}"
  info "OneGate: registered as ${server_host}:${SERVER_PORT} behind ${lb_ip}:${lb_port}"
}

# Removes the attributes (one `onegate vm update --erase` each: PUT /vm?type=2 with the name), so
# VRouter drops this backend. Run by slm-copilot-onegate.service's ExecStop at shutdown.
onegate_deregister() {
  local index name failed=0
  if [[ ! -r "${SLMC_ONEGATE_STATE}" ]]; then
    info "OneGate: not registered, nothing to remove"
    return 0
  fi
  index="$(<"${SLMC_ONEGATE_STATE}")"
  onegate_access
  if [[ -n "${ONEGATE_ERROR}" ]]; then
    log ERROR "OneGate deregistration failed: ${ONEGATE_ERROR}"
    return 0
  fi
  for name in IP PORT SERVER_HOST SERVER_PORT; do
    onegate_put "?type=2" "ONEGATE_HAPROXY_LB${index}_${name}"
    if [[ "${ONEGATE_RESULT}" != ok ]]; then
      log ERROR "OneGate deregistration of ONEGATE_HAPROXY_LB${index}_${name} failed: ${ONEGATE_URL}/vm: ${ONEGATE_RESULT}"
      failed=1
    fi
  done
  if ((failed == 0)); then
    rm -f "${SLMC_ONEGATE_STATE}"
    info "OneGate: deregistered from load balancer ${index}"
  fi
}

# A value configure recorded in SLMC_LB_ENV; empty when configure recorded none.
lb_value() {
  [[ -r "${SLMC_LB_ENV}" ]] || return 0
  grep -E "^$1=" "${SLMC_LB_ENV}" | cut -d= -f2- || true
}

# one-apps has no shutdown hook: a oneshot unit that stays active, whose ExecStop deregisters.
install_onegate_unit() {
  local changed
  render_to "${SLMC_ONEGATE_UNIT}" 0644 slm-copilot-onegate.service "APPLIANCE=${ONE_SERVICE_APPLIANCE:-/etc/one-appliance/service.d/appliance.sh}"
  changed="${WRITTEN}"
  if [[ "${changed}" == changed ]]; then systemctl daemon-reload; fi
  enable_unit slm-copilot-onegate.service
  # Queued, not waited for: bootstrap runs inside the contextualization service, which a unit
  # ordered after network-online.target may itself be waiting behind (a blocking start could deadlock).
  systemctl start --no-block slm-copilot-onegate.service
}

# The password ends up in an htpasswd file, an nginx regex and JSON: allow only characters that are
# inert in all three, so no quoting bug can ever become an injection.
is_valid_password() {
  [[ "$1" =~ ^[A-Za-z0-9._~+=@:,-]{8,128}$ ]]
}

generate_password() {
  local password=""
  while ((${#password} < 16)); do
    password+="$(head -c 64 /dev/urandom | tr -dc 'A-Za-z0-9' || true)"
  done
  echo "${password:0:16}"
}

effective_password() {
  local value="${ONEAPP_COPILOT_PASSWORD:-}" kept=""
  [[ -f "${SLMC_PASSWORD_FILE}" ]] && kept="$(<"${SLMC_PASSWORD_FILE}")"
  if [[ -n "${value}" ]] && is_valid_password "${value}"; then
    if ((${#value} < RECOMMENDED_PASSWORD_LENGTH)); then
      config_warning "ONEAPP_COPILOT_PASSWORD is only ${#value} characters long: accepted, but use at least ${RECOMMENDED_PASSWORD_LENGTH} (or leave it empty for 16 random alphanumerics)"
    fi
    echo "${value}"
    return
  fi
  if [[ -n "${value}" ]]; then
    config_error "ONEAPP_COPILOT_PASSWORD is rejected: use 8-128 characters from A-Z a-z 0-9 . _ ~ + = @ : , - (it was ${#value} characters long); keeping the previous password"
  fi
  if [[ -n "${kept}" ]] && is_valid_password "${kept}"; then
    echo "${kept}"
  else
    generate_password
  fi
}

# --- install (image build) ------------------------------------------------------------------------
install_packages() {
  stage "installing packages: ${SLMC_APT_PACKAGES[*]}"
  export DEBIAN_FRONTEND=noninteractive
  local missing=() package
  for package in "${SLMC_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "${package}" 2>/dev/null | grep -q "install ok installed" || missing+=("${package}")
  done
  if ((${#missing[@]} == 0)); then
    info "all packages already present"
    return
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

create_system_user() {
  id local-ai >/dev/null 2>&1 || useradd --system --home-dir "${LOCALAI_HOME}" --shell /usr/sbin/nologin local-ai
  install -d -o local-ai -g local-ai -m 0750 "${LOCALAI_HOME}" "${LOCALAI_MODELS}" "${LOCALAI_BACKENDS}"
  install -d -m 0700 "${SLMC_STATE_DIR}"
}

localai_expected_sha256() {
  if [[ -n "${SLMC_LOCALAI_SHA256}" ]]; then
    echo "${SLMC_LOCALAI_SHA256}"
    return
  fi
  local checksums asset
  checksums="$(mktemp)"
  download "${SLMC_LOCALAI_CHECKSUMS_URL}" "${checksums}"
  asset="$(basename "${SLMC_LOCALAI_URL}")"
  awk -v asset="${asset}" '$2 == asset || $2 == "*" asset { print $1 }' "${checksums}" | head -n1
  rm -f "${checksums}"
}

install_localai() {
  stage "installing LocalAI ${SLMC_LOCALAI_VERSION}"
  local expected work
  expected="$(localai_expected_sha256)"
  if [[ -z "${expected}" ]]; then
    log ERROR "no checksum for $(basename "${SLMC_LOCALAI_URL}") in ${SLMC_LOCALAI_CHECKSUMS_URL}"
    return 1
  fi
  work="$(mktemp -d)"
  download "${SLMC_LOCALAI_URL}" "${work}/local-ai"
  verify_sha256 "${work}/local-ai" "${expected}"
  install -m 0755 "${work}/local-ai" "${LOCALAI_BIN}"
  rm -rf "${work}"
  "${LOCALAI_BIN}" --help >/dev/null
}

install_backend() {
  stage "installing the llama-cpp backend from ${SLMC_BACKEND_SOURCE}"
  "${LOCALAI_BIN}" backends install "${SLMC_BACKEND_SOURCE}" --name llama-cpp --backends-path "${LOCALAI_BACKENDS}"
  chown -R local-ai:local-ai "${LOCALAI_BACKENDS}"
}

install_model() {
  stage "installing model ${SLMC_MODEL_FILE}"
  local target="${LOCALAI_MODEL_PATH}" present=""
  if [[ -z "${SLMC_MODEL_SHA256}" && "${SLMC_ALLOW_UNVERIFIED_MODEL:-no}" != yes ]]; then
    log ERROR "SLMC_MODEL_SHA256 is not set: refusing to bake an unverified model (take it from the file's Hugging Face page, or set SLMC_ALLOW_UNVERIFIED_MODEL=yes)"
    return 1
  fi
  if [[ -f "${target}" && -n "${SLMC_MODEL_SHA256}" ]]; then
    present="$(sha256sum "${target}" | cut -d' ' -f1)"
  fi
  if [[ -n "${present}" && "${present}" == "${SLMC_MODEL_SHA256,,}" ]]; then
    info "model already present and verified: ${present}"
  else
    download "${SLMC_MODEL_URL}" "${target}"
    if [[ -n "${SLMC_MODEL_SHA256}" ]]; then
      verify_sha256 "${target}" "${SLMC_MODEL_SHA256}"
    else
      warn "model NOT verified (SLMC_ALLOW_UNVERIFIED_MODEL=yes): sha256 $(sha256sum "${target}" | cut -d' ' -f1)"
    fi
  fi
  chown local-ai:local-ai "${target}"
  chmod 0640 "${target}"
}

prewarm_model() {
  stage "pre-warm: proving the model loads"
  local threads log_file pid
  threads="$(physical_cores)"
  render_model_config "${DEFAULT_CONTEXT_SIZE}" "${threads}"
  log_file="$(mktemp)"
  sudo_local_ai "${LOCALAI_BIN}" run --address "127.0.0.1:${ENGINE_PORT}" --models-path "${LOCALAI_MODELS}" \
    --backends-path "${LOCALAI_BACKENDS}" >"${log_file}" 2>&1 &
  pid=$!
  wait_for_engine_ready 900
  if [[ "${ENGINE_READY}" == yes ]]; then
    info "pre-warm: model loaded"
  else
    log ERROR "pre-warm: the model did not load within 900 s; engine log follows"
    cat "${log_file}" >&2
    kill "${pid}" 2>/dev/null || true
    return 1
  fi
  kill "${pid}" 2>/dev/null || true
  wait "${pid}" 2>/dev/null || true
  rm -f "${log_file}"
}

sudo_local_ai() {
  LOCALAI_LOAD_TO_MEMORY="${MODEL_NAME}" LOCALAI_AUTOLOAD_GALLERIES=false LOCALAI_AUTOLOAD_BACKEND_GALLERIES=false \
    setpriv --reuid=local-ai --regid=local-ai --init-groups "$@"
}

install_static_files() {
  write_file "${NGINX_DROPIN}" 0644 "${SLMC_TEMPLATES}/nginx-restart.conf"
  write_file "${CERTBOT_DEPLOY_HOOK}" 0755 "${SLMC_TEMPLATES}/certbot-deploy-hook.sh"
  write_file "${RESOLVED_DROPIN}" 0644 "${SLMC_TEMPLATES}/resolved-no-multicast.conf"
  systemctl try-restart systemd-resolved.service >/dev/null 2>&1 || true
  rm -f "${NGINX_DEFAULT_SITE_ENABLED}"
  systemctl daemon-reload
}

# The retune entry point `slmc-check tune` calls as root: a fixed script that sources this file (our
# own code) and runs service_retune. It gets no argument and reads no context.
install_retune_script() {
  render_to "${SLMC_RETUNE_BIN}" 0755 slm-copilot-retune.sh "SERVICE_SCRIPT=${SLMC_SERVICE_SCRIPT}"
}

build_env_text() {
  echo "# What service_install put into this image (read by configure/bootstrap on every boot)."
  printf 'SLMC_LOCALAI_VERSION=%q\n' "${SLMC_LOCALAI_VERSION}"
  printf 'SLMC_LOCALAI_URL=%q\n' "${SLMC_LOCALAI_URL}"
  printf 'SLMC_BACKEND_SOURCE=%q\n' "${SLMC_BACKEND_SOURCE}"
  printf 'SLMC_MODEL_FILE=%q\n' "${SLMC_MODEL_FILE}"
  printf 'SLMC_MODEL_URL=%q\n' "${SLMC_MODEL_URL}"
  printf 'SLMC_MODEL_SHA256=%q\n' "${SLMC_MODEL_SHA256}"
  printf 'SLMC_KV_KIB_PER_TOKEN=%q\n' "${SLMC_KV_KIB_PER_TOKEN}"
}

record_build() {
  local text
  install -d -m 0755 "${SLMC_CONFIG_DIR}"
  text="$(build_env_text)"
  write_file "${SLMC_BUILD_ENV}" 0644 <<<"${text}"
}

# The image's identity for the release gate (slmc-check reads it over SSH). An image cannot hold its
# own checksum, so it holds the build id instead; build.sh's manifest.json maps that id to the sha256
# of the image it produced. SLMC_BUILD_* come from the Packer template (build.sh, scripts/lab.sh).
# Only jq runs in here (its status is the caller's $(...) status); the checksums come as arguments.
build_record_json() {
  local engine_sha256="$1" model_sha256="$2"
  jq -n --arg name slm-copilot --arg version "${SLMC_IMAGE_VERSION:-${ONE_SERVICE_VERSION}}" \
    --arg build_id "${SLMC_BUILD_ID:-}" --arg built_at "${SLMC_BUILD_TIME:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}" \
    --arg profile "${SLMC_BUILD_PROFILE:-release}" --arg stand_ins "${SLMC_BUILD_STAND_INS:-}" \
    --arg engine_version "${SLMC_LOCALAI_VERSION}" --arg engine_sha256 "${engine_sha256}" \
    --arg model_file "${SLMC_MODEL_FILE}" --arg model_sha256 "${model_sha256}" \
    '{name: $name, version: $version,
      build_id: (if $build_id == "" then null else $build_id end), built_at: $built_at, profile: $profile,
      stand_ins: (if $stand_ins == "" then null else $stand_ins end),
      engine: {name: "LocalAI", version: $engine_version, sha256: $engine_sha256},
      model: {file: $model_file, sha256: $model_sha256}}'
}

write_build_record() {
  local text engine_sha256 model_sha256="${SLMC_MODEL_SHA256,,}"
  if [[ -z "${SLMC_BUILD_ID:-}" ]]; then
    warn "SLMC_BUILD_ID is not set: the build record carries no build id, so no release gate can tie this image to a build manifest"
  fi
  if [[ -n "${SLMC_BUILD_STAND_INS:-}" ]]; then
    warn "STAND-IN build (${SLMC_BUILD_PROFILE:-?}): ${SLMC_BUILD_STAND_INS}"
  fi
  engine_sha256="$(sha256sum "${LOCALAI_BIN}")"
  if [[ -z "${model_sha256}" ]]; then model_sha256="$(sha256sum "${LOCALAI_MODEL_PATH}")"; fi
  text="$(build_record_json "${engine_sha256%% *}" "${model_sha256%% *}")"
  install -d -m 0755 "${SLMC_CONFIG_DIR}"
  write_file "${SLMC_BUILD_RECORD}" 0644 <<<"${text}"
}

service_install() {
  local -
  set -euo pipefail
  stage "install: SLM-Copilot ${ONE_SERVICE_VERSION}"
  install_packages
  create_system_user
  install_localai
  install_backend
  install_model
  install_static_files
  install_exporter_defaults
  # The packages started their exporters on every interface: from here on they listen on loopback.
  systemctl try-restart prometheus-node-exporter.service prometheus-nginx-exporter.service >/dev/null 2>&1 || true
  install_retune_script
  record_build
  write_build_record
  prewarm_model
  systemctl disable --now nginx >/dev/null 2>&1 || true
  info "install finished"
}

# --- configure (every boot) -----------------------------------------------------------------------
# The chat template the model YAML points llama.cpp at (turns need not alternate; see the file).
# Installed verbatim, not rendered: it is Jinja. Sets WRITTEN.
install_chat_template() {
  if [[ ! -r "${SLMC_CHAT_TEMPLATE_SOURCE}" ]]; then
    log ERROR "${SLMC_CHAT_TEMPLATE_SOURCE} is missing: the image is incomplete, rebuild it"
    return 1
  fi
  write_file "${LOCALAI_CHAT_TEMPLATE}" 0644 "${SLMC_CHAT_TEMPLATE_SOURCE}"
}

# The chat template and the model YAML; WRITTEN is "changed" if either changed. A failure leaves the
# YAML as it was.
render_model_config() {
  local context_size="$1" threads="$2" template_written
  install_chat_template
  template_written="${WRITTEN}"
  render_to "${LOCALAI_MODEL_CONFIG}" 0644 model.yaml "MODEL_NAME=${MODEL_NAME}" \
    "CONTEXT_SIZE=${context_size}" "THREADS=${threads}" "MODEL_FILE=${SLMC_MODEL_FILE}" \
    "CHAT_TEMPLATE_FILE=${LOCALAI_CHAT_TEMPLATE}"
  if [[ "${template_written}" == changed ]]; then WRITTEN=changed; fi
}

render_localai_unit() {
  local context_size="$1" threads="$2"
  render_to "${LOCALAI_UNIT}" 0644 local-ai.service "ENGINE_PORT=${ENGINE_PORT}" "LOCALAI_HOME=${LOCALAI_HOME}" \
    "MODEL_NAME=${MODEL_NAME}" "THREADS=${threads}" "LOCALAI_BIN=${LOCALAI_BIN}" "MODELS_PATH=${LOCALAI_MODELS}" \
    "BACKENDS_PATH=${LOCALAI_BACKENDS}" "CONTEXT_SIZE=${context_size}"
}

# The engine restarts when its model config or unit changed, or when it is not running.
# With too little memory ($3 insufficient) the engine is stopped and disabled instead: started, it would
# be OOM-killed and restarted forever (Restart=always). The next configure with enough RAM starts it.
configure_localai() {
  local context_size="$1" threads="$2" memory_state="${3:-ok}" changed=no
  stage "LocalAI: context size ${context_size}, threads ${threads}"
  render_model_config "${context_size}" "${threads}"
  if [[ "${WRITTEN}" == changed ]]; then changed=yes; fi
  render_localai_unit "${context_size}" "${threads}"
  if [[ "${WRITTEN}" == changed ]]; then changed=yes; fi
  # A reload costs seconds on a small VM: only for a changed unit, or one systemd says is stale (a
  # drop-in written by someone else, a configure interrupted before its reload).
  if [[ "${changed}" == yes || "$(systemctl show -p NeedDaemonReload --value local-ai.service)" == yes ]]; then
    systemctl daemon-reload
  fi
  if [[ "${memory_state}" != ok ]]; then
    systemctl disable --now local-ai.service >/dev/null 2>&1
    warn "local-ai.service stopped and disabled: not enough memory for the model (see the configuration error)"
    return
  fi
  enable_unit local-ai.service
  if [[ "${changed}" == yes ]] || ! systemctl is-active --quiet local-ai.service; then
    info "restarting local-ai.service"
    systemctl restart local-ai.service
  fi
}

# htpasswd line for the API user (apr1, which nginx verifies itself); the password goes through stdin.
htpasswd_line() {
  local hash
  hash="$(printf '%s' "$1" | openssl passwd -apr1 -stdin)" || return 1
  printf '%s:%s\n' "${API_USER}" "${hash}"
}

# nginx map entry that switches Basic auth off for exactly "Bearer <password>" (case-sensitive regex).
bearer_map_line() {
  printf '"~^Bearer\\ %s$" off;\n' "$(regex_escape "$1")"
}

write_credentials() {
  local password="$1" htpasswd bearer
  write_file "${SLMC_PASSWORD_FILE}" 0600 < <(printf '%s' "${password}")
  if [[ "${WRITTEN}" == changed || ! -f "${SLMC_HTPASSWD}" ]]; then
    htpasswd="$(htpasswd_line "${password}")"
    write_file "${SLMC_HTPASSWD}" 0640 <<<"${htpasswd}"
    info "API password changed"
  fi
  # www-data (the nginx workers) reads the htpasswd file; the bearer map is read by the root master only.
  chgrp www-data "${SLMC_HTPASSWD}"
  bearer="$(bearer_map_line "${password}")"
  write_file "${SLMC_BEARER_MAP}" 0600 <<<"${bearer}"
}

regex_escape() {
  local text="$1" out="" char i
  for ((i = 0; i < ${#text}; i++)); do
    char="${text:i:1}"
    if [[ "${char}" =~ [A-Za-z0-9] ]]; then out+="${char}"; else out+="\\${char}"; fi
  done
  printf '%s' "${out}"
}

vm_addresses() {
  ip -o addr show scope global 2>/dev/null | awk '{ split($4, a, "/"); print a[1] }' | sort -u
}

certificate_names() {
  local domain="$1"
  {
    echo "DNS:localhost"
    echo "IP:127.0.0.1"
    echo "DNS:$(hostname -s 2>/dev/null || hostname)"
    [[ -n "${domain}" ]] && echo "DNS:${domain}"
    vm_addresses | sed 's/^/IP:/'
  } | awk 'NF' | sort -u | paste -sd, -
}

ensure_self_signed_certificate() {
  local domain="$1" names current=""
  names="$(certificate_names "${domain}")"
  [[ -f "${SLMC_SELF_SIGNED_NAMES}" ]] && current="$(<"${SLMC_SELF_SIGNED_NAMES}")"
  if [[ -f "${SLMC_SELF_SIGNED_CERT}" && "${current}" == "${names}" ]]; then
    info "self-signed certificate kept (names unchanged: ${names})"
    return
  fi
  stage "generating a self-signed certificate for ${names}"
  install -d -m 0700 "${SLMC_TLS_DIR}"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
    -subj "/O=SLM-Copilot/CN=${domain:-$(hostname -s 2>/dev/null || hostname)}" \
    -addext "subjectAltName=${names}" -addext "basicConstraints=critical,CA:FALSE" \
    -addext "extendedKeyUsage=serverAuth" \
    -keyout "${SLMC_SELF_SIGNED_KEY}" -out "${SLMC_SELF_SIGNED_CERT}" 2>/dev/null
  chmod 0600 "${SLMC_SELF_SIGNED_KEY}"
  chmod 0644 "${SLMC_SELF_SIGNED_CERT}"
  write_file "${SLMC_SELF_SIGNED_NAMES}" 0600 < <(printf '%s' "${names}")
}

# The nginx site's rate-limiting lines for a rate in requests per minute (0: off). The burst is half a
# minute's worth, answered without delay, so an IDE's bursts pass untouched.
rate_limit_zone_line() {
  local rate="$1"
  if ((rate == 0)); then
    echo "# per-client rate limiting is off (ONEAPP_COPILOT_RATE_LIMIT=0)"
  else
    echo "limit_req_zone \$binary_remote_addr zone=slmc_per_client:10m rate=${rate}r/m;"
  fi
}

rate_limit_line() {
  local rate="$1"
  if ((rate == 0)); then
    echo "# no limit_req: rate limiting is off"
  else
    echo "limit_req zone=slmc_per_client burst=$((rate / 2)) nodelay;"
  fi
}

# Seconds until a client over the limit may send again: one request's share of a minute, rounded up.
retry_after_seconds() {
  local rate="$1"
  if ((rate == 0)); then echo 60; else echo $(((60 + rate - 1) / rate)); fi
}

# The names port 80 may keep in its redirect: the certificate's names and addresses (IPv6 bracketed,
# as nginx's $host carries them), as nginx map entries on one line. Anything odd is left out.
own_host_map_entries() {
  local domain="$1" name entries=()
  while IFS= read -r name; do
    if [[ "${name}" == *:* ]]; then name="[${name}]"; fi
    [[ "${name}" =~ ^([a-z0-9.-]+|\[[0-9a-f:.]+\])$ ]] || continue
    entries+=("\"${name}\" \"${name}\";")
  done < <(certificate_names "${domain}" | tr ',' '\n' | cut -d: -f2- | tr '[:upper:]' '[:lower:]' | sort -u)
  echo "${entries[*]}"
}

# Where port 80 sends a Host that is not one of the appliance's names: the domain, else the address
# the request arrived on.
canonical_host() {
  local domain="$1"
  if [[ -n "${domain}" ]]; then echo "${domain}"; else echo "\$slmc_server_host"; fi
}

# nginx reloads on every configure (apply_nginx), so the site's WRITTEN is not needed.
render_nginx_site() {
  local cert="$1" key="$2" domain="$3" rate="$4" zone limit retry canonical own_hosts health
  install -d -m 0755 "${SLMC_ACME_WEBROOT}"
  health="$(health_override_line "${MEMORY_STATE:-ok}" "${MEMORY_TOTAL_MIB:-0}" "${MEMORY_NEEDED_MIB:-0}" "${MEMORY_RESIZE_GIB:-0}")"
  zone="$(rate_limit_zone_line "${rate}")"
  limit="$(rate_limit_line "${rate}")"
  retry="$(retry_after_seconds "${rate}")"
  canonical="$(canonical_host "${domain}")"
  own_hosts="$(own_host_map_entries "${domain}")"
  render_to "${SLMC_NGINX_SITE}" 0644 nginx-site.conf "BEARER_MAP=${SLMC_BEARER_MAP}" "LISTEN_ADDRESS=*" \
    "HTTP_PORT=80" "HTTPS_PORT=443" "ACME_WEBROOT=${SLMC_ACME_WEBROOT}" "TLS_CERT=${cert}" "TLS_KEY=${key}" \
    "ENGINE_PORT=${ENGINE_PORT}" "HTPASSWD=${SLMC_HTPASSWD}" "ACCESS_LOG=${SLMC_ACCESS_LOG}" \
    "AUTH_LOG=${SLMC_AUTH_LOG}" "RATE_LIMIT_ZONE=${zone}" "RATE_LIMIT=${limit}" "RETRY_AFTER=${retry}" \
    "CANONICAL_HOST=${canonical}" "OWN_HOSTS=${own_hosts}" "HEALTH_OVERRIDE=${health}" \
    "STUB_STATUS_PORT=${STUB_STATUS_PORT}" "METRICS_LOG=${SLMC_METRICS_LOG}" \
    "NGINX_EXPORTER_PORT=${NGINX_EXPORTER_PORT}" "MTAIL_PORT=${MTAIL_PORT}" "NODE_EXPORTER_PORT=${NODE_EXPORTER_PORT}"
  ln -sfn "${SLMC_NGINX_SITE}" "${SLMC_NGINX_SITE_ENABLED}"
  rm -f "${NGINX_DEFAULT_SITE_ENABLED}"
}

apply_nginx() {
  nginx -t -q
  enable_unit nginx.service
  if systemctl is-active --quiet nginx.service; then
    systemctl reload nginx.service
  else
    systemctl start nginx.service
  fi
}

letsencrypt_live_dir() {
  echo "${LETSENCRYPT_LIVE_DIR}/$1"
}

has_valid_letsencrypt_certificate() {
  local dir
  dir="$(letsencrypt_live_dir "$1")"
  [[ -f "${dir}/fullchain.pem" ]] && openssl x509 -checkend $((30 * 86400)) -noout -in "${dir}/fullchain.pem" >/dev/null 2>&1
}

# Sets ACME_RESULT to "issued" or "failed" (certbot's own output goes to the log).
request_letsencrypt_certificate() {
  local domain="$1" server="$2" email="$3"
  local account=(--register-unsafely-without-email)
  if [[ -n "${email}" ]]; then account=(--email "${email}"); fi
  stage "requesting a certificate for ${domain} from ${server}"
  ACME_RESULT=issued
  timeout 300 certbot certonly --non-interactive --agree-tos "${account[@]}" --webroot -w "${SLMC_ACME_WEBROOT}" \
    -d "${domain}" --server "${server}" --keep-until-expiring >>"${SLMC_LOG}" 2>&1 || ACME_RESULT=failed
}

# Why the base64 PEM pair $1 (certificate) and $2 (key) cannot be served, decoded into directory $3;
# prints nothing when it can. Never prints the key.
provided_certificate_problem() {
  local cert_b64="$1" key_b64="$2" work="$3" cert_pub key_pub
  if ! base64 -d <<<"${cert_b64}" >"${work}/cert.pem" 2>/dev/null; then
    echo "ONEAPP_COPILOT_TLS_CERT is not base64"
  elif ! base64 -d <<<"${key_b64}" >"${work}/key.pem" 2>/dev/null; then
    echo "ONEAPP_COPILOT_TLS_KEY is not base64"
  elif ! cert_pub="$(openssl x509 -in "${work}/cert.pem" -noout -pubkey 2>/dev/null)"; then
    echo "ONEAPP_COPILOT_TLS_CERT is not a PEM certificate"
  elif ! key_pub="$(openssl pkey -in "${work}/key.pem" -passin pass: -pubout 2>/dev/null)"; then
    echo "ONEAPP_COPILOT_TLS_KEY is not an unencrypted PEM private key"
  elif [[ "${cert_pub}" != "${key_pub}" ]]; then
    echo "ONEAPP_COPILOT_TLS_KEY is not the key of ONEAPP_COPILOT_TLS_CERT"
  elif ! openssl x509 -in "${work}/cert.pem" -noout -checkend 0 >/dev/null 2>&1; then
    echo "ONEAPP_COPILOT_TLS_CERT has expired"
  fi
}

# A certificate given in the context (a pool's shared one): installed when usable; sets PROVIDED_TLS
# to "yes" or "no". A refused pair is a configuration error and the appliance's own certificate serves.
install_provided_certificate() {
  local cert_b64="${ONEAPP_COPILOT_TLS_CERT:-}" key_b64="${ONEAPP_COPILOT_TLS_KEY:-}" work problem
  PROVIDED_TLS=no
  if [[ -z "${cert_b64}" && -z "${key_b64}" ]]; then return 0; fi
  if [[ -z "${cert_b64}" || -z "${key_b64}" ]]; then
    config_error "ONEAPP_COPILOT_TLS_CERT and ONEAPP_COPILOT_TLS_KEY go together: only one is set; serving the appliance's own certificate"
    return 0
  fi
  work="$(mktemp -d)"
  problem="$(provided_certificate_problem "${cert_b64}" "${key_b64}" "${work}")"
  if [[ -n "${problem}" ]]; then
    config_error "${problem}; serving the appliance's own certificate"
  else
    install -d -m 0700 "${SLMC_TLS_DIR}"
    write_file "${SLMC_PROVIDED_CERT}" 0644 "${work}/cert.pem"
    write_file "${SLMC_PROVIDED_KEY}" 0600 "${work}/key.pem"
    PROVIDED_TLS=yes
    info "serving the certificate from the context: $(openssl x509 -in "${SLMC_PROVIDED_CERT}" -noout -subject -enddate | paste -sd' ' -)"
  fi
  rm -rf "${work}"
}

# Sets TLS_MODE to "provided", "letsencrypt" or "self-signed". Runs in the step's own shell (not in $(...)), so
# set -e still guards it; an ACME problem is not an error: it falls back to self-signed.
configure_tls() {
  local domain="$1" server="$2" email="$3" rate="$4" live
  local self_cert="${SLMC_SELF_SIGNED_CERT}" self_key="${SLMC_SELF_SIGNED_KEY}"
  TLS_MODE=self-signed
  install_provided_certificate
  if [[ "${PROVIDED_TLS}" == yes ]]; then
    render_nginx_site "${SLMC_PROVIDED_CERT}" "${SLMC_PROVIDED_KEY}" "${domain}" "${rate}"
    apply_nginx
    TLS_MODE=provided
    return
  fi
  ensure_self_signed_certificate "${domain}"
  if [[ -z "${domain}" ]]; then
    render_nginx_site "${self_cert}" "${self_key}" "${domain}" "${rate}"
    apply_nginx
    return
  fi
  if ! has_valid_letsencrypt_certificate "${domain}"; then
    render_nginx_site "${self_cert}" "${self_key}" "${domain}" "${rate}"
    apply_nginx
    request_letsencrypt_certificate "${domain}" "${server}" "${email}"
    if [[ "${ACME_RESULT}" == failed ]]; then
      config_error "Let's Encrypt failed for ${domain} via ${server} (details in ${SLMC_LOG}); serving the self-signed certificate"
      return
    fi
  fi
  live="$(letsencrypt_live_dir "${domain}")"
  render_nginx_site "${live}/fullchain.pem" "${live}/privkey.pem" "${domain}" "${rate}"
  if ! nginx -t -q; then
    config_error "nginx rejected the Let's Encrypt certificate for ${domain}; serving the self-signed certificate"
    render_nginx_site "${self_cert}" "${self_key}" "${domain}" "${rate}"
    apply_nginx
    return
  fi
  apply_nginx
  TLS_MODE=letsencrypt
}

# fail2ban: the slm-copilot-auth jail on nginx's failed-authentication log, enabled and (re)started
# when its files change. A fail2ban that does not start is a configuration error, not a failed boot:
# the API itself is up by then.
configure_fail2ban() {
  local changed=no
  stage "fail2ban: jail slm-copilot-auth on ${SLMC_AUTH_LOG}"
  render_to "${FAIL2BAN_FILTER}" 0644 fail2ban-filter.conf
  if [[ "${WRITTEN}" == changed ]]; then changed=yes; fi
  render_to "${FAIL2BAN_JAIL}" 0644 fail2ban-jail.conf "AUTH_LOG=${SLMC_AUTH_LOG}"
  if [[ "${WRITTEN}" == changed ]]; then changed=yes; fi
  render_to "${FAIL2BAN_SSHD_JOURNAL}" 0644 fail2ban-sshd-journal.conf
  if [[ "${WRITTEN}" == changed ]]; then changed=yes; fi
  ensure_auth_log
  local output line
  if ! output="$(fail2ban-client -c "${FAIL2BAN_DIR}" --test 2>&1)"; then
    while IFS= read -r line; do log ERROR "fail2ban-client --test: ${line}"; done <<<"${output}"
    config_error "fail2ban rejected its configuration (details in ${SLMC_LOG}); failed logins are not banned"
    return
  fi
  info "fail2ban configuration test passed"
  enable_unit fail2ban.service
  if [[ "${changed}" == yes ]] || ! systemctl is-active --quiet fail2ban.service; then
    info "restarting fail2ban.service"
    if ! systemctl restart fail2ban.service; then
      config_error "fail2ban did not start (journalctl -u fail2ban); failed logins are not banned"
    fi
  fi
}

# fail2ban refuses a jail whose log file is missing: create it as nginx would (root:adm 0640).
ensure_auth_log() {
  ensure_nginx_log "${SLMC_AUTH_LOG}"
}

# A log nginx writes and a reader in group adm follows (mtail, fail2ban). Corrected when it exists: a
# root `nginx -t` under umask 077 (the image build) creates the logs it names as 0600 root:root.
ensure_nginx_log() {
  if [[ ! -e "$1" ]]; then
    install -m 0640 -o root -g adm /dev/null "$1"
    return 0
  fi
  chgrp adm "$1"
  chmod 0640 "$1"
}

# --- metrics (MON-01): Debian's exporters on loopback, nginx proxies them behind the password ------
# The exporters' /etc/default files (their Debian units read ARGS, mtail HOST/PORT/LOGS from there).
# Sets METRICS_CHANGED to the units whose file changed.
install_exporter_defaults() {
  METRICS_CHANGED=()
  render_to "${NODE_EXPORTER_DEFAULT}" 0644 prometheus-node-exporter.default "PORT=${NODE_EXPORTER_PORT}" \
    "TEXTFILE_DIR=${NODE_TEXTFILE_DIR#"${SLMC_ROOT}"}"
  if [[ "${WRITTEN}" == changed ]]; then METRICS_CHANGED+=(prometheus-node-exporter.service); fi
  render_to "${NGINX_EXPORTER_DEFAULT}" 0644 prometheus-nginx-exporter.default "PORT=${NGINX_EXPORTER_PORT}" \
    "STUB_STATUS_PORT=${STUB_STATUS_PORT}"
  if [[ "${WRITTEN}" == changed ]]; then METRICS_CHANGED+=(prometheus-nginx-exporter.service); fi
  render_to "${MTAIL_DEFAULT}" 0644 mtail.default "PORT=${MTAIL_PORT}" "METRICS_LOG=${SLMC_METRICS_LOG#"${SLMC_ROOT}"}"
  if [[ "${WRITTEN}" == changed ]]; then METRICS_CHANGED+=(mtail.service); fi
  write_file "${MTAIL_PROGRAM}" 0644 "${SLMC_TEMPLATES}/slm-copilot.mtail"
  if [[ "${WRITTEN}" == changed ]]; then METRICS_CHANGED+=(mtail.service); fi
}

# The readiness probe (slmc_engine_ready for node exporter's textfile collector) and its timer.
# Sets READINESS_CHANGED to yes when any of its files changed.
install_readiness_probe() {
  READINESS_CHANGED=no
  install -d -m 0755 "${NODE_TEXTFILE_DIR}"
  render_to "${SLMC_READINESS_BIN}" 0755 slm-copilot-readiness.sh "ENGINE_PORT=${ENGINE_PORT}" \
    "OUT=${NODE_TEXTFILE_DIR#"${SLMC_ROOT}"}/slm-copilot.prom"
  if [[ "${WRITTEN}" == changed ]]; then READINESS_CHANGED=yes; fi
  render_to "${SLMC_READINESS_SERVICE}" 0644 slm-copilot-readiness.service "PROBE=${SLMC_READINESS_BIN#"${SLMC_ROOT}"}"
  if [[ "${WRITTEN}" == changed ]]; then READINESS_CHANGED=yes; fi
  write_file "${SLMC_READINESS_TIMER}" 0644 "${SLMC_TEMPLATES}/slm-copilot-readiness.timer"
  if [[ "${WRITTEN}" == changed ]]; then READINESS_CHANGED=yes; fi
}

# Enables UNIT and restarts it when $2 is yes or it is not running. One that does not start is a
# configuration error, not a failed boot: the API works without its metrics.
start_metrics_unit() {
  local unit="$1" changed="$2"
  enable_unit "${unit}"
  if [[ "${changed}" == yes ]] || ! systemctl is-active --quiet "${unit}"; then
    info "restarting ${unit}"
    # A unit that failed at boot before its configuration existed may have hit its start limit.
    systemctl reset-failed "${unit}" >/dev/null 2>&1 || true
    if ! systemctl restart "${unit}"; then
      config_error "${unit} did not start (journalctl -u ${unit}); its metrics are missing from /metrics/*"
    fi
  fi
}

configure_metrics() {
  stage "metrics: node exporter :${NODE_EXPORTER_PORT}, nginx exporter :${NGINX_EXPORTER_PORT}, mtail :${MTAIL_PORT} (loopback), readiness probe"
  ensure_nginx_log "${SLMC_METRICS_LOG}"
  install_exporter_defaults
  install_readiness_probe
  if [[ "${READINESS_CHANGED}" == yes ]]; then systemctl daemon-reload; fi
  local unit changed
  for unit in prometheus-node-exporter.service prometheus-nginx-exporter.service mtail.service; do
    changed=no
    if [[ " ${METRICS_CHANGED[*]} " == *" ${unit} "* ]]; then changed=yes; fi
    start_metrics_unit "${unit}" "${changed}"
  done
  start_metrics_unit slm-copilot-readiness.timer "${READINESS_CHANGED}"
}

# --- memory: a VM too small for the model ------------------------------------------------------
memory_total_kib() {
  awk '/^MemTotal:/ { print $2; found = 1 } END { exit !found }' "${SLMC_MEMINFO}"
}

# Sets MEMORY_STATE (ok or insufficient), MEMORY_TOTAL_MIB, MEMORY_NEEDED_MIB, MEMORY_RESIZE_GIB and
# MEMORY_ADVICE for the context size $1. Too little RAM is a configuration error, not a failed step:
# nginx still comes up and says so on /health.
check_memory() {
  local context_size="$1" total_kib weights_kib=0 model_bytes needed_kib headroom_kib max_context
  if [[ ! "${SLMC_KV_KIB_PER_TOKEN}" =~ ^[0-9]{1,6}$ ]]; then
    log ERROR "SLMC_KV_KIB_PER_TOKEN='${SLMC_KV_KIB_PER_TOKEN:0:20}' in ${SLMC_BUILD_ENV} is not a whole number: the image is broken, rebuild it"
    return 1
  fi
  total_kib="$(memory_total_kib)"
  if [[ -r "${LOCALAI_MODEL_PATH}" ]]; then
    model_bytes="$(stat -c %s "${LOCALAI_MODEL_PATH}")"
    weights_kib=$(((model_bytes + 1023) / 1024))
  fi
  needed_kib=$((weights_kib + context_size * SLMC_KV_KIB_PER_TOKEN + RUNTIME_OVERHEAD_KIB))
  MEMORY_TOTAL_MIB=$((total_kib / 1024))
  MEMORY_NEEDED_MIB=$(((needed_kib + 1023) / 1024))
  # A VM given N GiB sees a little less as MemTotal (kernel reservations): one GiB more than needed.
  MEMORY_RESIZE_GIB=$(((needed_kib + 1048575) / 1048576 + 1))
  if ((total_kib >= needed_kib)); then
    MEMORY_STATE=ok
    MEMORY_ADVICE=""
    info "memory: ${MEMORY_TOTAL_MIB} MiB RAM, the model needs ${MEMORY_NEEDED_MIB} MiB at context ${context_size}"
    return
  fi
  MEMORY_STATE=insufficient
  MEMORY_ADVICE="resize the VM to at least ${MEMORY_RESIZE_GIB} GiB of RAM"
  headroom_kib=$((total_kib - weights_kib - RUNTIME_OVERHEAD_KIB))
  max_context=0
  if ((SLMC_KV_KIB_PER_TOKEN > 0 && headroom_kib > 0)); then
    max_context=$((headroom_kib / SLMC_KV_KIB_PER_TOKEN / 1024 * 1024))
  fi
  if ((max_context >= MIN_CONTEXT_SIZE)); then
    MEMORY_ADVICE+=", or set ONEAPP_COPILOT_CONTEXT_SIZE to ${max_context} or less"
  fi
  config_error "not enough memory for the model: the VM has ${MEMORY_TOTAL_MIB} MiB of RAM, the model needs ${MEMORY_NEEDED_MIB} MiB (weights $((weights_kib / 1024)) MiB + KV cache $((context_size * SLMC_KV_KIB_PER_TOKEN / 1024)) MiB at context ${context_size} + 2048 MiB runtime and OS); LocalAI is not started: ${MEMORY_ADVICE}"
}

# The nginx line that decides /health before the engine is asked: nothing when memory is ok, else a
# fixed 503 that names the state and the size to resize to. One line: template values cannot break.
health_override_line() {
  local state="$1" total_mib="$2" needed_mib="$3" resize_gib="$4"
  if [[ "${state}" != insufficient ]]; then
    echo "# memory suffices: the engine's readiness decides"
    return
  fi
  local body="{\"status\":\"insufficient_memory\",\"memory_mib\":${total_mib},\"needed_mib\":${needed_mib},\"resize_to_gib\":${resize_gib}}"
  printf '%s\n' "default_type application/json; return 503 '${body}\\n';"
}

service_configure() {
  local -
  set -euo pipefail
  stage "configure"
  install -d -m 0700 "${SLMC_STATE_DIR}"
  : >"${SLMC_ERRORS_FILE}"
  : >"${SLMC_WARNINGS_FILE}"
  local context_size context_count threads domain acme_server acme_email password rate_limit effective lb
  context_size="$(effective_context_size)"
  context_count="$(context_threads)"
  threads="$(effective_threads "${context_count}")"
  domain="$(effective_domain)"
  acme_server="$(effective_acme_server)"
  acme_email="$(effective_acme_email)"
  password="$(effective_password)"
  rate_limit="$(effective_rate_limit)"
  printf -v lb 'LB_IP=%s\nLB_PORT=%s\nLB_INDEX=%s' "$(effective_lb_ip)" "$(effective_lb_port)" "$(effective_lb_index)"
  write_file "${SLMC_LB_ENV}" 0600 <<<"${lb}"
  check_memory "${context_size}"
  write_credentials "${password}"
  configure_localai "${context_size}" "${threads}" "${MEMORY_STATE}"
  configure_tls "${domain}" "${acme_server}" "${acme_email}" "${rate_limit}"
  configure_fail2ban
  configure_metrics
  printf -v effective 'CONTEXT_SIZE=%s\nTHREADS=%s\nCONTEXT_THREADS=%s\nDOMAIN=%s\nTLS_MODE=%s\nRATE_LIMIT=%s\nMEMORY_STATE=%s\nMEMORY_TOTAL_MIB=%s\nMEMORY_NEEDED_MIB=%s\nMEMORY_ADVICE=%s' \
    "${context_size}" "${threads}" "${context_count}" "${domain}" "${TLS_MODE}" "${rate_limit}" "${MEMORY_STATE}" \
    "${MEMORY_TOTAL_MIB}" "${MEMORY_NEEDED_MIB}" "${MEMORY_ADVICE}"
  write_file "${SLMC_EFFECTIVE_ENV}" 0600 <<<"${effective}"
  info "configure finished: TLS ${TLS_MODE}, context ${context_size}, threads ${threads}, rate limit ${rate_limit}/min, $(wc -l <"${SLMC_ERRORS_FILE}") configuration error(s), $(wc -l <"${SLMC_WARNINGS_FILE}") warning(s)"
}

# --- bootstrap (every boot, after configure) ------------------------------------------------------
# Polls the engine's readiness for up to $1 seconds; sets ENGINE_READY to "yes" or "no".
wait_for_engine_ready() {
  local budget="$1" waited=0
  ENGINE_READY=yes
  until curl --silent --fail --max-time 5 "http://127.0.0.1:${ENGINE_PORT}/readyz" >/dev/null 2>&1; do
    if ((waited >= budget)); then
      ENGINE_READY=no
      return 0
    fi
    sleep 2
    waited=$((waited + 2))
  done
}

# A value configure recorded; a missing key fails the step (configure always writes all of them).
effective_value() {
  grep -E "^$1=" "${SLMC_EFFECTIVE_ENV}" | cut -d= -f2-
}

# The name clients use: the domain with a Let's Encrypt certificate, else the VM's first IPv4 address.
endpoint_host() {
  local tls_mode="$1" domain="$2" address
  if [[ -n "${domain}" && "${tls_mode}" != self-signed ]]; then
    echo "${domain}"
    return
  fi
  address="$(vm_addresses | awk '!/:/ && !found { print; found = 1 }')"
  echo "${address:-127.0.0.1}"
}

tls_fingerprint() {
  local cert="$1"
  openssl x509 -noout -fingerprint -sha256 -in "${cert}" | cut -d= -f2
}

active_certificate() {
  local tls_mode="$1" domain="$2"
  if [[ "${tls_mode}" == letsencrypt ]]; then
    echo "${LETSENCRYPT_LIVE_DIR}/${domain}/fullchain.pem"
  elif [[ "${tls_mode}" == provided ]]; then
    echo "${SLMC_PROVIDED_CERT}"
  else
    echo "${SLMC_SELF_SIGNED_CERT}"
  fi
}

cline_settings_json() {
  local endpoint="$1" password="$2"
  jq -n --arg base "${endpoint}/v1" --arg key "${password}" --arg model "${MODEL_NAME}" '{
    "cline.apiProvider": "openai",
    "cline.openAiBaseUrl": $base,
    "cline.openAiApiKey": $key,
    "cline.openAiModelId": $model
  }'
}

# Continue (IDE extension and the `cn` CLI) config.yaml for this appliance. $3: the CA file name the
# client trusts ("" when the certificate is publicly trusted). The password's characters are all
# plain in a double-quoted YAML string (is_valid_password); quoting keeps e.g. "12345678" a string.
continue_config_yaml() {
  local endpoint="$1" password="$2" ca_file="$3"
  cat <<YAML
name: SLM-Copilot
version: 1.0.0
schema: v1
models:
  - name: SLM-Copilot ${MODEL_NAME}
    provider: openai
    model: ${MODEL_NAME}
    apiBase: ${endpoint}/v1
    apiKey: "${password}"
    roles:
      - chat
      - edit
      - apply
YAML
  if [[ -n "${ca_file}" ]]; then
    echo "    requestOptions:"
    echo "      caBundlePath: ${ca_file}"
  fi
}

# The Cline CLI commands: store the provider settings once, then run a prompt headless. The key is
# single-quoted (a password may start with "~"); CLINE_SESSION_BACKEND_MODE=local keeps Cline from
# starting a background hub that outlives the run and ignores a CA given later.
cline_cli_commands() {
  local endpoint="$1" password="$2" ca_file="$3" trust=""
  [[ -n "${ca_file}" ]] && trust="NODE_EXTRA_CA_CERTS=${ca_file} "
  echo "cline auth -p openai -k '${password}' -m ${MODEL_NAME} -b ${endpoint}/v1 --data-dir ${CLINE_DATA_DIR}"
  echo "CLINE_SESSION_BACKEND_MODE=local ${trust}cline --data-dir ${CLINE_DATA_DIR} --json -t 600 \"Say hello in one sentence.\""
}

# The report is built in a 0600 scratch file in this shell (not in a pipe or $(...)), so set -e
# stops the step on any failure while building it; write_file then installs it.
write_report() {
  local host endpoint password tls_mode domain certificate fingerprint errors warnings line rate ca_file=""
  local context_size threads scratch memory_state
  tls_mode="$(effective_value TLS_MODE)"
  memory_state="$(effective_value MEMORY_STATE)"
  domain="$(effective_value DOMAIN)"
  rate="$(effective_value RATE_LIMIT)"
  context_size="$(effective_value CONTEXT_SIZE)"
  threads="$(effective_value THREADS)"
  host="$(endpoint_host "${tls_mode}" "${domain}")"
  endpoint="https://${host}"
  password="$(<"${SLMC_PASSWORD_FILE}")"
  certificate="$(active_certificate "${tls_mode}" "${domain}")"
  fingerprint="$(tls_fingerprint "${certificate}")"
  [[ "${tls_mode}" == letsencrypt ]] || ca_file="${CLIENT_CA_FILE}"
  errors="$(cat "${SLMC_ERRORS_FILE}" 2>/dev/null || true)"
  warnings="$(cat "${SLMC_WARNINGS_FILE}" 2>/dev/null || true)"
  scratch="$(mktemp)"
  {
    echo "[Connection info]"
    echo "endpoint = ${endpoint}"
    echo "api_base_url = ${endpoint}/v1"
    echo "api_username = ${API_USER}"
    echo "api_password = ${password}"
    echo
    echo "[Model]"
    echo "model_id = ${MODEL_NAME}"
    echo "model_file = ${SLMC_MODEL_FILE}"
    echo "engine = LocalAI ${SLMC_LOCALAI_VERSION}"
    echo "context_size = ${context_size}"
    echo "threads = ${threads}"
    echo
    echo "[TLS]"
    echo "mode = ${tls_mode}"
    echo "domain = ${domain}"
    echo "sha256_fingerprint = ${fingerprint}"
    if [[ -n "${ca_file}" ]]; then
      echo "ca_certificate = ${certificate}"
      echo "ca_certificate_fetch = scp root@${host}:${certificate} ${ca_file}"
    else
      echo "ca_certificate = none needed (Let's Encrypt is publicly trusted)"
    fi
    echo
    echo "[Memory]"
    echo "state = ${memory_state:-ok}"
    echo "total_mib = $(effective_value MEMORY_TOTAL_MIB)"
    echo "needed_mib = $(effective_value MEMORY_NEEDED_MIB) (model weights + KV cache at context ${context_size} + 2048 MiB)"
    if [[ "${memory_state}" == insufficient ]]; then
      echo "advice = $(effective_value MEMORY_ADVICE)"
    fi
    echo
    echo "[Protection]"
    if [[ "${rate:-0}" == 0 ]]; then
      echo "rate_limit = off"
    else
      echo "rate_limit = ${rate} requests/min per client address, burst $((rate / 2))"
    fi
    echo "failed_auth_log = ${SLMC_AUTH_LOG}"
    echo "fail2ban_jail = slm-copilot-auth"
    echo
    echo "[Load balancer]"
    if [[ -z "$(lb_value LB_IP)" ]]; then
      echo "pool = none (ONEAPP_COPILOT_LB_IP empty)"
    else
      echo "load_balancer = $(lb_value LB_IP):$(lb_value LB_PORT) (VRouter HAProxy LB$(lb_value LB_INDEX))"
      if [[ -r "${SLMC_ONEGATE_STATE}" ]]; then
        echo "onegate_registered = yes"
      else
        echo "onegate_registered = no (see [Configuration errors])"
      fi
    fi
    echo
    echo "[Service status]"
    echo "local-ai = $(systemctl is-active local-ai.service || true)"
    echo "nginx = $(systemctl is-active nginx.service || true)"
    echo "fail2ban = $(systemctl is-active fail2ban.service || true)"
    echo
    echo "[Configuration errors]"
    if [[ -n "${errors}" ]]; then
      while IFS= read -r line; do echo "error = ${line}"; done <<<"${errors}"
    else
      echo "none = true"
    fi
    echo
    echo "[Configuration warnings]"
    if [[ -n "${warnings}" ]]; then
      while IFS= read -r line; do echo "warning = ${line}"; done <<<"${warnings}"
    else
      echo "none = true"
    fi
    echo
    echo "[Cline settings.json]"
    cline_settings_json "${endpoint}" "${password}"
    echo
    echo "[Continue config.yaml]"
    if [[ -n "${ca_file}" ]]; then
      echo "# Save as config.yaml in the directory holding ${ca_file} (ca_certificate_fetch above); run there:"
    else
      echo "# Save as config.yaml; run:"
    fi
    echo "#   cn --config config.yaml -p \"Say hello.\""
    continue_config_yaml "${endpoint}" "${password}" "${ca_file}"
    echo
    echo "[Cline CLI]"
    echo "# Run in one directory${ca_file:+ (the one holding ${ca_file})}: the first command once, the second per prompt."
    cline_cli_commands "${endpoint}" "${password}" "${ca_file}"
    echo
    echo "[Test with curl]"
    echo "curl -k -H 'Authorization: Bearer ${password}' ${endpoint}/v1/models"
  } >"${scratch}"
  write_file "${SLMC_REPORT}" 0600 "${scratch}"
  rm -f "${scratch}"
}

write_banner() {
  render_to "${SLMC_BANNER}" 0644 login-banner.sh "REPORT=${SLMC_REPORT}"
}

service_bootstrap() {
  local -
  set -euo pipefail
  if [[ ! -r "${LOCALAI_MODEL_PATH}" ]]; then
    log ERROR "model file ${LOCALAI_MODEL_PATH} is missing: the image is incomplete, rebuild it"
    return 1
  fi
  if [[ "$(effective_value MEMORY_STATE)" == insufficient ]]; then
    write_report
    write_banner
    log ERROR "not enough memory for the model, LocalAI not started: $(effective_value MEMORY_ADVICE); nginx answers /health with 503 insufficient_memory, the report is in ${SLMC_REPORT}"
    return 1
  fi
  stage "bootstrap: waiting up to ${READY_TIMEOUT_S} s for the model to load"
  wait_for_engine_ready "${READY_TIMEOUT_S}"
  if [[ "${ENGINE_READY}" == no ]]; then
    log ERROR "LocalAI did not report ready within ${READY_TIMEOUT_S} s: journalctl -u local-ai"
    return 1
  fi
  info "LocalAI ready on 127.0.0.1:${ENGINE_PORT}"
  onegate_register
  install_onegate_unit
  write_report
  write_banner
  info "bootstrap finished: report in ${SLMC_REPORT}"
}

# --- retune (slmc-check tune): the thread count only, without the context ---------------------------
# Replaces the value of KEY in effective.env ($2 is a count validated by the caller).
set_effective_value() {
  local key="$1" value="$2" text
  text="$(sed "s/^${key}=.*/${key}=${value}/" "${SLMC_EFFECTIVE_ENV}")"
  write_file "${SLMC_EFFECTIVE_ENV}" 0600 <<<"${text}"
}

# Re-applies the thread count as configure would, from what configure recorded: the tuning override if
# present and valid, else CONTEXT_THREADS (the context's count at the last configure). one-context's
# one_env is never read: it is written unescaped, so sourcing it would run whatever the VM's owner put
# in a value, as root. The engine restarts when the model YAML or unit changed; then it waits for
# readiness and rewrites the report, as bootstrap does.
service_retune() {
  local -
  set -euo pipefail
  local context_count context_size memory_state threads
  stage "retune: threads only (the tuning override, else the context's recorded count)"
  if [[ ! -r "${SLMC_EFFECTIVE_ENV}" ]] || ! grep -qE '^CONTEXT_THREADS=' "${SLMC_EFFECTIVE_ENV}"; then
    log ERROR "${SLMC_EFFECTIVE_ENV} records no CONTEXT_THREADS: run /etc/one-appliance/service configure once (or reboot), then retune"
    return 1
  fi
  context_count="$(effective_value CONTEXT_THREADS)"
  if ! is_integer_in_range "${context_count}" 1 512; then
    log ERROR "CONTEXT_THREADS='${context_count:0:16}' in ${SLMC_EFFECTIVE_ENV} is not a whole number from 1 to 512: run /etc/one-appliance/service configure"
    return 1
  fi
  context_size="$(effective_value CONTEXT_SIZE)"
  memory_state="$(effective_value MEMORY_STATE)"
  threads="$(effective_threads "${context_count}")"
  configure_localai "${context_size}" "${threads}" "${memory_state}"
  set_effective_value THREADS "${threads}"
  if [[ "${memory_state}" != ok ]]; then
    log ERROR "not enough memory for the model, LocalAI not started: $(effective_value MEMORY_ADVICE)"
    return 1
  fi
  wait_for_engine_ready "${READY_TIMEOUT_S}"
  if [[ "${ENGINE_READY}" == no ]]; then
    log ERROR "LocalAI did not report ready within ${READY_TIMEOUT_S} s: journalctl -u local-ai"
    return 1
  fi
  write_report
  info "retune finished: threads ${threads}"
}

service_cleanup() {
  :
}

service_help() {
  cat <<HELP
${ONE_SERVICE_NAME} ${ONE_SERVICE_VERSION}

Context variables (all optional; empty means default):
HELP
  local i
  for ((i = 0; i < ${#ONE_SERVICE_PARAMS[@]}; i += 4)); do
    printf '  %-30s %s\n' "${ONE_SERVICE_PARAMS[i]}" "${ONE_SERVICE_PARAMS[i + 2]}"
  done
  echo
  echo "Log: ${SLMC_LOG}   Report: ${SLMC_REPORT}"
}
