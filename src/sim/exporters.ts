// What the appliance's exporters print, for the simulated front: prometheus-nginx-exporter 0.11
// (stub_status counters), mtail over nginx's metrics log (slm-copilot.mtail's series, with mtail's
// `prog` label) and prometheus-node-exporter (a few of its series plus the textfile collector's
// slmc_engine_ready). Series names and labels as the real programs print them.
import os from "node:os";
import { LATENCY_BUCKETS, requestPathLabel } from "../probes/metrics-series.ts";

const MTAIL_PROG = "slm-copilot.mtail";

class Histogram {
  private readonly series = new Map<string, { buckets: number[]; sum: number; count: number }>();
  constructor(private readonly name: string) {}
  observe(path: string, seconds: number) {
    const entry = this.series.get(path) ?? { buckets: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 };
    LATENCY_BUCKETS.forEach((bound, i) => {
      if (seconds <= bound) entry.buckets[i] = (entry.buckets[i] ?? 0) + 1;
    });
    entry.sum += seconds;
    entry.count++;
    this.series.set(path, entry);
  }
  render(): string {
    const lines = [`# TYPE ${this.name} histogram`];
    for (const [path, entry] of this.series) {
      const labels = `path="${path}",prog="${MTAIL_PROG}"`;
      LATENCY_BUCKETS.forEach((bound, i) =>
        lines.push(`${this.name}_bucket{${labels},le="${bound}"} ${entry.buckets[i] ?? 0}`),
      );
      lines.push(`${this.name}_bucket{${labels},le="+Inf"} ${entry.count}`);
      lines.push(`${this.name}_sum{${labels}} ${entry.sum}`);
      lines.push(`${this.name}_count{${labels}} ${entry.count}`);
    }
    return lines.join("\n") + "\n";
  }
}

export interface FinishedRequest {
  path: string;
  status: number;
  seconds: number;
  /** Set when the request went to the engine: seconds to its headers and to its whole response. */
  upstream?: { headerSeconds: number; seconds: number };
  bytes: number;
}

export class FrontMetrics {
  private active = 0;
  private accepted = 0;
  private requestsTotal = 0;
  private readonly byClass = new Map<string, number>();
  private readonly bytes = new Map<string, number>();
  private readonly requestSeconds = new Histogram("slmc_http_request_seconds");
  private readonly headerSeconds = new Histogram("slmc_http_upstream_header_seconds");
  private readonly upstreamSeconds = new Histogram("slmc_http_upstream_seconds");

  connectionOpened(): () => void {
    this.accepted++;
    this.active++;
    return () => void this.active--;
  }

  /** Whether any request was counted yet (defect request-metrics-frozen stops after the first). */
  get recorded(): boolean {
    return this.byClass.size > 0;
  }

  requestReceived() {
    this.requestsTotal++;
  }

  requestFinished(request: FinishedRequest) {
    const path = requestPathLabel(request.path);
    const key = `${Math.floor(request.status / 100)}xx\t${path}`;
    this.byClass.set(key, (this.byClass.get(key) ?? 0) + 1);
    this.bytes.set(path, (this.bytes.get(path) ?? 0) + request.bytes);
    this.requestSeconds.observe(path, request.seconds);
    if (request.upstream) {
      this.headerSeconds.observe(path, request.upstream.headerSeconds);
      this.upstreamSeconds.observe(path, request.upstream.seconds);
    }
  }

  /** prometheus-nginx-exporter's page. */
  renderNginx(): string {
    return [
      "# HELP nginx_connections_accepted Accepted client connections",
      "# TYPE nginx_connections_accepted counter",
      `nginx_connections_accepted ${this.accepted}`,
      "# HELP nginx_connections_active Active client connections",
      "# TYPE nginx_connections_active gauge",
      `nginx_connections_active ${this.active}`,
      "# HELP nginx_connections_handled Handled client connections",
      "# TYPE nginx_connections_handled counter",
      `nginx_connections_handled ${this.accepted}`,
      "# HELP nginx_connections_reading Connections where NGINX is reading the request header",
      "# TYPE nginx_connections_reading gauge",
      "nginx_connections_reading 0",
      "# HELP nginx_connections_waiting Idle client connections",
      "# TYPE nginx_connections_waiting gauge",
      `nginx_connections_waiting 0`,
      "# HELP nginx_connections_writing Connections where NGINX is writing the response back to the client",
      "# TYPE nginx_connections_writing gauge",
      `nginx_connections_writing ${Math.max(this.active, 1)}`,
      "# HELP nginx_http_requests_total Total http requests",
      "# TYPE nginx_http_requests_total counter",
      `nginx_http_requests_total ${this.requestsTotal}`,
      "# HELP nginx_up Status of the last metric scrape",
      "# TYPE nginx_up gauge",
      "nginx_up 1",
      "# HELP nginxexporter_build_info Exporter build information",
      "# TYPE nginxexporter_build_info gauge",
      'nginxexporter_build_info{arch="linux/amd64",commit="",date="",dirty="false",go="go1.19.8",version="0.11.0"} 1',
      "",
    ].join("\n");
  }

  /** mtail's page for slm-copilot.mtail. */
  renderRequests(): string {
    const lines = ["# TYPE slmc_http_requests_total counter"];
    for (const [key, count] of this.byClass) {
      const [statusClass, path] = key.split("\t");
      lines.push(
        `slmc_http_requests_total{path="${path}",prog="${MTAIL_PROG}",status_class="${statusClass}"} ${count}`,
      );
    }
    lines.push("# TYPE slmc_http_response_bytes_total counter");
    for (const [path, bytes] of this.bytes)
      lines.push(`slmc_http_response_bytes_total{path="${path}",prog="${MTAIL_PROG}"} ${bytes}`);
    return (
      lines.join("\n") +
      "\n" +
      this.requestSeconds.render() +
      this.headerSeconds.render() +
      this.upstreamSeconds.render()
    );
  }
}

/** prometheus-node-exporter's page: CPU and memory of this machine, and the textfile readiness. */
export function renderNode(ready: boolean | null, omit: ReadonlySet<string> = new Set()): string {
  const lines = [
    "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.",
    "# TYPE node_cpu_seconds_total counter",
  ];
  os.cpus().forEach((cpu, index) => {
    for (const [mode, ms] of Object.entries(cpu.times)) {
      const name = mode === "sys" ? "system" : mode;
      lines.push(`node_cpu_seconds_total{cpu="${index}",mode="${name}"} ${(ms / 1000).toFixed(2)}`);
    }
  });
  const gauge = (name: string, help: string, value: number | string) => {
    if (omit.has(name)) return;
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
  };
  gauge("node_load1", "1m load average.", os.loadavg()[0] ?? 0);
  gauge("node_memory_MemAvailable_bytes", "Memory information field MemAvailable_bytes.", os.freemem());
  gauge("node_memory_MemTotal_bytes", "Memory information field MemTotal_bytes.", os.totalmem());
  if (ready !== null) {
    gauge(
      "slmc_engine_ready",
      "Metric read from /var/lib/prometheus/node-exporter/slm-copilot.prom",
      ready ? 1 : 0,
    );
    gauge(
      "slmc_engine_ready_probe_timestamp_seconds",
      "Metric read from /var/lib/prometheus/node-exporter/slm-copilot.prom",
      Math.floor(Date.now() / 1000),
    );
  }
  return lines.join("\n") + "\n";
}
