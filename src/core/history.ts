/**
 * Retained events for Last-Event-ID resume, bounded per topic (count, bytes), in topic count, and in total
 * (count, bytes). Each event is held once: its encoded frame and the few fields a replay filters on (the
 * data string is not kept). An id index makes the resume lookup O(1); each topic log is ordered by seq.
 *
 * A replay is a cursor read in chunks as the subscriber's socket drains, never a list built at once: its
 * memory is one chunk, its work per turn bounded, and events published meanwhile go live. An event the
 * cursor still had to send that history evicts first is a loss the cursor reports (the subscriber is then
 * dropped and resumes, learning that its replay is incomplete), never a silent gap.
 * @module
 */
import type { SelectorSet } from "./topic.js";
import type { DeliveredUpdate } from "./update.js";

export interface HistoryLimits {
  /** Events kept per topic. 0 disables history. */
  readonly maxEventsPerTopic: number;
  /** Encoded bytes kept per topic. */
  readonly maxBytesPerTopic: number;
  /** Topic logs kept; past it the least recently published topic's log is dropped. */
  readonly maxTopics: number;
  /** Events kept in all (an event on several topics counts once). */
  readonly maxEvents: number;
  /** Encoded bytes kept in all. */
  readonly maxBytes: number;
}

/** A retained event: what a replay writes and filters on. */
export interface Retained {
  readonly id: string;
  readonly topics: readonly string[];
  readonly private: boolean;
  readonly seq: number;
  /** `null` once the event left history. */
  frame: Buffer | null;
  /** Topic logs still holding it. */
  refs: number;
}

/** A FIFO of entries ordered by seq, with amortised O(1) removal at the head. */
class TopicLog {
  entries: Retained[] = [];
  head = 0;
  bytes = 0;
  /** Highest seq shifted out of this log (evictions are oldest first). */
  evictedSeq = 0;
  /** Highest seq of an event on this topic that is not retained (evicted, or too large to keep): a resume
   * point below it may have missed events. */
  missedSeq = 0;

  get size(): number {
    return this.entries.length - this.head;
  }

  first(): Retained | undefined {
    return this.entries[this.head];
  }

  shift(): Retained | undefined {
    const e = this.entries[this.head];
    if (e === undefined) return undefined;
    this.entries[this.head] = undefined as unknown as Retained;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return e;
  }

  /** Index of the first entry with seq > `seq`. */
  indexAfter(seq: number): number {
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.entries[mid] as Retained).seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Says that events a cursor had to send were evicted before it got to them. */
export const LOST = Symbol("lost");

/** Work a cursor may do before it pauses: one unit per retained event it looks at. */
export interface StepBudget {
  left: number;
}

/** Reads a replay in order, a step at a time. */
export interface ReplayCursor {
  /**
   * The next retained event to send (not consumed); `null` when done, or paused because `budget` ran out
   * (it then reads 0); `LOST` after a loss.
   */
  peek(budget: StepBudget): Retained | null | typeof LOST;
  /** Consumes what the last `peek` returned. */
  advance(): void;
}

export interface ReplayPlan {
  /**
   * True when the resume point was found and nothing the subscriber could want was evicted after it: the
   * replay is exactly what it missed. False means it may have missed events (unknown or too old id).
   */
  readonly complete: boolean;
  readonly cursor: ReplayCursor;
}

/** Topic logs whose evictions a pattern subscriber's plan checks one by one before calling it incomplete. */
const MAX_EVICTION_CHECKS = 1000;

export class History {
  readonly #limits: HistoryLimits;
  readonly #byId = new Map<string, Retained>();
  readonly #topics = new Map<string, TopicLog>();
  /** Every retained event in seq order, for the global bounds and `*` replays (dead ones until compacted). */
  #log: Retained[] = [];
  #head = 0;
  #dead = 0;
  #bytes = 0;
  /** Highest seq of a dropped topic log or of a gap: a resume point below it may have missed events. */
  #droppedSeq = 0;
  #topicDrops = 0;

