/**
 * Fan-out benchmark: sse-broker against better-sse (and optional peers/modes) in one run on one machine.
 *
 *   npm run bench -- [--scenario plain|stalled|mercure|redis|all] [--servers sse-broker,better-sse,nchan]
 *                    [--subscribers 1000] [--rate 100[,20]] [--burst 1] [--repeat 1] [--payload 160]
 *                    [--warmup 5] [--window 12]
 *                    [--clients 4] [--stalled 10] [--stalled-payload 2048] [--stalled-seconds 40]
 *                    [--json /tmp/sse-broker-bench/latest.json] [--cpu-prof DIR] [--nice -10]
 *
 * Each server runs in its own process pinned to core 0; the load (several raw-socket client processes,
 * see lib/load-client.ts) and this orchestrator run on core 1. Server CPU is read from /proc/<pid>/stat
 * around the measured window, memory from /proc/<pid>/status. See docs/benchmarks.md.
 * @module
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Histogram } from "./lib/histogram.js";
import type { ClientResult } from "./lib/load-client.js";
import { freePort, waitForPort, waitForRedis } from "./lib/net.js";
import {
  coreBusySeconds,
  coreSoftirqSeconds,
  cpuSeconds,
  loadAverage,
  machineInfo,
  rssBytes,
} from "./lib/proc.js";
import {
  killAll,
  onPath,
  type Proc,
  prepareOrchestrator,
  spawnNode,
  spawnPinned,
  stop,
} from "./lib/procs.js";
import { nchanConfig } from "./lib/targets.js";

const here = dirname(fileURLToPath(import.meta.url));
const SERVER_CORE = 0;
const LOAD_CORE = 1;

const { values: flags } = parseArgs({
  options: {
    scenario: { type: "string", default: "all" },
    servers: { type: "string", default: "sse-broker,better-sse" },
    subscribers: { type: "string", default: "1000" },
    /** Events per second; a comma-separated list runs the plain scenario once per rate. */
    rate: { type: "string", default: "100" },
    /** Events published together per timer tick (1 = evenly spaced). */
    burst: { type: "string", default: "1" },
    /** Run the plain pair this many times (servers alternate) to show run-to-run spread. */
    repeat: { type: "string", default: "1" },
    payload: { type: "string", default: "160" },
    warmup: { type: "string", default: "5" },
    window: { type: "string", default: "12" },
    clients: { type: "string", default: "4" },
    stalled: { type: "string", default: "10" },
    "stalled-payload": { type: "string", default: "2048" },
    "stalled-seconds": { type: "string", default: "40" },
    json: { type: "string", default: "/tmp/sse-broker-bench/latest.json" },
    /** Directory for V8 CPU profiles of the server processes (node --cpu-prof), written when they exit. */
    "cpu-prof": { type: "string" },
    /** Niceness of the benchmark's processes; negative (root) shields them from other work on the box. */
    nice: { type: "string", default: process.getuid?.() === 0 ? "-10" : "0" },
  },
});
const num = (k: keyof typeof flags): number => {
  const v = Number(flags[k]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${k} must be a number`);
  return v;
};
const rates = String(flags.rate)
  .split(",")
  .map(Number)
  .filter((r) => r > 0);
if (rates.length === 0) throw new Error("--rate must be a positive number or list");
const cfg = {
  subscribers: num("subscribers"),
  rate: rates[0] as number,
  rates,
  burst: Math.max(1, num("burst")),
  repeat: Math.max(1, num("repeat")),
  payload: num("payload"),
  warmup: num("warmup"),
  window: num("window"),
  clients: Math.max(1, num("clients")),
  stalled: num("stalled"),
  stalledPayload: num("stalled-payload"),
  stalledSeconds: num("stalled-seconds"),
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const round = (v: number, d = 0) => Math.round(v * 10 ** d) / 10 ** d;

// ---- targets: how to start a server and drive its publisher ----------------------------------------------

interface Target {
  name: string;
  path: string;
  headers?: Record<string, string>;
  /** Processes whose CPU and RSS count as "the server" (one for every target but multi-node modes). */
  procs: Proc[];
  port: number;
  /** Where publish/pause/stats go when not the server itself (an external HTTP publisher). */
  publisher?: Proc;
  /** Other processes to stop with the target (publisher, temp dirs are removed by `cleanup`). */
  cleanup?: () => Promise<void>;
}

async function startNodeServer(name: string, script: string, args: string[] = []): Promise<Target> {
  const prof = flags["cpu-prof"] === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${flags["cpu-prof"]}`];
  const p = spawnNode(
    name,
    SERVER_CORE,
    ["--expose-gc", ...prof, "--import", "tsx"],
    script.startsWith("/") ? script : join(here, "servers", script),
    args,
  );
  const ready = await p.next<{ port: number; path?: string; headers?: Record<string, string> }>(
    "ready",
    30_000,
  );
  return {
    name,
    path: ready.path ?? "/events?topic=bench",
    ...(ready.headers === undefined ? {} : { headers: ready.headers }),
    procs: [p],
    port: ready.port,
  };
}

