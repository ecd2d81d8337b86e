// MON-01/MON-02: the appliance's metrics endpoints (all on 443, behind the appliance password) and
// the series each one carries. One list, read by the metrics checks (suites/metrics.ts), the
// simulator (src/sim) and the dashboard lint (scripts/dashboard.ts): a dashboard query may name only
// a series listed here.

/** Path on 443 → what nginx proxies it to (all bound to 127.0.0.1 on the appliance). */
export const METRICS_ENDPOINTS = {
  /** LocalAI's own /metrics (127.0.0.1:8080). */
  engine: "/metrics",
  /** Debian's prometheus-nginx-exporter (127.0.0.1:9113) over nginx's stub_status. */
  nginx: "/metrics/nginx",
  /** mtail (127.0.0.1:3903) over nginx's metrics access log: requests by status class and path. */
  requests: "/metrics/requests",
  /** Debian's prometheus-node-exporter (127.0.0.1:9100), its textfile collector included. */
  node: "/metrics/node",
} as const;

export type MetricsEndpoint = keyof typeof METRICS_ENDPOINTS;

/** Loopback ports of the exporters on the appliance (appliance.sh and the nginx site use the same). */
export const EXPORTER_PORTS = { nginx: 9113, requests: 3903, node: 9100 } as const;

/** nginx's stub_status, on a loopback-only server of the site, read by the nginx exporter. */
export const STUB_STATUS_PORT = 8081;
/** nginx's access log in the format slm-copilot.mtail parses. */
export const METRICS_LOG = "/var/log/nginx/slm-copilot-metrics.log";
/** Where the readiness probe writes slmc_engine_ready for node exporter's textfile collector. */
export const READINESS_PROM = "/var/lib/prometheus/node-exporter/slm-copilot.prom";

/**
 * The `path` label of the request series: nginx maps $uri to one of these (a bounded set, so a
 * scanner cannot grow the series without end).
 */
export const REQUEST_PATHS = ["chat", "models", "health", "metrics", "other"] as const;

export function requestPathLabel(path: string): (typeof REQUEST_PATHS)[number] {
  if (path === "/v1/chat/completions" || path === "/chat/completions") return "chat";
  if (path === "/v1/models" || path === "/models") return "models";
  if (path === "/health" || path === "/readyz") return "health";
  if (path === "/metrics" || path.startsWith("/metrics/")) return "metrics";
  return "other";
}

/** Upper bounds (seconds) of the mtail latency histograms. */
export const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600] as const;

/** Every series the appliance documents, by endpoint, with what it means (the README's table). */
export const METRIC_SERIES: Record<MetricsEndpoint, Record<string, string>> = {
  engine: {
    api_call_bucket: "LocalAI: requests by method and path, bucketed by seconds (histogram)",
    api_call_sum: "LocalAI: total seconds spent per method and path",
    api_call_count: "LocalAI: requests per method and path",
  },
  nginx: {
    nginx_up: "1 when the exporter could read nginx's stub_status",
    nginx_connections_active: "client connections open now",
    nginx_connections_accepted: "client connections accepted since nginx started",
    nginx_connections_handled: "client connections handled since nginx started",
    nginx_http_requests_total: "HTTP requests nginx received since it started (every path)",
  },
  requests: {
    slmc_http_requests_total:
      "requests by status_class (2xx…5xx) and path (chat, models, health, metrics, other)",
    slmc_http_request_seconds_bucket: "seconds nginx spent per request, by path (histogram)",
    slmc_http_request_seconds_sum: "total seconds nginx spent on requests, by path",
    slmc_http_request_seconds_count: "requests timed, by path",
    slmc_http_upstream_header_seconds_bucket:
      "seconds until the engine's response headers, by path (histogram; the time to first byte)",
    slmc_http_upstream_header_seconds_sum: "total seconds until the engine's response headers, by path",
    slmc_http_upstream_header_seconds_count: "proxied requests timed, by path",
    slmc_http_upstream_seconds_bucket: "seconds the engine took for the whole response, by path (histogram)",
    slmc_http_upstream_seconds_sum: "total seconds the engine took, by path",
    slmc_http_upstream_seconds_count: "proxied requests, by path",
    slmc_http_response_bytes_total: "response body bytes sent, by path (for chat: generated output)",
  },
  node: {
    node_cpu_seconds_total: "CPU seconds by cpu and mode (idle, user, system, …)",
    node_memory_MemTotal_bytes: "physical memory",
    node_memory_MemAvailable_bytes: "memory available to new processes without swapping",
    node_load1: "1-minute load average",
    slmc_engine_ready: "1 when the engine's /readyz answered 200 at the last probe (every 15 s), else 0",
    slmc_engine_ready_probe_timestamp_seconds: "when the readiness probe last ran (Unix time)",
  },
};

/** Every documented series name, across endpoints. */
export function knownSeries(): Set<string> {
  return new Set(Object.values(METRIC_SERIES).flatMap((series) => Object.keys(series)));
}
