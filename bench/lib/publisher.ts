/**
 * The HTTP publisher of the comparison (`node publisher.ts <url> <body>`), a child process on the load
 * core: each event is one POST on a keep-alive connection, sent as a real publisher sends them, the next
 * when the previous is answered (`depth` 1, the default; a larger depth keeps that many in flight on as
 * many connections). Paced on a deadline schedule at the asked rate; more than 100 ms behind, the schedule
 * restarts from now and the skipped events count as missed, so a server that answers slowly shows a lower
 * achieved rate instead of an ever-growing backlog.
 *
 * Body kinds: `sse-broker` = `{"topic":"bench","data":"<event JSON>"}` (its `POST /publish`); `raw` = the
 * event JSON itself (nchan's publisher location, and the better-sse and floor servers' routes).
 *
 * The event is `{"t":<ms since the epoch>,"seq":<n>,"msg":"xxx…"}` padded to `payloadBytes`; `t` is
 * CLOCK_REALTIME in ms with µs digits, the clock the C load generator reads.
 * @module
 */
import http from "node:http";
import { performance } from "node:perf_hooks";
import { padFor } from "../servers/control.js";
import { realtimeClock } from "./clock.js";
import { Histogram } from "./histogram.js";

export type BodyKind = "sse-broker" | "raw";

export type PublisherCommand =
  | { cmd: "publish"; rate: number; payloadBytes: number; depth?: number }
  | { cmd: "pause" }
  | { cmd: "mark" }
  | { cmd: "exit" };

/** What `mark` answers: the period since the previous mark. */
export interface PublisherMark {
  type: "mark";
  seconds: number;
  sent: number;
  /** Answered 2xx. */
  answered: number;
  failed: number;
  missed: number;
  /** Send → answer complete, ms (answered ones). */
  p50ms: number;
  p99ms: number;
  maxMs: number;
  /** Status of the last failure, 0 for a network error. */
  lastFailure?: number;
}

function main(): void {
  const [url, body] = process.argv.slice(2);
  if (url === undefined || (body !== "sse-broker" && body !== "raw"))
    throw new Error("usage: publisher.ts <url> sse-broker|raw");
  const target = new URL(url);
  const now = realtimeClock();
  const send = (m: unknown): void => {
    process.send?.(m);
  };

  let agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let interval = 10;
  let depth = 1;
  let pad = "";
  let next = 0;
  let inflight = 0;
  let seq = 0;
  const hist = new Histogram();
  let period = { at: performance.now(), sent: 0, answered: 0, failed: 0, missed: 0, lastFailure: -1 };

  const pump = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (!running) return;
    const t = performance.now();
    if (t - next > 100) {
      period.missed += Math.floor((t - next) / interval);
      next = t;
    }
    while (inflight < depth && next <= t) {
      publishOne();
      next += interval;
    }
    if (inflight < depth) timer = setTimeout(pump, Math.max(0, next - performance.now()));
  };

  const done = (ok: boolean, t0: number, status: number): void => {
    inflight--;
    if (ok) {
      period.answered++;
      hist.record(performance.now() - t0);
    } else {
      period.failed++;
      period.lastFailure = status;
    }
    pump();
  };

  const publishOne = (): void => {
    const event = `{"t":${now().toFixed(3)},"seq":${++seq},"msg":"${pad}"}`;
    const payload = body === "sse-broker" ? JSON.stringify({ topic: "bench", data: event }) : event;
    inflight++;
    period.sent++;
    const t0 = performance.now();
    const req = http.request(target, {
      method: "POST",
      agent,
      headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) },
    });
    req.on("response", (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      res.on("end", () => done(status >= 200 && status < 300, t0, status));
      res.on("error", () => done(false, t0, 0));
    });
    req.on("error", () => done(false, t0, 0));
    req.end(payload);
  };

  process.on("message", (m: PublisherCommand) => {
    switch (m.cmd) {
      case "publish": {
        interval = 1000 / m.rate;
        pad = padFor(m.payloadBytes);
        const d = Math.max(1, m.depth ?? 1);
        if (d !== depth) {
          agent.destroy();
          agent = new http.Agent({ keepAlive: true, maxSockets: d });
          depth = d;
        }
        running = true;
        next = performance.now();
        pump();
        send({ type: "publishing" });
        break;
      }
      case "pause":
        running = false;
        pump();
        send({ type: "paused" });
        break;
      case "mark": {
        const t = performance.now();
        const r: PublisherMark = {
          type: "mark",
          seconds: (t - period.at) / 1000,
          sent: period.sent,
          answered: period.answered,
          failed: period.failed,
          missed: period.missed,
          p50ms: hist.quantile(0.5),
          p99ms: hist.quantile(0.99),
          maxMs: hist.max,
          ...(period.lastFailure >= 0 ? { lastFailure: period.lastFailure } : {}),
        };
        hist.reset();
        period = { at: t, sent: 0, answered: 0, failed: 0, missed: 0, lastFailure: -1 };
        send(r);
        break;
      }
      case "exit":
        process.exit(0);
    }
  });
  process.on("disconnect", () => process.exit(0));
  send({ type: "ready" });
}

main();
