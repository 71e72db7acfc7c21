/**
 * Metrics of the backend hooks (src/hooks/), registered only for the hooks a broker has.
 * @module
 */
import type { Broker } from "../core/broker.js";
import { hooksOf } from "../hooks/index.js";

type Define = (name: string, help: string, read: () => number) => void;

export function hookMetrics(broker: Broker, counter: Define, gauge: Define): void {
  const { subscribe, disconnects } = hooksOf(broker);
  if (subscribe !== null) {
    const s = subscribe.stats;
    counter("sse_broker_subscribe_hook_calls_total", "Subscribe hook requests sent.", () => s.calls);
    counter(
      "sse_broker_subscribe_hook_cache_hits_total",
      "Subscriptions decided by a cached hook answer.",
      () => s.cacheHits,
    );
    counter(
      "sse_broker_subscribe_hook_shared_total",
      "Subscriptions that waited for an identical hook call in flight.",
      () => s.shared,
    );
    counter(
      "sse_broker_subscribe_hook_failures_total",
      "Subscribe hook calls that failed (timeout, non-200, invalid answer).",
      () => s.failures,
    );
    counter(
      "sse_broker_subscribe_hook_busy_total",
      "Subscriptions refused (503) because too many hook calls were waiting.",
      () => s.busy,
    );
  }
  if (disconnects !== null) {
    const d = disconnects.stats;
    counter(
      "sse_broker_disconnect_hook_sent_total",
      "Disconnects acknowledged by the application.",
      () => d.sent,
    );
    counter(
      "sse_broker_disconnect_hook_dropped_total",
      "Disconnects dropped from the full queue (oldest first).",
      () => d.dropped,
    );
    counter(
      "sse_broker_disconnect_hook_failed_total",
      "Disconnects given up after the last retry failed.",
      () => d.failed,
    );
    gauge("sse_broker_disconnect_hook_queued", "Disconnects waiting to be sent.", () => disconnects.queued);
  }
}
