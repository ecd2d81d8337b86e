// The agentic workload in the bench's terminal table and HTML report: one row per turn, the
// per-conversation totals, and two SVG charts (TTFT per turn; prompt tokens reused vs evaluated).
import type { AgenticRun, AgenticTurn } from "./agentic.ts";
import { median } from "./metrics.ts";
import type { BenchReport } from "./report.ts";

const fmt = (value: number | null | undefined, digits = 1) =>
  value === null || value === undefined ? "—" : value.toFixed(digits);
const count = (value: number | null) => (value === null ? "n/r" : String(value));

/** Median of turn-k TTFT / turn-1 TTFT over the conversations, for each later turn k. */
export function laterTurnRatio(run: AgenticRun): number | null {
  const ratios = run.conversations.flatMap((c) => {
    const first = c.turns[0]?.ttft_ms;
    return first
      ? c.turns.slice(1).flatMap((t) => (t.ok && t.ttft_ms !== null ? [t.ttft_ms / first] : []))
      : [];
  });
  return ratios.length ? Math.round(median(ratios) * 1000) / 1000 : null;
}

export function renderAgenticTable(report: BenchReport, run: AgenticRun): string {
  const header = [
    "conv".padStart(4),
    "turn".padStart(4),
    "TTFT ms".padStart(9),
    "prompt".padStart(7),
    "cached".padStart(7),
    "evaluated".padStart(9),
    "prefill tok/s".padStart(13),
    "decode tok/s".padStart(12),
    "answer".padStart(9),
  ].join(" ");
  const row = (t: AgenticTurn) =>
    [
      String(t.conversation).padStart(4),
      String(t.turn).padStart(4),
      (t.ok ? fmt(t.ttft_ms) : "FAILED").padStart(9),
      count(t.prompt_tokens).padStart(7),
      count(t.prompt_tokens_cached).padStart(7),
      count(t.prompt_tokens_processed).padStart(9),
      fmt(t.prefill_tok_s, 0).padStart(13),
      fmt(t.decode_tok_s, 2).padStart(12),
      t.answer.padStart(9),
    ].join(" ");
  const ratio = laterTurnRatio(run);
  const lines = [
    `slmc-check bench --workload agentic → ${report.target.host}:${report.target.https_port}${report.target.path}${report.target.simulated ? " (SIMULATED appliance)" : ""}`,
    `${report.plan.prompt_set}, max_tokens ${report.plan.max_tokens}`,
    "",
    header,
    ...run.conversations.flatMap((c) => c.turns.map(row)),
    "",
    ...run.conversations.map(
      (c) =>
        `conversation ${c.conversation}: ${fmt(c.total_ms, 0)} ms in all, first useful byte after ${fmt(c.first_useful_byte_ms, 0)} ms`,
    ),
    `later turns' TTFT / turn 1's TTFT (median): ${ratio ?? "—"}`,
    `cached/evaluated: the server's timings.cache_n/prompt_n or usage.prompt_tokens_details.cached_tokens; n/r = not reported`,
    ...report.notes.map((n) => `note: ${n}`),
    ...report.findings.map((f) => `${f.level === "flag" ? "FLAG" : "warning"}: ${f.message}`),
    `definitions: slmc-check bench --help, and "definitions" in the JSON report`,
  ];
  return `${lines.join("\n")}\n`;
}

const W = 560;
const H = 260;
const PAD = { left: 56, right: 16, top: 18, bottom: 40 };

const esc = (text: string) =>
  text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);

interface Bar {
  label: string;
  parts: { value: number; color: string; name: string }[];
}

