/**
 * Loss accounting of the soak. Every publish attempt gets the next integer id (the soak sets the event id
 * itself) and the topics it went to; the publisher is serial, so ids follow the Redis stream's order and an
 * attempt's outcome is settled before the next one is sent. A `Chain` is one subscriber's history between
 * two points the accounting can trust (a fresh connection, or a resume the broker reported incomplete):
 * every accepted event of its topics after its start must arrive once, in id order.
 * @module
 */

export const PENDING = 0;
export const ACCEPTED = 1;
/** Answered 503: not accepted (the publisher retries with a new id). */
export const REFUSED = 2;
/** Any other answer or no answer: not accepted, outcome unknown (it may still reach subscribers). */
export const FAILED = 3;

/** Topics as a 64-bit mask in two 32-bit words: bit i is topic index i. */
export interface TopicMask {
  readonly lo: number;
  readonly hi: number;
}

export const ALL_TOPICS: TopicMask = { lo: 0xffffffff, hi: 0xffffffff };
export const MAX_TOPICS = 64;

export function maskOf(indices: readonly number[]): TopicMask {
  let lo = 0;
  let hi = 0;
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= MAX_TOPICS) throw new Error(`topic index ${i} out of range`);
    if (i < 32) lo |= 1 << i;
    else hi |= 1 << (i - 32);
  }
  return { lo: lo >>> 0, hi: hi >>> 0 };
}

/** Totals over every chain, updated as events arrive (so periodic reports need no scan). */
export interface LossTotals {
  /** Deliveries of our events (numeric ids) to the soak's subscribers. */
  deliveries: number;
  /** Accepted events a chain should have received and did not (yet); decremented by late arrivals. */
  lost: number;
  /** The same event id twice within one chain. */
  duplicates: number;
  /** An event arriving after one with a higher id, within one chain. */
  outOfOrder: number;
  /** An event delivered to a subscriber whose topics it does not match. */
  wrongTopic: number;
  /** A numeric id the publisher never used. */
  unknownIds: number;
  /** Deliveries of attempts that were not accepted (a 503 or failed publish that still got through). */
  unacceptedDelivered: number;
  chainsStarted: number;
  /** Chains ended with every event up to the end marker judged. */
  chainsCompleted: number;
}

export function emptyTotals(): LossTotals {
  return {
    deliveries: 0,
    lost: 0,
    duplicates: 0,
    outOfOrder: 0,
    wrongTopic: 0,
    unknownIds: 0,
    unacceptedDelivered: 0,
    chainsStarted: 0,
    chainsCompleted: 0,
  };
}

/** Publish attempts: outcome and topics per id (id 0 unused). Grows by doubling. */
export class Ledger {
  #status = new Uint8Array(1024);
  #lo = new Uint32Array(1024);
  #hi = new Uint32Array(1024);
  /** Last id handed out; its request may be in flight. */
  lastBegun = 0;
  accepted = 0;
  readonly totals: LossTotals = emptyTotals();

