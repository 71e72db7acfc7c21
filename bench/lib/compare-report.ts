/**
 * The comparison's Markdown: one summary table (a row per scenario, a column per server, ratios against
 * nchan from the same run), then a detail table per scenario with the load side's own CPU. Pure functions
 * of the results, so a saved JSON renders the same report again.
 * @module
 */
import type { CompareResults, FanoutWindow, LoadCost, ScenarioOutcome } from "./compare-results.js";

/** 1 234 → "1234", 98 765 → "98.8 k", 1 234 567 → "1.23 M". */
export function compact(v: number): string {
  if (!Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(1)} k`;
  if (a >= 100) return String(Math.round(v));
  return String(Math.round(v * 100) / 100);
}

/** "1.52×" or "" when either side is missing. */
export function ratio(v: number | null | undefined, ref: number | null | undefined): string {
  if (v === null || v === undefined || ref === null || ref === undefined || !(ref > 0) || !Number.isFinite(v))
    return "";
  return `${(v / ref).toFixed(2)}×`;
}

interface Cell {
  text: string;
  /** The figure compared with nchan's (null: no ratio). */
  value: number | null;
}

interface Row {
  label: string;
  /** What the ratio against nchan means for this row, or null when none is shown. */
  better: "higher" | "lower" | null;
  cell(server: string): Cell | undefined;
}

function outcome<T>(list: ScenarioOutcome<T>[] | undefined, server: string): ScenarioOutcome<T> | undefined {
  return list?.find((o) => o.server === server);
}

const failed = (o: ScenarioOutcome<unknown>): Cell => ({
  text: `failed: ${shorten(o.error ?? "")}`,
  value: null,
});

function shorten(s: string, n = 60): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

function fanoutRow(
  r: CompareResults,
  key: keyof CompareResults["fanout"],
  label: string,
  pick: (w: FanoutWindow) => Cell,
  better: Row["better"] = "higher",
): Row {
  return {
    label,
    better,
    cell(server) {
      const o = outcome(r.fanout[key], server);
      if (o === undefined) return undefined;
      return o.result === undefined ? failed(o) : pick(o.result);
    },
  };
}

function rows(r: CompareResults): Row[] {
  const cfg = r.config as {
    idleHeld?: number[];
    stormConnections?: number;
    stalled?: { fast: number; stalled: number };
  };
  const out: Row[] = [
    fanoutRow(r, "fanout-100", "1000 subs × 100 events/s: **deliveries per server CPU-s** (p99 ms)", (w) => ({
      text: `${compact(w.deliveriesPerCpuSecond)} (p99 ${w.latency.p99})`,
      value: w.deliveriesPerCpuSecond,
    })),
    fanoutRow(
      r,
      "fanout-1000",
      "1000 subs × 1000 events/s asked: **deliveries/s sustained** (p99 ms)",
      (w) => ({
        text: `${compact(w.deliveriesPerSecond)} (p99 ${w.latency.p99})`,
        value: w.deliveriesPerSecond,
      }),
    ),
    fanoutRow(r, "fanout-5000", "5000 subs × 50 events/s asked: **events/s achieved** (p99 ms)", (w) => ({
      text: `${w.eventsPerSecond} (p99 ${w.latency.p99})`,
      value: w.eventsPerSecond,
    })),
    fanoutRow(
      r,
      "low-rate",
      "1000 subs × 5 events/s: **latency p50** / p99 ms",
      (w) => ({ text: `${w.latency.p50} / ${w.latency.p99}`, value: w.latency.p50 }),
      "lower",
    ),
  ];
  const floor = outcome(r.fanout["low-rate"], "node-floor")?.result?.latency.p50;
  if (floor !== undefined) {
    out.push({
      label: "1000 subs × 5 events/s: p50 − the floor's p50 (ms)",
      better: null,
      cell(server) {
        const o = outcome(r.fanout["low-rate"], server);
        if (o?.result === undefined) return undefined;
        const d = o.result.latency.p50 - floor;
        return { text: `${d >= 0 ? "+" : ""}${Math.round(d * 100) / 100}`, value: null };
      },
    });
  }
  out.push({
    label: `reconnect storm (${cfg.stormConnections ?? "?"} closed and reopened): **server CPU µs per connection** (first open)`,
    better: "lower",
    cell(server) {
      const o = outcome(r.storm, server);
      if (o === undefined) return undefined;
      if (o.result === undefined) return failed(o);
      return {
        text: `${o.result.stormCpuMicrosPerConn} (${o.result.openCpuMicrosPerConn})`,
        value: o.result.stormCpuMicrosPerConn,
      };
    },
  });
  out.push({
    label: `idle connections: **KiB RSS per connection**, ${(cfg.idleHeld ?? []).map((n) => n.toLocaleString("en-US")).join(" / ")} held`,
    better: "lower",
    cell(server) {
      const o = outcome(r.idle, server);
      if (o === undefined) return undefined;
      if (o.result === undefined) return failed(o);
      const steps = o.result.steps;
      const want = cfg.idleHeld ?? [];
      const text = want
        .map((n) => {
          const s = steps.find((x) => x.held === n);
          return s === undefined ? "—" : String(s.kibPerConn);
        })
        .join(" / ");
      const last = steps.at(-1);
      return { text, value: last !== undefined && last.held === want.at(-1) ? last.kibPerConn : null };
    },
  });
  out.push({
    label: "idle connections: heartbeats reaching them (most held, one interval + 3 s)",
    better: null,
    cell(server) {
      const o = outcome(r.idle, server);
      if (o?.result === undefined) return undefined;
      const h = o.result.heartbeat;
      return {
        text: h === null ? "none sent by default" : `${h.reached}/${h.of} (every ${h.intervalMs / 1000} s)`,
        value: null,
      };
    },
  });
  out.push({
    label: `${cfg.stalled?.stalled ?? "?"} stalled of ${cfg.stalled?.fast ?? "?"}: fast ones' p99 without → with (ms); fast lost; stalled dropped`,
    better: null,
    cell(server) {
      const o = outcome(r.stalled, server);
      if (o === undefined) return undefined;
      if (o.result === undefined) return failed(o);
      const s = o.result;
      const b = s.baseline.latency.p99;
      const w = s.withStalled.latency.p99;
      const dropped = s.droppedSlow === null ? "no cap" : `${s.droppedSlow}/${s.stalled}`;
      return {
        text: `${b} → ${w} (${ratio(w, b) || "–"}); lost ${s.fastLost ?? "?"}; dropped ${dropped}`,
        value: null,
      };
    },
  });
  out.push({
    label:
      "load generator: its CPU, max over the scenarios (load core busy), time it waited for the core, its loop turn",
    better: null,
    cell(server) {
      const costs = loadCosts(r, server);
      if (costs.length === 0) return undefined;
      const cpu = Math.max(...costs.map((c) => c.clientCpuPct));
      const core = Math.max(...costs.map((c) => c.loadCoreBusyPct));
      const wait = Math.max(...costs.map((c) => c.clientRunQueueWaitPct));
      const turns = costs.flatMap((c) => (c.clientTurnP99ms === null ? [] : [c.clientTurnP99ms]));
      const turn = turns.length === 0 ? "" : `, loop turn p99 ≤ ${Math.max(...turns)} ms`;
      return {
        text: `${cpu}% (core ${core}%), run-queue wait ≤ ${wait}%${turn}${costs.some((c) => c.saturated) ? " **core ≥ 90 %**" : ""}`,
        value: null,
      };
    },
  });
  return out;
}

