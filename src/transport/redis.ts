/**
 * The Redis Streams backplane: every node appends to ONE data stream and reads it with ONE blocking XREAD
 * loop, so all nodes deliver the same updates in the stream's order. At start a node reads the retained
 * stream from its beginning, so its local history (and Last-Event-ID resume) mirrors every other node's;
 * entries already there when it started are history only (backlog), never sent live.
 *
 * Ephemeral updates (Mercure subscription events) go to a second, small stream read by the same XREAD, so
 * connection churn never trims the data stream. A reader that finds the data stream trimmed past its
 * position (after an outage, or while behind) tells the broker, which marks the gap in its history.
 *
 * Two connections per node: `pub` for XADD and short reads, failing fast (no offline queue, bounded command
 * time) so a publish during an outage gets a 503 instead of hanging; `reader` for the loop only.
 * Limits and sizing: docs/scaling.md.
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";
import type { Update } from "../core/update.js";
import { optionsError, SseBrokerError } from "../errors.js";
import type { Logger } from "../options.js";
import { APPEND_BATCH, decodeRecord, encodeRecord, LOOKUP } from "./redis-batch.js";
import { compareStreamIds, decodeEntry, encodeEntry } from "./redis-entry.js";
import { checkTrim, parseStreamInfo, type StreamInfo } from "./redis-gap.js";
import type { ExistingRecord, IdempotentAppend, Transport, TransportReceiver } from "./transport.js";

export interface RedisTransportOptions {
  /** `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS. */
  url: string;
  /**
   * Prefix of the keys used: the data stream is `${keyPrefix}events`, ephemeral updates go to
   * `${keyPrefix}ephemeral`. With `cluster` it must hold a hash tag (`{…}`) so both share a slot. Defaults to
   * `"sse-broker:"`, or `"{sse-broker}:"` with `cluster`.
   */
  keyPrefix?: string;
  /**
   * Entries retained in the data stream (`XADD MAXLEN ~`, so trimmed in whole nodes, a bit above). Use the
   * same value on every node. Defaults to `10_000`.
   */
  maxLen?: number;
  /** Entries retained in the ephemeral stream (`XADD MAXLEN ~`). Defaults to `1_000`. */
  ephemeralMaxLen?: number;
  /** How long a publish (or catch-up read) waits for Redis before failing with 503. Defaults to `2_000`. */
  commandTimeoutMs?: number;
  /** How long `catchUp()` and `start()` wait for this node to read up to the stream's end. Defaults to `5_000`. */
  catchUpTimeoutMs?: number;
  /**
   * Passed to ioredis (TLS, `sentinels` + `name` for Sentinel, `retryStrategy`…). The transport overrides
   * `enableOfflineQueue`, `maxRetriesPerRequest`, `autoResendUnfulfilledCommands` and `commandTimeout`, and
   * reconnects about once a second when a `retryStrategy` gives up.
   */
  redisOptions?: RedisOptions;
  /** Connect to a Redis Cluster, `url` being a seed node. Both streams live on one shard (one slot). */
  cluster?: boolean | ClusterOptions;
  /** Receives structured logs; defaults to none. */
  logger?: Logger | null;
}

type Client = Redis | Cluster;
type Role = "publisher" | "reader";
type Entry = [id: string, fields: string[]];
type XReadReply = [key: string, entries: Entry[]][] | null;
/** A last id per stream: how far this node read, or where a catch-up must get to (`null`: nowhere). */
interface Ids<T = string> {
  data: T;
  ephemeral: T;
}

const PAGE = 1000;
/** XREAD BLOCK time; a reply later than this plus the grace means a dead connection. */
const BLOCK_MS = 5_000;
const GRACE_MS = 5_000;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 2_000;
/** Longest single wait for a connection; the client's state is checked again after it. */
const READY_POLL_MS = 1_000;
const TIMED_OUT = Symbol("timed out");

/** A command that got no reply in time: the connection is presumed dead and reopened. */
class NoReply extends Error {}

