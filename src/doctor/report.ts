/**
 * The doctor's report, as text for people or one JSON object (`--json`) for scripts. Never prints header
 * values, tokens or the URL's query (a token may be in it).
 * @module
 */
import type { Finding, Heartbeat, PublishOutcome, Timing } from "./checks.js";
import { FIXES } from "./fixes.js";
import type { ProbeResult } from "./probe.js";

export interface Report {
  readonly url: string;
  readonly ok: boolean;
  readonly exitCode: 0 | 1;
  readonly heartbeat: Heartbeat;
  readonly durationMs: number;
  readonly probe: ProbeResult;
  readonly timing: Timing;
  readonly publish: PublishOutcome | null;
  readonly findings: readonly Finding[];
}

/** The URL without its query values or credentials: `https://host/path?topic=…`. */
export function safeUrl(u: URL): string {
  const keys = [...new Set(u.searchParams.keys())];
  return `${u.origin}${u.pathname}${keys.length === 0 ? "" : `?${keys.map((k) => `${k}=…`).join("&")}`}`;
}

const SHOWN_HEADERS = [
  "content-type",
  "content-encoding",
  "cache-control",
  "x-accel-buffering",
  "sse-broker-heartbeat",
  "transfer-encoding",
  "via",
  "server",
] as const;

export function reportJson(r: Report): string {
  const p = r.probe;
  const headers: Record<string, string> = {};
  for (const h of SHOWN_HEADERS) if (p.headers[h] !== undefined) headers[h] = p.headers[h] as string;
  return `${JSON.stringify({
    url: r.url,
    ok: r.ok,
    exitCode: r.exitCode,
    heartbeatMs: r.heartbeat.ms,
    heartbeatSource: r.heartbeat.source,
    durationMs: r.durationMs,
    status: p.status,
    httpVersion: p.httpVersion,
    headers,
    connectMs: p.connectMs,
    headersMs: p.headersMs,
    firstByteMs: p.firstByteMs,
    bytes: p.bytes,
    chunks: p.chunkCount,
    comments: p.items.filter((i) => i.kind === "comment").length,
    events: p.items.filter((i) => i.kind === "event").length,
    ...r.timing,
    end: p.end,
    publish: r.publish,
    findings: r.findings.map((f) => ({ ...f, fixes: f.fix === null ? [] : FIXES[f.fix] })),
    arrivals: p.chunks.slice(0, 1000).map((c) => [c.atMs, c.bytes]),
  })}\n`;
}

export function reportText(r: Report): string {
  const p = r.probe;
  const rows: [string, string][] = [["connected", `${p.connectMs} ms`]];
  if (p.status === null) rows.push(["response", "none"]);
  else {
    rows.push(["response", `HTTP/${p.httpVersion} ${p.status} after ${p.headersMs} ms`]);
    for (const [label, name] of [
      ["Content-Type", "content-type"],
      ["Content-Encoding", "content-encoding"],
      ["Cache-Control", "cache-control"],
      ["X-Accel-Buffering", "x-accel-buffering"],
    ] as const) {
      rows.push([label, p.headers[name] ?? "(none)"]);
    }
    const hb = r.heartbeat;
    rows.push([
      "heartbeat",
      hb.ms === null
        ? "unknown"
        : `every ${hb.ms} ms (${hb.source === "header" ? "SSE-Broker-Heartbeat" : "--heartbeat-ms"})`,
    ]);
    rows.push(["first bytes", p.firstByteMs === null ? "none" : `after ${p.firstByteMs} ms`]);
    const comments = p.items.filter((i) => i.kind === "comment").length;
    const events = p.items.filter((i) => i.kind === "event").length;
    rows.push([
      "received",
      `${p.bytes} bytes in ${count(p.chunkCount, "chunk")}: ${count(comments, "comment")} (heartbeats), ${count(events, "event")}`,
    ]);
    if (r.timing.longestSilenceMs !== null) {
      rows.push([
        "longest silence",
        `${r.timing.longestSilenceMs} ms (from ${r.timing.longestSilenceFromMs} ms)`,
      ]);
    }
    if (r.publish !== null) {
      rows.push([
        "probe event",
        !r.publish.ok
          ? "not published"
          : r.publish.arrivedMs === null
            ? `published at ${r.publish.atMs} ms, never arrived`
            : `arrived ${Math.round(r.publish.arrivedMs - r.publish.atMs)} ms after publishing`,
      ]);
    }
  }
  rows.push([
    "ended",
    `after ${p.end.atMs} ms (${p.end.how === "duration" ? "as planned" : p.end.how === "closed" ? "closed by the other side" : "connection cut"})`,
  ]);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  const lines = [`sse-broker doctor ${r.url}`, ...rows.map(([l, v]) => `  ${l.padEnd(width)}${v}`), ""];
  for (const f of r.findings) {
    lines.push(`${f.severity === "problem" ? "PROBLEM" : "warning"} ${f.id}: ${f.message}`);
    if (f.fix !== null && f.severity === "problem") {
      for (const { proxy, fix } of FIXES[f.fix]) lines.push(`  fix (${proxy}): ${fix}`);
    }
    lines.push("");
  }
  const problems = r.findings.filter((f) => f.severity === "problem").length;
  const warnings = r.findings.length - problems;
  lines.push(
    problems === 0
      ? `Healthy: the stream reached this client unbuffered and uncompressed${warnings === 0 ? "" : ` (${count(warnings, "warning")})`}.`
      : `${count(problems, "problem")}, ${count(warnings, "warning")}.`,
    "",
  );
  return lines.join("\n");
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
