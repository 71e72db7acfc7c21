/**
 * The hot path, top to bottom: an update (encoded once) → the subscribers whose selectors match one of its
 * topics (the index) → each one once (dedupe by seq), if authorized (private updates: one check per
 * distinct grant list) → its queue → one write per socket per flush, the same bytes for every socket that
 * queued the same events. Nothing here awaits a socket, and no user code runs here: sessions that close
 * while being written are removed after the pass, and the broker tells its listeners later.
 *
 * When to flush (adaptive coalescing, the idea of Nagle's algorithm and of Kafka's `linger.ms`, with a hard
 * bound): at the end of the event-loop iteration, so that every event that arrived in it leaves in one write
 * per socket — unless the previous flush ended less than a linger ago (the broker is busy writing): then
 * once the oldest queued event is a linger old, and at least half a linger after that flush. The linger is
 * the previous flush's duration, at most `maxFlushDelayMs`. An idle broker writes at once; a busy one
 * writes each socket about every other flush time with all that gathered meanwhile — fewer system calls
 * and TCP segments per event, the cost that dominates fan-out. Events queued during a long flush are
 * already old and leave after the half-linger pause, which keeps the loop free for publishes and new
 * connections a third of the time however long flushes get. A fixed `flushIntervalMs` replaces this.
 * @module
 */
import { bareFrameOf, type DeliveryStats, JoinedFrames, type Session } from "./session.js";
import { SubscriptionIndex } from "./subscription-index.js";
import type { SelectorSet } from "./topic.js";
import type { DeliveredUpdate } from "./update.js";

/** Longest a flush writes before it lets the event loop run (see `flush`). */
const SLICE_MS = 2;

export class Fanout {
  readonly #index = new SubscriptionIndex<Session>();
  readonly #stats: DeliveryStats;
  readonly #flushIntervalMs: number;
  readonly #maxFlushDelayMs: number;
  /** When the last flush ended, and how long it took (ms, performance.now()). */
  #lastFlushEnd = Number.NEGATIVE_INFINITY;
  #lastFlushMs = 0;
  /** Start of the flush in progress, when it spans several slices, and the sessions it has still to write. */
  #flushStart: number | undefined;
  #rest: Session[] | null = null;
  /** Sessions with frames queued since the last flush took its list, and when the first of them queued. */
  #dirty: Session[] = [];
  #dirtySince = 0;
  #flushScheduled = false;
  /** Index changes requested during a pass, applied after it (the index must not change under it). */
  #busy = false;
  #deferred: Session[] = [];

  constructor(stats: DeliveryStats, flushIntervalMs: number, maxFlushDelayMs: number) {
    this.#stats = stats;
    this.#flushIntervalMs = flushIntervalMs;
    this.#maxFlushDelayMs = maxFlushDelayMs;
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
    if (dirty.length === 0) this.#dirtySince = performance.now();
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
    if (!this.#flushScheduled && this.#rest === null && this.#dirty.length > 0) this.#schedule();
  }

  #schedule(): void {
    this.#flushScheduled = true;
    if (this.#flushIntervalMs > 0) {
      setTimeout(this.flush, this.#flushIntervalMs);
      return;
    }
    const linger = Math.min(this.#maxFlushDelayMs, this.#lastFlushMs);
    const now = performance.now();
    const wait =
      now - this.#lastFlushEnd < linger
        ? Math.max(this.#dirtySince + linger, this.#lastFlushEnd + linger / 2) - now
        : 0;
    if (wait >= 1) setTimeout(this.flush, wait);
    else setImmediate(this.flush);
  }

  /**
   * Writes every queued frame. A sink that throws closes its own session, never the others'. A flush that
   * has run for SLICE_MS yields to the event loop and goes on in the next iteration (the sessions keep
   * their queues, in order), so thousands of sockets never hold up publishes and new connections for long.
   * `all` writes everything at once (shutdown).
   */
  readonly flush = (all = false): void => {
    this.#flushScheduled = false;
    // A flush in progress (it yielded) goes on with its own sessions; those that became dirty since wait
    // for the next one, after the linger.
    const dirty = this.#rest ?? this.#dirty;
    if (this.#rest !== null) this.#rest = null;
    else this.#dirty = [];
    if (dirty.length === 0) return;
    const sliceStart = performance.now();
    this.#flushStart ??= sliceStart;
    const joined = new JoinedFrames();
    let done = dirty.length;
    this.#busy = true;
    try {
      for (let i = 0; i < dirty.length; i++) {
        const s = dirty[i] as Session;
        try {
          s.flush(this.#stats, joined);
        } catch {
          s.close("error");
        }
        if (!all && (i & 31) === 31 && i + 1 < dirty.length && performance.now() - sliceStart > SLICE_MS) {
          done = i + 1;
          break;
        }
      }
    } finally {
      this.#endPass();
    }
    if (done < dirty.length) {
      this.#rest = dirty.slice(done);
      this.#flushScheduled = true;
      setImmediate(this.flush);
      return;
    }
    this.#lastFlushEnd = performance.now();
    this.#lastFlushMs = this.#lastFlushEnd - this.#flushStart;
    this.#flushStart = undefined;
    if (all && this.#dirty.length > 0) this.flush(true);
    else if (this.#dirty.length > 0) this.#schedule();
  };

  #endPass(): void {
    this.#busy = false;
    if (this.#deferred.length === 0) return;
    const gone = this.#deferred;
    this.#deferred = [];
    for (const s of gone) this.remove(s);
  }
}
