/**
 * Join/leave notices (option `presenceTopic`): when a selector's subscriber count on this node changes,
 * publish `{"selector","count","change":"join"|"leave"}` on the presence topic. Coalesced: once per tick
 * (1 s) each changed selector gets at most one event, its count then compared with the last one sent
 * (a join and a leave within a tick cancel out). Bounded: at most MAX_NOTICES_PER_TICK selectors per
 * tick (the rest wait for the next ticks), and the counts last sent are kept only for selectors with
 * subscribers. Never carries who joined. The events are public and ephemeral (not in the data history);
 * `count` is this node's: `GET /presence` sums the cluster.
 * @module
 */
import type { Broker } from "../core/broker.js";
import { presenceOf } from "./counter.js";

export const NOTICE_INTERVAL_MS = 1_000;
export const MAX_NOTICES_PER_TICK = 1_000;
/** Changed selectors waiting for a notice at most; changes of others are not noticed meanwhile. */
export const MAX_PENDING_NOTICES = 100_000;

export interface PresenceNotice {
  selector: string;
  count: number;
  change: "join" | "leave";
}

/** Starts the notices of `broker` on `topic`; they stop when the broker closes. */
export function startPresenceNotices(broker: Broker, topic: string, intervalMs = NOTICE_INTERVAL_MS): void {
  const counter = presenceOf(broker);
  /** Selectors changed since their last notice (insertion order: oldest change first). */
  const changed = new Set<string>();
  /** The count each selector's last notice said (absent = 0). */
  const sent = new Map<string, number>();
  const off = counter.onChange((selector) => {
    if (changed.size < MAX_PENDING_NOTICES) changed.add(selector);
  });
  const timer = setInterval(() => {
    let n = 0;
    for (const selector of changed) {
      if (n++ === MAX_NOTICES_PER_TICK) break;
      changed.delete(selector);
      const count = counter.count(selector);
      const before = sent.get(selector) ?? 0;
      if (count === before) continue;
      if (count === 0) sent.delete(selector);
      else sent.set(selector, count);
      const notice: PresenceNotice = { selector, count, change: count > before ? "join" : "leave" };
      broker.publish({ topic, data: JSON.stringify(notice), ephemeral: true }).catch((err: unknown) => {
        // Best effort (the backplane may be down); the next change sends the current count again.
        broker.options.logger?.debug({ err: (err as Error).message }, "presence notice not published");
      });
    }
  }, intervalMs);
  timer.unref();
  broker.once("close", () => {
    clearInterval(timer);
    off();
  });
}
