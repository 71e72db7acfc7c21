/**
 * Retained events for Last-Event-ID resume. Bounded per topic by count and by bytes; an id index makes the
 * resume lookup O(1), and each topic log is ordered by seq so replay is a binary search, not a scan.
 * Frames are shared with the live path (no copies).
 * @module
 */
import type { DeliveredUpdate } from "./update.js";

export interface HistoryLimits {
  /** Events kept per topic. 0 disables history. */
  readonly maxEventsPerTopic: number;
  /** Encoded bytes kept per topic. */
  readonly maxBytesPerTopic: number;
  /** Topic logs kept; past it the least recently published topic's log is dropped. */
  readonly maxTopics: number;
}

interface Entry {
  readonly update: DeliveredUpdate;
  /** Number of topic logs still holding this entry. */
  refs: number;
}

/** A FIFO of entries ordered by seq, with amortised O(1) removal at the head. */
class TopicLog {
  entries: Entry[] = [];
  head = 0;
  bytes = 0;
  /** Highest seq evicted from this log: a resume point below it may have missed events. */
  evictedSeq = 0;

  get size(): number {
    return this.entries.length - this.head;
  }

  shift(): Entry | undefined {
    const e = this.entries[this.head];
    if (e === undefined) return undefined;
    this.entries[this.head] = undefined as unknown as Entry;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return e;
  }

  /** Entries with seq > `seq`, in order. */
  after(seq: number): Entry[] {
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.entries[mid] as Entry).update.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return this.entries.slice(lo);
  }
}

export interface ReplayPlan {
  /** Updates to send before going live, in delivery order. */
  readonly updates: DeliveredUpdate[];
  /**
   * True when the resume point was found and nothing the subscriber could want was evicted after it: the
   * replay is exactly what it missed. False means it may have missed events (unknown or too old id).
   */
  readonly complete: boolean;
}

export class History {
  readonly #limits: HistoryLimits;
  readonly #byId = new Map<string, Entry>();
  readonly #topics = new Map<string, TopicLog>();
  #bytes = 0;
  /** Highest seq in any dropped topic log: a resume point below it may have missed events. */
  #droppedSeq = 0;

  constructor(limits: HistoryLimits) {
    this.#limits = limits;
  }

  /** Number of retained events (an event on several topics counts once). */
  get size(): number {
    return this.#byId.size;
  }

  /** Retained bytes, counting each topic log's share. */
  get bytes(): number {
    return this.#bytes;
  }

  get topicCount(): number {
    return this.#topics.size;
  }

  add(update: DeliveredUpdate): void {
    if (this.#limits.maxEventsPerTopic === 0) return;
    const size = update.frame.length;
    // An event larger than a whole topic's budget cannot be retained; it is delivered live only.
    if (size > this.#limits.maxBytesPerTopic) return;
    const entry: Entry = { update, refs: 0 };
    const seen = new Set<string>();
    for (const topic of update.topics) {
      if (seen.has(topic)) continue;
      seen.add(topic);
      let log = this.#topics.get(topic);
      if (log === undefined) {
        log = new TopicLog();
      } else {
        this.#topics.delete(topic); // re-inserted below: the Map's order is least recently published first
      }
      this.#topics.set(topic, log);
      log.entries.push(entry);
      log.bytes += size;
      this.#bytes += size;
      entry.refs++;
      while (log.size > this.#limits.maxEventsPerTopic || log.bytes > this.#limits.maxBytesPerTopic) {
        this.#evict(log);
      }
    }
    this.#byId.set(update.id, entry);
    while (this.#topics.size > this.#limits.maxTopics) this.#dropOldestTopic();
  }

  #dropOldestTopic(): void {
    const first = this.#topics.entries().next();
    if (first.done === true) return;
    const [topic, log] = first.value;
    while (log.size > 0) this.#evict(log);
    this.#droppedSeq = Math.max(this.#droppedSeq, log.evictedSeq);
    this.#topics.delete(topic);
  }

  #evict(log: TopicLog): void {
    const e = log.shift();
    if (e === undefined) return;
    const size = e.update.frame.length;
    log.bytes -= size;
    this.#bytes -= size;
    log.evictedSeq = e.update.seq;
    if (--e.refs === 0 && this.#byId.get(e.update.id) === e) this.#byId.delete(e.update.id);
  }

  /** Updates may be missing before `seq` (a transport gap): any resume point below it is incomplete. */
  markGap(seq: number): void {
    this.#droppedSeq = Math.max(this.#droppedSeq, seq);
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /**
   * What to replay for a subscriber resuming after `lastEventId` (everything retained with `"earliest"`;
   * an unknown id also gets everything retained, flagged incomplete). Topic logs are looked up directly for
   * `exactTopics`; all logs are walked only when `patternMatch` is given (wildcard/template selectors).
   * `wants(update)` applies the subscriber's full filter (selectors and authorization).
   */
  plan(
    lastEventId: string,
    exactTopics: readonly string[],
    patternMatch: ((topic: string) => boolean) | null,
    wants: (update: DeliveredUpdate) => boolean,
  ): ReplayPlan {
    const earliest = lastEventId === "earliest";
    const seq = earliest ? 0 : this.seqOf(lastEventId);
    const plan = this.planAfter(seq ?? 0, exactTopics, patternMatch, wants);
    return { updates: plan.updates, complete: seq !== undefined && plan.complete };
  }

  /** seq of a retained event, if `id` is retained. */
  seqOf(id: string): number | undefined {
    return this.#byId.get(id)?.update.seq;
  }

  /**
   * Retained updates after `afterSeq` (see `plan`); `complete` is false when a visited topic log evicted
   * events after `afterSeq`, or a dropped topic log held some.
   */
  planAfter(
    afterSeq: number,
    exactTopics: readonly string[],
    patternMatch: ((topic: string) => boolean) | null,
    wants: (update: DeliveredUpdate) => boolean,
  ): ReplayPlan {
    let complete = this.#droppedSeq <= afterSeq;
    const picked = new Map<number, DeliveredUpdate>();
    const visit = (log: TopicLog): void => {
      if (log.evictedSeq > afterSeq) complete = false;
      for (const e of log.after(afterSeq)) {
        if (!picked.has(e.update.seq) && wants(e.update)) picked.set(e.update.seq, e.update);
      }
    };
    if (patternMatch === null) {
      for (const topic of exactTopics) {
        const log = this.#topics.get(topic);
        if (log !== undefined) visit(log);
      }
    } else {
      for (const [topic, log] of this.#topics) {
        if (exactTopics.includes(topic) || patternMatch(topic)) visit(log);
      }
    }
    const updates = [...picked.values()];
    updates.sort((a, b) => a.seq - b.seq);
    return { updates, complete };
  }
}