/** Every load measurement of one server's scenarios. */
export function loadCosts(r: CompareResults, server: string): LoadCost[] {
  const out: LoadCost[] = [];
  for (const list of Object.values(r.fanout)) {
    const w = outcome(list, server)?.result;
    if (w !== undefined) out.push(w.load);
  }
  const st = outcome(r.storm, server)?.result;
  if (st !== undefined) out.push(st.load);
  const id = outcome(r.idle, server)?.result;
  if (id !== undefined) out.push(id.load);
  const sl = outcome(r.stalled, server)?.result;
  if (sl !== undefined) out.push(sl.baseline.load, sl.withStalled.load);
  return out;
}

export function summaryTable(r: CompareResults): string {
  const servers = r.servers.map((s) => s.name);
  const hasNchan = servers.includes("nchan");
  let md = `| scenario | ${servers.join(" | ")} |\n|---|${servers.map(() => "---").join("|")}|\n`;
  for (const row of rows(r)) {
    const cells = servers.map((s) => row.cell(s));
    if (cells.every((c) => c === undefined)) continue;
    const ref = hasNchan ? row.cell("nchan")?.value : undefined;
    md += `| ${row.label} | ${cells
      .map((c, i) => {
        if (c === undefined) return "";
        const x = row.better !== null && servers[i] !== "nchan" ? ratio(c.value, ref) : "";
        return x === "" ? c.text : `${c.text}, **${x}**`;
      })
      .join(" | ")} |\n`;
  }
  if (hasNchan) {
    md +=
      "\nRatios (**×**) are against nchan in this run: deliveries and events higher is better; latency, CPU per connection and RSS lower is better.\n";
  }
  return md;
}