export function createRedisTransport(opts: RedisTransportOptions): RedisTransport {
  return new RedisTransport(opts);
}

export class RedisTransport implements Transport {
  /** The data stream. */
  readonly key: string;
  /** The stream of ephemeral updates. */
  readonly ephemeralKey: string;
  /** Prefix of idempotency records (`${keyPrefix}idem:<scoped key>`), in the streams' slot. */
  readonly #idemPrefix: string;
  readonly #maxLen: string;
  readonly #ephemeralMaxLen: string;
  /**
   * A data batch at least this long may follow a trim past this node (`MAXLEN ~` keeps at least `maxLen`
   * entries, so a shorter batch read all that was added since the last one): check it.
   */
  readonly #checkAt: number;
  readonly #catchUpTimeoutMs: number;
  readonly #log: Logger | null;
  readonly #pub: Client;
  readonly #reader: Client;
  readonly #stop = new AbortController();
  /** Id of the last entry delivered (or skipped as malformed) per stream: the loop reads after them. */
  readonly #last: Ids = { data: "0-0", ephemeral: "0-0" };
  /** Number of the data stream's entry `#last.data` (entries ever added up to it), when known (Redis >= 7). */
  #count: number | undefined;
  /** Learnt at start: once the loop reaches `id`, `#count` is `count`. */
  #anchor: { id: string; count: number } | undefined;
  /** Set when the reader lost its connection: the next data batch is checked for a gap. */
  #checkNext = false;
  /**
   * Last id per stream at start: entries up to it are backlog. `null` once passed (or none); undefined until
   * the loop learnt it, which it does before delivering anything.
   */
  #backlog: Ids<string | null> | undefined;
  /** Resolves once `#backlog` is known. */
  readonly #backlogKnown: Promise<void>;
  #onBacklogKnown = (): void => {};
  #receiver: TransportReceiver | undefined;
  #loop: Promise<void> | undefined;
  #waiters: { target: Ids<string | null>; resolve: () => void }[] = [];
  /** Outage start per connection, to log once per outage rather than per retry. */
  readonly #downSince = new Map<Role, number>();
  /** When each connection was last reopened by hand (see #revive). */
  readonly #revivedAt = new Map<Client, number>();

