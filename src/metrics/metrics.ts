/**
 * Prometheus metrics. Values are read from the broker's plain counters at scrape time, so the hot path
 * pays an integer increment, not a metrics-library call, per delivery.
 * @module
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { Broker } from "../core/broker.js";
import { hookMetrics } from "./hooks.js";
import { REFUSAL_REASONS, refusalsOf } from "./refusals.js";

/** Registry with the broker's metrics (prefix `sse_broker_`) and Node process metrics. */
export function createMetrics(broker: Broker, opts: { processMetrics?: boolean } = {}): Registry {
  const register = new Registry();
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register });
  const counter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers: [register],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [register],
      collect() {
        this.set(read());
      },
    });
  };
  const s = broker.stats;
  gauge("sse_broker_open_connections", "Open event streams.", () => broker.size);
  counter("sse_broker_connections_total", "Event streams opened.", () => s.connectionsOpened);
  counter(
    "sse_broker_events_published_total",
    "Events delivered by the transport to this node.",
    () => s.eventsPublished,
  );
  counter("sse_broker_events_delivered_total", "Event writes to subscribers.", () => s.eventsDelivered);
  counter("sse_broker_bytes_delivered_total", "Event bytes written to subscribers.", () => s.bytesDelivered);
  counter(
    "sse_broker_clients_dropped_slow_total",
    "Subscribers disconnected because their pending output passed the cap.",
    () => s.droppedSlow,
  );
  gauge("sse_broker_history_events", "Events retained for resume.", () => broker.history.size);
  gauge(
    "sse_broker_history_bytes",
    "Encoded bytes retained for resume, per topic log.",
    () => broker.history.bytes,
  );
  gauge("sse_broker_history_topics", "Topics with retained events.", () => broker.history.topicCount);
  // Labelled by selector kind only: topics are chosen by clients (unbounded, and private names).
  new Gauge({
    name: "sse_broker_subscriptions",
    help: "Subscriptions (subscriber × selector), by selector kind.",
    labelNames: ["kind"],
    registers: [register],
    collect() {
      const c = broker.subscriptionCounts();
      this.set({ kind: "exact" }, c.exact);
      this.set({ kind: "template" }, c.template);
      this.set({ kind: "wildcard" }, c.wildcard);
    },
  });
  const refused = refusalsOf(broker);
  new Counter({
    name: "sse_broker_refused_total",
    help: "Requests refused by a limit, by reason.",
    labelNames: ["reason"],
    registers: [register],
    collect() {
      this.reset();
      for (const reason of REFUSAL_REASONS) this.inc({ reason }, refused[reason]);
    },
  });
  gauge(
    "sse_broker_template_selectors",
    "Distinct URI template selectors matched on each publish.",
    () => broker.subscriptionCounts().distinctTemplates,
  );
  hookMetrics(broker, counter, gauge);
  return register;
}
