/**
 * The broker: validates what comes in, keeps history, and hands each update to the fan-out. Publishing
 * goes: publish() validates → transport.append() → deliver() encodes once → history → fanout (see
 * fanout.ts, the hot path). Subscribing plans the replay from history and opens a session.
 *
 * Listeners (`session-open`, `session-close`, `publish`, `close`) are called after the work that caused
 * them, outside the fan-out, each on its own: one that throws or rejects is logged, and neither breaks a
 * delivery nor makes a publish fail after its event went out.
 * @module
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { badRequest, SseBrokerError } from "../errors.js";
import { jitteredMs } from "../jitter.js";
import { type RefusalReason, refusalsOf } from "../metrics/refusals.js";
import { type BrokerOptions, type Logger, type ResolvedOptions, resolveOptions } from "../options.js";
import { MemoryTransport } from "../transport/memory.js";
import type { ExistingRecord, Transport } from "../transport/transport.js";
import { assertField, assertRetry, encodeComment, encodeEvent, encodeRetry } from "../wire/encode.js";
import { ExpiryQueue } from "./expiry.js";
import { Fanout } from "./fanout.js";
import { History, MergedCursor, type ReplayCursor, type Retained } from "./history.js";
import { type IdempotencyRecord, type IdempotencyRequest, IdempotencyStore } from "./idempotency.js";
import { LogLimiter } from "./log-limiter.js";
import { MissedNoticeCursor } from "./missed-notice.js";
import { type CloseReason, Session, type SessionSink } from "./session.js";
import type { SubscriptionCounts } from "./subscription-index.js";
import { encodeTokenExpiring, TOKEN_EXPIRED_FRAME } from "./token-lifecycle.js";
import {
  assertTopic,
  compileSelector,
  type Selector,
  type SelectorLimits,
  SelectorSet,
  TopicMatcher,
} from "./topic.js";
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
  /**
   * Selectors compiled by the caller (e.g. Mercure 1.0 matchers), used instead of `selectors` when given;
   * deduplicated by key, and counted against the same limits.
   */
  compiled?: readonly Selector[] | undefined;
  /** Selectors authorizing private updates; `null`/absent = anonymous. */
  authorized?: readonly string[] | null;
  /**
   * Selectors authorizing private updates compiled by the caller (Mercure 1.0 tokens); wins over
   * `authorized`. Pass the same set for the same rules: fan-out checks an update once per distinct set.
   */
  authorizedCompiled?: SelectorSet | undefined;
  /** Resume point (Last-Event-ID); `"earliest"` replays all retained history. */
  lastEventId?: string | undefined;
  /**
   * Start a resume that history cannot cover (`resume.complete` false) with the `sse-broker.missed`
   * control event (see missed-notice.ts). Defaults to `false`.
   */
  signalMissed?: boolean | undefined;
  /**
   * Without a resume point: first send the newest retained event of each topic the selectors match (at
   * most `MAX_LATEST_TOPICS`, those most recently published; private ones only when authorized), in
   * publication order, then the live stream. Ignored with `lastEventId`, which replays what followed
   * it instead. Defaults to `false`.
   */
  latest?: boolean | undefined;
  /** Omit `id:` lines (seed demo wire format). */
  bareFrames?: boolean;
  /** Close the stream at this time (ms since epoch), e.g. the subscriber token's `exp`. */
  expiresAt?: number | undefined;
  /**
   * `expiresAt` is a token's expiry and the stream says so in-band: the `sse-broker.token-expiring` notice
   * `tokenExpiryNoticeMs` before it, the final `sse-broker.closed` event at it (see token-lifecycle.ts).
   * Not when `maxStreamLifetimeMs` ends the stream first. Defaults to `false`.
   */
  tokenLifecycle?: boolean | undefined;
  meta?: Record<string, unknown>;
  /** Who subscribes (e.g. the client address); kept on the session. */
  client?: string | undefined;
  /**
   * The stream's public id (`Session.subscriberId`). Defaults to `meta.mercure.subscriber` when that is a
   * string, else a new `urn:uuid:`.
   */
  subscriberId?: string | undefined;
  /** SHA-256 (hex) of the stream's bearer token (see `credentialHashOf`): lets it change its own selectors. */
  credentialHash?: string | undefined;
}

/** A change of a live subscription's selectors (see `Broker.changeSelectors`). */
export interface SelectorChange {
  /** Selector strings (compiled as `subscribe` compiles them), or selectors already compiled (another dialect's). */
  readonly add?: readonly (string | Selector)[] | undefined;
  /** Selector keys (`Selector.key`; a classic selector's key is its string). */
  readonly remove?: readonly string[] | undefined;
}