function loadCells(l: LoadCost): string {
  return `${l.clientCpuPct}% (waited ${l.clientRunQueueWaitPct}%) | ${l.publisherCpuPct}% | ${l.loadCoreBusyPct}% (softirq ${l.loadCoreSoftirqPct}%, other ${l.otherOnLoadCorePct}%)${l.saturated ? " ⚠" : ""} | ${l.framesPerRead ?? "–"} | ${l.clientTurnP99ms ?? "–"} / ${l.clientTurnMaxMs ?? "–"}`;
}

function fanoutDetail(title: string, list: ScenarioOutcome<FanoutWindow>[]): string {
  let md = `#### ${title}\n\n`;
  md +=
    "| server | events/s (asked) | publish p50/p99 ms | deliveries/s | server CPU | deliveries per CPU-s | server core busy (softirq) | p50 | p90 | p99 | p99.9 | max ms | completeness | lost | RSS end MiB | load client CPU (run-queue wait) | publisher CPU | load core | frames/read | client loop turn p99/max ms |\n";
  md += "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const o of list) {
    const w = o.result;
    if (w === undefined) {
      md += `| ${o.server} | failed: ${o.error ?? ""} |${" |".repeat(17)}\n`;
      continue;
    }
    const l = w.latency;
    md += `| ${o.server} | ${w.eventsPerSecond} (${w.rateAsked}) | ${w.publishP50ms ?? "–"} / ${w.publishP99ms ?? "–"} | ${w.deliveriesPerSecond} | ${w.serverCpuPct}% | **${w.deliveriesPerCpuSecond}** | ${w.serverCoreBusyPct}% (${w.serverCoreSoftirqPct}%) | ${l.p50} | ${l.p90} | ${l.p99} | ${l.p999} | ${l.max} | ${w.completeness} | ${w.lost ?? "–"} | ${w.rssEndMiB} | ${loadCells(w.load)} |\n`;
  }
  return md;
}

