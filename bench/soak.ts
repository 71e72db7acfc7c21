/**
 * Soak: two broker nodes on one Redis for a long time under churn, with a Redis restart in the middle.
 *
 *   npm run soak -- [--minutes 30] [--subscribers 2000] [--topics 30] [--rate 50] [--seed 1] [--json PATH]
 *                   (every option: --help)
 *
 * Starts its own redis-server (AOF, temp dir) and two `sse-broker --redis …` processes from the built CLI
 * (builds dist/ first when stale), all on 127.0.0.1. Load from this process: browser-like subscribers that
 * come and go and resume with Last-Event-ID (bench/lib/soak/browser.ts), one serial publisher
 * (publisher.ts), slow consumers the broker must drop (slow.ts), a trickle of hostile requests
 * (hostile.ts). Loss accounting: ledger.ts. Reports RSS, connections, counters every --interval seconds;
 * at the end a Markdown summary for docs/benchmarks.md on stdout and a JSON file. Exits 1 when an event
 * was lost, duplicated or reordered, or anything counted as an error happened. Every process it started
 * is stopped by PID at the end, on failure and on Ctrl-C; the run is bounded (duration + 5 minutes).
 * @module
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { cpuSeconds, loadAverage, machineInfo, rssBytes } from "./lib/proc.js";
import { runBounded, stop } from "./lib/procs.js";
import { Browser, emptyBrowserCounters } from "./lib/soak/browser.js";
import { HOSTILE_KINDS, type HostileKind, TEMPLATE_BOMB } from "./lib/soak/hostile.js";
import { ALL_TOPICS, Ledger, MAX_TOPICS, maskOf } from "./lib/soak/ledger.js";
import { type NodeProbe, probeNode } from "./lib/soak/probe.js";
import { type PublishEvent, Publisher } from "./lib/soak/publisher.js";
import { seededRandom } from "./lib/soak/random.js";
import { markdownReport, type ProcRss, type SoakResult } from "./lib/soak/report.js";
import { runSlowConsumer } from "./lib/soak/slow.js";
import { type BrokerNode, build, distIsStale, RedisServer, startBroker } from "./lib/soak/system.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const OPTIONS = {
  minutes: { type: "string", default: "30", help: "load duration" },
  subscribers: { type: "string", default: "2000", help: "concurrent browser-like subscribers (both nodes)" },
  sources: {
    type: "string",
    default: "32",
    help: "loopback source addresses the subscribers come from (127.0.0.2 and up), so per-address limits stay on",
  },
  topics: { type: "string", default: "30", help: "topics t00…; plus `bulk` (max 63)" },
  rate: { type: "string", default: "50", help: "events per second, one publisher, serial" },
  payload: { type: "string", default: "200", help: "bytes of data per event" },
  "bulk-bytes": {
    type: "string",
    default: "65536",
    help: "one event per second on `bulk` of this size (what fills a slow consumer's buffers); 0 = none",
  },
  "multi-topic-events": { type: "string", default: "0.1", help: "share of events published to two topics" },
  "wildcard-share": { type: "string", default: "0.02", help: "share of subscribers on `*` (all events)" },
  "multi-share": { type: "string", default: "0.2", help: "share of subscribers on 2-3 topics" },
  "stay-min": {
    type: "string",
    default: "2",
    help: "seconds a subscriber stays connected, log-uniform from…",
  },
  "stay-max": { type: "string", default: "180", help: "…to this" },
  "pause-max": { type: "string", default: "5", help: "seconds away before reconnecting (uniform from 0.1)" },
  retire: {
    type: "string",
    default: "0.1",
    help: "share of leaves that are for good (a new subscriber replaces it)",
  },
  ramp: { type: "string", default: "200", help: "new connections per second at start" },
  "slow-every": { type: "string", default: "20", help: "seconds between slow consumers; 0 = none" },
  "slow-max": { type: "string", default: "2", help: "slow consumers at once (one per node at most)" },
  "slow-stall": {
    type: "string",
    default: "150",
    help: "most seconds a slow consumer stops reading (it reads again once its node counted a drop)",
  },
  "hostile-every-ms": { type: "string", default: "500", help: "ms between hostile requests; 0 = none" },
  hostile: { type: "string", default: "default", help: "kinds: default | all (adds template-bomb) | a,b,…" },
  "redis-down": {
    type: "string",
    default: "5",
    help: "seconds Redis stays down in the middle; 0 = no restart",
  },
  interval: { type: "string", default: "10", help: "seconds between progress reports" },
  seed: { type: "string", default: "1", help: "seed of the random choices" },
  json: { type: "string", help: "result file (default bench/results/soak-<date>.json)" },
  tsx: { type: "boolean", default: false, help: "run the brokers from src/ through tsx instead of dist/" },
  "inject-loss-every": {
    type: "string",
    default: "0",
    help: "self-check: subscribers ignore every Nth event they receive, so the report must show losses",
  },
  help: { type: "boolean", default: false, help: "this text" },
} as const;

type Flag = keyof typeof OPTIONS;
const { values: flags } = parseArgs({
  // parseArgs takes type and default only.
  options: Object.fromEntries(
    Object.entries(OPTIONS).map(([k, v]) => [
      k,
      "default" in v ? { type: v.type, default: v.default } : { type: v.type },
    ]),
  ) as Record<Flag, { type: "string" | "boolean" }>,
}) as { values: Partial<Record<Flag, string | boolean>> };
if (flags.help === true) {
  console.log("npm run soak -- [options]\n");
  for (const [k, v] of Object.entries(OPTIONS)) {
    console.log(
      `  --${k.padEnd(20)} ${v.help}${"default" in v && v.type === "string" ? ` (${v.default})` : ""}`,
    );
  }
  process.exit(0);
}
const num = (k: Flag, min = 0): number => {
  const v = Number(flags[k]);
  if (!Number.isFinite(v) || v < min) throw new Error(`--${k} must be a number >= ${min}`);
  return v;
};
const cfg = {
  minutes: num("minutes", 0.1),
  subscribers: Math.floor(num("subscribers", 1)),
  sources: Math.min(250, Math.floor(num("sources", 1))),
  topics: Math.floor(num("topics", 1)),
  rate: num("rate", 1),
  payload: Math.floor(num("payload")),
  bulkBytes: Math.floor(num("bulk-bytes")),
  multiTopicEvents: num("multi-topic-events"),
  wildcardShare: num("wildcard-share"),
  multiShare: num("multi-share"),
  stayMin: num("stay-min", 0.1),
  stayMax: num("stay-max", 0.1),
  pauseMax: num("pause-max", 0.1),
  retire: num("retire"),
  ramp: num("ramp", 1),
  slowEvery: num("slow-every"),
  slowMax: Math.floor(num("slow-max")),
  slowStall: num("slow-stall", 1),
  hostileEveryMs: num("hostile-every-ms"),
  hostile: String(flags.hostile),
  redisDown: num("redis-down"),
  interval: num("interval", 1),
  seed: Math.floor(num("seed")),
  injectLossEvery: Math.floor(num("inject-loss-every")),
  tsx: flags.tsx === true,
};
if (cfg.topics >= MAX_TOPICS) throw new Error(`--topics must be below ${MAX_TOPICS}`);
const DURATION_MS = cfg.minutes * 60_000;
/** Build excluded: start-up, the end phase's bounded waits, and stopping everything. */
const MARGIN_MS = 5 * 60_000;

