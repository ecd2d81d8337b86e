// The benchmark as one self-contained HTML file with inline SVG charts (opens offline): tok/s and
// TTFT against concurrency, the distribution of gaps between content events, and the timeline of one
// request. A small script stamps each chart's rendered size into the DOM, which the headless-Chromium
// test reads back to prove the charts really rendered.
import type { BenchReport } from "./report.ts";
import { INDICATIVE_BELOW, type Distribution, type Sample } from "./metrics.ts";
import { agenticHtml } from "./agentic-report.ts";
import { goodputLines, lagLines, levelLabel, planLine } from "./pretty.ts";

const W = 560;
const H = 260;
const PAD = { left: 56, right: 16, top: 18, bottom: 40 };

const esc = (text: string) =>
  text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);

function scale(domain: [number, number], range: [number, number]) {
  const [d0, d1] = domain;
  const span = d1 - d0 || 1;
  return (value: number) => range[0] + ((value - d0) / span) * (range[1] - range[0]);
}

function axes(
  xLabel: string,
  yLabel: string,
  xTicks: [number, string][],
  yMax: number,
  y: (v: number) => number,
) {
  const ticks = [0, yMax / 2, yMax]
    .map(
      (v) =>
        `<line x1="${PAD.left - 4}" x2="${W - PAD.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toPrecision(3)}</text>`,
    )
    .join("");
  const xt = xTicks
    .map(
      ([x, label]) => `<text x="${x}" y="${H - PAD.bottom + 16}" text-anchor="middle">${esc(label)}</text>`,
    )
    .join("");
  return `${ticks}${xt}<text x="${(W + PAD.left) / 2}" y="${H - 6}" text-anchor="middle">${esc(xLabel)}</text><text x="14" y="${H / 2}" transform="rotate(-90 14 ${H / 2})" text-anchor="middle">${esc(yLabel)}</text>`;
}

function lineChart(
  id: string,
  title: string,
  points: { x: number; label: string; y: number | null }[],
  yLabel: string,
  color: string,
): string {
  const present = points.filter((p): p is { x: number; label: string; y: number } => p.y !== null);
  const yMax = Math.max(1e-9, ...present.map((p) => p.y)) * 1.1;
  const xs = scale([0, Math.max(1, points.length - 1)], [PAD.left + 20, W - PAD.right - 20]);
  const y = scale([0, yMax], [H - PAD.bottom, PAD.top]);
  const coords = present.map((p) => `${xs(p.x)},${y(p.y)}`);
  const dots = present
    .map(
      (p) =>
        `<circle class="point" cx="${xs(p.x)}" cy="${y(p.y)}" r="4" fill="${color}"><title>${esc(`${p.label}: ${p.y}`)}</title></circle>`,
    )
    .join("");
  return `<figure><figcaption>${esc(title)}</figcaption><svg class="chart" id="${id}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">${axes(
    "concurrency",
    yLabel,
    points.map((p) => [xs(p.x), p.label]),
    yMax,
    y,
  )}<polyline fill="none" stroke="${color}" stroke-width="2" points="${coords.join(" ")}"/>${dots}</svg></figure>`;
}

function histogram(id: string, title: string, values: number[]): string {
  if (!values.length) return `<figure><figcaption>${esc(title)}: no gaps recorded</figcaption></figure>`;
  const max = Math.max(...values);
  const bins = 20;
  const width = max / bins || 1;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor(v / width))]!++;
  const yMax = Math.max(...counts) * 1.1;
  const y = scale([0, yMax], [H - PAD.bottom, PAD.top]);
  const bw = (W - PAD.left - PAD.right) / bins;
  const bars = counts
    .map(
      (c, i) =>
        `<rect class="bar" x="${PAD.left + i * bw + 1}" y="${y(c)}" width="${bw - 2}" height="${H - PAD.bottom - y(c)}" fill="#3366cc"><title>${(i * width).toFixed(1)}–${((i + 1) * width).toFixed(1)} ms: ${c}</title></rect>`,
    )
    .join("");
  const ticks: [number, string][] = [0, bins / 2, bins].map((i) => [
    PAD.left + i * bw,
    `${(i * width).toFixed(0)} ms`,
  ]);
  return `<figure><figcaption>${esc(title)}</figcaption><svg class="chart" id="${id}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">${axes("gap between content events", "events", ticks, yMax, y)}${bars}</svg></figure>`;
}