/** A subscription whose replay is planned; `open()` must be called in the same tick to miss nothing. */
export interface PendingSubscription {
  /**
   * `null` when no resume point was asked for. Read it right before `open()`: it is planned again when
   * events arrived since `subscribe()`, so what it says is what `open()` replays.
   */
  readonly resume: { readonly complete: boolean; readonly lastEventId: string } | null;
  /** The id the session will have (send it before `open()`, e.g. in a response header). */
  readonly subscriberId: string;
  /** The broker's heartbeat interval (`null` = off), advertised to clients in a response header. */
  readonly heartbeatMs: number | null;
  open(sink: SessionSink): Session;
}

export interface BrokerStats {
  eventsPublished: number;
  eventsDelivered: number;
  bytesDelivered: number;
  droppedSlow: number;
  /** Subscribers dropped because history evicted events their replay still had to send. */
  droppedLagged: number;
  connectionsOpened: number;
}

interface BrokerEvents {
  /** The broker closed (after every stream ended). */
  close: [];
  "session-open": [Session];
  "session-close": [Session, CloseReason];
  /** The session's selectors changed (`changeSelectors`); it has the new set, the old one is given. */
  "session-selectors": [Session, SelectorSet];
  /** The session's token was replaced (`renewToken`); its `meta` already has the new token's entries. */
  "session-token": [Session];
  publish: [DeliveredUpdate];
}

type EventName = keyof BrokerEvents;

const HEARTBEAT = encodeComment();

/** Where a sink keeps its session, for the one listener all sinks share. */
const kSession = Symbol("sse-broker.session");

/** The recorded answer for a retry with the same key; the same key for another request is 422. */
function replayOf(
  record: IdempotencyRecord,
  request: IdempotencyRequest,
): { ids: string[]; replayed: boolean } {
  if (record.fingerprint !== request.fingerprint) {
    throw new SseBrokerError(
      "SSEB_ERR_IDEMPOTENCY_KEY_REUSED",
      "this Idempotency-Key was used for a different request",
      { statusCode: 422 },
    );
  }
  return { ids: [...record.ids], replayed: true };
}

function onSinkGone(this: { [kSession]?: Session }): void {
  this[kSession]?.close("client");
}

/** A change to a stream refused while its history replay runs (the replay follows the stream as it was). */
function replayingError(): SseBrokerError {
  return new SseBrokerError(
    "SSEB_ERR_SUBSCRIBER_REPLAYING",
    "the stream is still replaying history; try again when it is live",
    { statusCode: 409 },
  );
}

/** Whether a subscriber with these grants may receive a retained event (private ones need a grant). */
function wantsOf(grants: SelectorSet | null): (e: Retained) => boolean {
  return (e) => !e.private || grants?.matchesAny(e.topics) === true;
}

/** Bounds of the history of ephemeral updates (subscription events: about two per topic). */
const EPHEMERAL_HISTORY = {
  maxEventsPerTopic: 10,
  maxBytesPerTopic: 64 * 1024,
  maxTopics: 1000,
  maxEvents: 10_000,
  maxBytes: 8 * 1024 * 1024,
} as const;

export class Broker extends EventEmitter<BrokerEvents> {
  readonly options: ResolvedOptions;
  /** Retained data events, for resume. */
  readonly history: History;
  /** Retained ephemeral events (see `Update.ephemeral`). */
  readonly ephemeralHistory = new History(EPHEMERAL_HISTORY);
  /** Matches topics against selector lists (token claims), each list compiled once within the limits. */
  readonly matcher: TopicMatcher;
  readonly stats: BrokerStats = {
    eventsPublished: 0,
    eventsDelivered: 0,
    bytesDelivered: 0,
    droppedSlow: 0,
    droppedLagged: 0,
    connectionsOpened: 0,
  };
  readonly #transport: Transport;
  readonly #log: Logger | null;
  readonly #limited: LogLimiter | null;
  readonly #selectorLimits: SelectorLimits;
  readonly #fanout: Fanout;
  readonly #sessions = new Set<Session>();
  /** Open sessions by subscriber id (for `changeSelectors`). */
  readonly #bySubscriber = new Map<string, Session>();
  /** Compiled selector sets in use, by their selectors (NUL-joined), with the number of sessions using each. */
  readonly #selectorSets = new Map<string, { set: SelectorSet; refs: number }>();
  /** Per client: how many of its sessions use each template selector (see maxPatternSelectorsPerClient). */
  readonly #clientTemplates = new Map<string, Map<string, number>>();
  /** One timer for every stream's timed actions: token-expiry notices and ends (see #due). */
  readonly #expiry = new ExpiryQueue((s) => this.#due(s));
  /** Idempotency keys answered on this node (see publishBatch). */
  readonly #idempotency: IdempotencyStore;
  readonly #ready: Promise<void>;
  #heartbeat: NodeJS.Timeout | undefined;
  #seq = 0;
  #closed = false;
  /** The transport's start resolved (prepare() then needs no await for it). */
  #started = false;
  /** Listener calls waiting for the current work to finish (see #notify). */
  #pending: [EventName, unknown[]][] = [];
  /** Id of the last update delivered on this node (any kind), if any. */
  lastEventId: string | undefined;