const random = seededRandom(cfg.seed);
const TOPICS = Array.from({ length: cfg.topics }, (_, i) => `t${String(i).padStart(2, "0")}`);
const BULK = cfg.topics; // topic index of `bulk`
const token = randomBytes(16).toString("hex");
const secret = `soak-secret-${randomBytes(8).toString("hex")}`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;
const MiB = 1024 * 1024;
const started = Date.now();

// ---- state ------------------------------------------------------------------------------------------------

const ledger = new Ledger();
const counters = emptyBrowserCounters();
const browsers = new Set<Browser>();
let retired = 0;
const nodes: BrokerNode[] = [];
let redis: RedisServer | undefined;
let publisher: Publisher | undefined;
let ending = false;
let loadStart = 0;
let loadEnd = 0;
const failures: string[] = [];
const abort = new AbortController();
const eventLoop = monitorEventLoopDelay({ resolution: 20 });
eventLoop.enable();

interface KindStats {
  sent: number;
  statuses: Record<string, number>;
  fiveXX: number;
  noAnswer: number;
  violations: Record<string, number>;
  failed: number;
  inFlight: number;
}
const hostileKinds: HostileKind[] =
  cfg.hostile === "default"
    ? [...HOSTILE_KINDS]
    : cfg.hostile === "all"
      ? [...HOSTILE_KINDS, TEMPLATE_BOMB]
      : cfg.hostile === "none"
        ? []
        : cfg.hostile.split(",").map((n) => {
            const k = [...HOSTILE_KINDS, TEMPLATE_BOMB].find((x) => x.name === n.trim());
            if (k === undefined) throw new Error(`unknown hostile kind ${n}`);
            return k;
          });
