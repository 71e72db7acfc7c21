/**
 * The soak's result: the JSON shape, and the Markdown summary printed at the end (pasteable into
 * docs/benchmarks.md).
 * @module
 */

export interface ProcRss {
  /** MiB before any load. */
  start: number | null;
  /** MiB once the subscribers are connected. */
  afterRamp: number | null;
  max: number;
  /** MiB after every client left (before the processes are stopped). */
  end: number | null;
}

interface KindStats {
  sent: number;
  statuses: Record<string, number>;
  fiveXX: number;
  noAnswer: number;
  violations: Record<string, number>;
  failed: number;
}

export interface SoakResult {
  date: string;
  tree: string;
  command: string;
  machine: Record<string, string | number>;
  config: Record<string, unknown> & { minutes: number; subscribers: number; topics: number; rate: number };
  loadSeconds: number;
  pass: boolean;
  failures: string[];
  rssMiB: Record<string, ProcRss>;
  figures: {
    subscribersConcurrent: number;
    connectionsOpened: number;
    subscribersRetired: number;
    eventsAccepted: number;
    acceptedPerSecond: number;
    publishAttempts: number;
    publishesRefused503: number;
    publishFailures: Record<string, number>;
    publishSkipped: number;
    publishLatencyMs: { p50: number; p99: number; max: number };
    deliveries: number;
    eventsLost: number;
    duplicates: number;
    outOfOrder: number;
    unacceptedDelivered: number;
    chainsStarted: number;
    chainsJudgedToMarker: number;
    chainsAbandoned: number;
    windowsUnaccounted: number;
    freshConnects: number;
    resumesComplete: number;
    resumesIncomplete: number;
    resumesUnanswered: number;
    foreignEvents: number;
    serverEndedStreams: number;
    slowConsumers: { started: number; dropped: number; kept: number; stalledSeconds: number[] };
    droppedSlowMetric: number;
    brokerConnectionsTotal: number;
    brokerEventsDelivered: number;
    redisOutage: {
      stoppedAt: number;
      startedAt: number;
      refusedDuring: number;
      firstAcceptedAfterS: number;
    };
    hostile: Record<string, KindStats>;
    sessionsLeftOpen: Record<string, number | null>;
    markerId: number;
    brokerLogs: Record<
      string,
      { byLevel: Record<string, number>; messages: Record<string, number>; secretLines: number }
    >;
    brokerExits: Record<string, string>;
    soakCpuSeconds: number;
    soakEventLoopP99MaxMs: number;
    soakRssMaxMiB: number;
    /** 1-minute load average of the machine, highest sample (other work shares the cores). */
    loadAverageMax: number;
    injectedLossEvery: number;
    injectedLossIgnored: number;
  };
  errors: Record<string, number>;
  samples: ReportSample[];
}

/** What the RSS-over-time table reads from each sample. */
export interface ReportSample {
  t: number;
  phase: string;
  rssMiB: Record<string, number | null>;
  heapUsedMiB: Record<string, number | null>;
  historyMiB: Record<string, number | null>;
  connections: Record<string, number | null>;
  accepted: number;
}

/** At most `rows` samples, evenly spread, always with the first and the last. */
function spread<T>(xs: readonly T[], rows: number): T[] {
  if (xs.length <= rows) return [...xs];
  const out: T[] = [];
  for (let i = 0; i < rows; i++) out.push(xs[Math.round((i * (xs.length - 1)) / (rows - 1))] as T);
  return out;
}

function overTime(samples: readonly ReportSample[]): string {
  const first = samples[0];
  if (first === undefined) return "";
  const nodes = Object.keys(first.connections);
  let md = `\n| t (s) | phase | ${nodes.map((k) => `${k} RSS (heap used, history)`).join(" | ")} | redis-server RSS | open streams (${nodes.join(" + ")}) | events accepted |\n`;
  md += `| ----- | ----- | ${nodes.map(() => "---").join(" | ")} | --- | --- | --- |\n`;
  for (const s of spread(samples, 12)) {
    const per = nodes.map(
      (k) => `${s.rssMiB[k] ?? "–"} (${s.heapUsedMiB[k] ?? "–"}, ${s.historyMiB[k] ?? "–"})`,
    );
    md += `| ${s.t} | ${s.phase} | ${per.join(" | ")} | ${s.rssMiB["redis-server"] ?? "–"} | ${nodes.map((k) => s.connections[k] ?? "–").join(" + ")} | ${s.accepted} |\n`;
  }
  return `${md}\nMiB. Heap used and history from each node's /metrics.\n`;
}

const n = (v: number) => v.toLocaleString("en-US").replace(/,/g, " ");
const mib = (v: number | null) => (v === null ? "–" : `${v} MiB`);
const list = (r: Record<string, number>) =>
  Object.entries(r)
    .map(([k, v]) => `${k} × ${v}`)
    .join(", ") || "none";

