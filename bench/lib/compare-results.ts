/**
 * The shape of a comparison run's results (`bench/compare.ts` writes it as JSON; the report and the plots
 * read it). Latencies in ms, CPU in seconds or % of one core, memory in KiB/MiB as named.
 * @module
 */

export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** Frames measured. */
  count: number;
}

/** The load side of one window: what the load generator and the publisher cost on the load core. */
export interface LoadCost {
  /** The load-client processes together, % of one core. */
  clientCpuPct: number;
  publisherCpuPct: number;
  /** The whole load core busy (clients, publisher, orchestrator, kernel, anything else), %. */
  loadCoreBusyPct: number;
  /** Of that, not the load clients or the publisher: the orchestrator, the kernel, other work on the box. */
  otherOnLoadCorePct: number;
  /** softirq on the load core (loopback packets the load side sends: ACKs, publishes), %. */
  loadCoreSoftirqPct: number;
  /** Time the load clients were runnable but waiting for the core (/proc/PID/schedstat), % of the window. */
  clientRunQueueWaitPct: number;
  /** Frames per read(2) in the C client (how batched the arrivals were). */
  framesPerRead: number | null;
  /**
   * p99 / max of one turn of the C client's loop, ms: a frame waits at most about two turns for the client,
   * so this bounds what the client adds to the latency measured. Null with the Node client or no window.
   */
  clientTurnP99ms: number | null;
  clientTurnMaxMs: number | null;
  /**
   * The load core ≥ 90 % busy (whoever used it), or a client process ≥ 90 % of a core: the window's figures
   * may then be limited by the load side, not the server.
   */
  saturated: boolean;
}

export interface FanoutWindow {
  seconds: number;
  subscribers: number;
  rateAsked: number;
  payloadBytes: number;
  /** Publishes answered 2xx in the window, per second. */
  eventsPerSecond: number;
  publishFailed: number;
  publishMissed: number;
  publishP50ms: number | null;
  publishP99ms: number | null;
  deliveries: number;
  deliveriesPerSecond: number;
  /** deliveries / (events answered × subscribers). */
  completeness: number;
  /** `seq` gaps seen by subscribers (null with the Node client). */
  lost: number | null;
  serverCpuSeconds: number;
  serverCpuPct: number;
  deliveriesPerCpuSecond: number;
  serverCoreBusyPct: number;
  serverCoreSoftirqPct: number;
  latency: Latency;
  rssStartMiB: number;
  rssMaxMiB: number;
  rssEndMiB: number;
  clientErrors: number;
  liveAtEnd: number;
  load: LoadCost;
}

export interface StormResult {
  connections: number;
  /** Server CPU while the connections were first opened, per connection. */
  openCpuMicrosPerConn: number;
  /** Server CPU while all were closed and reopened at once, per connection (close + open). */
  stormCpuMicrosPerConn: number;
  stormSeconds: number;
  failed: number;
  load: LoadCost;
}

export interface IdleStep {
  held: number;
  rssMiB: number;
  /** (RSS held − RSS before any) / held. */
  kibPerConn: number;
  failed: number;
}

export interface IdleResult {
  rssBeforeMiB: number;
  steps: IdleStep[];
  /** Heartbeats over one interval (+ margin) with the most connections held; null when the server sends none. */
  heartbeat: { intervalMs: number; waitedSeconds: number; reached: number; of: number } | null;
  load: LoadCost;
}

export interface StalledResult {
  fast: number;
  stalled: number;
  payloadBytes: number;
  rate: number;
  baseline: FanoutWindow;
  withStalled: FanoutWindow;
  /** Stalled subscribers the server disconnected for not reading (its cap), null when it cannot tell. */
  droppedSlow: number | null;
  /** Stalled subscribers still open at the end (server's count − fast), null when unknown. */
  stalledOpenAtEnd: number | null;
  /** `seq` gaps of the fast subscribers while the stalled were connected. */
  fastLost: number | null;
  /** Fast subscribers still open at the end (all of them unless a server ended some). */
  fastOpenAtEnd: number;
}

export type ScenarioName =
  | "fanout-100"
  | "fanout-1000"
  | "fanout-5000"
  | "low-rate"
  | "storm"
  | "idle"
  | "stalled"
  | "redis";

export interface ScenarioOutcome<T> {
  server: string;
  result?: T;
  /** Why it has no result (failed, or skipped). */
  error?: string;
}

export interface CompareResults {
  date: string;
  tree: string;
  command: string;
  machine: Record<string, string | number>;
  loadClient: string;
  config: Record<string, unknown>;
  servers: { name: string; describe: string }[];
  skipped: { name: string; reason: string }[];
  fanout: Partial<
    Record<"fanout-100" | "fanout-1000" | "fanout-5000" | "low-rate", ScenarioOutcome<FanoutWindow>[]>
  >;
  storm?: ScenarioOutcome<StormResult>[];
  idle?: ScenarioOutcome<IdleResult>[];
  stalled?: ScenarioOutcome<StalledResult>[];
  /** 1 and 2 processes on the Redis backplane: publish answer latency at a low rate, and throughput. */
  redis?: { latency: ScenarioOutcome<FanoutWindow>[]; throughput: ScenarioOutcome<FanoutWindow>[] };
  /** Quick mode's verdict. */
  verdict?: { pass: boolean; lines: string[] };
}