const hostile: Record<string, KindStats> = Object.fromEntries(
  hostileKinds.map((k) => [
    k.name,
    { sent: 0, statuses: {}, fiveXX: 0, noAnswer: 0, violations: {}, failed: 0, inFlight: 0 },
  ]),
);
const slow = {
  started: 0,
  dropped: 0,
  kept: 0,
  refused: 0,
  error: 0,
  inFlight: 0,
  bytes: 0,
  stalledSeconds: [] as number[],
};
const pending = new Set<Promise<unknown>>();
const track = <T>(p: Promise<T>): Promise<T> => {
  pending.add(p);
  void p.finally(() => pending.delete(p));
  return p;
};
const outage = { stoppedAt: 0, startedAt: 0, refusedBefore: 0, refusedDuring: 0, firstAcceptedAfterS: 0 };

// ---- load -------------------------------------------------------------------------------------------------

function pickTopics(): { selectors: string[]; indices: number[] | null } {
  const r = random();
  if (r < cfg.wildcardShare) return { selectors: ["*"], indices: null };
  const n = r < cfg.wildcardShare + cfg.multiShare ? 2 + Math.floor(random() * 2) : 1;
  const set = new Set<number>();
  while (set.size < Math.min(n, cfg.topics)) set.add(Math.floor(random() * cfg.topics));
  const indices = [...set];
  return { selectors: indices.map((i) => TOPICS[i] as string), indices };
}

let browserCount = 0;
function newBrowser(): Browser {
  const { selectors, indices } = pickTopics();
  const lnMin = Math.log(cfg.stayMin * 1000);
  const lnMax = Math.log(Math.max(cfg.stayMin, cfg.stayMax) * 1000);
  const b = new Browser(
    {
      ledger,
      counters,
      ports: nodes.map((n) => n.port),
      random,
      onRetired: (gone) => {
        browsers.delete(gone);
        retired++;
        if (ending) return;
        newBrowser().connectIn(100 + random() * cfg.pauseMax * 1000);
      },
      discardEvery: cfg.injectLossEvery,
      localAddress: `127.0.0.${2 + (browserCount++ % cfg.sources)}`,
    },
    selectors,
    indices === null ? ALL_TOPICS : maskOf(indices),
    {
      stayMs: () => Math.exp(lnMin + random() * (lnMax - lnMin)),
      pauseMs: () => 100 + random() * (cfg.pauseMax * 1000 - 100),
      retire: () => random() < cfg.retire,
    },
  );
  browsers.add(b);
  return b;
}

let tick = 0;
const pad = (n: number) => "x".repeat(Math.max(0, n));
function nextEvent(): PublishEvent {
  tick++;
  if (cfg.bulkBytes > 0 && tick % Math.max(1, Math.round(cfg.rate)) === 0) {
    return { topics: ["bulk"], mask: maskOf([BULK]), data: pad(cfg.bulkBytes) };
  }
  const a = Math.floor(random() * cfg.topics);
  const idx = [a];
  if (cfg.topics > 1 && random() < cfg.multiTopicEvents) {
    let b = Math.floor(random() * cfg.topics);
    if (b === a) b = (a + 1) % cfg.topics;
    idx.push(b);
  }
  return {
    topics: idx.map((i) => TOPICS[i] as string),
    mask: maskOf(idx),
    data: `tick ${tick} ${pad(cfg.payload - 12)}`,
  };
}

let hostileRound = 0;
function launchHostile(): void {
  if (hostileKinds.length === 0 || nodes.length === 0) return;
  const kind = hostileKinds[hostileRound % hostileKinds.length] as HostileKind;
  const k = hostile[kind.name] as KindStats;
  const roundOfKind = Math.floor(hostileRound / hostileKinds.length);
  hostileRound++;
  if (kind.maxConcurrent !== undefined && k.inFlight >= kind.maxConcurrent) return;
  // Long-held kinds start only when they can finish before the load ends.
  if (kind.name === "slowloris" && Date.now() - loadStart + 65_000 > DURATION_MS) return;
  const node = nodes[hostileRound % nodes.length] as BrokerNode;
  k.sent++;
  k.inFlight++;
  track(
    kind
      .run({ port: node.port, token, secret, round: roundOfKind })
      .then(
        (o) => {
          if (o.statuses.length === 0) k.noAnswer++;
          for (const s of o.statuses) {
            k.statuses[s] = (k.statuses[s] ?? 0) + 1;
            if (s >= 500) k.fiveXX++;
          }
          if (o.violation !== undefined) k.violations[o.violation] = (k.violations[o.violation] ?? 0) + 1;
        },
        () => {
          k.failed++;
        },
      )
      .finally(() => {
        k.inFlight--;
      }),
  );
}

