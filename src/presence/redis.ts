/**
 * Cluster-wide presence over Redis: each node exports its counts (src/presence/counter.ts) to its own
 * hash, `${keyPrefix}presence:${nodeId}` (field = selector, value = count), and `GET /presence` adds the
 * other live nodes' hashes to this node's counts. The same pattern as the Mercure subscriptions registry
 * (src/mercure/redis-registry.ts): ONE timer per node writes what changed since the last tick (HSET of
 * changed counts, HDEL of selectors left with nobody) and refreshes the hash's TTL and the node's score
 * (Redis time) in the sorted set `${keyPrefix}presence`, so a node that dies without closing drops out
 * within `ttlMs`.
 *
 * Bounded: at most `maxSelectors` selectors exported per node (past it, the selectors with most
 * subscribers, chosen at the next full rewrite); the set of changed selectors between two ticks is capped
 * (past it the next tick rewrites the hash whole). Writes never hold up a stream: they are
 * fire-and-forget on a connection that fails fast, and after a failure the hash is rewritten whole. It
 * loads ioredis, so the package root never imports it.
 * @module
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { Redis, type RedisOptions } from "ioredis";
import type { Broker } from "../core/broker.js";
import { optionsError, SseBrokerError } from "../errors.js";
import type { Logger } from "../options.js";
import { leaveNodes, TOUCH_NODE, whenReady } from "../transport/redis-nodes.js";
import { type PresenceCluster, setPresenceCluster } from "./cluster.js";
import { type PresenceCounter, presenceOf } from "./counter.js";

export interface RedisPresenceOptions {
  /** `redis://…` or `rediss://…`. */
  url: string;
  /** Same prefix as the transport's: keys are `${keyPrefix}presence[:nodeId]`. Defaults to `"sse-broker:"`. */
  keyPrefix?: string;
  /** How long a node's counts outlive its last refresh. Defaults to `15_000`. */
  ttlMs?: number;
  /** How often changed counts are written (and the TTL refreshed); at most a third of `ttlMs`. Defaults to `1_000`. */
  intervalMs?: number;
  /** Selectors one node exports at most (those with most subscribers). Defaults to `10_000`. */
  maxSelectors?: number;
  /** This node's name in Redis. Defaults to `<hostname>:<pid>:<random>`. */
  nodeId?: string;
  /** How long a read or write waits for Redis before failing. Defaults to `2_000`. */
  commandTimeoutMs?: number;
  /** Passed to ioredis; the offline queue, retries and command timeout are overridden. */
  redisOptions?: RedisOptions;
  logger?: Logger | null;
}

