/**
 * The broker: topics → subscribers, history, and the hot path. Read top to bottom, publishing goes:
 * publish() validates → transport.append() → deliver() encodes once → history → fanOut() writes the same
 * bytes to every matching session, never awaiting a socket.
 * @module
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { badRequest, SseBrokerError } from "../errors.js";
import { jitteredMs } from "../jitter.js";
import { type BrokerOptions, type Logger, type ResolvedOptions, resolveOptions } from "../options.js";
import { MemoryTransport } from "../transport/memory.js";
import type { Transport } from "../transport/transport.js";
import { assertField, assertRetry, encodeComment, encodeEvent, encodeRetry } from "../wire/encode.js";
import { History, type ReplayPlan } from "./history.js";
import { bareFrameOf, type CloseReason, Session, type SessionSink } from "./session.js";
import { assertSelector, assertTopic, isPatternSelector, TopicMatcher } from "./topic.js";
import type { DeliveredUpdate, Update } from "./update.js";

export interface PublishInput {
  /** One topic, or several (the first canonical). */
  topic: string | readonly string[];
  data: string;
  /** SSE `event:` type. */
  type?: string | undefined;
  /** Event id; generated (`urn:uuid:…`) when absent. */
  id?: string | undefined;
  retry?: number | undefined;
  private?: boolean | undefined;
  /** See `Update.ephemeral`. */
  ephemeral?: boolean | undefined;
}

export interface SubscribeOptions {
  selectors: readonly string[];
  /** Selectors authorizing private updates; `null`/absent = anonymous. */
  authorized?: readonly string[] | null;
  /** Resume point (Last-Event-ID); `"earliest"` replays all retained history. */
  lastEventId?: string | undefined;
  /** Omit `id:` lines (seed demo wire format). */
  bareFrames?: boolean;
  /** Close the stream at this time (ms since epoch), e.g. the subscriber token's `exp`. */
  expiresAt?: number | undefined;
  meta?: Record<string, unknown>;
}

/** A subscription whose replay is planned; `open()` must be called in the same tick to miss nothing. */
export interface PendingSubscription {
  /** `null` when no resume point was asked for. */
  readonly resume: { readonly complete: boolean; readonly lastEventId: string } | null;
  open(sink: SessionSink): Session;
}

export interface BrokerStats {
  eventsPublished: number;
  eventsDelivered: number;
  bytesDelivered: number;
  droppedSlow: number;
  connectionsOpened: number;
}

interface BrokerEvents {
  /** The broker closed (after every stream ended). */
  close: [];
  "session-open": [Session];
  "session-close": [Session, CloseReason];
  publish: [DeliveredUpdate];
}

const HEARTBEAT = encodeComment();

/** Bounds of the history of ephemeral updates (subscription events: about two per topic). */
const EPHEMERAL_HISTORY = { maxEventsPerTopic: 10, maxBytesPerTopic: 64 * 1024, maxTopics: 1000 } as const;

export class Broker extends EventEmitter<BrokerEvents> {
  readonly options: ResolvedOptions;
  /** Retained data events, for resume. */
  readonly history: History;
  /** Retained ephemeral events (see `Update.ephemeral`). */
  readonly ephemeralHistory = new History(EPHEMERAL_HISTORY);
  readonly matcher = new TopicMatcher();
  readonly stats: BrokerStats = {
    eventsPublished: 0,
    eventsDelivered: 0,
    bytesDelivered: 0,
    droppedSlow: 0,
    connectionsOpened: 0,
  };
  readonly #transport: Transport;
  readonly #log: Logger | null;
  /** Sessions by exact topic selector. */
  readonly #exact = new Map<string, Set<Session>>();
  /** Sessions by wildcard/template selector: matched once per publish per selector, not per session. */
  readonly #patterns = new Map<string, Set<Session>>();
  readonly #sessions = new Set<Session>();
  readonly #expiring = new Set<Session>();
  /** Sessions with frames queued in this turn (see #fanOut). */
  #dirty: Session[] = [];
  #flushScheduled = false;
  readonly #ready: Promise<void>;
  #heartbeat: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  /** When the armed expiry timer fires (ms since epoch); +∞ when none is armed. */
  #expiryAt = Number.POSITIVE_INFINITY;
  #seq = 0;
  #closed = false;
  /** Id of the last update delivered on this node (any kind), if any. */
  lastEventId: string | undefined;

