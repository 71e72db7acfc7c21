/**
 * Cluster-wide active subscriptions for the Mercure subscriptions API, kept in Redis.
 *
 * Each node writes its own Mercure subscriptions to its own hash, `${keyPrefix}subscriptions:${nodeId}`
 * (field = subscription IRI, value = topic or Mercure 1.0 matcher, subscriber and payload), as its sessions
 * open and close. ONE
 * timer per node refreshes the hash's TTL and the node's score (Redis time) in the sorted set
 * `${keyPrefix}subscriptions`, so a node that dies without closing (SIGKILL, power loss) drops out of every
 * list within `ttlMs`. `list()` reads the hashes of the nodes in that set.
 *
 * Lives beside the hub rather than under src/transport/: it implements the hub's `SubscriptionRegistry`
 * on the hub's session metadata and carries no events. It loads ioredis, so the package root never
 * imports it (see docs/scaling.md).
 *
 * Writes never hold up a subscriber: they are fire-and-forget on a connection that fails fast. A node
 * remembers its own entries, and after a failed write or an outage rewrites its whole hash; a list
 * during an outage is a 503.
 * @module
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { Redis, type RedisOptions } from "ioredis";
import type { Broker } from "../core/broker.js";
import type { Session } from "../core/session.js";
import { optionsError, SseBrokerError } from "../errors.js";
import type { Logger } from "../options.js";
import { leaveNodes, TOUCH_NODE, whenReady } from "../transport/redis-nodes.js";
import { MATCH_TYPES, type MatchType, subscriptionId, subscriptionId1 } from "./paths.js";
import {
  type Mercure1SubscriptionDocument,
  type Mercure1SubscriptionFilter,
  type MercureSessionMeta,
  matchesFilter1,
  mercureMeta,
  type SubscriptionDocument,
  type SubscriptionFilter,
  type SubscriptionRegistry,
  subscriptionDocument,
  subscriptionDocument1,
} from "./registry.js";

export interface RedisSubscriptionRegistryOptions {
  /** `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS. */
  url: string;
  /** Same prefix as the transport's: keys are `${keyPrefix}subscriptions[:nodeId]`. Defaults to `"sse-broker:"`. */
  keyPrefix?: string;
  /** How long a node's entries outlive its last refresh (refreshed every third of it). Defaults to `30_000`. */
  ttlMs?: number;
  /** This node's name in Redis. Defaults to `<hostname>:<pid>:<random>`. */
  nodeId?: string;
  /** How long a list or write waits for Redis before failing. Defaults to `2_000`. */
  commandTimeoutMs?: number;
  /**
   * Passed to ioredis (TLS, Sentinel…). The registry overrides `enableOfflineQueue`,
   * `maxRetriesPerRequest`, `autoResendUnfulfilledCommands` and `commandTimeout`.
   */
  redisOptions?: RedisOptions;
  /** Receives structured logs; defaults to none. */
  logger?: Logger | null;
}

/** What a hash field holds: enough to rebuild the subscription document. */
interface Entry {
  topic: string;
  subscriber: string;
  payload?: unknown;
}

/** A Mercure 1.0 subscription's field value (told apart from a classic one by `matchType`). */
interface Entry1 {
  matchType: MatchType;
  match: string;
  subscriber: string;
  payload?: unknown;
}

export function createRedisSubscriptionRegistry(
  opts: RedisSubscriptionRegistryOptions,
): RedisSubscriptionRegistry {
  return new RedisSubscriptionRegistry(opts);
}

export class RedisSubscriptionRegistry implements SubscriptionRegistry {
  readonly nodeId: string;
  /** The sorted set of node ids by last refresh. */
  readonly nodesKey: string;
  /** This node's hash of subscriptions. */
  readonly key: string;
  readonly #ttlMs: number;
  readonly #commandTimeoutMs: number;
  readonly #log: Logger | null;
  readonly #redis: Redis;
  /** This node's subscriptions (field → JSON), the source of truth for rewriting the hash. */
  readonly #own = new Map<string, string>();
  /** Each open session's fields as last written (what a change or the close takes away). */
  readonly #written = new WeakMap<Session, Map<string, string>>();
  #timer: NodeJS.Timeout | undefined;
  #broker: Broker | undefined;
  #detach: () => void = () => {};
  /** The hash in Redis may differ from `#own` (a write failed, Redis restarted): rewrite it whole. */
  #dirty = true;
  #refreshing = false;
  #downSince: number | undefined;
  #closing: Promise<void> | undefined;