  /** Allocates the next id for an attempt to `mask`'s topics. Call right before sending it. */
  begin(mask: TopicMask): number {
    const id = ++this.lastBegun;
    if (id >= this.#status.length) this.#grow(id * 2);
    this.#status[id] = PENDING;
    this.#lo[id] = mask.lo;
    this.#hi[id] = mask.hi;
    return id;
  }

  settle(id: number, status: typeof ACCEPTED | typeof REFUSED | typeof FAILED): void {
    if (id < 1 || id > this.lastBegun || this.#status[id] !== PENDING) throw new Error(`settle(${id}) twice`);
    this.#status[id] = status;
    if (status === ACCEPTED) this.accepted++;
  }

  status(id: number): number {
    return this.#status[id] ?? PENDING;
  }

  matches(id: number, mask: TopicMask): boolean {
    return (((this.#lo[id] as number) & mask.lo) | ((this.#hi[id] as number) & mask.hi)) !== 0;
  }

  /** True when a chain of `mask` must receive `id`: accepted, and one of its topics is the chain's. */
  expected(id: number, mask: TopicMask): boolean {
    return this.#status[id] === ACCEPTED && this.matches(id, mask);
  }

  #grow(n: number): void {
    const grow = <T extends Uint8Array | Uint32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.#status = grow(this.#status, (k) => new Uint8Array(k));
    this.#lo = grow(this.#lo, (k) => new Uint32Array(k));
    this.#hi = grow(this.#hi, (k) => new Uint32Array(k));
  }
}

/**
 * One subscriber's accounted history. `start`: ids up to it are not expected (a fresh connection: every
 * id handed out before its response head arrived, since those may have reached the node before the
 * subscription; a resume continues its chain). Ids are judged in order as later ones arrive: when id n
 * arrives, every id between the last judged one and n has settled (the serial publisher sent n only after
 * they were answered), so what is missing is missing now, unless it turns up late (counted out of order).
 */
export class Chain {
  readonly mask: TopicMask;
  readonly start: number;
  /** Every expected id up to here has been judged. */
  #cursor: number;
  /** Highest id received. */
  #last = 0;
  /** Received ids, as bits from #base. */
  #seen = new Uint8Array(0);
  #base = 0;
  /** Losses of this chain (for the report of a single failing subscriber). */
  lost = 0;
  received = 0;
  ended = false;
  readonly #ledger: Ledger;

  constructor(ledger: Ledger, mask: TopicMask, start: number) {
    this.#ledger = ledger;
    this.mask = mask;
    this.start = start;
    this.#cursor = start;
    ledger.totals.chainsStarted++;
  }

  /** Accounts for event `id` arriving on this chain. */
  receive(id: number): void {
    const L = this.#ledger;
    const t = L.totals;
    if (id < 1 || id > L.lastBegun) {
      t.unknownIds++;
      return;
    }
    t.deliveries++;
    if (!L.matches(id, this.mask)) t.wrongTopic++;
    if (L.status(id) !== ACCEPTED && L.status(id) !== PENDING) t.unacceptedDelivered++;
    if (this.#has(id)) {
      t.duplicates++;
      return;
    }
    this.#mark(id);
    this.received++;
    if (id > this.#cursor) {
      this.#judge(id - 1);
      this.#cursor = id;
    } else if (id < this.#last) {
      // Arrived after a later event.
      if (id > this.start && L.expected(id, this.mask)) {
        this.lost--;
        t.lost--;
        t.outOfOrder++;
      } else if (L.status(id) === ACCEPTED) {
        t.outOfOrder++;
      }
      // A not-accepted attempt arriving late is only counted as unacceptedDelivered: its place in the
      // stream is not known (a failed request may have been applied after the next attempt).
    }
    if (id > this.#last) this.#last = id;
  }

  /**
   * Ends the chain once the end marker `upTo` was published: every expected id up to it that has not
   * arrived is lost. Only for chains whose subscriber was connected and waited for the marker.
   */
  complete(upTo: number): void {
    if (this.ended) return;
    if (upTo > this.#cursor) {
      this.#judge(upTo);
      this.#cursor = upTo;
    }
    this.ended = true;
    this.#ledger.totals.chainsCompleted++;
  }

  /** Ends the chain without judging what came after its last event (subscriber left, or resume incomplete). */
  abandon(): void {
    this.ended = true;
    this.#seen = new Uint8Array(0);
  }

  /** Judges ids in (cursor, upTo]. */
  #judge(upTo: number): void {
    const L = this.#ledger;
    for (let k = this.#cursor + 1; k <= upTo; k++) {
      if (L.expected(k, this.mask) && !this.#has(k)) {
        this.lost++;
        L.totals.lost++;
      }
    }
  }

  /** True when event `id` arrived on this chain. */
  has(id: number): boolean {
    return this.#has(id);
  }

  #has(id: number): boolean {
    const i = id - this.#base;
    if (i < 0) return false;
    const byte = this.#seen[i >> 3];
    return byte !== undefined && (byte & (1 << (i & 7))) !== 0;
  }

  #mark(id: number): void {
    if (this.#seen.length === 0) this.#base = id & ~7;
    if (id < this.#base) {
      // Rare (an out-of-order event below the first one seen): re-base, keeping what was seen.
      const base = id & ~7;
      const b = new Uint8Array(this.#seen.length + ((this.#base - base) >> 3));
      b.set(this.#seen, (this.#base - base) >> 3);
      this.#seen = b;
      this.#base = base;
    }
    const i = id - this.#base;
    if (i >> 3 >= this.#seen.length) {
      const b = new Uint8Array(Math.max(64, (i >> 3) + 1, this.#seen.length * 2));
      b.set(this.#seen);
      this.#seen = b;
    }
    this.#seen[i >> 3] = (this.#seen[i >> 3] as number) | (1 << (i & 7));
  }
}
