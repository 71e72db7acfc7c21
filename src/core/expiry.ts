/**
 * Ends sessions when their token expires (and, before that, sends their token-expiry notice: a session is
 * keyed on its next due time, `dueAt`, and re-added for its end once the notice went): one timer for all of
 * them, armed for the earliest, over a binary
 * heap (each session knows its index, so a session that leaves early is removed in O(log n) and a firing
 * timer pops only the sessions due, never rescanning the others).
 * @module
 */
import type { Session } from "./session.js";

/** setTimeout's longest delay; a later expiry re-arms when it fires. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export class ExpiryQueue {
  readonly #heap: Session[] = [];
  readonly #onExpire: (s: Session) => void;
  #timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (ms since epoch); +∞ when none is armed. */
  #armedFor = Number.POSITIVE_INFINITY;

  constructor(onExpire: (s: Session) => void) {
    this.#onExpire = onExpire;
  }

  get size(): number {
    return this.#heap.length;
  }

  add(s: Session): void {
    if (s.dueAt === undefined || s.expiryIndex !== -1) return;
    s.expiryIndex = this.#heap.length;
    this.#heap.push(s);
    this.#up(s.expiryIndex);
    this.#arm();
  }

  remove(s: Session): void {
    const i = s.expiryIndex;
    if (i === -1 || this.#heap[i] !== s) return;
    s.expiryIndex = -1;
    const last = this.#heap.pop() as Session;
    if (i < this.#heap.length) {
      this.#heap[i] = last;
      last.expiryIndex = i;
      this.#down(i);
      this.#up(last.expiryIndex);
    }
    // A timer armed for a removed session fires, finds nothing due, and re-arms: no rescan needed here.
  }

  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
  }

  #arm(): void {
    const next = this.#heap[0]?.dueAt ?? Number.POSITIVE_INFINITY;
    if (this.#timer !== undefined && next >= this.#armedFor) return; // already fires early enough
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = next;
    if (next === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(this.#fire, Math.min(Math.max(0, next - Date.now()), MAX_DELAY_MS));
    this.#timer.unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const now = Date.now();
    for (let s = this.#heap[0]; s !== undefined && (s.dueAt as number) <= now; s = this.#heap[0]) {
      this.remove(s);
      this.#onExpire(s);
    }
    this.#arm();
  };

  #less(i: number, j: number): boolean {
    return ((this.#heap[i] as Session).dueAt as number) < ((this.#heap[j] as Session).dueAt as number);
  }

  #swap(i: number, j: number): void {
    const h = this.#heap;
    const a = h[i] as Session;
    const b = h[j] as Session;
    h[i] = b;
    h[j] = a;
    b.expiryIndex = i;
    a.expiryIndex = j;
  }

  #up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >>> 1;
      if (!this.#less(i, p)) return;
      this.#swap(i, p);
      i = p;
    }
  }

  #down(i: number): void {
    const n = this.#heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.#less(l, m)) m = l;
      if (r < n && this.#less(r, m)) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }
}