export function markdownReport(r: SoakResult): string {
  const f = r.figures;
  const c = r.config;
  const o = f.redisOutage;
  let md = `### Soak ${r.date.slice(0, 16).replace("T", " ")} UTC, tree ${r.tree}\n\n`;
  md += `\`${r.command}\`: ${r.loadSeconds} s of load (${c.minutes} min asked), ${c.subscribers} concurrent subscribers over ${c.topics} topics + \`bulk\`, ${c.rate} events/s. Machine: ${r.machine.nproc} cores, Node ${r.machine.node}.\n\n`;
  md += "| process | RSS at start | after ramp-up | max | end (every client gone) |\n";
  md += "| ------- | ------------ | ------------- | --- | ----------------------- |\n";
  for (const [name, v] of Object.entries(r.rssMiB)) {
    md += `| ${name} | ${mib(v.start)} | ${mib(v.afterRamp)} | ${mib(v.max)} | ${mib(v.end)} |\n`;
  }
  const h = Object.values(f.hostile);
  const hSent = h.reduce((a, k) => a + k.sent, 0);
  const h5xx = h.reduce((a, k) => a + k.fiveXX, 0);
  const hViol = h.reduce((a, k) => a + Object.values(k.violations).reduce((x, y) => x + y, 0), 0);
  const logs = Object.entries(f.brokerLogs)
    .map(
      ([k, l]) =>
        `${k}: ${l.byLevel["40"] ?? 0} warn, ${(l.byLevel["50"] ?? 0) + (l.byLevel["60"] ?? 0)} error`,
    )
    .join("; ");
  const secretLines = Object.values(f.brokerLogs).reduce((a, l) => a + l.secretLines, 0);
  const rows: [string, string][] = [
    [
      "connections",
      `${n(f.connectionsOpened)} opened by the subscribers (${n(f.freshConnects)} fresh, ${n(f.resumesComplete)} resumed); ${n(f.subscribersRetired)} subscribers left for good and were replaced`,
    ],
    [
      "events accepted",
      `${n(f.eventsAccepted)} (${f.acceptedPerSecond}/s) in ${n(f.publishAttempts)} attempts; ${n(f.publishesRefused503)} refused with 503; other failures: ${list(f.publishFailures)}`,
    ],
    [
      "Redis restart",
      o.stoppedAt === 0
        ? "none"
        : `stopped at ${o.stoppedAt} s, back at ${o.startedAt} s; ${n(o.refusedDuring)} publishes refused meanwhile; first accepted ${o.firstAcceptedAfterS} s after`,
    ],
    [
      "publish latency (accepted)",
      `p50 ${f.publishLatencyMs.p50} ms, p99 ${f.publishLatencyMs.p99} ms, max ${f.publishLatencyMs.max} ms`,
    ],
    ["deliveries checked", n(f.deliveries)],
    ["**events lost**", `**${n(f.eventsLost)}**`],
    ["duplicates / out of order", `${n(f.duplicates)} / ${n(f.outOfOrder)}`],
    [
      "resumes",
      `${n(f.resumesComplete)} complete, ${n(f.resumesIncomplete)} reported incomplete (\`Last-Event-ID: earliest\`, window not accounted), ${n(f.resumesUnanswered)} without the header`,
    ],
    [
      "accounting coverage",
      `${n(f.chainsJudgedToMarker)} subscriber histories judged up to the end marker, ${n(f.chainsAbandoned)} ended earlier (left for good, or resume incomplete: judged up to their last event), ${n(f.windowsUnaccounted)} connections left before any event with no id to resume from (not judged)`,
    ],
    [
      "slow consumers",
      `${f.slowConsumers.started} started, ${f.slowConsumers.dropped} dropped by the broker (seen by the client), ${f.slowConsumers.kept} not dropped by the end of their stall; stalled ${f.slowConsumers.stalledSeconds.join(", ") || "–"} s; broker counter \`clients_dropped_slow\` ${f.droppedSlowMetric}`,
    ],
    ["streams ended by the server (normal subscribers)", n(f.serverEndedStreams)],
    [
      "hostile requests",
      `${n(hSent)} sent, ${n(h5xx)} answered 5xx, ${n(hViol)} rule violations (by kind below)`,
    ],
    ["sessions left open after every client left", list(f.sessionsLeftOpen as Record<string, number>)],
    ["broker logs", `${logs}; lines with a secret: ${secretLines}`],
    [
      "broker exits",
      Object.entries(f.brokerExits)
        .map(([k, v]) => `${k}: ${v}`)
        .join(", ") || "clean (exit 0 on SIGTERM)",
    ],
    [
      "load generator (this process)",
      `${f.soakCpuSeconds} CPU-s, RSS up to ${f.soakRssMaxMiB} MiB, event-loop delay p99 up to ${f.soakEventLoopP99MaxMs} ms per interval (publish latency includes it); machine load average up to ${f.loadAverageMax}`,
    ],
    ["errors", list(r.errors)],
    ["verdict", r.pass ? "**PASS**" : `**FAIL**${r.failures.length > 0 ? `: ${r.failures.join("; ")}` : ""}`],
  ];
  if (f.injectedLossEvery > 0) {
    rows.unshift([
      "SELF-CHECK",
      `subscribers ignored every ${f.injectedLossEvery}th event on purpose: ${f.injectedLossIgnored} events (those a resume replayed again, or in a tail not judged, are not lost)`,
    ]);
  }
  md += "\n| figure | value |\n| ------ | ----- |\n";
  for (const [k, v] of rows) md += `| ${k} | ${v} |\n`;
  md += overTime(r.samples);
  md += "\n| hostile kind | sent | answers | 5xx | no answer | violations |\n";
  md += "| ------------ | ---- | ------- | --- | --------- | ---------- |\n";
  for (const [k, s] of Object.entries(f.hostile)) {
    md += `| ${k} | ${s.sent} | ${list(s.statuses)} | ${s.fiveXX} | ${s.noAnswer} | ${list(s.violations)} |\n`;
  }
  const messages = Object.entries(f.brokerLogs).flatMap(([node, l]) =>
    Object.entries(l.messages).map(([m, k]) => `- ${node}: ${m.replace(/\|/g, "\\|")} (× ${k})`),
  );
  if (messages.length > 0) md += `\nBroker log messages (warn and above):\n\n${messages.join("\n")}\n`;
  return `${md}\n`;
}