/** nchan (nginx module, C) as the reference peer: one nginx process (master_process off), own prefix. */
async function startNchan(): Promise<Target> {
  const mod = "/usr/lib/nginx/modules/ngx_nchan_module.so";
  if (!existsSync(mod) || !existsSync("/usr/sbin/nginx")) {
    throw new Error("nchan not installed: apt-get install -y nginx-light libnginx-mod-nchan");
  }
  const dir = mkdtempSync(join(tmpdir(), "sse-bench-nchan-"));
  const port = await freePort();
  // The same nginx.conf as the comparison (bench/lib/targets.ts).
  writeFileSync(join(dir, "nginx.conf"), nchanConfig(dir, port));
  const nginx = spawnPinned("nchan", SERVER_CORE, "/usr/sbin/nginx", [
    "-p",
    dir,
    "-c",
    join(dir, "nginx.conf"),
  ]);
  if (!(await waitForPort(port))) throw new Error("nginx did not start");
  const publisher = spawnNode(
    "nchan-publisher",
    LOAD_CORE,
    ["--import", "tsx"],
    join(here, "lib", "http-publisher.ts"),
    [`http://127.0.0.1:${port}/pub`],
  );
  await publisher.next("ready", 30_000);
  return {
    name: "nchan",
    path: "/events",
    procs: [nginx],
    port,
    publisher,
    cleanup: async () => {
      await stop(publisher);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `sse-broker@DIR`: the same server from another checkout (e.g. `git worktree add /tmp/base <commit>`), to
 * compare two trees in one run.
 */
function serverFor(name: string): (() => Promise<Target>) | undefined {
  const other = /^sse-broker@(\/.+)$/.exec(name)?.[1];
  if (other !== undefined) return () => startNodeServer(name, join(other, "bench/servers/sse-broker.ts"));
  return SERVERS[name];
}

const SERVERS: Record<string, () => Promise<Target>> = {
  nchan: startNchan,
  "sse-broker": () => startNodeServer("sse-broker", "sse-broker.ts"),
  /** The same server with flushIntervalMs = 10: events wait up to 10 ms to share a write. */
  "sse-broker-flush10": () =>
    startNodeServer("sse-broker-flush10", "sse-broker.ts", ["--flush-interval-ms", "10"]),
  "better-sse": () => startNodeServer("better-sse", "better-sse.ts"),
  "sse-broker-mercure": () => startNodeServer("sse-broker-mercure", "sse-broker-mercure.ts"),
};

// ---- load ------------------------------------------------------------------------------------------------

async function startClients(n: number): Promise<Proc[]> {
  const ps = Array.from({ length: n }, (_, i) =>
    spawnNode(`client-${i}`, LOAD_CORE, ["--import", "tsx"], join(here, "lib", "load-client.ts")),
  );
  await Promise.all(ps.map((p) => p.next("ready", 30_000)));
  return ps;
}

async function connect(clients: Proc[], t: Target, total: number, stalled = false): Promise<number> {
  const { port, path, headers } = t;
  const per = Math.floor(total / clients.length);
  const rs = await Promise.all(
    clients.map((c, i) => {
      const count = i === clients.length - 1 ? total - per * (clients.length - 1) : per;
      return c.request<{ open: number }>(
        { cmd: "connect", port, path, count, stalled, headers },
        "connected",
        60_000,
      );
    }),
  );
  return rs.reduce((a, r) => a + r.open, 0);
}

async function gcAndRss(t: Target): Promise<number> {
  let sum = 0;
  for (const p of t.procs) {
    if (p.child.connected) await p.request({ cmd: "gc" }, "gc-done");
    await sleep(200);
    sum += rssBytes(p.pid);
  }
  return sum;
}

interface Stats {
  published: number;
  missed: number;
  sessions: number;
  dropped?: number;
}

const stats = (p: Proc) => p.request<Stats>({ cmd: "stats" }, "stats");

interface Window {
  seconds: number;
  serverCpuSeconds: number;
  serverCorePct: number;
  loadCorePct: number;
  /** Busy time of the server core not spent by the server (other processes, kernel): noise indicator. */
  otherOnServerCorePct: number;
  /** Busy time of the load core not spent by the load clients. */
  otherOnLoadCorePct: number;
  loadAverage: number;
  /** Whole server core busy (server + kernel softirq work for its sockets + anything else). */
  serverCoreBusyPct: number;
  /** softirq share of the server core (loopback network processing not charged to any process). */
  serverCoreSoftirqPct: number;
  /** Deliveries per busy second of the server core: includes loopback softirq time /proc/<pid>/stat omits. */
  deliveriesPerCoreBusySecond: number;
  eventsPublished: number;
  eventsPerSecond: number;
  deliveries: number;
  deliveriesPerSecond: number;
  /** deliveries / (events published × subscribers): < 1 means the server fell behind or dropped. */
  completeness: number;
  deliveriesPerCpuSecond: number;
  cpuMicrosPerDelivery: number;
  p50ms: number;
  p99ms: number;
  maxMs: number;
  rssStartMiB: number;
  rssMaxMiB: number;
  rssEndMiB: number;
  clientErrors: number;
  serverStatsEnd: Stats[];
  /** CPU seconds in the window per server process (multi-process modes). */
  cpuByProc: Record<string, number>;
  /** Deliveries in the window per load-client process. */
  framesByClient: number[];
}

/** One measured window: CPU of the server processes, deliveries and latency counted by the clients. */
async function measure(
  t: Target,
  publisher: Proc,
  clients: Proc[],
  seconds: number,
  subs: number,
): Promise<Window> {
  const cpu = () => t.procs.reduce((a, p) => a + cpuSeconds(p.pid), 0);
  const clientCpu = () => clients.reduce((a, p) => a + cpuSeconds(p.pid), 0);
  const rss = () => t.procs.reduce((a, p) => a + rssBytes(p.pid), 0);
  const s0 = await stats(publisher);
  await Promise.all(clients.map((c) => c.request({ cmd: "start" }, "started")));
  const byProc0 = t.procs.map((p) => cpuSeconds(p.pid));
  const cpu0 = cpu();
  const cc0 = clientCpu();
  const sc0 = coreBusySeconds(SERVER_CORE);
  const si0 = coreSoftirqSeconds(SERVER_CORE);
  const lc0 = coreBusySeconds(LOAD_CORE);
  const w0 = performance.now();
  const rssStart = rss();
  let rssMax = rssStart;
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, rss());
  }, 250);
  await sleep(seconds * 1000);
  clearInterval(sampler);
  const cpu1 = cpu();
  const byProc1 = t.procs.map((p) => cpuSeconds(p.pid));
  const cc1 = clientCpu();
  const sc1 = coreBusySeconds(SERVER_CORE);
  const si1 = coreSoftirqSeconds(SERVER_CORE);
  const lc1 = coreBusySeconds(LOAD_CORE);
  const w1 = performance.now();
  const results = await Promise.all(clients.map((c) => c.request<ClientResult>({ cmd: "stop" }, "result")));
  const rssEnd = rss();
  rssMax = Math.max(rssMax, rssEnd);
  const s1 = await stats(publisher);
  const serverStatsEnd = await Promise.all(
    [publisher, ...t.procs.filter((p) => p.child.connected && p !== publisher)].map(stats),
  );
  const hist = new Histogram();
  let deliveries = 0;
  let clientErrors = 0;
  for (const r of results) {
    hist.addSparse(r.hist, r.max);
    deliveries += r.frames;
    clientErrors += r.errors;
  }
  const wall = (w1 - w0) / 1000;
  const cpuSec = cpu1 - cpu0;
  const published = s1.published - s0.published;
  const MiB = 1024 * 1024;
  return {
    seconds: round(wall, 2),
    serverCpuSeconds: round(cpuSec, 2),
    serverCorePct: round((cpuSec / wall) * 100),
    loadCorePct: round(((cc1 - cc0) / wall) * 100),
    otherOnServerCorePct: round((Math.max(0, sc1 - sc0 - cpuSec) / wall) * 100),
    otherOnLoadCorePct: round((Math.max(0, lc1 - lc0 - (cc1 - cc0)) / wall) * 100),
    loadAverage: loadAverage(),
    serverCoreBusyPct: round(((sc1 - sc0) / wall) * 100),
    serverCoreSoftirqPct: round(((si1 - si0) / wall) * 100),
    deliveriesPerCoreBusySecond: round(deliveries / (sc1 - sc0)),
    eventsPublished: published,
    eventsPerSecond: round(published / wall, 1),
    deliveries,
    deliveriesPerSecond: round(deliveries / wall),
    completeness: round(deliveries / Math.max(1, published * subs), 4),
    deliveriesPerCpuSecond: round(deliveries / cpuSec),
    cpuMicrosPerDelivery: round((cpuSec / deliveries) * 1e6, 2),
    p50ms: round(hist.quantile(0.5), 2),
    p99ms: round(hist.quantile(0.99), 2),
    maxMs: round(hist.max, 1),
    rssStartMiB: round(rssStart / MiB, 1),
    rssMaxMiB: round(rssMax / MiB, 1),
    rssEndMiB: round(rssEnd / MiB, 1),
    clientErrors,
    serverStatsEnd,
    cpuByProc: Object.fromEntries(
      t.procs.map((p, i) => [p.name, round((byProc1[i] as number) - (byProc0[i] as number), 2)]),
    ),
    framesByClient: results.map((r) => r.frames),
  };
}

