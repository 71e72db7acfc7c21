/**
 * The scenarios of the comparison, one server at a time: a fresh server process per scenario (core 0), the
 * load generator and the HTTP publisher on the load core, a measured window read from /proc around it.
 * @module
 */
import type {
  FanoutWindow,
  IdleResult,
  IdleStep,
  Latency,
  LoadCost,
  StalledResult,
  StormResult,
} from "./compare-results.js";
import type { Histogram } from "./histogram.js";
import { type Connected, LoadFleet, type LoadKind, type LoadWindow, SourcePool } from "./load.js";
import {
  coreBusySeconds,
  coreSoftirqSeconds,
  cpuSeconds,
  runQueueWaitSeconds,
  treeCpuSeconds,
  treeRssBytes,
} from "./proc.js";
import { type Publisher, type PublisherKind, startPublisher } from "./publishers.js";
import type { ServerSpec, Target } from "./targets.js";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const round = (v: number, d = 0) => (Number.isFinite(v) ? Math.round(v * 10 ** d) / 10 ** d : v);
const MiB = 1024 * 1024;

export interface RunContext {
  serverCore: number;
  loadCore: number;
  loadKind: LoadKind;
  publisherKind: PublisherKind;
  /** Load-client processes; by default one per 15 000 connections. */
  loadInstances?: number;
  warmupSeconds: number;
  windowSeconds: number;
  log(msg: string): void;
}

interface Session {
  t: Target;
  fleet: LoadFleet;
  pub: Publisher | undefined;
  pool: SourcePool;
}

/** A fresh server, its load and (optionally) its publisher; everything stopped by PID afterwards. */
async function session<T>(
  ctx: RunContext,
  spec: ServerSpec,
  maxConnections: number,
  withPublisher: boolean,
  fn: (s: Session) => Promise<T>,
): Promise<T> {
  const t = await spec.start(ctx.serverCore);
  let fleet: LoadFleet | undefined;
  let pub: Publisher | undefined;
  try {
    const n = ctx.loadInstances ?? Math.max(1, Math.ceil(maxConnections / 15_000));
    fleet = await LoadFleet.start(ctx.loadKind, n, ctx.loadCore);
    if (withPublisher) {
      pub = await startPublisher(ctx.publisherKind, ctx.loadCore, t.publishUrl, t.body);
    }
    return await fn({ t, fleet, pub, pool: new SourcePool() });
  } finally {
    await Promise.all([fleet?.exit(), pub?.stop()]);
    await t.stop();
  }
}

function connectError(what: string, want: number, c: Connected): Error {
  const kinds = Object.entries(c.errorKinds)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  return new Error(
    `only ${c.live + c.stalled}/${want} ${what} connected (${kinds || "no error reported"}${c.lastStatus > 0 ? `, last status ${c.lastStatus}` : ""})`,
  );
}

export function latencyOf(h: Histogram): Latency {
  return {
    p50: round(h.quantile(0.5), 2),
    p90: round(h.quantile(0.9), 2),
    p99: round(h.quantile(0.99), 2),
    p999: round(h.quantile(0.999), 2),
    max: round(h.max, 2),
    count: h.total,
  };
}

/** CPU and core use of the load side between two readings. */
class LoadMeter {
  readonly #c0: number;
  readonly #p0: number;
  readonly #lc0: number;
  readonly #ls0: number;
  readonly #q0: number;
  readonly #w0 = performance.now();

  constructor(
    private readonly ctx: RunContext,
    private readonly fleet: LoadFleet,
    private readonly pub: Publisher | undefined,
  ) {
    this.#c0 = fleet.cpuSeconds();
    this.#p0 = pub === undefined ? 0 : cpuSeconds(pub.proc.pid);
    this.#lc0 = coreBusySeconds(ctx.loadCore);
    this.#ls0 = coreSoftirqSeconds(ctx.loadCore);
    this.#q0 = this.#waited();
  }