/** The nodes seen within a TTL, by Redis' clock. KEYS: nodes set. ARGV: TTL in ms. */
const LIVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[1]), '+inf')
`;

type Scripted = Redis & {
  sseTouch(...args: (string | number)[]): Promise<number>;
  sseLive(...args: (string | number)[]): Promise<string[]>;
};

export function createRedisPresence(opts: RedisPresenceOptions): RedisPresence {
  return new RedisPresence(opts);
}

export class RedisPresence implements PresenceCluster {
  readonly nodeId: string;
  readonly nodesKey: string;
  readonly key: string;
  readonly #ttlMs: number;
  readonly #maxSelectors: number;
  readonly #log: Logger | null;
  readonly #redis: Scripted;
  readonly #timer: NodeJS.Timeout;
  readonly #commandTimeoutMs: number;
  #counter: PresenceCounter | undefined;
  #detach: () => void = () => {};
  /** Selectors whose count changed since the last write. */
  readonly #changed = new Set<string>();
  /** Selectors in this node's hash as last written. */
  #exported = new Set<string>();
  /** The hash may differ from what `#exported` says, or some selectors did not fit: rewrite it whole. */
  #full = true;
  /** Some selectors with subscribers are not exported (the cap): rewrite once a slot frees up. */
  #overflow = false;
  #writing = false;
  #down = false;
  #closing: Promise<void> | undefined;

  constructor(opts: RedisPresenceOptions) {
    if (typeof opts.url !== "string" || !/^rediss?:\/\//.test(opts.url)) {
      throw optionsError("url must start with redis:// or rediss://");
    }
    this.#ttlMs = opts.ttlMs ?? 15_000;
    if (!Number.isSafeInteger(this.#ttlMs) || this.#ttlMs < 1_000) {
      throw optionsError("presence ttlMs must be an integer >= 1000");
    }
    const intervalMs = Math.min(opts.intervalMs ?? 1_000, Math.floor(this.#ttlMs / 3));
    if (!Number.isSafeInteger(intervalMs) || intervalMs < 10) {
      throw optionsError("presence intervalMs must be an integer >= 10");
    }
    this.#maxSelectors = opts.maxSelectors ?? 10_000;
    if (!Number.isSafeInteger(this.#maxSelectors) || this.#maxSelectors < 1) {
      throw optionsError("presence maxSelectors must be an integer >= 1");
    }
    const commandTimeout = opts.commandTimeoutMs ?? 2_000;
    this.#commandTimeoutMs = commandTimeout;
    this.nodeId = opts.nodeId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.nodesKey = `${opts.keyPrefix ?? "sse-broker:"}presence`;
    this.key = `${this.nodesKey}:${this.nodeId}`;
    this.#log = opts.logger ?? null;
    this.#redis = new Redis(opts.url, {
      connectTimeout: 5_000,
      ...opts.redisOptions,
      connectionName: `${opts.redisOptions?.connectionName ?? "sse-broker"}:presence`,
      // Fail, don't queue: the hash is rewritten whole after an outage.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout,
    }) as Scripted;
    this.#redis.defineCommand("sseTouch", { numberOfKeys: 2, lua: TOUCH_NODE });
    this.#redis.defineCommand("sseLive", { numberOfKeys: 1, lua: LIVE });
    this.#redis.on("error", (err: unknown) => this.#failed(err));
    this.#redis.on("ready", () => {
      if (this.#down) this.#log?.info({ key: this.key }, "Presence: Redis available again");
      this.#down = false;
      // Redis may have restarted empty meanwhile (even without an error seen here): rewrite the hash.
      this.#full = true;
      void this.#write();
    });
    this.#timer = setInterval(() => void this.#write(), intervalMs);
    this.#timer.unref();
  }

  /** Exports `broker`'s counts and answers its `GET /presence` with every live node's; closes with it. */
  attach(broker: Broker): void {
    if (this.#counter !== undefined) throw new Error("RedisPresence is already attached");
    const counter = presenceOf(broker);
    this.#counter = counter;
    const off = counter.onChange((selector) => {
      if (this.#full) return;
      this.#changed.add(selector);
      // Many distinct selectors changed within one tick: a whole rewrite is cheaper and bounded.
      if (this.#changed.size > this.#maxSelectors) {
        this.#changed.clear();
        this.#full = true;
      }
    });
    const onClose = (): void => void this.close();
    broker.once("close", onClose);
    setPresenceCluster(broker, this);
    this.#detach = () => {
      off();
      broker.off("close", onClose);
      setPresenceCluster(broker, null);
    };
  }

  async read(selectors: readonly string[] | null): Promise<{ counts: Map<string, number>; nodes: number }> {
    const counts = new Map<string, number>();
    let nodes: string[];
    try {
      // Still connecting (not a known outage): wait for the connection rather than answer 503 at once.
      if (this.#redis.status !== "ready" && !this.#down) await whenReady(this.#redis, this.#commandTimeoutMs);
      nodes = (await this.#redis.sseLive(this.nodesKey, this.#ttlMs)).filter((n) => n !== this.nodeId);
      const keys = nodes.map((n) => `${this.nodesKey}:${n}`);
      if (selectors === null) {
        // Each hash holds at most the exporting node's cap of selectors.
        const hashes = await Promise.all(keys.map((k) => this.#redis.hgetall(k)));
        for (const h of hashes) for (const [s, v] of Object.entries(h)) add(counts, s, v);
      } else if (selectors.length > 0) {
        const values = await Promise.all(keys.map((k) => this.#redis.hmget(k, ...selectors)));
        for (const row of values) {
          for (let i = 0; i < row.length; i++) add(counts, selectors[i] as string, row[i] ?? null);
        }
      }
    } catch (err) {
      this.#failed(err);
      throw new SseBrokerError(
        "SSEB_ERR_BACKPLANE_UNAVAILABLE",
        "Redis is unavailable: cannot sum presence, try again",
        {
          statusCode: 503,
          cause: err,
        },
      );
    }
    return { counts, nodes: nodes.length + 1 };
  }

  /** Stops the timer, removes this node's counts from Redis (bounded by the command timeout), disconnects. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#timer);
      this.#detach();
      await leaveNodes(this.#redis, this.nodesKey, this.key, this.nodeId);
    })();
    return this.#closing;
  }

  /** The timer's job: write what changed (or everything), then refresh the TTL. */
  async #write(): Promise<void> {
    const counter = this.#counter;
    if (counter === undefined || this.#writing || this.#closing !== undefined) return;
    if (this.#redis.status !== "ready") return;
    this.#writing = true;
    try {
      const tx = this.#redis.multi();
      let exported: Set<string>;
      if (this.#full) {
        this.#full = false;
        this.#changed.clear();
        let entries = [...counter.entries()];
        this.#overflow = entries.length > this.#maxSelectors;
        if (this.#overflow) entries = entries.sort((a, b) => b[1] - a[1]).slice(0, this.#maxSelectors);
        exported = new Set(entries.map(([s]) => s));
        tx.del(this.key);
        if (entries.length > 0) tx.hset(this.key, ...entries.flat());
      } else {
        exported = new Set(this.#exported);
        const set: (string | number)[] = [];
        const gone: string[] = [];
        for (const s of this.#changed) {
          const n = counter.count(s);
          if (n === 0) {
            if (exported.delete(s)) gone.push(s);
          } else if (exported.has(s) || exported.size < this.#maxSelectors) {
            exported.add(s);
            set.push(s, n);
          } else {
            this.#overflow = true; // did not fit: a later rewrite picks the largest
          }
        }
        this.#changed.clear();
        if (this.#overflow && exported.size < this.#maxSelectors) this.#full = true;
        if (set.length > 0) tx.hset(this.key, ...set);
        if (gone.length > 0) tx.hdel(this.key, ...gone);
      }
      const result = await tx.exec();
      if (result === null || result.some(([err]) => err !== null)) throw new Error("presence write failed");
      this.#exported = exported;
      await this.#redis.sseTouch(this.nodesKey, this.key, this.nodeId, this.#ttlMs);
    } catch (err) {
      this.#full = true;
      this.#failed(err);
    } finally {
      this.#writing = false;
    }
  }

  #failed(err: unknown): void {
    this.#full = true;
    if (this.#closing !== undefined || this.#down) return;
    this.#down = true;
    this.#log?.warn(
      { key: this.key, err: err instanceof Error ? err.message : String(err) },
      "Presence: Redis unavailable; /presence answers 503 meanwhile",
    );
  }
}

function add(counts: Map<string, number>, selector: string, value: string | null): void {
  const n = value === null ? 0 : Number(value);
  if (Number.isSafeInteger(n) && n > 0) counts.set(selector, (counts.get(selector) ?? 0) + n);
}