// ---- scenarios -------------------------------------------------------------------------------------------

interface PlainResult {
  server: string;
  rate: number;
  run: number;
  subscribers: number;
  rssIdleBeforeMiB: number;
  rssIdleAfterMiB: number;
  /** (RSS with N idle − RSS before) / N. */
  rssPerIdleConnKiB: number;
  /** The same over the second N/2 connections only. */
  rssPerIdleConnSecondHalfKiB: number;
  window: Window;
}

async function plain(name: string, rate: number, run: number): Promise<PlainResult> {
  const t = await serverFor(name)?.();
  if (t === undefined) throw new Error(`unknown server ${name}`);
  const clients = await startClients(cfg.clients);
  try {
    const publisher = t.publisher ?? (t.procs[0] as Proc);
    await sleep(1000);
    const before = await gcAndRss(t);
    // In two halves: the second half's RSS slope leaves out one-time costs (thread pool, lazy module
    // state, heap growth steps) that the first connections trigger.
    const firstHalf = Math.floor(cfg.subscribers / 2);
    await connect(clients, t, firstHalf);
    await sleep(1000);
    const mid = await gcAndRss(t);
    // The clients report their cumulative count of open subscribers.
    const open = await connect(clients, t, cfg.subscribers - firstHalf);
    if (open !== cfg.subscribers)
      throw new Error(`${name}: only ${open}/${cfg.subscribers} subscribers connected`);
    await sleep(2000);
    const after = await gcAndRss(t);
    await publisher.request(
      { cmd: "publish", rate, payloadBytes: cfg.payload, burst: cfg.burst },
      "publishing",
    );
    await sleep(cfg.warmup * 1000);
    const w = await measure(t, publisher, clients, cfg.window, cfg.subscribers);
    await publisher.request({ cmd: "pause" }, "paused");
    const MiB = 1024 * 1024;
    return {
      server: name,
      rate,
      run,
      subscribers: cfg.subscribers,
      rssIdleBeforeMiB: round(before / MiB, 1),
      rssIdleAfterMiB: round(after / MiB, 1),
      rssPerIdleConnKiB: round((after - before) / cfg.subscribers / 1024, 1),
      rssPerIdleConnSecondHalfKiB: round((after - mid) / (cfg.subscribers - firstHalf) / 1024, 1),
      window: w,
    };
  } finally {
    await Promise.all([...clients, ...t.procs].map(stop));
    await t.cleanup?.();
  }
}