function barChart(id: string, title: string, yLabel: string, bars: Bar[]): string {
  const yMax = Math.max(1e-9, ...bars.map((b) => b.parts.reduce((s, p) => s + p.value, 0))) * 1.1;
  const y = (v: number) => H - PAD.bottom - (v / yMax) * (H - PAD.top - PAD.bottom);
  const bw = (W - PAD.left - PAD.right) / Math.max(1, bars.length);
  const rects = bars
    .map((bar, i) => {
      let base = 0;
      return bar.parts
        .map((part) => {
          const top = y(base + part.value);
          const rect = `<rect class="bar" x="${PAD.left + i * bw + 2}" y="${top}" width="${Math.max(1, bw - 4)}" height="${y(base) - top}" fill="${part.color}"><title>${esc(`${bar.label} ${part.name}: ${part.value}`)}</title></rect>`;
          base += part.value;
          return rect;
        })
        .join("");
    })
    .join("");
  const labels = bars
    .map(
      (bar, i) =>
        `<text x="${PAD.left + (i + 0.5) * bw}" y="${H - PAD.bottom + 16}" text-anchor="middle">${esc(bar.label)}</text>`,
    )
    .join("");
  const ticks = [0, yMax / 2, yMax]
    .map(
      (v) =>
        `<line x1="${PAD.left - 4}" x2="${W - PAD.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toPrecision(3)}</text>`,
    )
    .join("");
  return `<figure><figcaption>${esc(title)}</figcaption><svg class="chart" id="${id}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">${ticks}${rects}${labels}<text x="${(W + PAD.left) / 2}" y="${H - 6}" text-anchor="middle">conversation.turn</text><text x="14" y="${H / 2}" transform="rotate(-90 14 ${H / 2})" text-anchor="middle">${esc(yLabel)}</text></svg></figure>`;
}

/** The agentic section of the HTML report: a per-turn table and two charts. */
export function agenticHtml(run: AgenticRun): string {
  const turns = run.conversations.flatMap((c) => c.turns);
  const label = (t: AgenticTurn) => `${t.conversation}.${t.turn}`;
  const rows = turns
    .map(
      (t) =>
        `<tr><td>${t.conversation}</td><td>${t.turn}</td><td>${t.ok ? fmt(t.ttft_ms) : `FAILED: ${esc(t.error ?? "")}`}</td><td>${count(t.prompt_tokens)}</td><td>${count(t.prompt_tokens_cached)}</td><td>${count(t.prompt_tokens_processed)}</td><td>${fmt(t.prefill_tok_s, 0)}</td><td>${fmt(t.decode_tok_s, 2)}</td><td>${t.answer}</td></tr>`,
    )
    .join("");
  const totals = run.conversations
    .map(
      (c) =>
        `<li>${esc(`conversation ${c.conversation}: ${fmt(c.total_ms, 0)} ms in all, first useful byte after ${fmt(c.first_useful_byte_ms, 0)} ms`)}</li>`,
    )
    .join("");
  const reported = turns.some((t) => t.prompt_tokens_cached !== null);
  const cacheChart = reported
    ? barChart(
        "chart-agentic-cache",
        "prompt tokens per turn: reused from the cache (green) and evaluated (red)",
        "tokens",
        turns.map((t) => ({
          label: label(t),
          parts: [
            { value: t.prompt_tokens_cached ?? 0, color: "#17702f", name: "reused" },
            { value: t.prompt_tokens_processed ?? 0, color: "#b00020", name: "evaluated" },
          ],
        })),
      )
    : `<figure><figcaption>prompt tokens reused/evaluated: not reported by the server</figcaption></figure>`;
  return `<h2>Agentic conversations</h2>
<table><thead><tr><th>conversation</th><th>turn</th><th>TTFT ms</th><th>prompt tokens</th><th>cached</th><th>evaluated</th><th>prefill tok/s</th><th>decode tok/s</th><th>answer</th></tr></thead><tbody>${rows}</tbody></table>
<ul>${totals}</ul>
${barChart(
  "chart-agentic-ttft",
  "TTFT per turn (ms)",
  "ms",
  turns.map((t) => ({
    label: label(t),
    parts: [{ value: t.ttft_ms ?? 0, color: "#3366cc", name: "TTFT ms" }],
  })),
)}
${cacheChart}`;
}
