/**
 * PNG plots of a comparison run, drawn offline: SVG built here from the results (two charts: latency
 * percentiles per server, deliveries per server CPU-second), rendered to PNG by Debian's chromium through
 * playwright-core (already a dev dependency, and the browser the tests drive), with no network access.
 * Hand-written SVG: two small charts do not justify a plotting dependency, and none renders PNG offline
 * without a browser or native build.
 * @module
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromiumSkipReason, launchChromium } from "../../test/helpers/browser.js";
import { compact } from "./compare-report.js";
import type { CompareResults, FanoutWindow } from "./compare-results.js";

const COLORS: Record<string, string> = {
  "sse-broker": "#1f77b4",
  "sse-broker-immediate": "#ff7f0e",
  "sse-broker-flush5": "#6baed6",
  "sse-broker-flush10": "#9ecae1",
  "sse-broker-warn": "#3182bd",
  nchan: "#d62728",
  "better-sse": "#2ca02c",
  "node-floor": "#7f7f7f",
};
const EXTRA = ["#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf"];

/** A fixed color per known server; the others (e.g. `sse-broker@DIR`) take the extra ones in order. */
const extraOf = new Map<string, string>();
function colorOf(server: string, _i?: number): string {
  const known = COLORS[server];
  if (known !== undefined) return known;
  let c = extraOf.get(server);
  if (c === undefined) {
    c = EXTRA[extraOf.size % EXTRA.length] as string;
    extraOf.set(server, c);
  }
  return c;
}

/** Legend entries per row, and the height the legend takes. */
const LEGEND_PER_ROW = 4;
const legendHeight = (n: number) => Math.ceil(n / LEGEND_PER_ROW) * 20;

const TITLES: Record<string, string> = {
  "fanout-100": "1000 subs × 100 events/s",
  "fanout-1000": "1000 subs × 1000 events/s asked",
  "fanout-5000": "5000 subs × 50 events/s asked",
  "low-rate": "1000 subs × 5 events/s",
};

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const FONT = 'font-family="DejaVu Sans, Arial, sans-serif"';

function panels(r: CompareResults): [string, { server: string; w: FanoutWindow }[]][] {
  const out: [string, { server: string; w: FanoutWindow }[]][] = [];
  for (const [k, list] of Object.entries(r.fanout)) {
    const ok = (list ?? []).flatMap((o) =>
      o.result === undefined ? [] : [{ server: o.server, w: o.result }],
    );
    if (ok.length > 0) out.push([k, ok]);
  }
  return out;
}

function legend(servers: string[], x: number, y: number): string {
  return servers
    .map(
      (s, i) =>
        `<rect x="${x + (i % LEGEND_PER_ROW) * 260}" y="${y - 10 + Math.floor(i / LEGEND_PER_ROW) * 20}" width="14" height="14" fill="${colorOf(s, i)}"/><text x="${x + (i % LEGEND_PER_ROW) * 260 + 20}" y="${y + 2 + Math.floor(i / LEGEND_PER_ROW) * 20}" font-size="13" ${FONT}>${esc(s)}</text>`,
    )
    .join("");
}

/** Latency percentiles (p50, p90, p99, p99.9), one panel per fan-out scenario, log scale. */
export function latencySvg(r: CompareResults): { svg: string; width: number; height: number } {
  const ps = panels(r);
  const servers = r.servers.map((s) => s.name);
  const cols = 2;
  const pw = 520;
  const ph = 300;
  const width = cols * pw + 40;
  const lh = legendHeight(servers.length) - 20;
  const height = Math.ceil(ps.length / cols) * ph + 110 + lh;
  const keys = ["p50", "p90", "p99", "p999"] as const;
  const labels = ["p50", "p90", "p99", "p99.9"];
  let body = `<text x="20" y="30" font-size="18" font-weight="bold" ${FONT}>Delivery latency percentiles (publish → subscriber), ms, log scale — tree ${esc(r.tree)}</text>`;
  body += legend(servers, 20, 58);
  ps.forEach(([k, rows], i) => {
    const ox = 20 + (i % cols) * pw;
    const oy = 80 + lh + Math.floor(i / cols) * ph;
    const left = ox + 60;
    const right = ox + pw - 30;
    const top = oy + 30;
    const bottom = oy + ph - 40;
    const values = rows.flatMap(({ w }) => keys.map((q) => w.latency[q])).filter((v) => v > 0);
    const lo = Math.max(0.1, 10 ** Math.floor(Math.log10(Math.min(...values))));
    const hi = 10 ** Math.ceil(Math.log10(Math.max(...values, lo * 10)));
    const yOf = (v: number) =>
      bottom - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / Math.log10(hi / lo)) * (bottom - top);
    const xOf = (j: number) => left + ((j + 0.5) / keys.length) * (right - left);
    body += `<text x="${ox + 10}" y="${oy + 18}" font-size="14" font-weight="bold" ${FONT}>${esc(TITLES[k] ?? k)}</text>`;
    body += `<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="none" stroke="#999"/>`;
    for (let d = lo; d <= hi * 1.0001; d *= 10) {
      for (const m of [1, 2, 5]) {
        const v = d * m;
        if (v > hi * 1.0001) break;
        const y = yOf(v);
        body += `<line x1="${left}" x2="${right}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`;
        body += `<text x="${left - 6}" y="${y + 4}" font-size="11" text-anchor="end" ${FONT}>${v >= 1 ? v : v.toFixed(1)}</text>`;
      }
    }
    labels.forEach((l, j) => {
      body += `<text x="${xOf(j)}" y="${bottom + 18}" font-size="12" text-anchor="middle" ${FONT}>${l}</text>`;
    });
    for (const { server, w } of rows) {
      const c = colorOf(server, servers.indexOf(server));
      const pts = keys.map((q, j) => `${xOf(j)},${yOf(w.latency[q])}`).join(" ");
      body += `<polyline points="${pts}" fill="none" stroke="${c}" stroke-width="2.5"/>`;
      body += keys
        .map((q, j) => `<circle cx="${xOf(j)}" cy="${yOf(w.latency[q])}" r="4" fill="${c}"/>`)
        .join("");
    }
  });
  return { svg: wrap(body, width, height), width, height };
}