  constructor(opts: RedisTransportOptions) {
    this.#backlogKnown = new Promise((resolve) => {
      this.#onBacklogKnown = resolve;
    });
    if (typeof opts.url !== "string" || !/^rediss?:\/\//.test(opts.url)) {
      throw optionsError("url must start with redis:// or rediss://");
    }
    const maxLen = opts.maxLen ?? 10_000;
    if (!Number.isSafeInteger(maxLen) || maxLen < 1) throw optionsError("maxLen must be an integer >= 1");
    const ephemeralMaxLen = opts.ephemeralMaxLen ?? 1_000;
    if (!Number.isSafeInteger(ephemeralMaxLen) || ephemeralMaxLen < 1) {
      throw optionsError("ephemeralMaxLen must be an integer >= 1");
    }
    const commandTimeoutMs = opts.commandTimeoutMs ?? 2_000;
    if (!Number.isSafeInteger(commandTimeoutMs) || commandTimeoutMs < 1) {
      throw optionsError("commandTimeoutMs must be an integer >= 1");
    }
    this.#catchUpTimeoutMs = opts.catchUpTimeoutMs ?? 5_000;
    if (!Number.isSafeInteger(this.#catchUpTimeoutMs) || this.#catchUpTimeoutMs < 1) {
      throw optionsError("catchUpTimeoutMs must be an integer >= 1");
    }
    const clusterOptions = opts.cluster === true ? {} : opts.cluster === false ? undefined : opts.cluster;
    const prefix = opts.keyPrefix ?? (clusterOptions === undefined ? "sse-broker:" : "{sse-broker}:");
    this.key = `${prefix}events`;
    this.ephemeralKey = `${prefix}ephemeral`;
    this.#idemPrefix = `${prefix}idem:`;
    // One XREAD reads both streams: on a Cluster that needs one slot, i.e. one hash tag.
    if (clusterOptions !== undefined && hashTagOf(this.key) !== hashTagOf(this.ephemeralKey)) {
      throw optionsError('with cluster, keyPrefix must contain a hash tag such as "{sse-broker}:"');
    }
    this.#maxLen = String(maxLen);
    this.#ephemeralMaxLen = String(ephemeralMaxLen);
    this.#checkAt = Math.min(PAGE, maxLen);
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
    // The reader's commands are bounded by the loop's own deadlines, which also cover a half-open socket.
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

  /** Id of the last data stream entry this node delivered (`"0-0"` before the first). */
  get lastId(): string {
    return this.#last.data;
  }

  /** False during an outage of either connection (for health checks: publishes would get a 503). */
  get available(): boolean {
    return this.#downSince.size === 0 && this.#pub.status === "ready" && this.#reader.status === "ready";
  }

  /**
   * Starts the read loop. Resolves once the retained streams are delivered (history mirrors them), or
   * after `catchUpTimeoutMs` when Redis is down: publishes then fail with 503 and the loop catches up later.
   */
  async start(receiver: TransportReceiver): Promise<void> {
    if (this.#receiver !== undefined) throw new Error("RedisTransport already started");
    if (this.#stop.signal.aborted) throw closedError();
    this.#receiver = receiver;
    this.#loop = this.#run();
    const deadline = Date.now() + this.#catchUpTimeoutMs;
    try {
      // Until the loop knows where the backlog ends, an update published now could be taken for backlog.
      if ((await this.#race(this.#backlogKnown, deadline - Date.now())) === TIMED_OUT) {
        throw new Error("the read loop did not reach Redis in time");
      }
      await this.#catchUp(deadline);
    } catch (err) {
      if (!this.#stop.signal.aborted) {
        this.#log?.warn(
          { err: message(err) },
          "Redis backplane not reachable at start; retrying in background",
        );
      }
    }
  }

  /** XADD to its stream; resolves once Redis confirmed, rejects fast with 503 when it cannot. */
  async append(update: Update): Promise<void> {
    if (this.#stop.signal.aborted || this.#receiver === undefined) throw closedError();
    const ephemeral = update.ephemeral === true;
    this.#revive(this.#pub);
    try {
      await this.#pub.xadd(
        ephemeral ? this.ephemeralKey : this.key,
        "MAXLEN",
        "~",
        ephemeral ? this.#ephemeralMaxLen : this.#maxLen,
        "*",
        ...encodeEntry(update),
      );
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
   * One script: the XADDs of `updates`, in order, and with `once` the record of its key (SET PX) unless one
   * is there, in which case nothing is appended and the record is answered. Atomic, so consecutive in the
   * stream, and a retry of a publish whose reply was lost (timeout, dropped connection) finds the record.
   */
  async appendBatch(updates: readonly Update[], once?: IdempotentAppend): Promise<ExistingRecord | null> {
    if (this.#stop.signal.aborted || this.#receiver === undefined) throw closedError();
    if (updates.some((u) => u.ephemeral === true)) throw new Error("ephemeral updates cannot be batched");
    this.#revive(this.#pub);
    const keys = once === undefined ? [this.key] : [this.key, this.#idemPrefix + once.key];
    const args = [
      this.#maxLen,
      once === undefined ? "" : encodeRecord(once.record),
      once === undefined ? "0" : String(once.ttlMs),
    ];
    for (const u of updates) {
      const [, m, , d] = encodeEntry(u);
      args.push(m, d);
    }
    let reply: unknown;
    try {
      // EVAL, not EVALSHA: the script is small, and a restarted Redis (empty script cache) costs no retry.
      reply = await this.#pub.eval(APPEND_BATCH, keys.length, ...keys, ...args);
    } catch (err) {
      throw unavailable(this.#log, err);
    }
    return existingOf(reply);
  }

  /** The record under an idempotency key, if any (GET and PTTL in one script). */
  async lookupIdempotency(key: string): Promise<ExistingRecord | null> {
    if (this.#stop.signal.aborted || this.#receiver === undefined) throw closedError();
    this.#revive(this.#pub);
    let reply: unknown;
    try {
      reply = await this.#pub.eval(LOOKUP, 1, this.#idemPrefix + key);
    } catch (err) {
      throw unavailable(this.#log, err);
    }
    return existingOf(reply);
  }

  /**
   * Resolves once every entry in both streams at call time has been delivered locally; rejects with 503
   * when Redis cannot say what its last entries are, or the loop does not get there within
   * `catchUpTimeoutMs`.
   */
  catchUp(): Promise<void> {
    return this.#catchUp(Date.now() + this.#catchUpTimeoutMs);
  }

  async #catchUp(deadline: number): Promise<void> {
    const fail = (cause?: unknown): SseBrokerError =>
      new SseBrokerError("SSEB_ERR_BACKPLANE_UNAVAILABLE", "Redis backplane did not catch up in time", {
        statusCode: 503,
        cause,
      });
    if (this.#stop.signal.aborted) throw closedError();
    // In a known outage answer at once, like a publish; while first connecting, wait for the connection.
    if (this.#downSince.has("publisher") || !(await this.#untilReady(this.#pub, deadline))) throw fail();
    let target: Ids<string | null>;
    try {
      const [data, ephemeral] = await Promise.all([
        this.#pub.xrevrange(this.key, "+", "-", "COUNT", 1),
        this.#pub.xrevrange(this.ephemeralKey, "+", "-", "COUNT", 1),
      ]);
      target = { data: data[0]?.[0] ?? null, ephemeral: ephemeral[0]?.[0] ?? null };
    } catch (err) {
      throw fail(err);
    }
    if (this.#reached(target)) return;
    const waiter = { target, resolve: () => {} };
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
    while (!this.#stop.signal.aborted) {
      if (!(await this.#untilReady(this.#reader, Number.POSITIVE_INFINITY))) continue;
      try {
        await this.#step();
      } catch (err) {
        if (this.#stop.signal.aborted) return;
        this.#down("reader", err);
        this.#checkNext = true;
        if (err instanceof NoReply) {
          this.#reader.disconnect(true); // reconnect; the loop resumes after the last ids
          continue;
        }
        // Backoff with jitter, so a broken Redis is not hammered by every node in step.
        backoff = Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, backoff * 2));
        await this.#pause(backoff / 2 + Math.random() * (backoff / 2));
        continue;
      }
      backoff = 0;
      this.#up("reader");
    }
  }

  /** One read of both streams, checked for a gap when it may follow one, then delivered. */
  async #step(): Promise<void> {
    // Before anything is delivered: what is in the streams now was there before this node started.
    if (this.#backlog === undefined) await this.#learnBacklog();
    const { data: afterData, ephemeral: afterEphemeral } = this.#last;
    const read = this.#reader.xread(
      "COUNT",
      PAGE,
      "BLOCK",
      BLOCK_MS,
      "STREAMS",
      this.key,
      this.ephemeralKey,
      afterData,
      afterEphemeral,
    ) as Promise<XReadReply>;
    const reply = await this.#bounded(read, BLOCK_MS + GRACE_MS, "XREAD");
    if (reply === null || this.#stop.signal.aborted) return;
    const data = reply.find(([key]) => key === this.key)?.[1] ?? [];
    const ephemeral = reply.find(([key]) => key === this.ephemeralKey)?.[1] ?? [];
    let count = this.#count === undefined ? undefined : this.#count + data.length;
    if (data.length > 0 && (this.#checkNext || data.length >= this.#checkAt)) {
      const info = await this.#info(this.key);
      const from = { id: afterData, count: this.#count };
      const ids = data.map(([id]) => id);
      // No stream any more (deleted since the read): nothing to count from, a gap unless nothing was delivered.
      const verdict =
        info !== null
          ? checkTrim(from, ids, info)
          : {
              gap: afterData === "0-0" ? "none" : "possible",
              reason: "the stream was deleted",
              count: undefined,
            };
      this.#checkNext = false;
      count = verdict.count;
      if (verdict.gap !== "none") {
        this.#reportGap(afterData, ids[0] as string, verdict.reason, verdict.gap === "lost");
      }
    }
    this.#deliverEntries(data, ephemeral);
    this.#count = count;
    const anchor = this.#anchor;
    if (anchor !== undefined && compareStreamIds(this.#last.data, anchor.id) >= 0) {
      if (this.#last.data === anchor.id) this.#count = anchor.count;
      this.#anchor = undefined;
    }
  }

  /** Reads where each stream ends now (backlog bounds) and the data stream's entry count. */
  async #learnBacklog(): Promise<void> {
    const data = await this.#info(this.key);
    const ephemeral = await this.#info(this.ephemeralKey);
    const lastOf = (info: StreamInfo | null): string | null =>
      info === null || info.length === 0 ? null : info.lastGeneratedId;
    this.#backlog = { data: lastOf(data), ephemeral: lastOf(ephemeral) };
    this.#onBacklogKnown();
    if (data === null)
      this.#count = 0; // created later: its first entry is number 1
    else if (data.entriesAdded !== undefined) {
      if (data.length === 0) this.#count = data.entriesAdded;
      else this.#anchor = { id: data.lastGeneratedId, count: data.entriesAdded };
    }
  }

  /** `XINFO STREAM` on the reader; `null` when the stream does not exist. */
  async #info(key: string): Promise<StreamInfo | null> {
    try {
      return parseStreamInfo(await this.#bounded(this.#reader.xinfo("STREAM", key), GRACE_MS, "XINFO"));
    } catch (err) {
      if (err instanceof Error && /no such key/i.test(err.message)) return null;
      throw err;
    }
  }

  /**
   * Entries after this node's position were (or may have been) removed before it read them: its history
   * has a gap there. Logged once per gap, and the broker marks it so a resume across it is incomplete.
   */
  #reportGap(lastId: string, nextId: string, reason: string, certain: boolean): void {
    this.#log?.error(
      { key: this.key, lastId, nextId, certain, reason },
      "The stream was trimmed past this node's position: it may have missed entries (raise maxLen)",
    );
    try {
      this.#receiver?.gap(`${reason} (after stream entry ${lastId})`);
    } catch (err) {
      this.#log?.error({ err: message(err) }, "Reporting a gap failed");
    }
  }

  /** Delivers one reply's entries, the two streams merged by id (their relative order is best effort). */
  #deliverEntries(data: Entry[], ephemeral: Entry[]): void {
    let i = 0;
    let j = 0;
    for (;;) {
      const d = data[i];
      const e = ephemeral[j];
      if (d === undefined && e === undefined) break;
      if (e === undefined || (d !== undefined && compareStreamIds(d[0], e[0]) <= 0)) {
        this.#deliverEntry(d as Entry, "data");
        i++;
      } else {
        this.#deliverEntry(e, "ephemeral");
        j++;
      }
    }
    if (this.#waiters.length === 0) return;
    for (const w of this.#waiters) if (this.#reached(w.target)) w.resolve();
  }

  #deliverEntry([id, fields]: Entry, stream: keyof Ids): void {
    const receiver = this.#receiver;
    this.#last[stream] = id;
    const backlog = this.#backlog;
    let old = false;
    const until = backlog?.[stream] ?? null;
    if (backlog !== undefined && until !== null) {
      if (compareStreamIds(id, until) <= 0) old = true;
      else backlog[stream] = null;
    }
    const decoded = decodeEntry(fields);
    // Anyone can XADD to either key: an entry of the other kind is refused like a malformed one.
    const reason =
      typeof decoded === "string"
        ? decoded
        : (decoded.ephemeral === true) !== (stream === "ephemeral")
          ? `${stream === "data" ? "an ephemeral" : "a data"} entry in the ${stream} stream`
          : undefined;
    if (reason !== undefined || typeof decoded === "string") {
      const key = stream === "data" ? this.key : this.ephemeralKey;
      this.#log?.warn({ streamId: id, key, reason }, "Skipped a malformed stream entry");
      return;
    }
    try {
      receiver?.deliver(decoded, old);
    } catch (err) {
      // A failing delivery must not stop the loop, or this node would stop receiving anything.
      this.#log?.error(
        { streamId: id, id: decoded.id, err: message(err) },
        "Delivering a stream entry failed",
      );
    }
  }

  #reached(target: Ids<string | null>): boolean {
    return (
      (target.data === null || compareStreamIds(target.data, this.#last.data) <= 0) &&
      (target.ephemeral === null || compareStreamIds(target.ephemeral, this.#last.ephemeral) <= 0)
    );
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

  /**
   * Waits until `client` is ready; false when closed or past `deadline`. Never one long wait: the state is
   * checked again about every second, and a connection ioredis gave up on is reopened.
   */
  async #untilReady(client: Client, deadline: number): Promise<boolean> {
    for (;;) {
      if (this.#stop.signal.aborted) return false;
      if (client.status === "ready") return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      this.#revive(client);
      let onReady = (): void => {};
      const ready = new Promise<void>((resolve) => {
        onReady = resolve;
        client.once("ready", onReady);
      });
      await this.#race(ready, Math.min(left, READY_POLL_MS));
      client.off("ready", onReady);
    }
  }

  /**
   * ioredis stops reconnecting for good (status "end") when a `retryStrategy` gives up; a node without
   * Redis serves nothing, so the transport reopens the connection itself, at most about once a second.
   */
  #revive(client: Client): void {
    if (this.#stop.signal.aborted || client.status !== "end") return;
    const now = Date.now();
    if (now - (this.#revivedAt.get(client) ?? 0) < READY_POLL_MS) return;
    this.#revivedAt.set(client, now);
    this.#log?.debug({ role: client === this.#pub ? "publisher" : "reader" }, "Reopening a Redis connection");
    client.connect().catch(() => {}); // a failure is an 'error'/'close' event, already watched
  }

  /** `p`, or throws NoReply after `ms` (a dead connection) or on close. */
  async #bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    const result = await this.#race(p, ms);
    if (result === TIMED_OUT) throw new NoReply(`${what} got no reply in time`);
    return result;
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

/**
 * The part of a key Redis Cluster hashes to pick its slot (`{tag}` rule). Two keys with the same part share
 * a slot; comparing parts spares a CRC16 implementation.
 */
function hashTagOf(key: string): string {
  const open = key.indexOf("{");
  const close = open === -1 ? -1 : key.indexOf("}", open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
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

/** A script's reply: nil = appended / no record, else `[record, pttl]`. */
function existingOf(reply: unknown): ExistingRecord | null {
  if (reply === null) return null;
  const [text, pttl] = reply as [unknown, unknown];
  const record = typeof text === "string" ? decodeRecord(text) : null;
  if (record === null) {
    // Anyone can write to the key: a record we cannot read is no proof of anything, so refuse.
    throw new SseBrokerError("SSEB_ERR_INTERNAL", "unreadable idempotency record in Redis", {
      statusCode: 500,
    });
  }
  return { record, ttlMs: typeof pttl === "number" && pttl > 0 ? pttl : 1 };
}

function unavailable(log: Logger | null, err: unknown): SseBrokerError {
  log?.debug({ err: message(err) }, "Redis backplane refused a publish");
  // A timed-out script may still have run: a retry with the same Idempotency-Key finds its record.
  return new SseBrokerError("SSEB_ERR_BACKPLANE_UNAVAILABLE", "Redis backplane unavailable, try again", {
    statusCode: 503,
    cause: err,
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