let slowRound = 0;
const slowBusy = new Set<number>();
let releaseSlow: () => void = () => {};
const slowReleased = new Promise<void>((r) => {
  releaseSlow = r;
});

/** Resolves once node `i` counted one more slow drop than now, after `maxMs`, or at the end of the load. */
async function untilDropped(i: number, maxMs: number): Promise<void> {
  const port = (nodes[i] as BrokerNode).port;
  const dropped = async () => (await probeNode(port)).metrics?.sse_broker_clients_dropped_slow_total ?? 0;
  const base = await dropped();
  const deadline = Date.now() + maxMs;
  let released = false;
  void slowReleased.then(() => {
    released = true;
  });
  while (!released && Date.now() < deadline && (await dropped()) <= base) await sleep(2000);
}

function launchSlow(): void {
  if (slow.inFlight >= cfg.slowMax) return;
  // It takes about a minute of live events to fill the kernel's buffers and the broker's cap.
  if (Date.now() - loadStart + 75_000 > DURATION_MS) return;
  // One per node at a time, so that the node's drop counter tells when it was dropped.
  const i = [0, 1].map((k) => (slowRound + k) % nodes.length).find((k) => !slowBusy.has(k));
  if (i === undefined) return;
  const node = nodes[i] as BrokerNode;
  // Every other one also asks for the whole history at once (Last-Event-ID: earliest).
  const lastEventId = slowRound % 2 === 1 ? "earliest" : undefined;
  slowRound++;
  slow.started++;
  slow.inFlight++;
  slowBusy.add(i);
  track(
    runSlowConsumer({
      port: node.port,
      stall: () => untilDropped(i, cfg.slowStall * 1000),
      drainMs: 5000,
      ...(lastEventId === undefined ? {} : { lastEventId }),
    }).then(({ outcome, bytes, stalledMs }) => {
      slow.inFlight--;
      slowBusy.delete(i);
      slow[outcome]++;
      slow.bytes += bytes;
      slow.stalledSeconds.push(round(stalledMs / 1000, 0));
    }),
  );
}

// ---- measuring --------------------------------------------------------------------------------------------

const rss: Record<string, ProcRss> = {};
function recordRss(phase: "start" | "afterRamp" | "end" | null): Record<string, number | null> {
  const now: Record<string, number | null> = {};
  const procs: [string, number | undefined][] = [
    ...nodes.map((n): [string, number] => [n.name, n.proc.pid]),
    ["redis-server", redis?.proc?.pid],
  ];
  for (const [name, pid] of procs) {
    let v: number | null = null;
    try {
      if (pid !== undefined) v = rssBytes(pid) / MiB;
    } catch {
      // process gone (Redis during its restart)
    }
    now[name] = v === null ? null : round(v);
    if (v === null) continue;
    const r = rss[name] ?? { start: null, afterRamp: null, max: 0, end: null };
    rss[name] = r;
    r.max = Math.max(r.max, round(v));
    if (phase !== null) r[phase] = round(v);
  }
  now.soak = round(process.memoryUsage().rss / MiB);
  return now;
}

interface Sample {
  t: number;
  phase: string;
  rssMiB: Record<string, number | null>;
  /** V8 heap in use per node (/metrics `nodejs_heap_size_used_bytes`): tells heap growth from the rest. */
  heapUsedMiB: Record<string, number | null>;
  /** V8 heap reserved, and memory of Buffers outside the heap, per node (for RSS growth outside the heap). */
  heapTotalMiB: Record<string, number | null>;
  externalMiB: Record<string, number | null>;
  /** Encoded events retained for resume per node (`sse_broker_history_bytes`). */
  historyMiB: Record<string, number | null>;
  connections: Record<string, number | null>;
  clientsOpen: number;
  accepted: number;
  refused: number;
  deliveries: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  resumesComplete: number;
  resumesIncomplete: number;
  droppedSlow: number;
  hostileSent: number;
  hostile5xx: number;
  errors: number;
  eventLoopP99Ms: number;
  loadAverage: number;
}
const samples: Sample[] = [];
let lastProbes: NodeProbe[] = [];
const probeFailures: Record<string, number> = {};