interface StalledResult {
  server: string;
  subscribers: number;
  stalled: number;
  payloadBytes: number;
  baseline: Window;
  withStalled: Window;
  stalledOpenAtEnd: number;
}

async function stalled(name: string): Promise<StalledResult> {
  const t = await serverFor(name)?.();
  if (t === undefined) throw new Error(`unknown server ${name}`);
  const clients = await startClients(cfg.clients);
  const staller = (await startClients(1))[0] as Proc;
  try {
    const publisher = t.publisher ?? (t.procs[0] as Proc);
    const open = await connect(clients, t, cfg.subscribers);
    if (open !== cfg.subscribers)
      throw new Error(`${name}: only ${open}/${cfg.subscribers} subscribers connected`);
    await publisher.request(
      { cmd: "publish", rate: cfg.rate, payloadBytes: cfg.stalledPayload, burst: cfg.burst },
      "publishing",
    );
    await sleep(cfg.warmup * 1000);
    const baseline = await measure(t, publisher, clients, cfg.window, cfg.subscribers);
    await connect([staller], t, cfg.stalled, true);
    const withStalled = await measure(t, publisher, clients, cfg.stalledSeconds, cfg.subscribers);
    const s = await stats(publisher);
    await publisher.request({ cmd: "pause" }, "paused");
    return {
      server: name,
      subscribers: cfg.subscribers,
      stalled: cfg.stalled,
      payloadBytes: cfg.stalledPayload,
      baseline,
      withStalled,
      // Servers that cannot tell (nchan, counted from outside) report -1.
      stalledOpenAtEnd: s.sessions < 0 ? -1 : Math.max(0, s.sessions - cfg.subscribers),
    };
  } finally {
    await Promise.all([...clients, staller, ...t.procs].map(stop));
    await t.cleanup?.();
  }
}

