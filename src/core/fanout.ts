/**
 * The hot path, top to bottom: an update (encoded once) → the subscribers whose selectors match one of its
 * topics (the index) → each one once (dedupe by seq), if authorized (private updates: one check per
 * distinct grant list) → its queue for this turn → one write per socket when the turn's work is done.
 * Nothing here awaits a socket, and no user code runs here: sessions that close while being written are
 * removed after the pass, and the broker tells its listeners later.
 * @module
 */
import { bareFrameOf, type DeliveryStats, type Session } from "./session.js";
import { SubscriptionIndex } from "./subscription-index.js";
import type { SelectorSet } from "./topic.js";
import type { DeliveredUpdate } from "./update.js";

export class Fanout {
  readonly #index = new SubscriptionIndex<Session>();
  readonly #stats: DeliveryStats;
  readonly #flushIntervalMs: number;
  /** Sessions with frames queued in this turn. */
  #dirty: Session[] = [];
  #flushScheduled = false;
  /** Index changes requested during a pass, applied after it (the index must not change under it). */
  #busy = false;
  #deferred: Session[] = [];

  constructor(stats: DeliveryStats, flushIntervalMs: number) {
    this.#stats = stats;
    this.#flushIntervalMs = flushIntervalMs;
  }

  get index(): SubscriptionIndex<Session> {
    return this.#index;
  }

  add(session: Session): void {
    for (const s of session.selectorSet.selectors) this.#index.add(s, session);
  }

  remove(session: Session): void {
    if (this.#busy) {
      this.#deferred.push(session);
      return;
    }
    for (const s of session.selectorSet.selectors) this.#index.delete(s, session);
  }

  deliver(d: DeliveredUpdate): void {
    const frame = d.frame;
    const stats = this.#stats;
    const dirty = this.#dirty;
    // Private updates: the answer for each distinct grant list, computed once per update.
    let grants: Map<SelectorSet, boolean> | null = null;
    const authorized = (s: Session): boolean => {
      if (s.grants === null) return false;
      grants ??= new Map();
      let ok = grants.get(s.grants);
      if (ok === undefined) {
        ok = s.grants.matchesAny(d.topics);
        grants.set(s.grants, ok);
      }
      return ok;
    };
    this.#busy = true;
    try {
      this.#index.forEachMatch(d.topics, d.seq, (members) => {
        for (const s of members) {
          if (s.lastSeq >= d.seq) continue; // already queued through another selector
          if (d.private === true && !authorized(s)) continue;
          s.lastSeq = d.seq;
          try {
            if (s.enqueue(s.bareFrames ? bareFrameOf(d) : frame, stats)) dirty.push(s);
          } catch {
            s.close("error"); // a sink that throws (an application's own Writable) ends its session only
          }
        }
      });
    } finally {
      this.#endPass();
    }
    if (!this.#flushScheduled && this.#dirty.length > 0) {
      this.#flushScheduled = true;
      // By default right after the current turn's synchronous work: no added latency, and every event
      // delivered in this turn (a burst of publishes, a backplane batch) leaves in one write per socket.
      if (this.#flushIntervalMs > 0) setTimeout(this.flush, this.#flushIntervalMs);
      else process.nextTick(this.flush);
    }
  }

  /** Writes every queued frame. A sink that throws closes its own session, never the others'. */
  readonly flush = (): void => {
    this.#flushScheduled = false;
    const dirty = this.#dirty;
    this.#dirty = [];
    this.#busy = true;
    try {
      for (const s of dirty) {
        try {
          s.flush(this.#stats);
        } catch {
          s.close("error");
        }
      }
    } finally {
      this.#endPass();
    }
  };

  #endPass(): void {
    this.#busy = false;
    if (this.#deferred.length === 0) return;
    const gone = this.#deferred;
    this.#deferred = [];
    for (const s of gone) this.remove(s);
  }
}