  constructor(options: Partial<BrokerOptions> = {}, transport: Transport = new MemoryTransport()) {
    super();
    this.options = resolveOptions(options);
    const o = this.options;
    this.#log = o.logger;
    this.#limited = o.logger === null ? null : new LogLimiter(o.logger);
    this.history = new History({
      maxEventsPerTopic: o.historyLimit,
      maxBytesPerTopic: o.historyMaxBytes,
      maxTopics: o.historyMaxTopics,
      maxEvents: o.historyMaxEvents,
      maxBytes: o.historyMaxTotalBytes,
    });
    this.#selectorLimits = {
      maxSelectorLength: o.maxSelectorLength,
      maxTemplateExpressions: o.maxTemplateExpressions,
    };
    this.matcher = new TopicMatcher(this.#selectorLimits);
    this.#idempotency = new IdempotencyStore(o.maxIdempotencyKeys);
    this.#fanout = new Fanout(this.stats, o.flushIntervalMs, o.maxFlushDelayMs);
    this.#transport = transport;
    this.#ready = transport.start({
      deliver: (u, backlog) => this.#deliver(u, backlog),
      gap: (reason) => this.#gap(reason),
    });
    // A failed start surfaces on publish; keep it from being an unhandled rejection meanwhile.
    this.#ready.then(
      () => {
        this.#started = true;
      },
      () => {},
    );
    if (o.heartbeatMs !== null) {
      this.#heartbeat = setInterval(() => this.#beat(), o.heartbeatMs);
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
   * Publishes an update; resolves with its id once the transport accepted it. Throws a coded 4xx before
   * anything is sent on an invalid or over-limit topic list, data, id (409 when a retained event has it),
   * type or retry.
   */
  async publish(input: PublishInput): Promise<string> {
    this.#assertOpen();
    const update = this.#updateOf(input, true);
    await this.#ready;
    await this.#transport.append(update);
    return update.id;
  }

  /**
   * Publishes `inputs` as consecutive events, in order (no other event between them), all or none: every
   * one is validated first (an error names its index), then they are appended in one step when the
   * transport can (`Transport.appendBatch`). With `idempotency`, a key already answered gets its recorded
   * ids back (`replayed`) and nothing is published; the same key for another request is 422, and one
   * still in flight on this node 409. With a shared backplane the key is recorded atomically with the
   * append, so a retry on any node after a lost reply is recognised.
   */
  publishBatch(
    inputs: readonly PublishInput[],
    idempotency?: IdempotencyRequest,
  ): Promise<{ ids: string[]; replayed: boolean }> {
    return this.#publishAll(inputs, idempotency, true);
  }

  /** `publish` under an idempotency key (see `publishBatch`): the id, and whether it was replayed. */
  async publishOnce(
    input: PublishInput,
    idempotency: IdempotencyRequest,
  ): Promise<{ id: string; replayed: boolean }> {
    const { ids, replayed } = await this.#publishAll([input], idempotency, false);
    return { id: ids[0] as string, replayed };
  }

  /** `indexed`: errors name the event's index (a batch). */
  async #publishAll(
    inputs: readonly PublishInput[],
    idempotency: IdempotencyRequest | undefined,
    indexed: boolean,
  ): Promise<{ ids: string[]; replayed: boolean }> {
    this.#assertOpen();
    const o = this.options;
    if (inputs.length === 0) throw badRequest("a batch needs at least one event");
    if (inputs.length > o.maxBatchEvents) {
      this.#refused("batch_events");
      throw new SseBrokerError(
        "SSEB_ERR_LIMIT_BATCH_EVENTS",
        `a batch may hold at most ${o.maxBatchEvents} events`,
        { statusCode: 413 },
      );
    }
    if (idempotency === undefined)
      return { ids: await this.#appendAll(this.#updatesOf(inputs, true, indexed)), replayed: false };
    const { key } = idempotency;
    const known = this.#idempotency.get(key);
    if (known !== undefined) return replayOf(known, idempotency);
    if (!this.#idempotency.begin(key)) {
      throw new SseBrokerError(
        "SSEB_ERR_IDEMPOTENCY_IN_FLIGHT",
        "a request with this Idempotency-Key is still in progress; retry later",
        { statusCode: 409 },
      );
    }
    try {
      // A retained id may be this very request's, appended by an attempt whose reply was lost: the record
      // tells. Without one it is a conflict, as without a key.
      const updates = this.#updatesOf(inputs, false, indexed);
      if (updates.some((u) => this.#knows(u.id))) {
        const found = await this.#transport.lookupIdempotency?.(key);
        if (found != null) return this.#remember(key, found.record, found.ttlMs, idempotency);
        this.#refused("id_conflict");
        throw new SseBrokerError("SSEB_ERR_ID_CONFLICT", "an event with this id is already retained", {
          statusCode: 409,
        });
      }
      await this.#ready;
      const record = { fingerprint: idempotency.fingerprint, ids: updates.map((u) => u.id) };
      let found: ExistingRecord | null = null;
      if (this.#transport.appendBatch === undefined) await this.#appendAll(updates);
      else found = await this.#transport.appendBatch(updates, { key, record, ttlMs: o.idempotencyTtlMs });
      if (found !== null) return this.#remember(key, found.record, found.ttlMs, idempotency);
      this.#idempotency.set(key, record, o.idempotencyTtlMs);
      return { ids: [...record.ids], replayed: false };
    } finally {
      this.#idempotency.end(key);
    }
  }

  #remember(
    key: string,
    record: IdempotencyRecord,
    ttlMs: number,
    request: IdempotencyRequest,
  ): { ids: string[]; replayed: boolean } {
    this.#idempotency.set(key, record, ttlMs);
    return replayOf(record, request);
  }

  /** Validates every input (an error names its index); ids must differ within the batch. */
  #updatesOf(inputs: readonly PublishInput[], checkRetained: boolean, indexed: boolean): Update[] {
    const updates: Update[] = [];
    const ids = new Set<string>();
    for (const [i, input] of inputs.entries()) {
      let u: Update;
      try {
        if (input.ephemeral === true) throw badRequest("ephemeral updates cannot be batched");
        u = this.#updateOf(input, checkRetained);
        if (ids.has(u.id)) {
          throw new SseBrokerError("SSEB_ERR_ID_CONFLICT", "an earlier event of the batch has this id", {
            statusCode: 409,
          });
        }
      } catch (err) {
        if (!(err instanceof SseBrokerError) || !indexed) throw err;
        throw new SseBrokerError(err.code, `event ${i}: ${err.message}`, {
          ...(err.statusCode === undefined ? {} : { statusCode: err.statusCode }),
          cause: err,
        });
      }
      ids.add(u.id);
      updates.push(u);
    }
    return updates;
  }

  /** Appends in one step when the transport can, else one by one (a custom transport without batches). */
  async #appendAll(updates: Update[]): Promise<string[]> {
    await this.#ready;
    if (this.#transport.appendBatch !== undefined) await this.#transport.appendBatch(updates);
    else for (const u of updates) await this.#transport.append(u);
    return updates.map((u) => u.id);
  }

  /** Validates one input into an update; `checkRetained`: a retained id is a 409 here. */
  #updateOf(input: PublishInput, checkRetained: boolean): Update {
    const o = this.options;
    const topics = typeof input.topic === "string" ? [input.topic] : [...input.topic];
    if (topics.length === 0) throw badRequest("topic is required", "SSEB_ERR_TOPIC_INVALID");
    if (topics.length > o.maxTopicsPerUpdate) {
      this.#refused("topics_per_update");
      throw badRequest(`an update may have at most ${o.maxTopicsPerUpdate} topics`, "SSEB_ERR_LIMIT_TOPICS");
    }
    for (const t of topics) assertTopic(t);
    if (typeof input.data !== "string") throw badRequest("data must be a string");
    if (input.data.length > o.maxEventBytes || Buffer.byteLength(input.data) > o.maxEventBytes) {
      this.#refused("event_size");
      throw new SseBrokerError(
        "SSEB_ERR_LIMIT_EVENT_SIZE",
        `event data is larger than ${o.maxEventBytes} bytes`,
        {
          statusCode: 413,
        },
      );
    }
    let id = input.id;
    if (id === undefined) {
      id = `urn:uuid:${randomUUID()}`;
    } else {
      if (id === "" || id === "earliest") {
        throw badRequest("id must not be empty or 'earliest'", "SSEB_ERR_WIRE_FIELD_INVALID");
      }
      assertField("id", id);
      // A second event with a retained id would make resuming from that id ambiguous.
      if (checkRetained && this.#knows(id)) {
        this.#refused("id_conflict");
        throw new SseBrokerError("SSEB_ERR_ID_CONFLICT", "an event with this id is already retained", {
          statusCode: 409,
        });
      }
    }
    if (input.type !== undefined) assertField("event", input.type);
    if (input.retry !== undefined) assertRetry(input.retry);
    return {
      id,
      topics,
      data: input.data,
      type: input.type,
      retry: input.retry,
      private: input.private === true,
      ...(input.ephemeral === true ? { ephemeral: true } : {}),
    };
  }

  /** From the transport: one update, in the shared order. A `backlog` one only fills history. */
  #deliver(update: Update, backlog: boolean): void {
    const frame = encodeEvent({ id: update.id, event: update.type, data: update.data, retry: update.retry });
    const d: DeliveredUpdate = { ...update, seq: ++this.#seq, frame };
    (d.ephemeral === true ? this.ephemeralHistory : this.history).add(d);
    this.lastEventId = d.id;
    if (backlog) return;
    this.stats.eventsPublished++;
    this.#fanout.deliver(d);
    this.#notify("publish", d);
  }

  /** From the transport: updates may have been lost here; a resume across this point is incomplete. */
  #gap(reason: string): void {
    this.history.markGap(this.#seq + 1);
    this.ephemeralHistory.markGap(this.#seq + 1);
    this.#log?.warn(
      { reason },
      "Backplane gap: events may have been lost; resumes across it report incomplete",
    );
  }

  #knows(id: string): boolean {
    return this.history.has(id) || this.ephemeralHistory.has(id);
  }

  /** True when the session's selectors and authorization let it receive `u`. */
  wants(s: Session, u: Update): boolean {
    return s.selectorSet.matchesAny(u.topics) && s.mayReceive(u);
  }

  // ---- subscribing ----------------------------------------------------------------------------------

  /**
   * Like `subscribe`, but first waits for the transport to be ready and lets a lagging backplane catch up
   * when the resume id is not known here yet (a client moving from a node that is ahead). Call `open()`
   * right after it resolves.
   */
  async prepare(opts: SubscribeOptions): Promise<PendingSubscription> {
    if (!this.#started) await this.#ready.catch(() => {});
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

  /** Validates and compiles the selectors and plans the replay. Throws a coded 4xx/503 on bad input. */
  subscribe(opts: SubscribeOptions): PendingSubscription {
    this.#assertOpen();
    const o = this.options;
    const given =
      opts.compiled === undefined ? null : [...new Map(opts.compiled.map((s) => [s.key, s])).values()];
    const sources = given === null ? [...new Set(opts.selectors)] : given.map((s) => s.key);
    this.#assertSelectorCount(sources.length);
    // Sessions with the same selectors share one compiled set (a connection storm compiles once).
    const key = sources.join("\u0000"); // topics never contain control characters
    const selectors =
      this.#selectorSets.get(key)?.set ?? new SelectorSet(given ?? sources.map((s) => this.#compile(s)));
    this.#assertTemplateRoom(selectors, opts.client);
    const grants =
      opts.authorizedCompiled !== undefined
        ? opts.authorizedCompiled
        : opts.authorized == null
          ? null
          : this.matcher.compile(opts.authorized);
    const lastEventId = opts.lastEventId;
    if (lastEventId !== undefined) assertField("id", lastEventId);
    // A resume point wins over latest values: a reconnecting client gets exactly what followed its id.
    const latest = opts.latest === true && lastEventId === undefined;
    let plannedAt = -1;
    let plan: { complete: boolean; cursor: ReplayCursor } | null = null;
    const ensurePlan = (): void => {
      if ((lastEventId === undefined && !latest) || plannedAt === this.#seq) return;
      plannedAt = this.#seq;
      plan =
        lastEventId === undefined
          ? { complete: true, cursor: this.history.latest(selectors, wantsOf(grants), this.#seq) }
          : this.#plan(selectors, grants, lastEventId);
    };
    ensurePlan();
    const mercure = opts.meta?.mercure as { subscriber?: unknown } | undefined;
    const subscriberId =
      opts.subscriberId ??
      (typeof mercure?.subscriber === "string" ? mercure.subscriber : `urn:uuid:${randomUUID()}`);
    return {
      subscriberId,
      heartbeatMs: o.heartbeatMs,
      get resume() {
        ensurePlan();
        return plan === null || lastEventId === undefined ? null : { complete: plan.complete, lastEventId };
      },
      open: (sink) => {
        this.#assertOpen();
        ensurePlan(); // events arrived in between: plan again, miss none
        const session = new Session({
          sink,
          selectors,
          grants,
          bareFrames: opts.bareFrames ?? false,
          maxBufferedBytes: o.maxBufferedBytes,
          client: opts.client,
          subscriberId,
          credentialHash: opts.credentialHash,
          ...(opts.meta === undefined ? {} : { meta: opts.meta }),
        });
        session.endsBy = this.#lifetimeEnd();
        session.tokenExpiresAt = opts.expiresAt;
        session.tokenLifecycle = opts.tokenLifecycle === true;
        this.#timeSession(session);
        this.#attach(session, this.#replayOf(plan, lastEventId, opts.signalMissed === true));
        return session;
      },
    };
  }

  #compile(source: string): Selector {
    try {
      return compileSelector(source, this.#selectorLimits);
    } catch (err) {
      if ((err as SseBrokerError).code === "SSEB_ERR_LIMIT_SELECTOR") this.#refused("selector_bounds");
      throw err;
    }
  }

  /** One integer increment for /metrics' sse_broker_refused_total. */
  #refused(reason: RefusalReason): void {
    refusalsOf(this)[reason]++;
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new SseBrokerError("SSEB_ERR_BROKER_CLOSED", "broker is closed", { statusCode: 503 });
  }

  #plan(
    selectors: SelectorSet,
    grants: SelectorSet | null,
    lastEventId: string,
  ): { complete: boolean; cursor: ReplayCursor } {
    // The resume point may be a data or an ephemeral event; both histories share the delivery order.
    const seq =
      lastEventId === "earliest"
        ? 0
        : (this.history.seqOf(lastEventId) ?? this.ephemeralHistory.seqOf(lastEventId));
    const wants = wantsOf(grants);
    const data = this.history.plan(seq, selectors, wants, this.#seq);
    const ephemeral = this.ephemeralHistory.plan(seq ?? 0, selectors, wants, this.#seq);
    // Ephemeral history is best effort: its evictions do not make a data replay incomplete.
    return { complete: data.complete, cursor: new MergedCursor(data.cursor, ephemeral.cursor) };
  }

  /** What a session opening with `plan` replays: its cursor, after the missed notice when it applies. */
  #replayOf(
    plan: { complete: boolean; cursor: ReplayCursor } | null,
    lastEventId: string | undefined,
    signalMissed: boolean,
  ): ReplayCursor | null {
    if (plan === null) return null;
    if (!signalMissed || plan.complete || lastEventId === undefined) return plan.cursor;
    return new MissedNoticeCursor(plan.cursor, lastEventId);
  }

  /**
   * The latest a stream opening now may end, whatever its token says: `maxStreamLifetimeMs`, at a random
   * point in that lifetime's last 10 % (streams opened together, e.g. after a restart, must not all end
   * and reconnect in the same second).
   */
  #lifetimeEnd(): number | undefined {
    const life = this.options.maxStreamLifetimeMs;
    if (life === null) return undefined;
    return Date.now() + life - Math.floor(Math.random() * (life / 10));
  }

  /**
   * Sets when a stream ends (its token's expiry, or sooner its lifetime) and, when it asked for the
   * lifecycle events and its token is what ends it, when its notice is due.
   */
  #timeSession(s: Session): void {
    const token = s.tokenExpiresAt;
    s.expiresAt = token === undefined ? s.endsBy : s.endsBy === undefined ? token : Math.min(token, s.endsBy);
    const notice = this.options.tokenExpiryNoticeMs;
    s.noticeAt =
      s.tokenLifecycle && notice > 0 && token !== undefined && s.expiresAt === token
        ? token - notice
        : undefined;
  }

  /**
   * A live stream's token was replaced (e.g. by the Mercure hub's token refresh, after verifying the new
   * one): its private rights become `grants`, its own credential (for selector changes) `credentialHash`,
   * and it ends at the new token's expiry (never later than its lifetime allows), with a new notice before
   * that. No effect on a closed stream. Refused 409 during a history replay, like a selector change: the
   * replay was planned with the old rights, and the new ones would apply to its rest only. `meta`
   * (what the caller derives from the new token, e.g. the hub's subscription payloads) is merged into
   * the session's meta before "session-token" tells listeners.
   */
  renewToken(
    s: Session,
    tokenExpiresAt: number | undefined,
    grants: SelectorSet | null,
    credentialHash: string | undefined,
    meta?: Readonly<Record<string, unknown>>,
  ): void {
    if (s.closed) return;
    if (s.replaying) throw replayingError();
    s.grants = grants;
    s.credentialHash = credentialHash;
    s.tokenExpiresAt = tokenExpiresAt;
    this.#expiry.remove(s);
    this.#timeSession(s);
    this.#expiry.add(s);
    if (meta !== undefined) Object.assign(s.meta, meta);
    this.#notify("session-token", s);
  }

  /**
   * A session's timed action is due: its token-expiry notice (then it waits for its end in the same heap),
   * or its end. The notice is written whole, like a heartbeat, between frames (a timer never runs inside a
   * write) and counts against the slow-client cap.
   */
  #due(s: Session): void {
    if (s.noticeAt !== undefined) {
      s.noticeAt = undefined;
      if (s.send(encodeTokenExpiring(s.expiresAt as number, s.subscriberId))) this.#expiry.add(s);
      return;
    }
    const byToken = s.tokenLifecycle && s.expiresAt === s.tokenExpiresAt;
    s.close("expired", byToken ? TOKEN_EXPIRED_FRAME : undefined);
  }

  #attach(session: Session, replay: ReplayCursor | null): void {
    const sink = session.sink;
    // The client may have gone while the subscription was prepared: its 'close' already fired and would
    // never come again, so the session would stay registered forever.
    if (sink.destroyed) {
      session.close("client");
      return;
    }
    // One listener function for every sink, which finds its session on the sink: no closures per stream.
    // 'error' must be handled or a reset socket would crash the process; 'close' follows it.
    (sink as SessionSink & { [kSession]?: Session })[kSession] = session;
    sink.on("close", onSinkGone);
    sink.on("error", onSinkGone);
    session.onClose = this.#closed_;
    const retryMs = this.options.retryMs;
    // Jittered per stream: clients sent away together (restart, cap) do not all return in the same second.
    if (retryMs !== null) sink.write(encodeRetry(jitteredMs(retryMs)));
    this.#fanout.add(session);
    this.#countTemplates(session, 1);
    this.#shareSelectors(session.selectorSet, 1);
    this.#sessions.add(session);
    this.#bySubscriber.set(session.subscriberId, session);
    this.stats.connectionsOpened++;
    this.#expiry.add(session);
    this.#limited?.info(
      "client-added",
      { session: session.id },
      () => `Client added. ${this.#sessions.size} registered clients`,
    );
    if (replay !== null) session.replay(replay, this.stats);
    if (!session.closed) this.#notify("session-open", session);
  }

  /** A session ended: its sink's listeners go, then the broker forgets it. */
  readonly #closed_ = (session: Session): void => {
    const sink = session.sink as SessionSink & { [kSession]?: Session };
    sink.off("close", onSinkGone);
    sink.off("error", onSinkGone);
    sink[kSession] = undefined;
    this.#detach(session);
  };

  #detach(session: Session): void {
    if (!this.#sessions.delete(session)) return;
    if (this.#bySubscriber.get(session.subscriberId) === session)
      this.#bySubscriber.delete(session.subscriberId);
    this.#fanout.remove(session);
    this.#countTemplates(session, -1);
    this.#shareSelectors(session.selectorSet, -1);
    this.#expiry.remove(session);
    const reason = session.closeReason ?? "closed";
    if (reason === "slow" || reason === "lagged") {
      if (reason === "slow") this.stats.droppedSlow++;
      else this.stats.droppedLagged++;
      this.#limited?.warn(
        `dropped-${reason}`,
        { session: session.id, reason, maxBufferedBytes: this.options.maxBufferedBytes },
        reason === "slow"
          ? "Dropped slow client: pending output over the cap; it can resume with Last-Event-ID"
          : "Dropped client whose replay fell behind history; it can resume with Last-Event-ID",
      );
    }
    this.#limited?.info(
      "client-removed",
      { session: session.id, reason },
      () => `Removed client. ${this.#sessions.size} registered clients`,
    );
    this.#notify("session-close", session, reason);
  }

  #shareSelectors(set: SelectorSet, delta: 1 | -1): void {
    const key = set.key;
    const entry = this.#selectorSets.get(key);
    if (entry === undefined) {
      if (delta === 1) this.#selectorSets.set(key, { set, refs: 1 });
    } else if (entry.set === set) {
      entry.refs += delta;
      if (entry.refs === 0) this.#selectorSets.delete(key);
    }
  }

  #countTemplates(session: Session, delta: 1 | -1): void {
    if (session.client === undefined) return;
    let mine = this.#clientTemplates.get(session.client);
    for (const s of session.selectorSet.selectors) {
      if (s.kind !== "template") continue;
      if (mine === undefined) {
        mine = new Map();
        this.#clientTemplates.set(session.client, mine);
      }
      const n = (mine.get(s.key) ?? 0) + delta;
      if (n > 0) mine.set(s.key, n);
      else mine.delete(s.key);
    }
    if (mine?.size === 0) this.#clientTemplates.delete(session.client);
  }

  /** The open session with this subscriber id on this node, if any. */
  subscriber(id: string): Session | undefined {
    return this.#bySubscriber.get(id);
  }

  /**
   * Adds and removes selectors of a live session, between two deliveries: an event delivered after this
   * returns reaches the session when it matches the new set, never through a removed selector, and at most
   * once (the fan-out dedupes by seq across selectors; no event is delivered to a session twice). Frames
   * queued for the session are written first, so nothing matched by the old set follows the change on the
   * wire. Validated like `subscribe` (400 for a bad selector, an empty result or too many selectors;
   * the same 429/503 template limits); refused 409 during a history replay, whose cursor follows the old
   * selectors. Returns the new selectors. A selector both added and removed is added.
   */
  changeSelectors(session: Session, change: SelectorChange): readonly string[] {
    this.#assertOpen();
    if (session.closed || !this.#sessions.has(session)) {
      throw new SseBrokerError("SSEB_ERR_SUBSCRIBER_NOT_FOUND", "no open stream has this subscriber id", {
        statusCode: 404,
      });
    }
    if (session.replaying) throw replayingError();
    const old = session.selectorSet;
    // By key: a compiled selector of another dialect never stands for a classic one of the same text.
    const wanted = new Map<string, string | Selector>();
    for (const x of change.add ?? []) wanted.set(typeof x === "string" ? x : x.key, x);
    const remove = new Set(change.remove ?? []);
    for (const k of wanted.keys()) remove.delete(k);
    const kept = old.selectors.filter((s) => !remove.has(s.key) && !wanted.has(s.key));
    const fresh = [...wanted].map(
      ([k, x]) => old.selectors.find((s) => s.key === k) ?? (typeof x === "string" ? this.#compile(x) : x),
    );
    const next = [...kept, ...fresh];
    this.#assertSelectorCount(next.length);
    const key = next.map((s) => s.key).join("\u0000");
    if (key === old.key) return old.sources;
    const set = this.#selectorSets.get(key)?.set ?? new SelectorSet(next);
    this.#assertTemplateRoom(set, session.client);
    session.flush(this.stats); // what the old set matched goes out before the change
    if (session.closed) return set.sources;
    const index = this.#fanout.index;
    const before = new Set(old.selectors.map((s) => s.key));
    const after = new Set(set.selectors.map((s) => s.key));
    for (const s of old.selectors) if (!after.has(s.key)) index.delete(s, session);
    for (const s of set.selectors) if (!before.has(s.key)) index.add(s, session);
    this.#countTemplates(session, -1);
    this.#shareSelectors(old, -1);
    session.selectorSet = set;
    this.#countTemplates(session, 1);
    this.#shareSelectors(set, 1);
    this.#notify("session-selectors", session, old);
    return set.sources;
  }

  /** Throws the 503/429 of `subscribe` when `set` would add templates over the node's or client's bound. */
  /** A subscription's selectors: at least one, at most `maxSelectorsPerSubscription` (subscribe and changes). */
  #assertSelectorCount(n: number): void {
    if (n === 0) throw badRequest("at least one topic is required", "SSEB_ERR_TOPIC_INVALID");
    if (n > this.options.maxSelectorsPerSubscription) {
      this.#refused("selectors");
      throw badRequest(
        `a subscription may have at most ${this.options.maxSelectorsPerSubscription} topic selectors`,
        "SSEB_ERR_LIMIT_SELECTORS",
      );
    }
  }

  #assertTemplateRoom(set: SelectorSet, client: string | undefined): void {
    const o = this.options;
    const index = this.#fanout.index;
    const added = set.selectors.filter((s) => index.isNewTemplate(s)).length;
    if (added > 0 && index.templateCount + added > o.maxPatternSelectors) {
      this.#refused("pattern_selectors");
      throw new SseBrokerError(
        "SSEB_ERR_LIMIT_PATTERNS",
        "this node matches as many distinct template selectors as it may; try again later or use exact topics",
        { statusCode: 503 },
      );
    }
    if (client !== undefined) {
      const mine = this.#clientTemplates.get(client);
      const fresh = set.selectors.filter((s) => s.kind === "template" && mine?.has(s.key) !== true);
      if (fresh.length > 0 && (mine?.size ?? 0) + fresh.length > o.maxPatternSelectorsPerClient) {
        this.#refused("pattern_selectors");
        throw new SseBrokerError(
          "SSEB_ERR_LIMIT_PATTERNS",
          `a client may hold at most ${o.maxPatternSelectorsPerClient} distinct template selectors`,
          { statusCode: 429 },
        );
      }
    }
  }

  /** Subscriptions by kind, and the distinct topics and templates subscribed to. */
  subscriptionCounts(): SubscriptionCounts {
    return this.#fanout.index.counts();
  }

  // ---- listeners: after the work, each on its own --------------------------------------------------

  #notify<K extends EventName>(event: K, ...args: BrokerEvents[K]): void {
    if (this.listenerCount(event) === 0) return;
    this.#pending.push([event, args]);
    if (this.#pending.length === 1) queueMicrotask(this.#drain);
  }

  readonly #drain = (): void => {
    const pending = this.#pending;
    this.#pending = [];
    for (const [event, args] of pending) {
      for (const listener of this.listeners(event) as ((...a: unknown[]) => unknown)[]) {
        try {
          const r = listener.apply(this, args);
          if (r !== null && typeof r === "object" && typeof (r as Promise<unknown>).then === "function") {
            (r as Promise<unknown>).then(undefined, (err: unknown) => this.#listenerFailed(event, err));
          }
        } catch (err) {
          this.#listenerFailed(event, err);
        }
      }
    }
  };

  #listenerFailed(event: EventName, err: unknown): void {
    this.#limited?.warn(`listener-${event}`, { event, err }, `A "${event}" listener failed`);
  }

  // ---- the heartbeat timer -------------------------------------------------------------------------

  #beat(): void {
    for (const s of this.#sessions) {
      try {
        s.beat(HEARTBEAT);
      } catch {
        s.close("error");
      }
    }
    this.#limited?.flush();
  }

  // ---- shutdown -------------------------------------------------------------------------------------

  /** Stops accepting publishes and subscriptions, ends every stream cleanly, stops the transport. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#expiry.close();
    this.#fanout.flush(true); // accepted events still queued go out before the streams end
    const spread = this.options.shutdownRetrySpreadMs;
    const n = this.#sessions.size;
    if (n > 0) this.#log?.info({ streams: n }, `Ending ${n} streams`);
    for (const s of [...this.#sessions]) {
      // A random reconnection delay per stream, so a restart does not bring everyone back at once.
      const last =
        spread === null || s.bareFrames
          ? undefined
          : encodeRetry(1000 + Math.floor(Math.random() * (spread - 1000)));
      s.close("shutdown", last);
    }
    this.#limited?.flush();
    await this.#transport.close();
    this.#notify("close");
  }
}