interface RedisNode {
  name: string;
  subscribers: number;
  deliveries: number;
  cpuSeconds: number;
  deliveriesPerCpuSecond: number | null;
}

interface RedisResult {
  memory: PlainResult;
  redis: Window;
  nodes: RedisNode[];
}

/** The commit measured, with "+dirty" when src/ has uncommitted changes. */
function treeVersion(): string {
  try {
    const git = (args: string[]) =>
      execFileSync("git", args, { cwd: join(here, ".."), encoding: "utf8" }).trim();
    return `${git(["rev-parse", "--short", "HEAD"])}${git(["status", "--porcelain", "src"]) === "" ? "" : "+dirty"}`;
  } catch {
    return "unknown";
  }
}

/** 2 broker nodes on a Redis Streams backplane (half the subscribers each) vs 1 node in memory. */
async function redisScenario(): Promise<RedisResult> {
  console.error("[redis] 1 node in memory …");
  const memory = await plain("sse-broker", cfg.rate, 1);
  console.error("[redis] 2 nodes + redis-server …");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sse-bench-redis-"));
  const procs: Proc[] = [];
  try {
    const redis = spawnPinned("redis-server", SERVER_CORE, "redis-server", [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
    ]);
    procs.push(redis);
    await waitForRedis(port);
    const url = `redis://127.0.0.1:${port}`;
    const prefix = `bench-${process.pid}:`;
    const a = await startNodeServer("node-a", "sse-broker-redis.ts", [url, prefix]);
    procs.push(...a.procs);
    const b = await startNodeServer("node-b", "sse-broker-redis.ts", [url, prefix]);
    procs.push(...b.procs);
    const clients = await startClients(Math.max(2, cfg.clients));
    procs.push(...clients);
    const half = clients.length >> 1;
    const subsA = Math.floor(cfg.subscribers / 2);
    const subsB = cfg.subscribers - subsA;
    const openA = await connect(clients.slice(0, half), a, subsA);
    const openB = await connect(clients.slice(half), b, subsB);
    if (openA + openB !== cfg.subscribers)
      throw new Error(`redis: only ${openA + openB} subscribers connected`);
    const nodeA = a.procs[0] as Proc;
    const nodeB = b.procs[0] as Proc;
    const system: Target = {
      name: "2 nodes + redis",
      path: a.path,
      procs: [nodeA, nodeB, redis],
      port: a.port,
    };
    await nodeA.request(
      { cmd: "publish", rate: cfg.rate, payloadBytes: cfg.payload, burst: cfg.burst },
      "publishing",
    );
    await sleep(cfg.warmup * 1000);
    const w = await measure(system, nodeA, clients, cfg.window, cfg.subscribers);
    await nodeA.request({ cmd: "pause" }, "paused");
    const framesA = w.framesByClient.slice(0, half).reduce((x, y) => x + y, 0);
    const framesB = w.framesByClient.slice(half).reduce((x, y) => x + y, 0);
    const node = (name: string, subscribers: number, deliveries: number): RedisNode => {
      const cpu = w.cpuByProc[name] ?? 0;
      return {
        name,
        subscribers,
        deliveries,
        cpuSeconds: cpu,
        deliveriesPerCpuSecond: cpu > 0 && deliveries > 0 ? round(deliveries / cpu) : null,
      };
    };
    return {
      memory,
      redis: w,
      nodes: [node("node-a", subsA, framesA), node("node-b", subsB, framesB), node("redis-server", 0, 0)],
    };
  } finally {
    await Promise.all(procs.map(stop));
    rmSync(dir, { recursive: true, force: true });
  }
}