  constructor(limits: HistoryLimits) {
    this.#limits = limits;
  }

  /** Number of retained events (an event on several topics counts once). */
  get size(): number {
    return this.#log.length - this.#head - this.#dead;
  }

  /** Retained bytes (each event once). */
  get bytes(): number {
    return this.#bytes;
  }

  get topicCount(): number {
    return this.#topics.size;
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /** seq of a retained event, if `id` is retained. */
  seqOf(id: string): number | undefined {
    return this.#byId.get(id)?.seq;
  }

  /** Any resume point whose seq is below `seq` is incomplete (e.g. a backplane lost events there). */
  markGap(seq: number): void {
    this.#droppedSeq = Math.max(this.#droppedSeq, seq);
  }

  add(update: DeliveredUpdate): void {
    const l = this.#limits;
    if (l.maxEventsPerTopic === 0) return;
    const size = update.frame.length;
    const topics = [...new Set(update.topics)];
    if (size > l.maxBytesPerTopic || size > l.maxBytes) {
      // Too large to retain: delivered live only, and a resume across it knows it missed something.
      for (const topic of topics) this.#touch(topic).missedSeq = update.seq;
      this.#dropTopicsOverLimit();
      return;
    }
    const entry: Retained = {
      id: update.id,
      topics,
      private: update.private === true,
      seq: update.seq,
      frame: update.frame,
      refs: topics.length,
    };
    for (const topic of topics) {
      const log = this.#touch(topic);
      log.entries.push(entry);
      log.bytes += size;
      while (log.size > l.maxEventsPerTopic || log.bytes > l.maxBytesPerTopic) this.#evictFrom(log);
    }
    this.#log.push(entry);
    this.#bytes += size;
    // A duplicate id (from a backplane race) keeps the first mapping: a resume point never moves.
    if (!this.#byId.has(entry.id)) this.#byId.set(entry.id, entry);
    while ((this.size > l.maxEvents || this.#bytes > l.maxBytes) && this.#evictOldest());
    this.#dropTopicsOverLimit();
  }

  /** The topic's log, created if needed, marked most recently published (the Map's order). */
  #touch(topic: string): TopicLog {
    let log = this.#topics.get(topic);
    if (log === undefined) log = new TopicLog();
    else this.#topics.delete(topic);
    this.#topics.set(topic, log);
    return log;
  }

  #dropTopicsOverLimit(): void {
    while (this.#topics.size > this.#limits.maxTopics) {
      const first = this.#topics.entries().next();
      if (first.done === true) return;
      const [topic, log] = first.value;
      while (log.size > 0) this.#evictFrom(log);
      this.#droppedSeq = Math.max(this.#droppedSeq, log.missedSeq);
      this.#topics.delete(topic);
      this.#topicDrops++;
    }
  }

  /** Evicts the oldest entry of one topic log; the entry leaves history once no log holds it. */
  #evictFrom(log: TopicLog): void {
    const e = log.shift();
    if (e === undefined || e.frame === null) return;
    log.bytes -= e.frame.length;
    log.evictedSeq = e.seq;
    if (e.seq > log.missedSeq) log.missedSeq = e.seq;
    if (--e.refs === 0) this.#kill(e);
  }

  /** Evicts the oldest retained event from every log holding it (it is at the head of each). */
  #evictOldest(): boolean {
    let e = this.#log[this.#head];
    while (e !== undefined && e.frame === null) {
      this.#log[this.#head] = undefined as unknown as Retained;
      this.#head++;
      this.#dead--;
      e = this.#log[this.#head];
    }
    if (this.#head > 1024 && this.#head * 2 > this.#log.length) {
      this.#log = this.#log.slice(this.#head);
      this.#head = 0;
    }
    if (e === undefined) return false;
    for (const topic of e.topics) {
      const log = this.#topics.get(topic);
      if (log !== undefined && log.first() === e) this.#evictFrom(log);
    }
    return e.frame === null;
  }