export function detailTables(r: CompareResults): string {
  const titles: Record<string, string> = {
    "fanout-100": "1000 subscribers × 100 events/s",
    "fanout-1000": "1000 subscribers × 1000 events/s asked",
    "fanout-5000": "5000 subscribers × 50 events/s asked",
    "low-rate": "1000 subscribers × 5 events/s",
  };
  let md = "";
  for (const [k, list] of Object.entries(r.fanout)) {
    if (list !== undefined) md += `${fanoutDetail(titles[k] ?? k, list)}\n`;
  }
  if (r.storm !== undefined) {
    md += "#### Reconnect storm\n\n";
    md +=
      "| server | connections | server CPU µs per connection, first open | storm (close + reopen) µs per connection | storm wall s | failed | load client CPU (run-queue wait) | publisher CPU | load core | frames/read | client loop turn p99/max ms |\n|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const o of r.storm) {
      const s = o.result;
      md +=
        s === undefined
          ? `| ${o.server} | failed: ${o.error ?? ""} |||||||||\n`
          : `| ${o.server} | ${s.connections} | ${s.openCpuMicrosPerConn} | **${s.stormCpuMicrosPerConn}** | ${s.stormSeconds} | ${s.failed} | ${loadCells(s.load)} |\n`;
    }
    md += "\n";
  }
  if (r.idle !== undefined) {
    md += "#### Idle connections\n\n";
    md +=
      "| server | RSS before MiB | held → RSS MiB (KiB per connection) | heartbeats reaching | load client CPU (run-queue wait) | publisher CPU | load core | frames/read | client loop turn p99/max ms |\n|---|---|---|---|---|---|---|---|---|\n";
    for (const o of r.idle) {
      const s = o.result;
      if (s === undefined) {
        md += `| ${o.server} | failed: ${o.error ?? ""} |||||||\n`;
        continue;
      }
      const steps = s.steps
        .map(
          (x) => `${x.held} → ${x.rssMiB} (**${x.kibPerConn}**)${x.failed > 0 ? `, ${x.failed} failed` : ""}`,
        )
        .join("; ");
      const hb =
        s.heartbeat === null
          ? "none sent"
          : `${s.heartbeat.reached}/${s.heartbeat.of} in ${s.heartbeat.waitedSeconds} s`;
      md += `| ${o.server} | ${s.rssBeforeMiB} | ${steps} | ${hb} | ${loadCells(s.load)} |\n`;
    }
    md += "\n";
  }
  if (r.redis !== undefined) md += redisDetail(r);
  if (r.stalled !== undefined) {
    md += "#### Stalled subscribers\n\n";
    md +=
      "| server | phase | deliveries per CPU-s | fast p50 | fast p99 | max ms | completeness | fast lost | fast open at end | RSS start → max → end MiB | dropped at the cap | stalled open at end | load client CPU (run-queue wait) | publisher CPU | load core | frames/read | client loop turn p99/max ms |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const o of r.stalled) {
      const s = o.result;
      if (s === undefined) {
        md += `| ${o.server} | failed: ${o.error ?? ""} |||||||||||||||\n`;
        continue;
      }
      const row = (phase: string, w: FanoutWindow, extra: string) =>
        `| ${o.server} | ${phase} | ${w.deliveriesPerCpuSecond} | ${w.latency.p50} | ${w.latency.p99} | ${w.latency.max} | ${w.completeness} | ${w.lost ?? "–"} | ${w.liveAtEnd}/${s.fast} | ${w.rssStartMiB} → ${w.rssMaxMiB} → ${w.rssEndMiB} | ${extra} | ${loadCells(w.load)} |\n`;
      md += row(`${s.fast} alone, ${s.baseline.seconds} s`, s.baseline, "– | –");
      md += row(
        `+${s.stalled} stalled, ${s.withStalled.seconds} s`,
        s.withStalled,
        `${s.droppedSlow === null ? "no cap" : `${s.droppedSlow}/${s.stalled}`} | ${s.stalledOpenAtEnd ?? "n/a"}`,
      );
    }
    md += "\n";
  }
  return md;
}