function redisTable(r: RedisResult): string {
  const m = r.memory.window;
  const w = r.redis;
  const pct = (sec: number) => `${round((sec / w.seconds) * 100)}%`;
  let t =
    "| setup | process | subscribers | deliveries/s | process CPU | **deliveries per CPU-s** | p50 ms | p99 ms | max ms |\n" +
    "|---|---|---|---|---|---|---|---|---|\n";
  t += `| 1 node, in memory | sse-broker | ${r.memory.subscribers} | ${m.deliveriesPerSecond} | ${m.serverCorePct}% | **${m.deliveriesPerCpuSecond}** | ${m.p50ms} | ${m.p99ms} | ${m.maxMs} |\n`;
  for (const n of r.nodes) {
    t += `| 2 nodes + Redis | ${n.name} | ${n.name === "redis-server" ? "–" : n.subscribers} | ${n.name === "redis-server" ? "–" : round(n.deliveries / w.seconds)} | ${pct(n.cpuSeconds)} | ${n.deliveriesPerCpuSecond === null ? "–" : `**${n.deliveriesPerCpuSecond}**`} | ${n.name === "node-a" ? w.p50ms : ""} | ${n.name === "node-a" ? w.p99ms : ""} | ${n.name === "node-a" ? w.maxMs : ""} |\n`;
  }
  t += `| 2 nodes + Redis | all three | ${cfg.subscribers} | ${w.deliveriesPerSecond} | ${w.serverCorePct}% | **${w.deliveriesPerCpuSecond}** | ${w.p50ms} | ${w.p99ms} | ${w.maxMs} |`;
  return `${t}\n\n(latency of the 2-node setup is over all subscribers of both nodes; events published on node-a; events/s achieved: ${w.eventsPerSecond}, completeness ${w.completeness})`;
}

