/**
 * The load side of a run as one object: several load-client processes (the C generator by default, the
 * Node client as a fallback) on the load core, a connect split across them and across loopback source
 * addresses, and their window results merged into one histogram and one set of counters.
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startCLoad } from "./c-load.js";
import { Histogram } from "./histogram.js";
import { cpuSeconds } from "./proc.js";
import { type Proc, spawnNode, stop } from "./procs.js";

export type LoadKind = "c" | "node";

export interface ConnectOptions {
  port: number;
  path: string;
  headers?: Record<string, string>;
  count: number;
  /** Connections that send their request and never read. */
  stalled?: boolean;
  /** Loopback source addresses, used round robin (split between the processes). */
  sources?: string[];
  /** SO_RCVBUF of each socket in bytes (C client only; 0 = the kernel's default with autotuning). */
  rcvbuf?: number;
  /** TCP_MAXSEG announced in the SYN (C client only; 0 = default). */
  mss?: number;
  /** Connections being opened at once. */
  concurrency?: number;
  timeoutMs?: number;
}

export interface Connected {
  /** Streams (live + stalled) open in all processes after this connect. */
  open: number;
  live: number;
  stalled: number;
  /** Of this connect: headed (or, stalled, request sent) and failed. */
  ok: number;
  failed: number;
  /** Failures since the processes started, and by kind (C client). */
  errors: number;
  errorKinds: Record<string, number>;
  lastStatus: number;
  ms: number;
}

/** A measured window, summed over the processes. Fields the Node client cannot give are undefined. */
export interface LoadWindow {
  frames: number;
  bytes: number;
  hist: Histogram;
  reads?: number;
  otherFrames?: number;
  comments?: number;
  /** Live streams that got at least one comment line (heartbeat) in the window. */
  heartbeatConns?: number;
  minFramesPerConn?: number;
  maxFramesPerConn?: number;
  /** Gaps in `seq` within each connection: events a subscriber never got. */
  lost?: number;
  reordered?: number;
  /** Latencies below 0 (clock disagreement between publisher and client); recorded as 0. */
  negative?: number;
  open: number;
  live?: number;
  closed: number;
  errors: number;
  /** Frames received by each process. */
  framesByProc: number[];
  /** p99 and max duration of one turn of the client's loop, ms (C client): bounds the latency it adds. */
  turnP99ms?: number;
  turnMaxMs?: number;
}

interface RawResult {
  frames: number;
  bytes: number;
  hist: [number, number][];
  max: number;
  open: number;
  closed: number;
  errors: number;
  live?: number;
  reads?: number;
  otherFrames?: number;
  comments?: number;
  heartbeatConns?: number;
  minFramesPerConn?: number;
  maxFramesPerConn?: number;
  lost?: number;
  reordered?: number;
  negative?: number;
  turnP99?: number;
  turnMax?: number;
}

interface RawConnected {
  open: number;
  errors: number;
  live?: number;
  stalled?: number;
  ok?: number;
  failed?: number;
  errorKinds?: Record<string, number>;
  lastStatus?: number;
  ms?: number;
}

const here = dirname(fileURLToPath(import.meta.url));

/** `total` split into `n` parts (the rest to the last). */
export function splitCount(total: number, n: number): number[] {
  const per = Math.floor(total / n);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? total - per * (n - 1) : per));
}

/** `xs` split into `n` contiguous slices; when there are fewer items than parts, every part gets all. */
export function splitList<T>(xs: readonly T[], n: number): T[][] {
  if (xs.length < n) return Array.from({ length: n }, () => [...xs]);
  const sizes = splitCount(xs.length, n);
  let at = 0;
  return sizes.map((k) => {
    const part = xs.slice(at, at + k);
    at += k;
    return part;
  });
}

const sum = (xs: (number | undefined)[]): number | undefined =>
  xs.some((x) => x === undefined) ? undefined : xs.reduce<number>((a, x) => a + (x as number), 0);

export class LoadFleet {
  private constructor(
    readonly kind: LoadKind,
    readonly procs: Proc[],
  ) {}

  static async start(kind: LoadKind, n: number, core: number): Promise<LoadFleet> {
    if (kind === "c") return new LoadFleet(kind, await startCLoad(n, core));
    const ps = Array.from({ length: n }, (_, i) =>
      spawnNode(`node-client-${i}`, core, ["--import", "tsx"], join(here, "load-client.ts")),
    );
    await Promise.all(ps.map((p) => p.next("ready", 30_000)));
    return new LoadFleet(kind, ps);
  }

