/**
 * What every benchmarked server process shares: the IPC protocol with the orchestrator, the publishing
 * timer and the payload. Only `publish` and `stats` differ between servers, so the comparison is of the
 * fan-out, not of the harness.
 * @module
 */
import type { Server } from "node:http";
import { performance } from "node:perf_hooks";

export type ServerCommand =
  | { cmd: "publish"; rate: number; payloadBytes: number; burst?: number }
  | { cmd: "pause" }
  | { cmd: "gc" }
  | { cmd: "stats" }
  | { cmd: "exit" };

export interface BenchEvent {
  /** Publish time: `performance.timeOrigin + performance.now()` (ms, fractional). */
  t: number;
  seq: number;
  msg: string;
}

export interface ServerHooks {
  /** Broadcast one event to every subscriber of topic "bench". */
  publish(ev: BenchEvent): void;
  /** Server-side view, for the report only (never used to count deliveries). */
  stats(): { sessions: number; dropped?: number };
}

/** The same JSON for every server: `{"t":…,"seq":…,"msg":"xxx…"}`, padded to about `bytes`. */
export function padFor(bytes: number): string {
  const base = JSON.stringify({ t: 1764123456789.123, seq: 1000000, msg: "" }).length;
  return "x".repeat(Math.max(0, bytes - base));
}

/**
 * Publishes at `rate` events/s on a deadline schedule, `burst` events per timer tick (late ticks catch
 * up, so the rate is exact while the process keeps up). More than 100 ms behind, the schedule restarts from
 * now and the skipped events are counted as missed: an overloaded server shows a lower achieved rate, not
 * an ever-growing burst.
 */
function startPacer(rate: number, burst: number, fire: () => void, onMiss: (n: number) => void): () => void {
  const interval = (1000 * burst) / rate;
  let next = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    const now = performance.now();
    if (now - next > 100) {
      onMiss(Math.floor((now - next) / interval) * burst);
      next = now;
    }
    while (next <= now) {
      for (let i = 0; i < burst; i++) fire();
      next += interval;
    }
    timer = setTimeout(tick, Math.max(0, next - performance.now()));
  };
  tick();
  return () => clearTimeout(timer);
}

/** What subscribers request, when not `GET /events?topic=bench` with no extra headers. */
export interface SubscribeRequest {
  path?: string;
  headers?: Record<string, string>;
}

export function runBenchServer(
  server: Server,
  hooks: ServerHooks,
  subscribe: SubscribeRequest | Promise<SubscribeRequest> = {},
): void {
  runControl(hooks);
  const send = (m: unknown): void => {
    process.send?.(m);
  };
  Promise.resolve(subscribe).then(
    (sub) =>
      server.listen(0, "127.0.0.1", () => {
        const addr = server.address();
        send({ type: "ready", port: typeof addr === "object" && addr !== null ? addr.port : 0, ...sub });
      }),
    (err: unknown) => {
      console.error("bench server failed to start", err);
      process.exit(1);
    },
  );
}

/** The IPC commands (publish/pause/gc/stats/exit) on top of `hooks`; for servers and external publishers. */
export function runControl(hooks: ServerHooks): void {
  let stop: (() => void) | undefined;
  let seq = 0;
  let published = 0;
  let missed = 0;
  const send = (m: unknown): void => {
    process.send?.(m);
  };
  process.on("message", (m: ServerCommand) => {
    switch (m.cmd) {
      case "publish": {
        stop?.();
        const msg = padFor(m.payloadBytes);
        stop = startPacer(
          m.rate,
          Math.max(1, m.burst ?? 1),
          () => {
            published++;
            hooks.publish({ t: performance.timeOrigin + performance.now(), seq: ++seq, msg });
          },
          (n) => {
            missed += n;
          },
        );
        send({ type: "publishing" });
        break;
      }
      case "pause":
        stop?.();
        stop = undefined;
        send({ type: "paused" });
        break;
      case "gc":
        (globalThis as { gc?: () => void }).gc?.();
        send({ type: "gc-done" });
        break;
      case "stats":
        send({ type: "stats", published, missed, ...hooks.stats() });
        break;
      case "exit":
        process.exit(0);
    }
  });
  process.on("disconnect", () => process.exit(0));
}