// ---- report ----------------------------------------------------------------------------------------------

function plainTable(rs: PlainResult[]): string {
  const head =
    "| server | run | events/s (target) | deliveries/s | server process CPU | **deliveries per CPU-s** | CPU µs/delivery | server core busy | deliveries per busy core-s | p50 ms | p99 ms | max ms | RSS per idle conn (2nd half) | RSS under load | load core |\n" +
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  return (
    head +
    rs
      .map((r) => {
        const w = r.window;
        return `| ${r.server} | ${r.run} | ${w.eventsPerSecond} (${r.rate}) | ${w.deliveriesPerSecond} | ${w.serverCorePct}% | **${w.deliveriesPerCpuSecond}** | ${w.cpuMicrosPerDelivery} | ${w.serverCoreBusyPct}% | ${w.deliveriesPerCoreBusySecond} | ${w.p50ms} | ${w.p99ms} | ${w.maxMs} | ${r.rssPerIdleConnKiB} KiB (${r.rssPerIdleConnSecondHalfKiB}) | ${w.rssEndMiB} MiB | ${w.loadCorePct}% |`;
      })
      .join("\n")
  );
}

function stalledTable(rs: StalledResult[]): string {
  const head =
    "| server | phase | deliveries per CPU-s | p50 ms | p99 ms | max ms | completeness | RSS start → max → end (MiB) | stalled still open | other on server core |\n" +
    "|---|---|---|---|---|---|---|---|---|---|\n";
  const row = (r: StalledResult, phase: string, w: Window, open: string) =>
    `| ${r.server} | ${phase} | ${w.deliveriesPerCpuSecond} | ${w.p50ms} | ${w.p99ms} | ${w.maxMs} | ${w.completeness} | ${w.rssStartMiB} → ${w.rssMaxMiB} → ${w.rssEndMiB} | ${open} | ${w.otherOnServerCorePct}% |`;
  return (
    head +
    rs
      .flatMap((r) => [
        row(r, `${r.subscribers} live, ${cfg.window} s`, r.baseline, "–"),
        row(
          r,
          `+${r.stalled} stalled, ${cfg.stalledSeconds} s`,
          r.withStalled,
          r.stalledOpenAtEnd < 0 ? "n/a" : `${r.stalledOpenAtEnd}/${r.stalled}`,
        ),
      ])
      .join("\n")
  );
}

function ratioOf(rs: { server: string; window: Window }[], a: string, b: string): number | undefined {
  const x = rs.find((r) => r.server === a)?.window.deliveriesPerCpuSecond;
  const y = rs.find((r) => r.server === b)?.window.deliveriesPerCpuSecond;
  return x === undefined || y === undefined ? undefined : round(x / y, 2);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : round(((s[m - 1] as number) + (s[m] as number)) / 2, 2);
}