  constructor(options: Partial<BrokerOptions> = {}, transport: Transport = new MemoryTransport()) {
    super();
    this.options = resolveOptions(options);
    this.#log = this.options.logger;
    this.history = new History({
      maxEventsPerTopic: this.options.historyLimit,
      maxBytesPerTopic: this.options.historyMaxBytes,
      maxTopics: this.options.historyMaxTopics,
    });
    this.#transport = transport;
    this.#ready = transport.start((u) => this.#deliver(u));
    // A failed start surfaces on publish; keep it from being an unhandled rejection meanwhile.
    this.#ready.catch(() => {});
    if (this.options.heartbeatMs !== null) {
      this.#heartbeat = setInterval(() => this.#beat(), this.options.heartbeatMs);
      this.#heartbeat.unref();
    }
  }

  /** Open streams. */
  get size(): number {
    return this.#sessions.size;
  }

  get sessions(): ReadonlySet<Session> {
    return this.#sessions;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves when the transport is running. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /**
   * Publishes an update; resolves with its id once the transport accepted it. Throws (400-coded) on an
   * invalid topic, id, type or retry before anything is sent.
   */
  async publish(input: PublishInput): Promise<string> {
    this.#assertOpen();
    const topics = typeof input.topic === "string" ? [input.topic] : [...input.topic];
    if (topics.length === 0) throw badRequest("topic is required", "SSEB_ERR_TOPIC_INVALID");
    for (const t of topics) assertTopic(t);
    if (typeof input.data !== "string") {
      throw badRequest("data must be a string");
    }
    const id = input.id ?? `urn:uuid:${randomUUID()}`;
    if (id === "" || id === "earliest") {
      throw badRequest("id must not be empty or 'earliest'", "SSEB_ERR_WIRE_FIELD_INVALID");
    }
    assertField("id", id);
    if (input.type !== undefined) assertField("event", input.type);
    if (input.retry !== undefined) assertRetry(input.retry);
    const update: Update = {
      id,
      topics,
      data: input.data,
      type: input.type,
      retry: input.retry,
      private: input.private === true,
      ...(input.ephemeral === true ? { ephemeral: true } : {}),
    };
    await this.#ready;
    await this.#transport.append(update);
    return id;
  }

  // ---- hot path -------------------------------------------------------------------------------------

  #deliver(update: Update): void {
    const frame = encodeEvent({ id: update.id, event: update.type, data: update.data, retry: update.retry });
    const d: DeliveredUpdate = { ...update, seq: ++this.#seq, frame };
    (d.ephemeral === true ? this.ephemeralHistory : this.history).add(d);
    this.lastEventId = d.id;
    this.stats.eventsPublished++;
    this.#log?.info({ id: d.id, topic: d.topics[0], clients: this.#sessions.size }, "Receiving event");
    for (const topic of d.topics) {
      const set = this.#exact.get(topic);
      if (set !== undefined) this.#fanOut(set, d);
    }
    for (const [selector, set] of this.#patterns) {
      for (const topic of d.topics) {
        if (this.matcher.matches(selector, topic)) {
          this.#fanOut(set, d);
          break;
        }
      }
    }
    if (this.listenerCount("publish") > 0) this.emit("publish", d);
  }

  #fanOut(set: Set<Session>, d: DeliveredUpdate): void {
    for (const s of set) {
      if (s.lastSeq >= d.seq) continue; // already sent through another selector
      if (d.private === true && !this.#mayReceivePrivate(s, d)) continue;
      s.lastSeq = d.seq;
      if (s.enqueue(s.bareFrames ? bareFrameOf(d) : d.frame, this.stats)) this.#dirty.push(s);
    }
    if (!this.#flushScheduled && this.#dirty.length > 0) {
      this.#flushScheduled = true;
      // By default right after the current turn's synchronous work: no added latency, and every event
      // delivered in this turn (a burst of publishes, a backplane batch) leaves in one write per socket.
      if (this.options.flushIntervalMs > 0) setTimeout(this.#flush, this.options.flushIntervalMs);
      else process.nextTick(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const dirty = this.#dirty;
    this.#dirty = [];
    for (const s of dirty) s.flush(this.stats);
  };

  #mayReceivePrivate(s: Session, u: Update): boolean {
    return s.authorized !== null && this.matcher.matchesAny(s.authorized, u.topics);
  }

  /** True when the session's selectors and authorization let it receive `u`. */
  wants(s: Pick<Session, "selectors" | "authorized">, u: Update): boolean {
    if (!this.matcher.matchesAny(s.selectors, u.topics)) return false;
    return u.private !== true || (s.authorized !== null && this.matcher.matchesAny(s.authorized, u.topics));
  }

  // ---- subscribing ----------------------------------------------------------------------------------

  /**
   * Like `subscribe`, but first lets a lagging backplane catch up when the resume id is not known here yet
   * (a client moving from a node that is ahead). Call `open()` right after it resolves.
   */
  async prepare(opts: SubscribeOptions): Promise<PendingSubscription> {
    const id = opts.lastEventId;
    if (id !== undefined && id !== "earliest" && !this.#knows(id) && this.#transport.catchUp !== undefined) {
      try {
        await this.#transport.catchUp();
      } catch (err) {
        // A non-200 answer makes EventSource give up for good: serve what this node has instead (the plan
        // then says the replay may be incomplete: Last-Event-ID: earliest).
        this.#log?.warn(
          { err: (err as Error).message },
          "Backplane catch-up failed; resuming from local history",
        );
      }
    }
    return this.subscribe(opts);
  }

  /** Validates selectors and plans the history replay. Throws (400-coded) on bad selectors. */
  subscribe(opts: SubscribeOptions): PendingSubscription {
    this.#assertOpen();
    const selectors = [...new Set(opts.selectors)];
    if (selectors.length === 0) {
      throw badRequest("at least one topic is required", "SSEB_ERR_TOPIC_INVALID");
    }
    for (const s of selectors) assertSelector(s);
    const authorized = opts.authorized ?? null;
    const lastEventId = opts.lastEventId;
    if (lastEventId !== undefined) assertField("id", lastEventId);
    const planFrom = (): ReplayPlan | null =>
      lastEventId === undefined ? null : this.#planReplay(selectors, authorized, lastEventId);
    let plan = planFrom();
    const plannedAt = this.#seq;
    return {
      resume: plan === null || lastEventId === undefined ? null : { complete: plan.complete, lastEventId },
      open: (sink) => {
        this.#assertOpen();
        if (plannedAt !== this.#seq) plan = planFrom(); // events arrived in between: plan again, miss none
        const session = new Session({
          sink,
          selectors,
          authorized,
          bareFrames: opts.bareFrames ?? false,
          maxBufferedBytes: this.options.maxBufferedBytes,
          ...(opts.meta === undefined ? {} : { meta: opts.meta }),
        });
        this.#attach(session, plan, opts.expiresAt);
        return session;
      },
    };
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new SseBrokerError("SSEB_ERR_BROKER_CLOSED", "broker is closed", { statusCode: 503 });
  }

  #knows(id: string): boolean {
    return this.history.has(id) || this.ephemeralHistory.has(id);
  }

  #planReplay(
    selectors: readonly string[],
    authorized: readonly string[] | null,
    lastEventId: string,
  ): ReplayPlan {
    const exact = selectors.filter((s) => !isPatternSelector(s));
    const patterns = selectors.filter(isPatternSelector);
    const patternMatch =
      patterns.length === 0 ? null : (topic: string) => patterns.some((p) => this.matcher.matches(p, topic));
    const wants = (u: Update): boolean => this.wants({ selectors, authorized }, u);
    // The resume point may be a data or an ephemeral event; both histories share the delivery order.
    const seq =
      lastEventId === "earliest"
        ? 0
        : (this.history.seqOf(lastEventId) ?? this.ephemeralHistory.seqOf(lastEventId));
    const data = this.history.planAfter(seq ?? 0, exact, patternMatch, wants);
    const ephemeral = this.ephemeralHistory.planAfter(seq ?? 0, exact, patternMatch, wants);
    const updates =
      ephemeral.updates.length === 0
        ? data.updates
        : [...data.updates, ...ephemeral.updates].sort((a, b) => a.seq - b.seq);
    // Ephemeral history is best effort: its evictions do not make a data replay incomplete.
    return { updates, complete: seq !== undefined && data.complete };
  }

  #attach(session: Session, plan: ReplayPlan | null, expiresAt: number | undefined): void {
    const sink = session.sink;
    const onGone = (): void => session.close("client");
    // 'error' must be handled or a reset socket would crash the process; 'close' follows it.
    sink.once("close", onGone);
    sink.once("error", onGone);
    session.onClose = (s) => {
      sink.off("close", onGone);
      sink.off("error", onGone);
      this.#detach(s);
    };
    // Jittered per stream: clients sent away together (restart, cap) do not all return in the same second.
    if (this.options.retryMs !== null) sink.write(encodeRetry(jitteredMs(this.options.retryMs)));
    if (plan !== null) session.replay(plan.updates);
    for (const selector of session.selectors) {
      const index = isPatternSelector(selector) ? this.#patterns : this.#exact;
      let set = index.get(selector);
      if (set === undefined) {
        set = new Set();
        index.set(selector, set);
      }
      set.add(session);
    }
    this.#sessions.add(session);
    this.stats.connectionsOpened++;
    if (expiresAt !== undefined) this.#scheduleExpiry(session, expiresAt);
    this.#log?.info({ session: session.id }, `Client added. ${this.#sessions.size} registered clients`);
    this.emit("session-open", session);
  }