  #kill(e: Retained): void {
    this.#bytes -= (e.frame as Buffer).length;
    e.frame = null;
    if (this.#byId.get(e.id) === e) this.#byId.delete(e.id);
    this.#dead++;
    // Compact the global log once dead entries outnumber live ones (amortised O(1) per event).
    if (this.#dead > 1024 && this.#dead * 2 > this.#log.length - this.#head) {
      this.#log = this.#log.slice(this.#head).filter((x) => x.frame !== null);
      this.#head = 0;
      this.#dead = 0;
    }
  }

  /**
   * Plans the replay for a subscriber resuming after `afterSeq` (0 = all retained history; `undefined` = an
   * unknown resume point: everything retained, flagged incomplete) up to `untilSeq` (the live stream takes
   * over after it). `wants` applies the subscriber's authorization (private updates). The work is bounded:
   * exact topics are looked up; patterns visit the topic logs (at most `maxTopics`) and match at most a
   * fixed number of evicted ones before calling the plan incomplete.
   */
  plan(
    afterSeq: number | undefined,
    selectors: SelectorSet,
    wants: (e: Retained) => boolean,
    untilSeq: number,
  ): ReplayPlan {
    const from = afterSeq ?? 0;
    let complete = afterSeq !== undefined && this.#droppedSeq <= from;
    if (!selectors.hasPatterns) {
      const logs: TopicLog[] = [];
      for (const topic of selectors.exactTopics) {
        const log = this.#topics.get(topic);
        if (log === undefined) continue;
        if (log.missedSeq > from) complete = false;
        if (log.size > 0) logs.push(log);
      }
      return { complete, cursor: new MergeCursor(this, logs, null, from, untilSeq, wants) };
    }
    // Patterns: completeness looks only at topics that missed events after the resume point (an integer
    // compare per topic, a match for at most MAX_EVICTION_CHECKS of them); the matching topic logs are
    // collected by the cursor, a step budget at a time, not here.
    if (complete) {
      let checks = 0;
      for (const [topic, log] of this.#topics) {
        if (log.missedSeq <= from) continue;
        if (++checks > MAX_EVICTION_CHECKS || selectors.matches(topic)) {
          complete = false;
          break;
        }
      }
    }
    const candidates = { topics: this.#topics.entries(), matches: (t: string) => selectors.matches(t) };
    return { complete, cursor: new MergeCursor(this, [], candidates, from, untilSeq, wants) };
  }

  /**
   * The newest retained event of each topic `selectors` match that `wants` accepts (its newest one the
   * subscriber may receive), published up to `untilSeq` (the live stream takes over after it), as a
   * cursor in publication order, each event once (the newest of several topics is sent once). At most
   * `MAX_LATEST_TOPICS` events: those of the topics most recently published. Exact topics are looked up;
   * patterns visit the topic logs (at most `maxTopics`), a step budget at a time.
   */
  latest(selectors: SelectorSet, wants: (e: Retained) => boolean, untilSeq: number): ReplayCursor {
    if (!selectors.hasPatterns) {
      const logs: [string, TopicLog][] = [];
      for (const topic of selectors.exactTopics) {
        const log = this.#topics.get(topic);
        if (log !== undefined && log.size > 0) logs.push([topic, log]);
      }
      return new LatestCursor(logs[Symbol.iterator](), null, untilSeq, wants);
    }
    return new LatestCursor(this.#topics.entries(), (t) => selectors.matches(t), untilSeq, wants);
  }

  /** Topic logs dropped so far (past `maxTopics`): a cursor still collecting logs may have missed one. */
  get topicDrops(): number {
    return this.#topicDrops;
  }
}

interface LogState {
  readonly log: TopicLog;
  /** The next entry of this log to consider (retained when it was picked). */
  next: Retained;
}

/** Topic logs still to look at, and which of them a subscriber wants. */
interface Candidates {
  readonly topics: Iterator<[string, TopicLog]>;
  readonly matches: (topic: string) => boolean;
}

/**
 * Merges the topic logs a subscriber wants in seq order, each event once (an event on several of its
 * topics is in several logs): a binary heap of the logs by their next entry. For pattern subscribers the
 * logs are first collected from all topics, a step budget at a time.
 */
class MergeCursor implements ReplayCursor {
  readonly #history: History;
  readonly #until: number;
  readonly #wants: (e: Retained) => boolean;
  readonly #heap: LogState[] = [];
  #candidates: Candidates | null;
  readonly #dropsAtPlan: number;
  /** seq of the last event consumed or skipped. */
  #seq: number;
  #peeked: LogState | null = null;

  constructor(
    history: History,
    logs: readonly TopicLog[],
    candidates: Candidates | null,
    from: number,
    until: number,
    wants: (e: Retained) => boolean,
  ) {
    this.#history = history;
    this.#until = until;
    this.#wants = wants;
    this.#seq = from;
    this.#candidates = candidates;
    this.#dropsAtPlan = history.topicDrops;
    for (const log of logs) this.#add(log);
    if (candidates === null) this.#heapify();
  }

  #add(log: TopicLog): void {
    const next = log.entries[log.indexAfter(this.#seq)];
    if (next !== undefined && next.seq <= this.#until) this.#heap.push({ log, next });
  }

  #heapify(): void {
    for (let i = (this.#heap.length >>> 1) - 1; i >= 0; i--) this.#down(i);
  }

  peek(budget: StepBudget): Retained | null | typeof LOST {
    const c = this.#candidates;
    if (c !== null) {
      for (;;) {
        // A topic dropped while logs were being collected may have held events this subscriber wanted.
        if (this.#history.topicDrops !== this.#dropsAtPlan) return LOST;
        if (budget.left <= 0) return null;
        budget.left--;
        const n = c.topics.next();
        if (n.done === true) break;
        const [topic, log] = n.value;
        if (log.size > 0 && c.matches(topic)) this.#add(log);
      }
      this.#candidates = null;
      this.#heapify();
    }
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined || budget.left <= 0) return null;
      budget.left--;
      const e = top.next;
      // Evicted from this log after it was picked, before being sent: the subscriber lost it.
      if (top.log.evictedSeq >= e.seq) return LOST;
      if (e.seq > this.#seq && this.#wants(e)) {
        this.#peeked = top;
        return e;
      }
      if (e.seq > this.#seq) this.#seq = e.seq; // not for this subscriber
      this.#step(top);
    }
  }

  advance(): void {
    const top = this.#peeked;
    this.#peeked = null;
    if (top === null || this.#heap[0] !== top) return;
    this.#seq = top.next.seq;
    this.#step(top);
  }

  /** Moves the top log to its entry after `next`, or out of the heap. */
  #step(s: LogState): void {
    const next = s.log.entries[s.log.indexAfter(s.next.seq)];
    if (next === undefined || next.seq > this.#until) {
      const last = this.#heap.pop() as LogState;
      if (this.#heap.length === 0) return;
      this.#heap[0] = last;
    } else {
      s.next = next;
    }
    this.#down(0);
  }

  #down(i: number): void {
    const h = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && (h[l] as LogState).next.seq < (h[m] as LogState).next.seq) m = l;
      if (r < h.length && (h[r] as LogState).next.seq < (h[m] as LogState).next.seq) m = r;
      if (m === i) return;
      const t = h[i] as LogState;
      h[i] = h[m] as LogState;
      h[m] = t;
      i = m;
    }
  }
}

/** Topics whose newest retained event a latest-value subscribe sends, at most (see `History.latest`). */
export const MAX_LATEST_TOPICS = 1000;

/**
 * The newest retained event per topic (see `History.latest`): the topic logs are visited first (a step
 * per log, and one per entry passed over that the subscriber may not receive), keeping at most twice
 * `MAX_LATEST_TOPICS` picks between trims; then the picks are sent in seq order. A pick that history
 * evicted before it was sent is passed over: history no longer holds it (a newer event on its topic, if
 * any, comes live).
 */
class LatestCursor implements ReplayCursor {
  #source: Iterator<[string, TopicLog]> | null;
  readonly #matches: ((topic: string) => boolean) | null;
  readonly #until: number;
  readonly #wants: (e: Retained) => boolean;
  #picked: Retained[] = [];
  #next = 0;

  constructor(
    source: Iterator<[string, TopicLog]>,
    matches: ((topic: string) => boolean) | null,
    until: number,
    wants: (e: Retained) => boolean,
  ) {
    this.#source = source;
    this.#matches = matches;
    this.#until = until;
    this.#wants = wants;
  }

  peek(budget: StepBudget): Retained | null | typeof LOST {
    const source = this.#source;
    if (source !== null) {
      for (;;) {
        if (budget.left <= 0) return null;
        budget.left--;
        const n = source.next();
        if (n.done === true) break;
        const [topic, log] = n.value;
        if (log.size === 0 || (this.#matches !== null && !this.#matches(topic))) continue;
        const e = this.#newest(log, budget);
        if (e === null) continue;
        this.#picked.push(e);
        if (this.#picked.length >= 2 * MAX_LATEST_TOPICS) this.#trim();
      }
      this.#source = null;
      this.#trim();
    }
    for (;;) {
      const e = this.#picked[this.#next];
      if (e === undefined || budget.left <= 0) return null;
      budget.left--;
      if (e.frame !== null) return e;
      this.#next++;
    }
  }

  advance(): void {
    this.#next++;
  }

  /**
   * The log's newest entry up to `until` that the subscriber wants, walking back from the end in one go
   * (the log may be compacted between turns, so no position is kept across them): at most the log's size.
   */
  #newest(log: TopicLog, budget: StepBudget): Retained | null {
    for (let i = log.indexAfter(this.#until) - 1; i >= log.head; i--) {
      const e = log.entries[i] as Retained;
      if (e.frame !== null && this.#wants(e)) return e;
      budget.left--;
    }
    return null;
  }

  /** Publication order, each event once, the `MAX_LATEST_TOPICS` most recent. */
  #trim(): void {
    const sorted = this.#picked.sort((a, b) => a.seq - b.seq);
    const out: Retained[] = [];
    for (const e of sorted) if (out.at(-1) !== e) out.push(e);
    this.#picked = out.length > MAX_LATEST_TOPICS ? out.slice(out.length - MAX_LATEST_TOPICS) : out;
  }
}

/** Merges two cursors by seq (data and ephemeral history); losses of `bestEffort` are ignored. */
export class MergedCursor implements ReplayCursor {
  readonly #a: ReplayCursor;
  readonly #b: ReplayCursor;

  constructor(main: ReplayCursor, bestEffort: ReplayCursor) {
    this.#a = main;
    this.#b = bestEffort;
  }

  #peeked: ReplayCursor | null = null;
  #bDone = false;

  peek(budget: StepBudget): Retained | null | typeof LOST {
    this.#peeked = null;
    const a = this.#a.peek(budget);
    if (a === LOST) return LOST;
    // A loss in best-effort history ends its part of the replay, not the replay.
    let b = this.#bDone ? null : this.#b.peek(budget);
    if (b === LOST) {
      this.#bDone = true;
      b = null;
    }
    if (budget.left <= 0 && (a === null || b === null)) return null; // paused: one side is unknown
    if (a === null && b === null) return null;
    this.#peeked = a !== null && (b === null || a.seq < b.seq) ? this.#a : this.#b;
    return this.#peeked === this.#a ? a : b;
  }

  advance(): void {
    this.#peeked?.advance();
    this.#peeked = null;
  }
}
