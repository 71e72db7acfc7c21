/**
 * Presence on this node: how many open streams subscribe to each selector, counted by the selector
 * strings the streams asked for (an exact topic, a URI template or `*`). A template subscriber counts
 * under its template, never under each topic it matches: counting per matched topic would need a match
 * per topic and stream, which is what the index avoids.
 *
 * Follows the broker's `session-open`/`session-close` events: O(selectors of the stream) per event, one
 * map entry per distinct selector with at least one subscriber (so bounded by the open streams and
 * `maxSelectorsPerSubscription`). Never keeps who subscribes.
 * @module
 */
import type { Broker } from "../core/broker.js";
import type { Session } from "../core/session.js";
import type { SelectorSet } from "../core/topic.js";

/** A selector's count changed: `count` is the new one (0 = nobody left). */
export type PresenceListener = (selector: string, count: number, change: "join" | "leave") => void;

/** Most selectors one answer lists (`GET /presence` without topics). */
export const MAX_PRESENCE_TOP = 100;

export class PresenceCounter {
  readonly #counts = new Map<string, number>();
  /**
   * Sessions counted, with the selectors they were counted under (shared compiled sets: no copy), so a
   * close takes back exactly what the open added. A session closed during its replay gets a close without
   * an open: not counted.
   */
  readonly #counted = new WeakMap<Session, SelectorSet>();
  readonly #listeners = new Set<PresenceListener>();
  #detach: () => void = () => {};

  /** Follows `broker`'s sessions; those already open are counted at once. */
  constructor(broker: Broker) {
    const onOpen = (s: Session): void => this.#opened(s);
    const onClose = (s: Session): void => this.#closed(s);
    const onChange = (s: Session): void => this.#changed(s);
    broker.on("session-open", onOpen);
    broker.on("session-close", onClose);
    broker.on("session-selectors", onChange);
    this.#detach = () => {
      broker.off("session-open", onOpen);
      broker.off("session-close", onClose);
      broker.off("session-selectors", onChange);
    };
    broker.once("close", () => this.#detach());
    for (const s of broker.sessions) if (!s.closed) this.#opened(s);
  }

  /** Distinct selectors with at least one subscriber. */
  get size(): number {
    return this.#counts.size;
  }

  /** Subscribers of `selector` on this node (0 when none). */
  count(selector: string): number {
    return this.#counts.get(selector) ?? 0;
  }

  /** Every selector with its count (the live map: do not change it). */
  entries(): IterableIterator<[string, number]> {
    return this.#counts.entries();
  }

  /** Called on every change of a count, after it changed. */
  onChange(listener: PresenceListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #opened(s: Session): void {
    if (this.#counted.has(s)) return;
    this.#counted.set(s, s.selectorSet);
    for (const selector of sourcesOf(s.selectorSet)) {
      const n = (this.#counts.get(selector) ?? 0) + 1;
      this.#counts.set(selector, n);
      this.#emit(selector, n, "join");
    }
  }

  #closed(s: Session): void {
    const set = this.#counted.get(s);
    if (set === undefined) return;
    this.#counted.delete(s);
    for (const selector of sourcesOf(set)) {
      const n = (this.#counts.get(selector) ?? 0) - 1;
      if (n > 0) this.#counts.set(selector, n);
      else this.#counts.delete(selector);
      this.#emit(selector, Math.max(0, n), "leave");
    }
  }

  /** A live change: only the selectors that differ join or leave (the set counted is the reference). */
  #changed(s: Session): void {
    const was = this.#counted.get(s);
    if (was === undefined || s.closed || was === s.selectorSet) return;
    const now = s.selectorSet;
    this.#counted.set(s, now);
    const before = new Set(sourcesOf(was));
    const after = new Set(sourcesOf(now));
    for (const selector of before) {
      if (after.has(selector)) continue;
      const n = (this.#counts.get(selector) ?? 0) - 1;
      if (n > 0) this.#counts.set(selector, n);
      else this.#counts.delete(selector);
      this.#emit(selector, Math.max(0, n), "leave");
    }
    for (const selector of after) {
      if (before.has(selector)) continue;
      const n = (this.#counts.get(selector) ?? 0) + 1;
      this.#counts.set(selector, n);
      this.#emit(selector, n, "join");
    }
  }

  #emit(selector: string, count: number, change: "join" | "leave"): void {
    for (const l of this.#listeners) l(selector, count, change);
  }
}

/** The selector strings a stream asked for, each once (two Mercure 1.0 matchers may share a pattern). */
function sourcesOf(set: SelectorSet): Iterable<string> {
  const list = set.selectors;
  const only = list.length === 1 ? list[0] : undefined;
  return only !== undefined ? [only.source] : new Set(list.map((x) => x.source));
}

/**
 * The `n` largest entries, largest first (ties by selector, so answers are stable): one pass keeping a
 * sorted window of `n`, O(entries × n) at worst with n ≤ 100, without sorting every selector.
 */
export function topCounts(entries: Iterable<[string, number]>, n: number): [string, number][] {
  const top: [string, number][] = [];
  for (const e of entries) {
    if (top.length === n && !before(e, top[n - 1] as [string, number])) continue;
    let i = top.length;
    while (i > 0 && before(e, top[i - 1] as [string, number])) i--;
    top.splice(i, 0, e);
    if (top.length > n) top.pop();
  }
  return top;
}

function before(a: [string, number], b: [string, number]): boolean {
  return a[1] > b[1] || (a[1] === b[1] && a[0] < b[0]);
}

const byBroker = new WeakMap<Broker, PresenceCounter>();

/** The broker's presence counter, created (and attached) on first use. */
export function presenceOf(broker: Broker): PresenceCounter {
  let p = byBroker.get(broker);
  if (p === undefined) {
    p = new PresenceCounter(broker);
    byBroker.set(broker, p);
  }
  return p;
}