  /** CPU seconds of all the load processes so far. */
  cpuSeconds(): number {
    return this.procs.reduce((a, p) => a + cpuSeconds(p.pid), 0);
  }

  async connect(o: ConnectOptions): Promise<Connected> {
    const counts = splitCount(o.count, this.procs.length);
    const sources = splitList(o.sources ?? [], this.procs.length);
    const timeoutMs = o.timeoutMs ?? 120_000;
    const rs = await Promise.all(
      this.procs.map((p, i) =>
        p.request<RawConnected>(
          {
            cmd: "connect",
            host: "127.0.0.1",
            port: o.port,
            path: o.path,
            headers: o.headers ?? {},
            count: counts[i],
            stalled: o.stalled ?? false,
            sources: sources[i],
            rcvbuf: o.rcvbuf ?? 0,
            mss: o.mss ?? 0,
            concurrency: o.concurrency ?? 200,
            timeoutMs,
          },
          "connected",
          timeoutMs + 10_000,
        ),
      ),
    );
    const kinds: Record<string, number> = {};
    for (const r of rs)
      for (const [k, v] of Object.entries(r.errorKinds ?? {})) kinds[k] = (kinds[k] ?? 0) + v;
    return {
      open: rs.reduce((a, r) => a + r.open, 0),
      live: rs.reduce((a, r) => a + (r.live ?? r.open), 0),
      stalled: rs.reduce((a, r) => a + (r.stalled ?? 0), 0),
      ok: rs.reduce((a, r) => a + (r.ok ?? r.open), 0),
      failed: rs.reduce((a, r) => a + (r.failed ?? r.errors), 0),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      errorKinds: kinds,
      lastStatus: Math.max(0, ...rs.map((r) => r.lastStatus ?? 0)),
      ms: Math.max(0, ...rs.map((r) => r.ms ?? 0)),
    };
  }

  async start(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.request({ cmd: "start" }, "started")));
  }

  async stop(): Promise<LoadWindow> {
    const rs = await Promise.all(this.procs.map((p) => p.request<RawResult>({ cmd: "stop" }, "result")));
    const hist = new Histogram();
    for (const r of rs) hist.addSparse(r.hist, r.max);
    const mins = rs.map((r) => r.minFramesPerConn);
    const maxs = rs.map((r) => r.maxFramesPerConn);
    return {
      frames: rs.reduce((a, r) => a + r.frames, 0),
      bytes: rs.reduce((a, r) => a + r.bytes, 0),
      hist,
      reads: sum(rs.map((r) => r.reads)),
      otherFrames: sum(rs.map((r) => r.otherFrames)),
      comments: sum(rs.map((r) => r.comments)),
      heartbeatConns: sum(rs.map((r) => r.heartbeatConns)),
      minFramesPerConn: mins.some((m) => m === undefined) ? undefined : Math.min(...(mins as number[])),
      maxFramesPerConn: maxs.some((m) => m === undefined) ? undefined : Math.max(...(maxs as number[])),
      lost: sum(rs.map((r) => r.lost)),
      reordered: sum(rs.map((r) => r.reordered)),
      negative: sum(rs.map((r) => r.negative)),
      open: rs.reduce((a, r) => a + r.open, 0),
      live: sum(rs.map((r) => r.live)),
      closed: rs.reduce((a, r) => a + r.closed, 0),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      framesByProc: rs.map((r) => r.frames),
      ...(rs.every((r) => r.turnP99 !== undefined)
        ? {
            turnP99ms: Math.max(...rs.map((r) => r.turnP99 as number)),
            turnMaxMs: Math.max(...rs.map((r) => r.turnMax as number)),
          }
        : {}),
    };
  }

  /** Closes `count` live streams, split between the processes. */
  async close(count: number): Promise<void> {
    const counts = splitCount(count, this.procs.length);
    await Promise.all(this.procs.map((p, i) => p.request({ cmd: "close", count: counts[i] }, "closed")));
  }

  async exit(): Promise<void> {
    await Promise.all(this.procs.map((p) => stop(p)));
  }
}

/**
 * Loopback source addresses 127.1.x.y (y = 1..254), handed out in order so that every address carries at
 * most `perAddress` connections of a run: the broker's default per-address limits (open streams, new
 * streams per second with its burst) then never refuse the load, as with that many real clients.
 */
export class SourcePool {
  #next = 0;

  take(connections: number, perAddress = 50): string[] {
    const n = Math.max(1, Math.ceil(connections / perAddress));
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const k = this.#next++;
      out.push(`127.1.${Math.floor(k / 254) % 256}.${(k % 254) + 1}`);
    }
    return out;
  }
}
