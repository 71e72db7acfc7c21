/**
 * The seed demo's producer: every interval, `{"timestamp": <unix s>, "message": "the time is <RFC1123>"}`
 * published to the demo topic, exactly like the original Go example.
 * @module
 */
import type { Broker } from "../core/broker.js";
import type { Logger } from "../options.js";

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] as const;

const pad = (n: number): string => String(n).padStart(2, "0");

/**
 * Go's `time.RFC1123` for a UTC time: `Thu, 26 Nov 2026 10:00:00 UTC`. `Date#toUTCString` says `GMT`
 * where Go prints the zone abbreviation, hence hand-written.
 */
export function rfc1123Utc(d: Date): string {
  return (
    `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`
  );
}

/** The event's data; key order (timestamp, message) as the original's struct. */
export function demoEventData(now: Date): string {
  return JSON.stringify({
    timestamp: Math.floor(now.getTime() / 1000),
    message: `the time is ${rfc1123Utc(now)}`,
  });
}

export interface DemoProducer {
  stop(): void;
}

export interface DemoOptions {
  intervalMs: number;
  /** Defaults to the broker's `demoTopic`. */
  topic?: string;
  logger?: Logger | null;
}

/** Starts publishing; the first event comes one interval after start, like the Go ticker loop. */
export function startDemo(broker: Broker, options: DemoOptions): DemoProducer {
  const topic = options.topic ?? broker.options.demoTopic;
  const log = options.logger ?? null;
  const timer = setInterval(() => {
    if (broker.closed) return;
    // The original's line, once per demo event (the broker itself logs no line per event).
    log?.info({ topic, clients: broker.size }, "Receiving event");
    broker.publish({ topic, data: demoEventData(new Date()) }).catch((err: unknown) => {
      // A backplane outage or shutdown race: the next tick tries again, nothing to crash for.
      log?.warn({ err, topic }, "demo producer could not publish");
    });
  }, options.intervalMs);
  // Never the reason the process stays alive: shutdown is driven by the server, not by this timer.
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