// ---- main ------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const nice = Number(flags.nice);
  prepareOrchestrator(LOAD_CORE, nice);
  const started = new Date();
  const servers = String(flags.servers)
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const s of servers)
    if (serverFor(s) === undefined) {
      throw new Error(`unknown server ${s}; known: ${Object.keys(SERVERS)}, sse-broker@DIR`);
    }
  const scenario = String(flags.scenario);
  const want = (s: string) => scenario === s || scenario === "all";
  if (!["plain", "stalled", "mercure", "redis", "all"].includes(scenario))
    throw new Error(`unknown scenario ${scenario}`);
  const out: Record<string, unknown> = {
    date: started.toISOString(),
    tree: treeVersion(),
    command: `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim(),
    machine: machineInfo(),
    config: { ...cfg, nice },
  };
  let md = `## Run ${started.toISOString()}\n\n`;
  md += `Tree: ${out.tree}\nMachine: ${JSON.stringify(out.machine)}\nConfig: ${JSON.stringify(cfg)}\n\n`;

  if (want("plain")) {
    const all: PlainResult[] = [];
    for (const rate of cfg.rates) {
      const rs: PlainResult[] = [];
      for (let run = 1; run <= cfg.repeat; run++) {
        // Alternate the order so neither server always runs first (drift, thermal, neighbours).
        const order = run % 2 === 1 ? servers : [...servers].reverse();
        for (const s of order) {
          console.error(`[plain] ${s} rate ${rate} run ${run} …`);
          rs.push(await plain(s, rate, run));
        }
      }
      all.push(...rs);
      md += `### plain: ${cfg.subscribers} subscribers × ${rate} events/s${cfg.burst > 1 ? ` (bursts of ${cfg.burst})` : ""}, ${cfg.payload} B payload, ${cfg.window} s window\n\n`;
      md += `${plainTable(rs)}\n\n`;
      const ratios: number[] = [];
      for (let run = 1; run <= cfg.repeat; run++) {
        const r = ratioOf(
          rs.filter((x) => x.run === run),
          "sse-broker",
          "better-sse",
        );
        if (r !== undefined) ratios.push(r);
      }
      if (ratios.length > 0) {
        md += `sse-broker / better-sse, deliveries per CPU-second: **${ratios.map((r) => `${r}×`).join(", ")}**${ratios.length > 1 ? ` (median ${median(ratios)}×)` : ""}\n\n`;
      }
    }
    out.plain = all;
  }
  if (want("stalled")) {
    const rs: StalledResult[] = [];
    for (const s of servers) {
      console.error(`[stalled] ${s} …`);
      rs.push(await stalled(s));
    }
    out.stalled = rs;
    md += `### stalled: ${cfg.subscribers} live + ${cfg.stalled} stalled subscribers × ${cfg.rate} events/s, ${cfg.stalledPayload} B payload\n\n`;
    md += `${stalledTable(rs)}\n\n`;
  }
  if (want("mercure")) {
    // Ours twice in one run: plain topic vs Mercure hub (URI template, JWT, private updates).
    const rs: PlainResult[] = [];
    for (const s of ["sse-broker", "sse-broker-mercure"]) {
      console.error(`[mercure] ${s} …`);
      rs.push(await plain(s, cfg.rate, 1));
    }
    out.mercure = rs;
    md += `### mercure: ${cfg.subscribers} subscribers on \`https://example.com/bench/{id}\` with JWT, private updates to \`…/bench/1\`, ${cfg.rate} events/s, ${cfg.payload} B payload\n\n`;
    md += `${plainTable(rs)}\n\nMercure / plain, deliveries per CPU-second: **${ratioOf(rs, "sse-broker-mercure", "sse-broker")}×**\n\n`;
  }
  if (want("redis") && scenario === "all" && !onPath("redis-server")) {
    console.error("[redis] skipped: redis-server not found (apt-get install -y redis-server)");
    md += "### redis: skipped (redis-server not found)\n\n";
  } else if (want("redis")) {
    const r = await redisScenario();
    out.redis = r;
    md += `### redis: 2 nodes on a Redis Streams backplane vs 1 node in memory, ${cfg.subscribers} subscribers, ${cfg.rate} events/s, ${cfg.payload} B payload\n\n`;
    md += `${redisTable(r)}\n\n`;
  }
  const json = String(flags.json);
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(md);
  console.error(`JSON: ${json}`);
}

// A run is bounded in time whatever happens; children never outlive it.
const hardStop = setTimeout(() => {
  console.error("benchmark exceeded its time bound; stopping");
  killAll();
  process.exit(2);
}, 30 * 60_000);
hardStop.unref();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}
process.on("exit", killAll);

main().then(
  () => {
    killAll();
    process.exit(0);
  },
  (err: unknown) => {
    console.error(err);
    killAll();
    process.exit(1);
  },
);