  constructor(opts: RedisSubscriptionRegistryOptions) {
    if (typeof opts.url !== "string" || !/^rediss?:\/\//.test(opts.url)) {
      throw optionsError("url must start with redis:// or rediss://");
    }
    this.#ttlMs = opts.ttlMs ?? 30_000;
    if (!Number.isSafeInteger(this.#ttlMs) || this.#ttlMs < 1_000) {
      throw optionsError("ttlMs must be an integer >= 1000");
    }
    const commandTimeoutMs = opts.commandTimeoutMs ?? 2_000;
    if (!Number.isSafeInteger(commandTimeoutMs) || commandTimeoutMs < 1) {
      throw optionsError("commandTimeoutMs must be an integer >= 1");
    }
    this.#commandTimeoutMs = commandTimeoutMs;
    this.nodeId = opts.nodeId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    if (typeof this.nodeId !== "string" || this.nodeId === "") throw optionsError("nodeId must not be empty");
    this.nodesKey = `${opts.keyPrefix ?? "sse-broker:"}subscriptions`;
    this.key = `${this.nodesKey}:${this.nodeId}`;
    this.#log = opts.logger ?? null;
    this.#redis = new Redis(opts.url, {
      connectTimeout: 5_000,
      ...opts.redisOptions,
      // `<connectionName or "sse-broker">:subscriptions` in CLIENT LIST, beside the transport's two.
      connectionName: `${opts.redisOptions?.connectionName ?? "sse-broker"}:subscriptions`,
      // Fail, don't queue: a subscriber never waits for Redis, and the hash is rewritten after an outage.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: commandTimeoutMs,
    });
    this.#redis.defineCommand("sseTouch", { numberOfKeys: 2, lua: TOUCH_NODE });
    // Without an 'error' listener ioredis prints every failed reconnect; the outage is logged once instead.
    this.#redis.on("error", (err: unknown) => this.#down(err));
    this.#redis.on("close", () => this.#down(new Error("connection closed")));
    this.#redis.on("ready", () => {
      this.#up();
      void this.#refresh();
    });
    this.#timer = setInterval(() => void this.#refresh(), Math.floor(this.#ttlMs / 3));
    this.#timer.unref();
  }

  /**
   * Follows `broker`'s Mercure sessions (the hub calls this when given the registry), and closes with
   * it. Sessions already open are recorded at once.
   */
  attach(broker: Broker): void {
    if (this.#broker === broker) return;
    if (this.#broker !== undefined)
      throw new Error("RedisSubscriptionRegistry is attached to another broker");
    if (this.#closing !== undefined) throw new Error("RedisSubscriptionRegistry is closed");
    this.#broker = broker;
    const onOpen = (s: Session): void => this.#opened(s);
    // A token refresh may change the payloads a node's entries hold: rewritten like a selector change.
    const onChange = (s: Session): void => this.#changed(s);
    const onClose = (s: Session): void => this.#closed(s);
    const onBrokerClose = (): void => void this.close();
    broker.on("session-open", onOpen);
    broker.on("session-selectors", onChange);
    broker.on("session-token", onChange);
    broker.on("session-close", onClose);
    broker.once("close", onBrokerClose);
    this.#detach = () => {
      broker.off("session-open", onOpen);
      broker.off("session-selectors", onChange);
      broker.off("session-token", onChange);
      broker.off("session-close", onClose);
      broker.off("close", onBrokerClose);
    };
    for (const s of broker.sessions) if (!s.closed) this.#opened(s);
  }

  /** Every live node's subscriptions matching the filter; 503 SSEB_ERR_BACKPLANE_UNAVAILABLE when Redis is not. */
  async list(filter: SubscriptionFilter): Promise<readonly SubscriptionDocument[]> {
    const out: SubscriptionDocument[] = [];
    for (const value of await this.#values()) {
      const e = parseEntry(value);
      if (e === null) continue;
      if (filter.topic !== undefined && e.topic !== filter.topic) continue;
      if (filter.subscriber !== undefined && e.subscriber !== filter.subscriber) continue;
      out.push(subscriptionDocument(e.topic, e.subscriber, true, e.payload));
    }
    return out;
  }

  /** Every live node's Mercure 1.0 subscriptions matching the filter; 503 as `list`. */
  async listMercure1(filter: Mercure1SubscriptionFilter): Promise<readonly Mercure1SubscriptionDocument[]> {
    const out: Mercure1SubscriptionDocument[] = [];
    // One subscription: its field on each node (one HGET each), not every node's whole hash.
    const { matchType, match, subscriber } = filter;
    const field =
      matchType === undefined || match === undefined || subscriber === undefined
        ? undefined
        : subscriptionId1(matchType, match, subscriber);
    for (const value of await this.#values(field)) {
      const e = parseEntry1(value);
      if (e === null || !matchesFilter1(e, e.subscriber, filter)) continue;
      out.push(subscriptionDocument1(e, e.subscriber, true));
    }
    return out;
  }

  /** The field values of every live node's hash, or only those of `field`. */
  async #values(field?: string): Promise<string[]> {
    let values: string[];
    try {
      // Still connecting (not a known outage): wait for the connection rather than answer 503 at once.
      if (this.#redis.status !== "ready" && this.#downSince === undefined)
        await whenReady(this.#redis, this.#commandTimeoutMs);
      const nodes = await this.#redis.zrange(this.nodesKey, 0, -1);
      // Sent together on one connection: one round trip for all nodes. Expired hashes read as empty.
      if (field !== undefined) {
        const found = await Promise.all(nodes.map((n) => this.#redis.hget(`${this.nodesKey}:${n}`, field)));
        values = found.filter((v) => v !== null);
      } else {
        const hashes = await Promise.all(nodes.map((n) => this.#redis.hgetall(`${this.nodesKey}:${n}`)));
        values = hashes.flatMap((h) => Object.values(h));
      }
    } catch (err) {
      this.#down(err);
      throw new SseBrokerError(
        "SSEB_ERR_BACKPLANE_UNAVAILABLE",
        "Redis is unavailable: cannot list subscriptions, try again",
        { statusCode: 503, cause: err },
      );
    }
    return values;
  }

  /** Stops the timer, removes this node's entries from Redis (bounded by the command timeout), disconnects. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#timer);
      this.#detach();
      await leaveNodes(this.#redis, this.nodesKey, this.key, this.nodeId);
    })();
    return this.#closing;
  }

  // ---- this node's entries --------------------------------------------------------------------------

  #opened(session: Session): void {
    const m = mercureMeta(session);
    if (m === undefined || this.#closing !== undefined) return;
    const entries = entriesOf(m);
    this.#written.set(session, entries);
    for (const [field, value] of entries) this.#own.set(field, value);
    if (entries.size === 0) return;
    // The TTL goes with the first write, so a node killed before its next refresh leaves nothing forever.
    this.#write(
      this.#redis
        .multi()
        .hset(this.key, ...[...entries].flat())
        .pexpire(this.key, this.#ttlMs)
        .exec(),
    );
  }

  /**
   * A stream's selectors or token changed: its subscriptions that ended leave the hash, the new ones and
   * those whose entry (payload) changed are written.
   */
  #changed(session: Session): void {
    const m = mercureMeta(session);
    const before = this.#written.get(session);
    if (m === undefined || before === undefined || session.closed || this.#closing !== undefined) return;
    const now = entriesOf(m);
    this.#written.set(session, now);
    const gone = [...before.keys()].filter((f) => !now.has(f));
    const fresh = [...now].filter(([f, v]) => before.get(f) !== v);
    for (const f of gone) this.#own.delete(f);
    for (const [f, v] of fresh) this.#own.set(f, v);
    if (gone.length === 0 && fresh.length === 0) return;
    const tx = this.#redis.multi();
    if (gone.length > 0) tx.hdel(this.key, ...gone);
    if (fresh.length > 0) tx.hset(this.key, ...fresh.flat()).pexpire(this.key, this.#ttlMs);
    this.#write(tx.exec());
  }

  #closed(session: Session): void {
    const m = mercureMeta(session);
    if (m === undefined) return;
    // What this registry wrote for it: its current subscriptions only.
    const fields = [...(this.#written.get(session) ?? entriesOf(m)).keys()];
    this.#written.delete(session);
    for (const f of fields) this.#own.delete(f);
    if (fields.length === 0 || this.#closing !== undefined) return;
    this.#write(this.#redis.hdel(this.key, ...fields));
  }

  #write(p: Promise<unknown>): void {
    p.then(
      (result) => {
        // exec() reports a failed command inside its result rather than rejecting.
        if (Array.isArray(result) && result.some((r) => Array.isArray(r) && r[0] !== null))
          this.#dirty = true;
      },
      (err: unknown) => {
        this.#dirty = true;
        this.#down(err);
      },
    );
  }

  /** The timer's job (and the first thing after a reconnect): rewrite the hash if needed, then touch. */
  async #refresh(): Promise<void> {
    if (this.#refreshing || this.#closing !== undefined || this.#redis.status !== "ready") return;
    this.#refreshing = true;
    try {
      if (this.#dirty) {
        this.#dirty = false;
        const tx = this.#redis.multi().del(this.key);
        if (this.#own.size > 0) {
          tx.hset(this.key, ...[...this.#own].flat()).pexpire(this.key, this.#ttlMs);
        }
        const result = await tx.exec();
        if (result === null || result.some(([err]) => err !== null)) this.#dirty = true;
      }
      await (this.#redis as Redis & { sseTouch(...args: (string | number)[]): Promise<number> }).sseTouch(
        this.nodesKey,
        this.key,
        this.nodeId,
        this.#ttlMs,
      );
    } catch (err) {
      this.#dirty = true;
      this.#down(err);
    } finally {
      this.#refreshing = false;
    }
  }

  // ---- connection state -----------------------------------------------------------------------------

  #down(err: unknown): void {
    if (this.#closing !== undefined || this.#downSince !== undefined) return;
    this.#downSince = Date.now();
    this.#dirty = true;
    this.#log?.warn(
      { key: this.key, err: err instanceof Error ? err.message : String(err) },
      "Subscription registry: Redis unavailable; subscriptions API answers 503 meanwhile",
    );
  }

  #up(): void {
    const since = this.#downSince;
    if (since === undefined) return;
    this.#downSince = undefined;
    this.#log?.info(
      { key: this.key, downMs: Date.now() - since },
      "Subscription registry: Redis available again",
    );
  }
}

/** A session's hash fields (subscription IRI → JSON entry), from its current hub metadata. */
function entriesOf(m: MercureSessionMeta): Map<string, string> {
  const out = new Map<string, string>();
  for (const topic of m.topics) {
    const entry: Entry = { topic, subscriber: m.subscriber, payload: m.payload };
    out.set(subscriptionId(topic, m.subscriber), JSON.stringify(entry));
  }
  for (const sub of m.matchers ?? []) {
    const entry: Entry1 = { ...sub, subscriber: m.subscriber };
    out.set(subscriptionId1(sub.matchType, sub.match, m.subscriber), JSON.stringify(entry));
  }
  return out;
}

function parseEntry(value: string): Entry | null {
  try {
    const e = JSON.parse(value) as Partial<Entry> | null;
    if (typeof e?.topic !== "string" || typeof e.subscriber !== "string") return null;
    return e as Entry;
  } catch {
    return null;
  }
}

function parseEntry1(value: string): Entry1 | null {
  try {
    const e = JSON.parse(value) as Partial<Entry1> | null;
    if (!MATCH_TYPES.includes(e?.matchType as MatchType)) return null;
    if (typeof e?.match !== "string" || typeof e.subscriber !== "string") return null;
    return e as Entry1;
  } catch {
    return null;
  }
}