/** Deliveries per server CPU-second, one row of bars per fan-out scenario. */
export function throughputSvg(r: CompareResults): { svg: string; width: number; height: number } {
  const ps = panels(r);
  const servers = r.servers.map((s) => s.name);
  const bar = 22;
  const gap = 6;
  const width = 1100;
  const label = 230;
  const panelH = (n: number) => n * (bar + gap) + 50;
  const height = 70 + ps.reduce((a, [, rows]) => a + panelH(rows.length), 0) + 20;
  let body = `<text x="20" y="30" font-size="18" font-weight="bold" ${FONT}>Deliveries per server CPU-second (server process utime + stime) — tree ${esc(r.tree)}</text>`;
  let y = 70;
  for (const [k, rows] of ps) {
    const max = Math.max(...rows.map((x) => x.w.deliveriesPerCpuSecond), 1);
    const nchan = rows.find((x) => x.server === "nchan")?.w.deliveriesPerCpuSecond;
    body += `<text x="20" y="${y}" font-size="14" font-weight="bold" ${FONT}>${esc(TITLES[k] ?? k)}</text>`;
    rows.forEach(({ server, w }, i) => {
      const by = y + 12 + i * (bar + gap);
      const len = (w.deliveriesPerCpuSecond / max) * (width - label - 330);
      const c = colorOf(server, servers.indexOf(server));
      const rel =
        nchan !== undefined && nchan > 0 && server !== "nchan"
          ? `  ${(w.deliveriesPerCpuSecond / nchan).toFixed(2)}× nchan`
          : "";
      body += `<text x="${label - 8}" y="${by + bar - 6}" font-size="13" text-anchor="end" ${FONT}>${esc(server)}</text>`;
      body += `<rect x="${label}" y="${by}" width="${Math.max(1, len)}" height="${bar}" fill="${c}"/>`;
      body += `<text x="${label + len + 6}" y="${by + bar - 6}" font-size="12" ${FONT}>${compact(w.deliveriesPerCpuSecond)} (${w.serverCpuPct}% CPU, ${compact(w.deliveriesPerSecond)}/s)${rel}</text>`;
    });
    y += panelH(rows.length);
  }
  return { svg: wrap(body, width, height), width, height };
}

function wrap(body: string, width: number, height: number): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><rect width="100%" height="100%" fill="white"/>${body}</svg>`;
}

/** Writes bench-latency.png and bench-deliveries-per-cpu.png into `dir`; returns their paths. */
export async function renderPlots(r: CompareResults, dir: string): Promise<string[]> {
  const skip = chromiumSkipReason();
  if (skip !== false) throw new Error(skip);
  if (panels(r).length === 0) return [];
  mkdirSync(dir, { recursive: true });
  const charts = [
    { file: join(dir, "bench-latency.png"), ...latencySvg(r) },
    { file: join(dir, "bench-deliveries-per-cpu.png"), ...throughputSvg(r) },
  ];
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    for (const c of charts) {
      await page.setViewportSize({ width: c.width, height: c.height });
      await page.setContent(`<!doctype html><html><body style="margin:0">${c.svg}</body></html>`);
      await page.screenshot({ path: c.file, clip: { x: 0, y: 0, width: c.width, height: c.height } });
    }
  } finally {
    await browser.close();
  }
  return charts.map((c) => c.file);
}