  #waited(): number {
    return this.fleet.procs.reduce((a, p) => a + runQueueWaitSeconds(p.pid), 0);
  }

  read(w?: LoadWindow): LoadCost {
    const wall = (performance.now() - this.#w0) / 1000;
    const client = (this.fleet.cpuSeconds() - this.#c0) / wall;
    const publisher = this.pub === undefined ? 0 : (cpuSeconds(this.pub.proc.pid) - this.#p0) / wall;
    const core = (coreBusySeconds(this.ctx.loadCore) - this.#lc0) / wall;
    const perProc = client / this.fleet.procs.length;
    const softirq = (coreSoftirqSeconds(this.ctx.loadCore) - this.#ls0) / wall;
    const waited = (this.#waited() - this.#q0) / wall;
    return {
      clientCpuPct: round(client * 100),
      publisherCpuPct: round(publisher * 100),
      loadCoreBusyPct: round(core * 100),
      otherOnLoadCorePct: round(Math.max(0, core - client - publisher) * 100),
      loadCoreSoftirqPct: round(softirq * 100),
      clientRunQueueWaitPct: round(waited * 100, 1),
      framesPerRead: w?.reads === undefined || w.reads === 0 ? null : round(w.frames / w.reads, 1),
      clientTurnP99ms: w?.turnP99ms ?? null,
      clientTurnMaxMs: w?.turnMaxMs === undefined ? null : round(w.turnMaxMs, 2),
      saturated: core >= 0.9 || perProc >= 0.9,
    };
  }
}

// With their descendants: `--workers` runs the broker in a primary's children.
const serverCpu = (t: Target) => t.procs.reduce((a, p) => a + treeCpuSeconds(p.pid), 0);
const serverRss = (t: Target) => t.procs.reduce((a, p) => a + treeRssBytes(p.pid), 0);

/** One measured window of a session that is publishing. */
async function measureWindow(
  ctx: RunContext,
  s: Session,
  seconds: number,
  subscribers: number,
  rateAsked: number,
  payloadBytes: number,
): Promise<FanoutWindow> {
  const { t, fleet, pub } = s;
  if (pub === undefined) throw new Error("no publisher");
  await pub.mark();
  await fleet.start();
  const meter = new LoadMeter(ctx, fleet, pub);
  const c0 = serverCpu(t);
  const sc0 = coreBusySeconds(ctx.serverCore);
  const si0 = coreSoftirqSeconds(ctx.serverCore);
  const w0 = performance.now();
  const rssStart = serverRss(t);
  let rssMax = rssStart;
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, serverRss(t));
  }, 250);
  await sleep(seconds * 1000);
  clearInterval(sampler);
  const c1 = serverCpu(t);
  const sc1 = coreBusySeconds(ctx.serverCore);
  const si1 = coreSoftirqSeconds(ctx.serverCore);
  const wall = (performance.now() - w0) / 1000;
  const w = await fleet.stop();
  const m = await pub.mark();
  const load = meter.read(w);
  const rssEnd = serverRss(t);
  const cpu = c1 - c0;
  return {
    seconds: round(wall, 2),
    subscribers,
    rateAsked,
    payloadBytes,
    eventsPerSecond: round(m.answered / m.seconds, 1),
    publishFailed: m.failed,
    publishMissed: m.missed,
    publishP50ms: Number.isFinite(m.p50ms) ? round(m.p50ms, 2) : null,
    publishP99ms: Number.isFinite(m.p99ms) ? round(m.p99ms, 2) : null,
    deliveries: w.frames,
    deliveriesPerSecond: round(w.frames / wall),
    completeness: round(w.frames / Math.max(1, m.answered * subscribers), 4),
    lost: w.lost ?? null,
    serverCpuSeconds: round(cpu, 2),
    serverCpuPct: round((cpu / wall) * 100),
    deliveriesPerCpuSecond: cpu > 0 ? round(w.frames / cpu) : 0,
    serverCoreBusyPct: round(((sc1 - sc0) / wall) * 100),
    serverCoreSoftirqPct: round(((si1 - si0) / wall) * 100),
    latency: latencyOf(w.hist),
    rssStartMiB: round(rssStart / MiB, 1),
    rssMaxMiB: round(Math.max(rssMax, rssEnd) / MiB, 1),
    rssEndMiB: round(rssEnd / MiB, 1),
    clientErrors: w.errors,
    liveAtEnd: w.live ?? w.open,
    load,
  };
}

export interface FanoutOptions {
  subscribers: number;
  rate: number;
  payloadBytes: number;
  /** Publishes in flight at once (1 = the next when the previous is answered). */
  depth: number;
  /** The measured window when not the context's (a low rate needs longer for enough events). */
  windowSeconds?: number;
}

/** Connects `n` reading subscribers (all or it throws), starts publishing, and lets the warm-up pass. */
async function subscribeAndPublish(
  ctx: RunContext,
  s: Session,
  n: number,
  o: { rate: number; payloadBytes: number; depth: number },
): Promise<void> {
  const c = await s.fleet.connect({ port: s.t.port, path: s.t.path, count: n, sources: s.pool.take(n) });
  if (c.live < n) throw connectError("subscribers", n, c);
  await s.pub?.publish(o.rate, o.payloadBytes, o.depth);
  await sleep(ctx.warmupSeconds * 1000);
}

/** N subscribers, events published over HTTP at a rate: deliveries, CPU, latency. */
export function fanout(ctx: RunContext, spec: ServerSpec, o: FanoutOptions): Promise<FanoutWindow> {
  return session(ctx, spec, o.subscribers, true, async (s) => {
    await subscribeAndPublish(ctx, s, o.subscribers, o);
    const w = await measureWindow(
      ctx,
      s,
      o.windowSeconds ?? ctx.windowSeconds,
      o.subscribers,
      o.rate,
      o.payloadBytes,
    );
    await s.pub?.pause();
    return w;
  });
}

/**
 * A reconnect storm: N connections opened, then all closed and reopened at once. Server CPU per connection
 * for the first opening, and for the storm (close + open), each read after the server went idle again.
 */
export function storm(ctx: RunContext, spec: ServerSpec, n: number): Promise<StormResult> {
  return session(ctx, spec, 2 * n, false, async (s) => {
    await sleep(1000);
    const meter = new LoadMeter(ctx, s.fleet, undefined);
    const c0 = serverCpu(s.t);
    const first = await s.fleet.connect({
      port: s.t.port,
      path: s.t.path,
      count: n,
      sources: s.pool.take(n),
      concurrency: 500,
    });
    if (first.live < n) throw connectError("connections", n, first);
    await sleep(1000);
    const c1 = serverCpu(s.t);
    await sleep(1000);
    const c2 = serverCpu(s.t);
    const w0 = performance.now();
    await s.fleet.close(n);
    // New addresses: as real clients after a restart, each within the per-address limits.
    const again = await s.fleet.connect({
      port: s.t.port,
      path: s.t.path,
      count: n,
      sources: s.pool.take(n),
      concurrency: 500,
    });
    const stormSeconds = (performance.now() - w0) / 1000;
    await sleep(1000);
    const c3 = serverCpu(s.t);
    return {
      connections: n,
      openCpuMicrosPerConn: round(((c1 - c0) / n) * 1e6),
      stormCpuMicrosPerConn: round(((c3 - c2) / n) * 1e6),
      stormSeconds: round(stormSeconds, 2),
      failed: first.failed + again.failed,
      load: meter.read(),
    };
  });
}

/** Connections held idle, in steps: RSS per connection (after a GC), then heartbeats reaching them. */
export function idle(ctx: RunContext, spec: ServerSpec, held: number[]): Promise<IdleResult> {
  const steps = [...held].sort((a, b) => a - b);
  return session(ctx, spec, steps.at(-1) ?? 0, false, async (s) => {
    const meter = new LoadMeter(ctx, s.fleet, undefined);
    await sleep(1000);
    await s.t.gc();
    await sleep(300);
    const rss0 = serverRss(s.t);
    const out: IdleStep[] = [];
    let have = 0;
    for (const want of steps) {
      const add = want - have;
      const c = await s.fleet.connect({
        port: s.t.port,
        path: s.t.path,
        count: add,
        sources: s.pool.take(add),
        concurrency: 500,
        timeoutMs: 180_000,
      });
      have = c.live;
      await sleep(2000);
      await s.t.gc();
      await sleep(500);
      const rss = serverRss(s.t);
      out.push({
        held: c.live,
        rssMiB: round(rss / MiB, 1),
        kibPerConn: c.live > 0 ? round((rss - rss0) / c.live / 1024, 2) : 0,
        failed: c.failed,
      });
      ctx.log(
        `  ${spec.name}: ${c.live} held, ${round(rss / MiB, 1)} MiB${c.failed > 0 ? `, ${c.failed} failed` : ""}`,
      );
      if (c.live < want) break;
    }
    let heartbeat: IdleResult["heartbeat"] = null;
    if (s.t.heartbeatMs !== null) {
      const wait = s.t.heartbeatMs + 3000;
      await s.fleet.start();
      await sleep(wait);
      const w = await s.fleet.stop();
      heartbeat = {
        intervalMs: s.t.heartbeatMs,
        waitedSeconds: wait / 1000,
        reached: w.heartbeatConns ?? -1,
        of: w.live ?? w.open,
      };
    }
    return { rssBeforeMiB: round(rss0 / MiB, 1), steps: out, heartbeat, load: meter.read() };
  });
}

export interface StalledOptions {
  fast: number;
  stalled: number;
  rate: number;
  payloadBytes: number;
  stalledSeconds: number;
  /**
   * SO_RCVBUF and MSS of the stalled sockets: small, so that the kernel holds little (on loopback it sizes
   * the server's send buffer from the 64 KiB MSS, megabytes) and the server's own buffer fills within the run.
   */
  rcvbuf: number;
  mss: number;
  depth: number;
}

/** Fast subscribers measured alone, then with stalled ones (never read) connected for a while. */
export function stalled(ctx: RunContext, spec: ServerSpec, o: StalledOptions): Promise<StalledResult> {
  return session(ctx, spec, o.fast + o.stalled, true, async (s) => {
    await subscribeAndPublish(ctx, s, o.fast, o);
    // As long as the window with the stalled ones: a p99 over a longer window catches more rare pauses.
    const baseline = await measureWindow(ctx, s, o.stalledSeconds, o.fast, o.rate, o.payloadBytes);
    const st = await s.fleet.connect({
      port: s.t.port,
      path: s.t.path,
      count: o.stalled,
      stalled: true,
      sources: s.pool.take(o.stalled),
      rcvbuf: o.rcvbuf,
      mss: o.mss,
    });
    if (st.stalled < o.stalled) throw connectError("stalled subscribers", o.stalled, st);
    const withStalled = await measureWindow(ctx, s, o.stalledSeconds, o.fast, o.rate, o.payloadBytes);
    await s.pub?.pause();
    const stats = await s.t.stats();
    return {
      fast: o.fast,
      stalled: o.stalled,
      payloadBytes: o.payloadBytes,
      rate: o.rate,
      baseline,
      withStalled,
      droppedSlow: stats.droppedSlow,
      stalledOpenAtEnd: stats.sessions === null ? null : Math.max(0, stats.sessions - o.fast),
      fastLost: withStalled.lost,
      fastOpenAtEnd: withStalled.liveAtEnd,
    };
  });
}