function timeline(id: string, sample: Sample | undefined, events: number[]): string {
  if (!sample) return `<figure><figcaption>timeline: no completed request</figcaption></figure>`;
  const end = Math.max(sample.e2e_ms, 1);
  const x = scale([0, end], [PAD.left, W - PAD.right]);
  const mid = H / 2;
  const marks = [
    { at: 0, label: "t0 sent" },
    { at: sample.ttfb_ms, label: "headers" },
    ...(sample.ttft_ms !== null ? [{ at: sample.ttft_ms, label: "first token" }] : []),
    { at: sample.e2e_ms, label: "end" },
  ]
    .map(
      (m, i) =>
        `<line x1="${x(m.at)}" x2="${x(m.at)}" y1="${mid - 40}" y2="${mid + 40}" stroke="#b00020"/><text x="${x(m.at)}" y="${mid - 46 - (i % 2) * 14}" text-anchor="middle">${esc(m.label)}</text>`,
    )
    .join("");
  const dots = events
    .map(
      (at) =>
        `<circle class="event" cx="${x(at)}" cy="${mid}" r="3" fill="#17702f"><title>${at.toFixed(1)} ms</title></circle>`,
    )
    .join("");
  const ticks = [0, end / 2, end]
    .map((v) => `<text x="${x(v)}" y="${H - PAD.bottom + 16}" text-anchor="middle">${v.toFixed(0)} ms</text>`)
    .join("");
  return `<figure><figcaption>${esc(`timeline of one request (${sample.prompt}, ${sample.n_ev} content events)`)}</figcaption><svg class="chart" id="${id}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="request timeline"><line x1="${PAD.left}" x2="${W - PAD.right}" y1="${mid}" y2="${mid}" stroke="#999"/>${marks}${dots}${ticks}</svg></figure>`;
}

/** Content-event arrival offsets (ms from t0) of one sample, derived from its gaps and TTFT. */
function eventOffsets(sample: Sample): number[] {
  if (sample.ttft_ms === null) return [];
  const offsets = [sample.ttft_ms];
  for (const gap of sample.inter_event_gap_ms) offsets.push(offsets.at(-1)! + gap);
  return offsets;
}

function levelsHtml(
  report: BenchReport,
  rows: string,
  levels: { i: number; a: BenchReport["levels"][number]["aggregate"] }[],
  first: Sample | undefined,
  notes: string,
): string {
  return `<h2>Levels</h2>
<table><thead><tr><th>${report.plan.mode === "open-loop" ? "rate" : "concurrency"}</th><th>ok/all</th><th>max in flight</th><th>agg tok/s</th><th>req/s</th><th>TTFT p50 ms</th><th>decode tok/s p50</th><th>E2E p50 ms</th><th>gap p99 ms</th></tr></thead><tbody>${rows}</tbody></table>
${notes}
${lineChart(
  "chart-tok-s",
  "aggregate output tok/s vs concurrency",
  levels.map(({ i, a }) => ({ x: i, label: String(a.concurrency), y: a.agg_out_tok_s })),
  "tok/s",
  "#17702f",
)}
${lineChart(
  "chart-ttft",
  "TTFT p50 (ms) vs concurrency",
  levels.map(({ i, a }) => ({ x: i, label: String(a.concurrency), y: a.distributions.ttft_ms?.p50 ?? null })),
  "ms",
  "#b00020",
)}
${histogram(
  "chart-gaps",
  "gaps between content events (all levels)",
  report.levels.flatMap((l) => l.samples.filter((s) => s.ok).flatMap((s) => s.inter_event_gap_ms)),
)}
${timeline("chart-timeline", first, first ? eventOffsets(first) : [])}`;
}