async function probeAll(): Promise<NodeProbe[]> {
  const ps = await Promise.all(nodes.map((n) => probeNode(n.port)));
  ps.forEach((p, i) => {
    const name = (nodes[i] as BrokerNode).name;
    if (p.healthStatus !== 200)
      probeFailures[`${name} /healthz ${p.healthStatus}`] =
        (probeFailures[`${name} /healthz ${p.healthStatus}`] ?? 0) + 1;
    if (p.metricsStatus !== 200)
      probeFailures[`${name} /metrics ${p.metricsStatus}`] =
        (probeFailures[`${name} /metrics ${p.metricsStatus}`] ?? 0) + 1;
  });
  lastProbes = ps;
  return ps;
}

function metricSum(name: string, probes = lastProbes): number {
  return probes.reduce((a, p) => a + (p.metrics?.[name] ?? 0), 0);
}

function hostileTotals(): { sent: number; fiveXX: number; violations: number; noAnswer: number } {
  const ks = Object.values(hostile);
  return {
    sent: ks.reduce((a, k) => a + k.sent, 0),
    fiveXX: ks.reduce((a, k) => a + k.fiveXX, 0),
    violations: ks.reduce((a, k) => a + Object.values(k.violations).reduce((x, y) => x + y, 0), 0),
    noAnswer: ks.reduce((a, k) => a + k.noAnswer, 0),
  };
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
const endState = {
  notReconnected: 0,
  markerMissing: 0,
  markerId: 0,
  sessionsLeft: {} as Record<string, number | null>,
};
const exits: Record<string, string> = {};

/** Everything that counts as an error, by what it is (zeros left out). */
function errors(): Record<string, number> {
  const p = publisher?.stats;
  const h = hostileTotals();
  const e: Record<string, number> = {
    "publish failures (not 503)": p?.failed ?? 0,
    "subscriber connection errors": sum(counters.connectErrors),
    "subscribe answers not 200": sum(counters.badStatus),
    "streams ended by the server": counters.serverEnded,
    "resumes without a Last-Event-ID answer": counters.resumesUnanswered,
    "events without id": counters.eventsWithoutId,
    "missed-events notices": counters.missedNotices,
    "events to the wrong subscriber": ledger.totals.wrongTopic,
    "unknown event ids": ledger.totals.unknownIds,
    "hostile answers 5xx": h.fiveXX,
    "hostile rule violations": h.violations,
    "slow consumers refused or failed": slow.refused + slow.error,
    "broker log lines at error/fatal": nodes.reduce(
      (a, n) => a + (n.log.byLevel["50"] ?? 0) + (n.log.byLevel["60"] ?? 0),
      0,
    ),
    "secrets in broker logs": nodes.reduce((a, n) => a + n.log.secretLines, 0),
    "/healthz or /metrics not 200": sum(probeFailures),
    "subscribers not back at the end": endState.notReconnected,
    "subscribers without the end marker": endState.markerMissing,
    "sessions left open after every client left": Object.values(endState.sessionsLeft).reduce<number>(
      (a, v) => a + (v ?? 1),
      0,
    ),
    "broker exits during the run": Object.keys(exits).length,
  };
  return Object.fromEntries(Object.entries(e).filter(([, v]) => v !== 0));
}

function perNode(probes: NodeProbe[], metric: string, unit: number): Record<string, number | null> {
  return Object.fromEntries(
    nodes.map((n, i) => {
      const v = probes[i]?.metrics?.[metric];
      return [n.name, v === undefined ? null : round(v / unit)];
    }),
  );
}

async function takeSample(phase: string): Promise<Sample> {
  const probes = await probeAll();
  const r = recordRss(null);
  const s: Sample = {
    t: round(Date.now() / 1000 - loadStart / 1000, 0),
    phase,
    rssMiB: r,
    heapUsedMiB: perNode(probes, "nodejs_heap_size_used_bytes", MiB),
    historyMiB: perNode(probes, "sse_broker_history_bytes", MiB),
    heapTotalMiB: perNode(probes, "nodejs_heap_size_total_bytes", MiB),
    externalMiB: perNode(probes, "nodejs_external_memory_bytes", MiB),
    connections: Object.fromEntries(nodes.map((n, i) => [n.name, probes[i]?.connections ?? null])),
    clientsOpen: counters.open,
    accepted: ledger.accepted,
    refused: publisher?.stats.refused ?? 0,
    deliveries: ledger.totals.deliveries,
    lost: ledger.totals.lost,
    duplicates: ledger.totals.duplicates,
    outOfOrder: ledger.totals.outOfOrder,
    resumesComplete: counters.resumesComplete,
    resumesIncomplete: counters.resumesIncomplete,
    droppedSlow: metricSum("sse_broker_clients_dropped_slow_total", probes),
    hostileSent: hostileTotals().sent,
    hostile5xx: hostileTotals().fiveXX,
    errors: sum(errors()),
    eventLoopP99Ms: round(eventLoop.percentile(99) / 1e6),
    loadAverage: loadAverage(),
  };
  eventLoop.reset();
  samples.push(s);
  const rs = Object.entries(s.rssMiB)
    .map(([k, v]) => `${k}=${v ?? "–"}`)
    .join(" ");
  const cs = Object.entries(s.connections)
    .map(([k, v]) => `${k}=${v ?? "–"}`)
    .join(" ");
  console.error(
    `[soak] ${String(s.t).padStart(5)}s ${phase.padEnd(7)} RSS MiB ${rs} | conns ${cs} (clients ${s.clientsOpen}) | ` +
      `accepted ${s.accepted} refused ${s.refused} | deliveries ${s.deliveries} lost ${s.lost} dup ${s.duplicates} ` +
      `ooo ${s.outOfOrder} | resumes ${s.resumesComplete}/${s.resumesIncomplete} incomplete | slow dropped ${s.droppedSlow} | ` +
      `hostile ${s.hostileSent} (5xx ${s.hostile5xx}) | errors ${s.errors} | loop p99 ${s.eventLoopP99Ms} ms`,
  );
  return s;
}

// ---- phases -----------------------------------------------------------------------------------------------

/** Sleeps until `at` (ms since load start) or the run is aborted. */
async function until(at: number): Promise<void> {
  while (!abort.signal.aborted && Date.now() - loadStart < at)
    await sleep(Math.min(250, at - (Date.now() - loadStart)));
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

async function restartRedis(): Promise<void> {
  const r = redis as RedisServer;
  const p = publisher as Publisher;
  console.error(`[soak] stopping redis-server (pid ${r.proc?.pid}) for ${cfg.redisDown} s`);
  outage.refusedBefore = p.stats.refused;
  outage.stoppedAt = round((Date.now() - loadStart) / 1000);
  await r.stop();
  await sleep(cfg.redisDown * 1000);
  await r.start();
  r.restarts++;
  outage.startedAt = round((Date.now() - loadStart) / 1000);
  console.error(`[soak] redis-server back (pid ${r.proc?.pid})`);
  const acceptedAt = ledger.accepted;
  await waitFor(() => ledger.accepted > acceptedAt, 60_000);
  outage.firstAcceptedAfterS = round((Date.now() - loadStart) / 1000 - outage.startedAt);
  outage.refusedDuring = p.stats.refused - outage.refusedBefore;
}

async function run(): Promise<void> {
  if (!cfg.tsx && distIsStale(root)) {
    console.error("[soak] dist/ is older than src/: npm run build");
    build(root);
  }
  redis = await RedisServer.start();
  for (const name of ["node-a", "node-b"]) {
    const n = await startBroker({
      name,
      root,
      tsx: cfg.tsx,
      redisUrl: redis.url,
      token,
      secrets: [token, secret],
    });
    nodes.push(n);
    void n.proc.exited.then((code) => {
      if (ending) return;
      exits[name] = `exit ${code}`;
      failures.push(`${name} exited (${code}) during the run`);
      abort.abort();
    });
  }
  console.error(
    `[soak] redis-server ${redis.url} (pid ${redis.proc?.pid}); ${nodes.map((n) => `${n.name} :${n.port} (pid ${n.proc.pid})`).join(", ")}`,
  );
  await sleep(1000);
  recordRss("start");
  loadStart = Date.now();

  publisher = new Publisher({ ports: nodes.map((n) => n.port), token, ledger, rate: cfg.rate });
  publisher.start(nextEvent);
  // Ramp up: cfg.ramp connections per second.
  const rampMs = 1000 / cfg.ramp;
  for (let i = 0; i < cfg.subscribers && !abort.signal.aborted; i++) {
    newBrowser().connect();
    if (i % 10 === 9) await sleep(rampMs * 10);
  }
  await waitFor(() => counters.open >= cfg.subscribers * 0.9 || abort.signal.aborted, 60_000);
  recordRss("afterRamp");
  await takeSample("ramped");

  const timers: NodeJS.Timeout[] = [];
  if (cfg.hostileEveryMs > 0) timers.push(setInterval(launchHostile, cfg.hostileEveryMs));
  if (cfg.slowEvery > 0 && cfg.slowMax > 0) {
    launchSlow();
    timers.push(setInterval(launchSlow, cfg.slowEvery * 1000));
  }
  timers.push(setInterval(() => recordRss(null), 2000));
  const sampler = setInterval(() => void takeSample("load"), cfg.interval * 1000);
  timers.push(sampler);
  let restart: Promise<void> | undefined;
  if (cfg.redisDown > 0) {
    const at = DURATION_MS / 2;
    timers.push(
      setTimeout(
        () => {
          restart = restartRedis();
        },
        Math.max(0, at - (Date.now() - loadStart)),
      ),
    );
  }

  await until(DURATION_MS);
  loadEnd = Date.now();
  for (const t of timers) clearInterval(t);
  releaseSlow();
  await restart;
  await end();
}

async function end(): Promise<void> {
  ending = true;
  const p = publisher as Publisher;
  console.error("[soak] end: subscribers stop leaving and reconnect; then the end marker");
  for (const b of browsers) b.settle();
  await waitFor(() => [...browsers].every((b) => b.connected), 30_000);
  endState.notReconnected = [...browsers].filter((b) => !b.connected).length;
  await p.stop();
  const deadline = Date.now() + 30_000;
  const marker = await p.publish(
    { topics: [...TOPICS, "bulk"], mask: ALL_TOPICS, data: "soak-end" },
    () => Date.now() > deadline,
  );
  if (marker === null) {
    failures.push("the end marker was not accepted within 30 s: chain tails not judged");
    for (const b of browsers) b.stop();
  } else {
    endState.markerId = marker;
    const has = (b: Browser) => b.chain !== null && (b.chain.start >= marker || b.chain.has(marker));
    await waitFor(() => [...browsers].every(has), 30_000);
    // With the marker in, the chain was judged up to it as it arrived; without it the tail stays unjudged
    // (and the subscriber is counted as an error), since the wait for it timed out.
    endState.markerMissing = [...browsers].filter((b) => !has(b)).length;
    for (const b of browsers) b.stop(has(b) ? marker : undefined);
  }
  console.error(`[soak] end: waiting for ${pending.size} hostile/slow requests still running`);
  await Promise.allSettled([...pending]);
  // Every client is gone: each node's open streams must drop to 0.
  const left = async () => (await probeAll()).map((x) => x.connections);
  const t0 = Date.now();
  let conns = await left();
  while (conns.some((c) => c !== 0) && Date.now() - t0 < 15_000) {
    await sleep(500);
    conns = await left();
  }
  nodes.forEach((n, i) => {
    endState.sessionsLeft[n.name] = conns[i] ?? null;
  });
  recordRss("end");
  await takeSample("end");
  p.close();
}

async function stopAll(): Promise<void> {
  ending = true;
  for (const n of nodes) {
    await stop(n.proc, 6000);
    const code = n.proc.child.exitCode;
    const signal = n.proc.child.signalCode;
    if (exits[n.name] === undefined && code !== 0)
      exits[`${n.name} at shutdown`] = `${signal ?? `exit ${code}`}`;
  }
  await redis?.dispose();
}

function treeVersion(): string {
  try {
    const rev = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src", "bench"], {
      cwd: root,
      encoding: "utf8",
    }).trim();
    return dirty === "" ? rev : `${rev} (src/ or bench/ modified)`;
  } catch {
    return "unknown";
  }
}

