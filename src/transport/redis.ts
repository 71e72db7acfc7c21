/**
 * The Redis Streams backplane: every node appends to ONE stream and reads it with ONE blocking XREAD loop,
 * so all nodes deliver the same updates in the stream's order. At start a node reads the retained stream
 * from its beginning, so its local history (and Last-Event-ID resume) mirrors every other node's.
 *
 * Two connections per node: `pub` for XADD and short reads, failing fast (no offline queue, bounded command
 * time) so a publish during an outage gets a 503 instead of hanging; `reader` for the blocking loop only.
 * Limits and sizing: docs/scaling.md.
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";
import type { Update } from "../core/update.js";
import { optionsError, SseBrokerError } from "../errors.js";
import type { Logger } from "../options.js";
import { compareStreamIds, decodeEntry, encodeEntry } from "./redis-entry.js";
import type { Transport, TransportReceiver } from "./transport.js";

export interface RedisTransportOptions {
  /** `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS. */
  url: string;
  /** Prefix of the keys used (the stream is `${keyPrefix}events`). Defaults to `"sse-broker:"`. */
  keyPrefix?: string;
  /** Entries retained in the stream (`XADD MAXLEN ~`, so trimmed in whole nodes, a bit above). Defaults to `10_000`. */
  maxLen?: number;
  /** How long a publish (or catch-up read) waits for Redis before failing with 503. Defaults to `2_000`. */
  commandTimeoutMs?: number;
  /** How long `catchUp()` and `start()` wait for this node to read up to the stream's end. Defaults to `5_000`. */
  catchUpTimeoutMs?: number;
  /**
   * Passed to ioredis (TLS, `sentinels` + `name` for Sentinel, `retryStrategy`…). The transport overrides
   * `enableOfflineQueue`, `maxRetriesPerRequest`, `autoResendUnfulfilledCommands` and `commandTimeout`.
   */
  redisOptions?: RedisOptions;
  /** Connect to a Redis Cluster, `url` being a seed node. The stream is one key, so it lives on one shard. */
  cluster?: boolean | ClusterOptions;
  /** Receives structured logs; defaults to none. */
  logger?: Logger | null;
}

type Client = Redis | Cluster;
type Role = "publisher" | "reader";
type XReadReply = [key: string, entries: [id: string, fields: string[]][]][] | null;

const PAGE = 1000;
/** XREAD BLOCK time; a reply later than this plus the grace means a dead connection. */
const BLOCK_MS = 5_000;
const GRACE_MS = 5_000;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 2_000;
const TIMED_OUT = Symbol("timed out");

export function createRedisTransport(opts: RedisTransportOptions): RedisTransport {
  return new RedisTransport(opts);
}

export class RedisTransport implements Transport {
  readonly key: string;
  readonly #maxLen: string;
  readonly #catchUpTimeoutMs: number;
  readonly #log: Logger | null;
  readonly #pub: Client;
  readonly #reader: Client;
  readonly #stop = new AbortController();
  /** Id of the last entry delivered (or skipped as malformed): the loop reads after it. */
  #lastId = "0-0";
  #deliver: ((u: Update) => void) | undefined;
  #loop: Promise<void> | undefined;
  #waiters: { id: string; resolve: () => void }[] = [];
  /** Outage start per connection, to log once per outage rather than per retry. */
  readonly #downSince = new Map<Role, number>();