/** The Redis backplane: 1 and 2 processes, publish answer latency at a low rate and throughput. */
export function redisDetail(r: CompareResults): string {
  const red = r.redis;
  if (red === undefined) return "";
  const cfg = (r.config as { redis?: { throughput?: { subscribers: number; rate: number; depth: number } } })
    .redis?.throughput;
  let md =
    "#### Redis backplane: 1 and 2 processes (`--redis --workers N`, unpinned, with their redis-server)\n\n";
  md += `| server | 1000 subs × 100 events/s, 1 publisher: **publish answer p50** / p99 ms | delivery p50 / p99 ms | ${cfg?.subscribers ?? "?"} subs × ${cfg?.rate ?? "?"} events/s asked, ${cfg?.depth ?? "?"} publishers: **events/s answered** | deliveries/s | vs 1 process | delivery p99 ms | server + Redis CPU | load core |\n|---|---|---|---|---|---|---|---|---|\n`;
  const one = outcome(red.throughput, "sse-broker-redis-1")?.result?.deliveriesPerSecond;
  for (const l of red.latency) {
    const lw = l.result;
    const t = outcome(red.throughput, l.server);
    const tw = t?.result;
    const lat =
      lw === undefined
        ? `failed: ${l.error ?? ""}`
        : `**${lw.publishP50ms ?? "–"}** / ${lw.publishP99ms ?? "–"}`;
    const del = lw === undefined ? "" : `${lw.latency.p50} / ${lw.latency.p99}`;
    const thr =
      tw === undefined
        ? `${t?.error === undefined ? "" : `failed: ${t.error}`} | | | | |`
        : `**${tw.eventsPerSecond}** | ${tw.deliveriesPerSecond} | ${ratio(tw.deliveriesPerSecond, one) || "–"} | ${tw.latency.p99} | ${tw.serverCpuPct}% | ${tw.load.loadCoreBusyPct}%`;
    md += `| ${l.server} | ${lat} | ${del} | ${thr} |\n`;
  }
  return `${md}\n`;
}

/** Windows whose load side was near saturation: named, with who used the core, so nobody reads them as the server's limit. */
export function saturatedWindows(r: CompareResults): string[] {
  const out: string[] = [];
  const note = (what: string, l: LoadCost) => {
    if (l.saturated)
      out.push(
        `${what} (core ${l.loadCoreBusyPct}%: client ${l.clientCpuPct}%, publisher ${l.publisherCpuPct}%, other ${l.otherOnLoadCorePct}%)`,
      );
  };
  for (const [k, list] of Object.entries(r.fanout))
    for (const o of list ?? []) if (o.result) note(`${k} / ${o.server}`, o.result.load);
  for (const o of r.stalled ?? []) {
    if (o.result === undefined) continue;
    note(`stalled, alone / ${o.server}`, o.result.baseline.load);
    note(`stalled, with / ${o.server}`, o.result.withStalled.load);
  }
  for (const o of r.storm ?? []) if (o.result) note(`storm / ${o.server}`, o.result.load);
  for (const o of r.idle ?? []) if (o.result) note(`idle / ${o.server}`, o.result.load);
  return out;
}

export function report(r: CompareResults): string {
  let md = `## Comparison ${r.date}\n\n`;
  md += `- Tree: \`${r.tree}\`; command: \`${r.command}\`\n`;
  md += `- Machine: ${Object.entries(r.machine)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ")}\n`;
  md += `- Load: ${r.loadClient}\n`;
  for (const s of r.servers) md += `- \`${s.name}\`: ${s.describe}\n`;
  for (const s of r.skipped) md += `- skipped \`${s.name}\`: ${s.reason}\n`;
  md += `\n${summaryTable(r)}\n`;
  const sat = saturatedWindows(r);
  md +=
    sat.length === 0
      ? "The load side never reached 90 % of its core (or a client process 90 % of a core): the figures are the servers'.\n\n"
      : `**The load core was ≥ 90 % busy in: ${sat.join("; ")}.** Where the client's own share is small, other work on the machine took the core; those windows may be limited by the load side, not the server.\n\n`;
  if (r.verdict !== undefined) md += `${r.verdict.lines.join("\n")}\n\n`;
  md += `### Details\n\n${detailTables(r)}`;
  return md;
}