function result(): SoakResult {
  const p = publisher?.stats;
  const m = (name: string) => metricSum(name);
  const shutdownExits = Object.fromEntries(Object.entries(exits).filter(([k]) => k.endsWith("at shutdown")));
  const errs = errors();
  const lossFree =
    ledger.totals.lost === 0 && ledger.totals.duplicates === 0 && ledger.totals.outOfOrder === 0;
  return {
    date: new Date(started).toISOString(),
    tree: treeVersion(),
    command: `npm run soak -- ${process.argv.slice(2).join(" ")}`.trim(),
    machine: machineInfo(),
    config: cfg,
    loadSeconds: round(((loadEnd || Date.now()) - loadStart) / 1000, 0),
    pass: lossFree && Object.keys(errs).length === 0 && failures.length === 0,
    failures,
    rssMiB: rss,
    figures: {
      subscribersConcurrent: cfg.subscribers,
      connectionsOpened: counters.connects,
      subscribersRetired: retired,
      eventsAccepted: ledger.accepted,
      acceptedPerSecond: round(ledger.accepted / Math.max(1, ((loadEnd || Date.now()) - loadStart) / 1000)),
      publishAttempts: p?.attempts ?? 0,
      publishesRefused503: p?.refused ?? 0,
      publishFailures: p?.failures ?? {},
      publishSkipped: p?.skipped ?? 0,
      publishLatencyMs: {
        p50: round(p?.latency.quantile(0.5) ?? Number.NaN, 2),
        p99: round(p?.latency.quantile(0.99) ?? Number.NaN, 2),
        max: round(p?.latency.max ?? Number.NaN, 1),
      },
      deliveries: ledger.totals.deliveries,
      eventsLost: ledger.totals.lost,
      duplicates: ledger.totals.duplicates,
      outOfOrder: ledger.totals.outOfOrder,
      unacceptedDelivered: ledger.totals.unacceptedDelivered,
      chainsStarted: ledger.totals.chainsStarted,
      chainsJudgedToMarker: ledger.totals.chainsCompleted,
      chainsAbandoned: counters.chainsAbandoned,
      windowsUnaccounted: counters.windowsUnaccounted,
      freshConnects: counters.fresh,
      resumesComplete: counters.resumesComplete,
      resumesIncomplete: counters.resumesIncomplete,
      resumesUnanswered: counters.resumesUnanswered,
      foreignEvents: counters.foreignEvents,
      serverEndedStreams: counters.serverEnded,
      slowConsumers: slow,
      droppedSlowMetric: m("sse_broker_clients_dropped_slow_total"),
      brokerConnectionsTotal: m("sse_broker_connections_total"),
      brokerEventsDelivered: m("sse_broker_events_delivered_total"),
      redisOutage: outage,
      hostile,
      sessionsLeftOpen: endState.sessionsLeft,
      markerId: endState.markerId,
      brokerLogs: Object.fromEntries(nodes.map((n) => [n.name, n.log])),
      brokerExits: { ...exits, ...shutdownExits },
      soakCpuSeconds: round(cpuSeconds(process.pid)),
      soakEventLoopP99MaxMs: samples.reduce((a, x) => Math.max(a, x.eventLoopP99Ms), 0),
      soakRssMaxMiB: samples.reduce((a, x) => Math.max(a, x.rssMiB.soak ?? 0), 0),
      loadAverageMax: samples.reduce((a, x) => Math.max(a, x.loadAverage), 0),
      injectedLossEvery: cfg.injectLossEvery,
      injectedLossIgnored: counters.discarded,
    },
    errors: errs,
    samples,
  };
}

async function main(): Promise<number> {
  let crashed: unknown;
  try {
    await run();
  } catch (err) {
    crashed = err;
    failures.push(`soak failed: ${(err as Error).stack ?? String(err)}`);
  }
  if (abort.signal.aborted && !crashed) console.error("[soak] aborted:", failures.join("; "));
  for (const b of browsers) b.stop();
  await stopAll().catch((err: unknown) => failures.push(`stopping: ${String(err)}`));
  const r = result();
  const json =
    typeof flags.json === "string"
      ? flags.json
      : join(root, "bench", "results", `soak-${r.date.replace(/[:.]/g, "-")}.json`);
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`);
  process.stdout.write(markdownReport(r));
  console.error(`[soak] JSON: ${json}`);
  console.error(`[soak] ${r.pass ? "PASS" : "FAIL"}`);
  return r.pass ? 0 : 1;
}

// Bounded: the duration plus the margin of the end phase (and a build, when dist/ is stale).
runBounded(main, (DURATION_MS + MARGIN_MS) / 60_000, () => {
  console.error("[soak] stopping every process it started");
  if (redis !== undefined) rmSync(redis.dir, { recursive: true, force: true });
});