  constructor(opts: RedisTransportOptions) {
    if (typeof opts.url !== "string" || !/^rediss?:\/\//.test(opts.url)) {
      throw optionsError("url must start with redis:// or rediss://");
    }
    const maxLen = opts.maxLen ?? 10_000;
    if (!Number.isSafeInteger(maxLen) || maxLen < 1) throw optionsError("maxLen must be an integer >= 1");
    const commandTimeoutMs = opts.commandTimeoutMs ?? 2_000;
    if (!Number.isSafeInteger(commandTimeoutMs) || commandTimeoutMs < 1) {
      throw optionsError("commandTimeoutMs must be an integer >= 1");
    }
    this.#catchUpTimeoutMs = opts.catchUpTimeoutMs ?? 5_000;
    if (!Number.isSafeInteger(this.#catchUpTimeoutMs) || this.#catchUpTimeoutMs < 1) {
      throw optionsError("catchUpTimeoutMs must be an integer >= 1");
    }
    this.key = `${opts.keyPrefix ?? "sse-broker:"}events`;
    this.#maxLen = String(maxLen);
    this.#log = opts.logger ?? null;
    const shared: RedisOptions = {
      connectTimeout: 5_000,
      ...opts.redisOptions,
      // Fail, don't queue: commands are rejected at once while disconnected (and in flight when the
      // connection drops); never resent on reconnect, or a publish answered 503 could still appear.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      lazyConnect: false,
    };
    // The reader's XREAD is bounded by the loop's own deadline, which also covers a half-open socket.
    const clusterOptions = opts.cluster === true ? {} : opts.cluster === false ? undefined : opts.cluster;
    // Named for CLIENT LIST: `<connectionName or "sse-broker">:publisher` / `:reader`.
    const name = (role: Role): string => `${opts.redisOptions?.connectionName ?? "sse-broker"}:${role}`;
    this.#pub = connect(
      opts.url,
      { ...shared, commandTimeout: commandTimeoutMs, connectionName: name("publisher") },
      clusterOptions,
    );
    this.#reader = connect(
      opts.url,
      { ...shared, commandTimeout: undefined, connectionName: name("reader") },
      clusterOptions,
    );
    this.#watch(this.#pub, "publisher");
    this.#watch(this.#reader, "reader");
  }

  /** Id of the last stream entry this node delivered (`"0-0"` before the first). */
  get lastId(): string {
    return this.#lastId;
  }

  /** False during an outage of either connection (for health checks: publishes would get a 503). */
  get available(): boolean {
    return this.#downSince.size === 0 && this.#pub.status === "ready" && this.#reader.status === "ready";
  }

  /**
   * Starts the read loop. Resolves once the retained stream is delivered (history mirrors the stream), or
   * after `catchUpTimeoutMs` when Redis is down: publishes then fail with 503 and the loop catches up later.
   */
  async start(receiver: TransportReceiver): Promise<void> {
    if (this.#deliver !== undefined) throw new Error("RedisTransport already started");
    if (this.#stop.signal.aborted) throw closedError();
    this.#deliver = (u) => receiver.deliver(u, false);
    this.#loop = this.#run();
    try {
      await this.catchUp();
    } catch (err) {
      if (!this.#stop.signal.aborted) {
        this.#log?.warn(
          { err: message(err) },
          "Redis backplane not reachable at start; retrying in background",
        );
      }
    }
  }

  /** XADD to the stream; resolves once Redis confirmed, rejects fast with 503 when it cannot. */
  async append(update: Update): Promise<void> {
    if (this.#stop.signal.aborted || this.#deliver === undefined) throw closedError();
    try {
      await this.#pub.xadd(this.key, "MAXLEN", "~", this.#maxLen, "*", ...encodeEntry(update));
    } catch (err) {
      this.#log?.debug({ err: message(err) }, "Redis backplane refused a publish");
      // A timed-out XADD may still have been applied: the update can be delivered though this rejects.
      throw new SseBrokerError("SSEB_ERR_BACKPLANE_UNAVAILABLE", "Redis backplane unavailable, try again", {
        statusCode: 503,
        cause: err,
      });
    }
  }

  /**
   * Resolves once every entry in the stream at call time has been delivered locally; rejects with 503 when
   * Redis cannot say what its last entry is, or the loop does not get there within `catchUpTimeoutMs`.
   */
  async catchUp(): Promise<void> {
    const deadline = Date.now() + this.#catchUpTimeoutMs;
    const fail = (cause?: unknown): SseBrokerError =>
      new SseBrokerError("SSEB_ERR_BACKPLANE_UNAVAILABLE", "Redis backplane did not catch up in time", {
        statusCode: 503,
        cause,
      });
    if (this.#stop.signal.aborted) throw closedError();
    // In a known outage answer at once, like a publish; while first connecting, wait for the connection.
    if (this.#downSince.has("publisher") || !(await this.#untilReady(this.#pub, deadline))) throw fail();
    let last: [string, string[]][];
    try {
      last = await this.#pub.xrevrange(this.key, "+", "-", "COUNT", 1);
    } catch (err) {
      throw fail(err);
    }
    const target = last[0]?.[0];
    if (target === undefined || compareStreamIds(target, this.#lastId) <= 0) return;
    const waiter = { id: target, resolve: () => {} };
    const reached = new Promise<void>((resolve) => {
      waiter.resolve = resolve;
    });
    this.#waiters.push(waiter);
    const result = await this.#race(reached, deadline - Date.now());
    this.#waiters = this.#waiters.filter((w) => w !== waiter);
    if (result === TIMED_OUT) throw this.#stop.signal.aborted ? closedError() : fail();
  }

  /** Stops the loop and disconnects both connections. */
  async close(): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    this.#pub.disconnect();
    this.#reader.disconnect();
    await this.#loop;
  }

  // ---- the read loop --------------------------------------------------------------------------------

  async #run(): Promise<void> {
    let backoff = 0;
    let resumed = false;
    while (!this.#stop.signal.aborted) {
      if (!(await this.#untilReady(this.#reader, Number.POSITIVE_INFINITY))) continue;
      if (resumed) {
        resumed = false;
        await this.#checkTrimmed();
      }
      let reply: XReadReply | typeof TIMED_OUT;
      try {
        const read = this.#reader.xread("COUNT", PAGE, "BLOCK", BLOCK_MS, "STREAMS", this.key, this.#lastId);
        reply = await this.#race(read as Promise<XReadReply>, BLOCK_MS + GRACE_MS);
      } catch (err) {
        if (this.#stop.signal.aborted) return;
        this.#down("reader", err);
        resumed = true;
        // Backoff with jitter, so a broken Redis is not hammered by every node in step.
        backoff = Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, backoff * 2));
        await this.#pause(backoff / 2 + Math.random() * (backoff / 2));
        continue;
      }
      if (this.#stop.signal.aborted) return;
      backoff = 0;
      if (reply === TIMED_OUT) {
        this.#down("reader", new Error("XREAD got no reply in time"));
        resumed = true;
        this.#reader.disconnect(true); // reconnect; the loop resumes after #lastId
        continue;
      }
      this.#up("reader");
      if (reply !== null) this.#deliverEntries(reply[0]?.[1] ?? []);
    }
  }

  /**
   * After an interruption: has the stream been trimmed past this node's position (MAXLEN) meanwhile? Then
   * it may have missed entries and its history may have a gap; say so loudly rather than silently.
   */
  async #checkTrimmed(): Promise<void> {
    if (this.#lastId === "0-0") return;
    try {
      const first = (await this.#reader.xrange(this.key, "-", "+", "COUNT", 1))[0]?.[0];
      if (first !== undefined && compareStreamIds(first, this.#lastId) > 0) {
        this.#log?.error(
          { key: this.key, lastId: this.#lastId, firstId: first },
          "The stream was trimmed past this node's position: it may have missed entries (raise maxLen)",
        );
      }
    } catch {
      // the loop's next read reports a broken connection
    }
  }

  #deliverEntries(entries: [string, string[]][]): void {
    const deliver = this.#deliver;
    if (deliver === undefined) return;
    for (const [id, fields] of entries) {
      this.#lastId = id;
      const update = decodeEntry(fields);
      if (typeof update === "string") {
        this.#log?.warn({ streamId: id, key: this.key, reason: update }, "Skipped a malformed stream entry");
        continue;
      }
      try {
        deliver(update);
      } catch (err) {
        // A failing delivery must not stop the loop, or this node would stop receiving anything.
        this.#log?.error(
          { streamId: id, id: update.id, err: message(err) },
          "Delivering a stream entry failed",
        );
      }
    }
    if (this.#waiters.length === 0) return;
    for (const w of this.#waiters) if (compareStreamIds(w.id, this.#lastId) <= 0) w.resolve();
  }

  // ---- connection state -----------------------------------------------------------------------------

  #watch(client: Client, role: Role): void {
    // Without an 'error' listener ioredis prints every failed reconnect; the outage is logged once instead.
    client.on("error", (err: unknown) => this.#down(role, err));
    client.on("close", () => this.#down(role, new Error("connection closed")));
    client.on("ready", () => this.#up(role));
  }

  #down(role: Role, err: unknown): void {
    if (this.#stop.signal.aborted || this.#downSince.has(role)) return;
    this.#downSince.set(role, Date.now());
    this.#log?.warn({ role, key: this.key, err: message(err) }, "Redis backplane unavailable; retrying");
  }

  #up(role: Role): void {
    const since = this.#downSince.get(role);
    if (since === undefined) return;
    this.#downSince.delete(role);
    this.#log?.info({ role, key: this.key, downMs: Date.now() - since }, "Redis backplane available again");
  }

  /** Waits until `client` is ready; false when closed or past `deadline`. */
  async #untilReady(client: Client, deadline: number): Promise<boolean> {
    if (client.status === "ready") return true;
    let onReady = (): void => {};
    const ready = new Promise<void>((resolve) => {
      onReady = resolve;
      client.once("ready", onReady);
    });
    const result = await this.#race(ready, Math.min(deadline - Date.now(), 2 ** 31 - 1));
    client.off("ready", onReady);
    return result !== TIMED_OUT;
  }

  /** `p`, or TIMED_OUT after `ms` or on close; never leaves a timer behind. */
  async #race<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
    const signal = this.#stop.signal;
    if (signal.aborted || ms <= 0) {
      p.catch(() => {}); // settled later by disconnect; nobody waits for it
      return TIMED_OUT;
    }
    let timer: NodeJS.Timeout | undefined;
    let onAbort = (): void => {};
    const stop = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(resolve, ms, TIMED_OUT);
      onAbort = () => resolve(TIMED_OUT);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([p, stop]);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      p.catch(() => {});
    }
  }

  async #pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.#stop.signal });
    } catch {
      // aborted by close()
    }
  }
}

function connect(url: string, options: RedisOptions, cluster: ClusterOptions | undefined): Client {
  if (cluster === undefined) return new Redis(url, options);
  // Cluster nodes take credentials and TLS from redisOptions, not from the seed URL.
  const u = new URL(url);
  const auth: RedisOptions = {};
  if (u.username !== "") auth.username = decodeURIComponent(u.username);
  if (u.password !== "") auth.password = decodeURIComponent(u.password);
  if (u.protocol === "rediss:") auth.tls = {};
  const { enableOfflineQueue, ...nodeOptions } = options;
  return new Cluster([{ host: u.hostname, port: Number(u.port || 6379) }], {
    ...cluster,
    enableOfflineQueue,
    redisOptions: { ...auth, ...cluster.redisOptions, ...nodeOptions },
  });
}

function closedError(): SseBrokerError {
  return new SseBrokerError("SSEB_ERR_BROKER_CLOSED", "Redis transport is not running", { statusCode: 503 });
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// The package's `sse-broker/redis` entry also carries the cluster-wide Mercure subscription registry.
export {
  createRedisSubscriptionRegistry,
  RedisSubscriptionRegistry,
  type RedisSubscriptionRegistryOptions,
} from "../mercure/redis-registry.js";