  #detach(session: Session): void {
    if (!this.#sessions.delete(session)) return;
    for (const selector of session.selectors) {
      const index = isPatternSelector(selector) ? this.#patterns : this.#exact;
      const set = index.get(selector);
      if (set?.delete(session) && set.size === 0) index.delete(selector);
    }
    this.#expiring.delete(session);
    const reason = session.closeReason ?? "closed";
    if (reason === "slow") {
      this.stats.droppedSlow++;
      this.#log?.warn(
        { session: session.id, maxBufferedBytes: this.options.maxBufferedBytes },
        "Dropped slow client: pending output over the cap; it can resume with Last-Event-ID",
      );
    }
    this.#log?.info(
      { session: session.id, reason },
      `Removed client. ${this.#sessions.size} registered clients`,
    );
    this.emit("session-close", session, reason);
  }

  /** Number of sessions per selector (exact topics and patterns). */
  subscriptionCounts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const index of [this.#exact, this.#patterns]) for (const [k, set] of index) out.set(k, set.size);
    return out;
  }

  // ---- timers: one for heartbeats, one for token expiry --------------------------------------------

  #beat(): void {
    for (const s of this.#sessions) s.send(HEARTBEAT);
  }

  #scheduleExpiry(session: Session, at: number): void {
    (session.meta as { expiresAt?: number }).expiresAt = at;
    this.#expiring.add(session);
    // The armed timer already fires early enough: no rescan (a rescan per subscribe is O(n²) in total).
    if (this.#expiryTimer !== undefined && at >= this.#expiryAt) return;
    this.#armExpiry();
  }

  #armExpiry(): void {
    if (this.#expiryTimer !== undefined) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    let next = Number.POSITIVE_INFINITY;
    for (const s of this.#expiring) next = Math.min(next, (s.meta as { expiresAt: number }).expiresAt);
    this.#expiryAt = next;
    if (next === Number.POSITIVE_INFINITY) return;
    // setTimeout's limit is 2^31-1 ms; re-arm after that.
    const delay = Math.min(Math.max(0, next - Date.now()), 2 ** 31 - 1);
    this.#expiryTimer = setTimeout(() => {
      const now = Date.now();
      for (const s of this.#expiring) {
        if ((s.meta as { expiresAt: number }).expiresAt <= now) s.close("expired");
      }
      this.#armExpiry();
    }, delay);
    this.#expiryTimer.unref();
  }

  // ---- shutdown -------------------------------------------------------------------------------------

  /** Stops accepting publishes and subscriptions, ends every stream cleanly, stops the transport. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    if (this.#expiryTimer !== undefined) clearTimeout(this.#expiryTimer);
    this.#flush(); // accepted events still queued in this turn go out before the streams end
    for (const s of [...this.#sessions]) s.close("shutdown");
    await this.#transport.close();
    this.emit("close");
  }
}