/** A percentile cell; one from fewer than INDICATIVE_BELOW samples is marked "~" and classed indicative. */
function cell(d: Distribution | null | undefined, key: "p50" | "p99"): string {
  if (!d) return "<td>—</td>";
  return d.indicative
    ? `<td class="indicative" title="indicative: ${d.n} samples, fewer than ${INDICATIVE_BELOW}">~${d[key]}</td>`
    : `<td>${d[key]}</td>`;
}

export function renderBenchHtml(report: BenchReport): string {
  const levels = report.levels.map((l, i) => ({ i, a: l.aggregate }));
  const first = report.levels[0]?.samples.find((s) => s.ok);
  const rows = report.levels
    .map(({ aggregate: a }) => {
      const d = a.distributions;
      return `<tr><td>${esc(levelLabel(a))}</td><td>${a.completed}/${a.attempted}</td><td>${a.max_in_flight ?? "—"}</td><td>${a.agg_out_tok_s ?? "—"}</td><td>${a.req_per_s}</td>${cell(d.ttft_ms, "p50")}${cell(d.decode_tok_s, "p50")}${cell(d.e2e_ms, "p50")}${cell(d.inter_event_gap_ms, "p99")}</tr>`;
    })
    .join("");
  const indicative = report.levels.some((l) =>
    Object.values(l.aggregate.distributions).some((d) => d?.indicative),
  )
    ? `<p class="indicative-note">~ indicative: a percentile from fewer than ${INDICATIVE_BELOW} samples (run more requests for a stable figure)</p>`
    : "";
  const lag = lagLines(report)
    .map((line) => `<p>${esc(line)}</p>`)
    .join("");
  const goodput = goodputLines(report)
    .map((line) => `<li>${esc(line)}</li>`)
    .join("");
  const definitions = Object.entries(report.definitions)
    .map(([k, v]) => `<tr><td><code>${esc(k)}</code></td><td>${esc(v)}</td></tr>`)
    .join("");
  const findings = report.findings.length
    ? `<ul>${report.findings.map((f) => `<li class="${f.level}">${esc(`${f.level === "flag" ? "FLAG" : "warning"}: ${f.message}`)}</li>`).join("")}</ul>`
    : "<p>no findings</p>";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>slmc-check bench ${esc(report.target.host)}</title>
<style>body{font:14px system-ui,sans-serif;margin:1.5em;color:#222;max-width:1200px}figure{display:inline-block;margin:.5em}figcaption{font-weight:600}
svg text{font:11px system-ui,sans-serif}table{border-collapse:collapse}td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}.flag{color:#b00020}.warning{color:#8a5a00}.indicative{color:#8a5a00;font-style:italic}</style></head>
<body data-charts-rendered="0">
<h1>slmc-check bench</h1>
<p>${esc(`${report.target.host}:${report.target.https_port}${report.target.path}${report.target.simulated ? " (SIMULATED appliance)" : ""} · ${report.started_at} · slmc-check ${report.tool.version} · ${report.stopped_because}`)}</p>
<p>${esc(planLine(report))}</p>
<h2>Findings</h2>${findings}
${report.agentic ? agenticHtml(report.agentic) : levelsHtml(report, rows, levels, first, `${indicative}${lag}${goodput ? `<h2>Goodput</h2><ul>${goodput}</ul>` : ""}`)}
<h2>Definitions</h2><table>${definitions}</table>
<script>
const charts=[...document.querySelectorAll("svg.chart")];
const drawn=charts.filter((s)=>{const b=s.getBBox();return b.width>0&&b.height>0&&s.querySelectorAll("circle,rect,polyline").length>0;});
document.body.dataset.chartsRendered=String(drawn.length);
document.body.dataset.chartsTotal=String(charts.length);
</script>
</body></html>
`;
}
