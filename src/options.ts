/**
 * Broker options: one frozen object of defaults, validated once by `resolveOptions`.
 * @module
 */
import { assertTopic, MAX_TOPIC_LENGTH } from "./core/topic.js";
import { optionsError } from "./errors.js";
import { trustedProxies } from "./http/client-address.js";
import { defaultMaxConnections } from "./http/fd-limit.js";

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface BrokerOptions {
  /** Interval of the heartbeat comment written to every stream; `null` = off. Defaults to `15_000`. */
  heartbeatMs: number | null;
  /** A subscriber whose pending output passes this many bytes is disconnected. Defaults to 1 MiB. */
  maxBufferedBytes: number;
  /**
   * A fixed wait before each write, so that later events share it: N > 0 flushes N ms after the first
   * queued event, whatever the load. 0 = adaptive (see `maxFlushDelayMs`). Defaults to `0`.
   */
  flushIntervalMs: number;
  /**
   * With `flushIntervalMs` 0, the longest an event may wait so that later ones share its write when the
   * broker is busy writing (adaptive coalescing: an idle broker writes at the end of the event-loop
   * iteration; see src/core/fanout.ts); 0 = always at the end of the iteration. Defaults to `20`.
   */
  maxFlushDelayMs: number;
  /** Events retained per topic for Last-Event-ID resume; 0 = no history. Defaults to `1000`. */
  historyLimit: number;
  /** Encoded bytes retained per topic. Defaults to 4 MiB. */
  historyMaxBytes: number;
  /** Topics with retained history; past it the least recently published topic's history goes. Defaults to `10_000`. */
  historyMaxTopics: number;
  /** Events retained in all topics together (an event on several topics counts once). Defaults to `100_000`. */
  historyMaxEvents: number;
  /** Encoded bytes retained in all topics together; the oldest events go first. Defaults to 64 MiB. */
  historyMaxTotalBytes: number;
  /** Topic selectors one subscription may have (more → 400). Defaults to `64`. */
  maxSelectorsPerSubscription: number;
  /** Longest topic selector, in characters (more → 400). Defaults to `1024`. */
  maxSelectorLength: number;
  /** Expressions (`{…}`) one URI template selector may have (more → 400). Defaults to `8`. */
  maxTemplateExpressions: number;
  /**
   * Distinct template selectors subscribed at once on this node; a subscription that would add one more is
   * refused with 503 (the matching work of a publish is bounded by it). Defaults to `10_000`.
   */
  maxPatternSelectors: number;
  /**
   * Distinct template selectors the subscriptions of one client (`SubscribeOptions.client`, the client
   * address over HTTP) may hold at once (more → 429), so one client cannot take the whole node's share.
   * Defaults to `256`.
   */
  maxPatternSelectorsPerClient: number;
  /** Topics one update may have (the canonical one plus alternates; more → 400). Defaults to `32`. */
  maxTopicsPerUpdate: number;
  /** Largest event data, in UTF-8 bytes (more → 413). Defaults to 1 MiB. */
  maxEventBytes: number;
  /**
   * At shutdown each stream is told (`retry:`) to reconnect after a random delay between 1 s and this many
   * ms, so a restart does not bring every client back in the same second; `null` = no such hint. Defaults
   * to `10_000`.
   */
  shutdownRetrySpreadMs: number | null;
  /**
   * `retry:` sent when a stream opens, in ms, plus a random 0–50 % so that clients sent away together
   * (a restart, a cap) do not all come back in the same second; `null` = none. Defaults to `null`.
   */
  retryMs: number | null;
  /**
   * Longest life of any stream, in ms, whatever its token says: a stream is ended (as when its token
   * expires) at a random point in the last 10 % of it, so streams opened together do not all end together,
   * and the client reconnects and authenticates again (Mercure 1.0 SHOULD). `null` = no limit. Defaults to
   * `null`.
   */
  maxStreamLifetimeMs: number | null;
  /**
   * A stream that ends at its token's expiry and asked for lifecycle events (Mercure:
   * `sse_broker_lifecycle=1`) gets the `sse-broker.token-expiring` event this long before it, in ms (see
   * core/token-lifecycle.ts); `0` = no notice (the final `sse-broker.closed` event is still sent). Defaults
   * to `60000`.
   */
  tokenExpiryNoticeMs: number;
  /** Largest accepted publish body in bytes. Defaults to 1 MiB. */
  maxBodyBytes: number;
  /** Events one batch publish (a JSON array on `POST /publish`) may hold (more → 413). Defaults to `100`. */
  maxBatchEvents: number;
  /**
   * How long the answer to a publish made with an `Idempotency-Key` is remembered, in ms: a retry with the
   * same key within it gets the same answer and publishes nothing. Defaults to `86_400_000` (24 h).
   */
  idempotencyTtlMs: number;
  /**
   * Idempotency keys remembered on this node at most (least recently used go first; 0 = none), and never
   * more than 16 MiB of their ids. With the Redis backplane the records live in Redis too, so this bounds
   * only a cache. Defaults to `10_000`.
   */
  maxIdempotencyKeys: number;
  /** `Access-Control-Allow-Origin` for streams and publish: `*`, a list of origins, or `null` = no CORS. Defaults to `"*"`. */
  corsOrigins: "*" | readonly string[] | null;
  /**
   * Static bearer token for `POST /publish`; `null` = publish from this machine only (loopback client,
   * loopback `Host`, no untrusted proxy headers, no foreign `Origin`; see README). Defaults to `null`.
   */
  publishToken: string | null;
  /**
   * Origins allowed to `POST /publish` from a browser: CORS on `/publish` and, without a token, the
   * `Origin` check. Independent of `corsOrigins` (streams). Defaults to `[]` (none).
   */
  publishOrigins: readonly string[];
  /**
   * Peers whose forwarding headers (`X-Forwarded-For`, `Forwarded`, `X-Real-IP`) give the client address:
   * IP addresses or CIDRs (IPv4, IPv6), `"loopback"` for 127.0.0.0/8 and ::1. Defaults to `[]` (none).
   */
  trustProxy: readonly string[];
  /** Bearer token `GET /metrics` requires; `null` = `/metrics` from this machine only. Defaults to `null`. */
  metricsToken: string | null;
  /**
   * Open event streams at most; more are refused with 503 (established ones are never evicted); `null` =
   * no cap. Defaults to the open-file soft limit minus max(256, 5 %), which keeps file descriptors for
   * `/healthz`, `/metrics` and publishing (10 000 when the limit is unknown).
   */
  maxConnections: number | null;
  /** Open event streams per client address; more → 503; `null` = no cap. Defaults to `256`. */
  maxConnectionsPerIp: number | null;
  /** New event streams per second per client address (burst: twice it); more → 429; `null` = off. Defaults to `32`. */
  connectionRatePerIp: number | null;
  /**
   * Publishes per second per publisher (its bearer token, or its address without one; burst: twice it);
   * more → 429; `null` = off. Defaults to `1000`.
   */
  publishRatePerKey: number | null;
  /**
   * Backend hook asked before each stream opens on `/events` and the Mercure hub (JSON POST with the
   * topics, client address, stream id and the client's `Authorization`/`Cookie` headers; the answer
   * allows, denies or narrows: see README "Backend hooks"); an `http:`/`https:` URL, `null` = off.
   * Defaults to `null`.
   */
  subscribeHookUrl: string | null;
  /** Longest wait for the subscribe hook's answer, queueing included. Defaults to `2000`. */
  subscribeHookTimeoutMs: number;
  /**
   * What a failed hook call (timeout, non-200, invalid answer) means: `"deny"` = 503 with Retry-After,
   * `"allow"` = the stream opens with the topics asked for. Defaults to `"deny"`.
   */
  subscribeHookFailure: "deny" | "allow";
  /**
   * How long an answer is reused for the same credentials and topics (a shorter `Cache-Control: max-age`
   * from the hook wins; `no-store`/`no-cache` = not reused); 0 = no cache. Defaults to `5000`.
   */
  subscribeHookCacheMs: number;
  /** Answers cached at most (least recently used go first). Defaults to `10_000`. */
  subscribeHookCacheSize: number;
  /** Subscribe hook calls in flight at most. Defaults to `64`. */
  subscribeHookConcurrency: number;
  /** Subscribe hook calls waiting for a slot at most; past it a connect gets 503. Defaults to `1000`. */
  subscribeHookQueue: number;
  /**
   * Receives batched JSON POSTs of ended streams (`[{id, client, selectors, openedAt, closedAt,
   * reason}]`); an `http:`/`https:` URL, `null` = off. Defaults to `null`.
   */
  disconnectHookUrl: string | null;
  /** A batch of disconnects is sent at most this long after its first entry. Defaults to `1000`. */
  disconnectHookIntervalMs: number;
  /** Disconnects per POST; a full batch is sent at once. Defaults to `100`. */
  disconnectHookBatch: number;
  /** Disconnects waiting at most; past it the oldest are dropped (counted in /metrics). Defaults to `10_000`. */
  disconnectHookQueue: number;
  /** Retries of a failed disconnect POST before its batch is dropped. Defaults to `3`. */
  disconnectHookRetries: number;
  /** Longest wait for one disconnect POST. Defaults to `5000`. */
  disconnectHookTimeoutMs: number;
  /** Serve the seed demo on `GET /` (page for browsers, bare stream for others). Defaults to `true`. */
  demoRoutes: boolean;
  /** Topic of the demo producer's events, and of `GET /`'s stream. Defaults to `"time"`. */
  demoTopic: string;
  /** Directory of static web assets (demo page). Defaults to the package's `web/`. */
  webRoot: string | null;
  /**
   * Topic on which the broker publishes presence changes, `{"selector","count","change":"join"|"leave"}`
   * (public, ephemeral; at most one per selector per second, see src/presence/notices.ts); `null` = off.
   * Defaults to `null`.
   */
  presenceTopic: string | null;
  /**
   * The live console at `/ui/` (docs/console.md): `"local"` = for requests from this machine only (the
   * rules of token-less publishing: loopback client and `Host`, no proxy headers from an untrusted peer);
   * `"on"` = also for any client presenting `consoleToken` (Basic password or Bearer); `"off"` = not
   * served. Defaults to `"local"`.
   */
  consoleMode: "off" | "local" | "on";
  /** The token that opens the console to remote clients; required by, and only used with, `consoleMode: "on"`. Defaults to `null`. */
  consoleToken: string | null;
  /** Receives structured logs; defaults to none. */
  logger: Logger | null;
}

const MiB = 1024 * 1024;

export const DEFAULT_BROKER_OPTIONS: Readonly<BrokerOptions> = Object.freeze({
  heartbeatMs: 15_000,
  maxBufferedBytes: MiB,
  flushIntervalMs: 0,
  maxFlushDelayMs: 20,
  historyLimit: 1000,
  historyMaxBytes: 4 * MiB,
  historyMaxTopics: 10_000,
  historyMaxEvents: 100_000,
  historyMaxTotalBytes: 64 * MiB,
  maxSelectorsPerSubscription: 64,
  maxSelectorLength: 1024,
  maxTemplateExpressions: 8,
  maxPatternSelectors: 10_000,
  maxPatternSelectorsPerClient: 256,
  maxTopicsPerUpdate: 32,
  maxEventBytes: MiB,
  shutdownRetrySpreadMs: 10_000,
  retryMs: null,
  maxStreamLifetimeMs: null,
  tokenExpiryNoticeMs: 60_000,
  maxBodyBytes: MiB,
  maxBatchEvents: 100,
  idempotencyTtlMs: 86_400_000,
  maxIdempotencyKeys: 10_000,
  corsOrigins: "*",
  publishToken: null,
  publishOrigins: Object.freeze([]) as readonly string[],
  trustProxy: Object.freeze([]) as readonly string[],
  metricsToken: null,
  maxConnections: defaultMaxConnections(),
  maxConnectionsPerIp: 256,
  connectionRatePerIp: 32,
  publishRatePerKey: 1000,
  subscribeHookUrl: null,
  subscribeHookTimeoutMs: 2000,
  subscribeHookFailure: "deny",
  subscribeHookCacheMs: 5000,
  subscribeHookCacheSize: 10_000,
  subscribeHookConcurrency: 64,
  subscribeHookQueue: 1000,
  disconnectHookUrl: null,
  disconnectHookIntervalMs: 1000,
  disconnectHookBatch: 100,
  disconnectHookQueue: 10_000,
  disconnectHookRetries: 3,
  disconnectHookTimeoutMs: 5000,
  demoRoutes: true,
  demoTopic: "time",
  webRoot: null,
  presenceTopic: null,
  consoleMode: "local",
  consoleToken: null,
  logger: null,
});

export type ResolvedOptions = Readonly<BrokerOptions>;

function intOption(name: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw optionsError(`${name} must be an integer >= ${min}`);
  }
  return value;
}

function isOrigin(v: unknown): boolean {
  return typeof v === "string" && /^[a-z][a-z0-9+.-]*:\/\/[^/\s]+$/i.test(v);
}

function isHttpUrl(v: unknown): boolean {
  if (typeof v !== "string") return false;
  try {
    const u = new URL(v);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}

/** Validates user options over the defaults; throws SSEB_ERR_OPTIONS_INVALID naming the bad option. */
export function resolveOptions(input: Partial<BrokerOptions> = {}): ResolvedOptions {
  const o: BrokerOptions = { ...DEFAULT_BROKER_OPTIONS };
  for (const [k, v] of Object.entries(input)) {
    if (!(k in DEFAULT_BROKER_OPTIONS)) throw optionsError(`unknown option ${k}`);
    if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  }
  if (o.heartbeatMs !== null) intOption("heartbeatMs", o.heartbeatMs, 1);
  intOption("maxBufferedBytes", o.maxBufferedBytes, 1);
  intOption("flushIntervalMs", o.flushIntervalMs, 0);
  intOption("maxFlushDelayMs", o.maxFlushDelayMs, 0);
  intOption("historyLimit", o.historyLimit, 0);
  intOption("historyMaxBytes", o.historyMaxBytes, 0);
  intOption("historyMaxTopics", o.historyMaxTopics, 1);
  intOption("historyMaxEvents", o.historyMaxEvents, 1);
  intOption("historyMaxTotalBytes", o.historyMaxTotalBytes, 0);
  intOption("maxSelectorsPerSubscription", o.maxSelectorsPerSubscription, 1);
  intOption("maxSelectorLength", o.maxSelectorLength, 1);
  if (o.maxSelectorLength > MAX_TOPIC_LENGTH) {
    throw optionsError(`maxSelectorLength must be at most ${MAX_TOPIC_LENGTH} (the longest topic)`);
  }
  intOption("maxTemplateExpressions", o.maxTemplateExpressions, 1);
  intOption("maxPatternSelectors", o.maxPatternSelectors, 0);
  intOption("maxPatternSelectorsPerClient", o.maxPatternSelectorsPerClient, 0);
  intOption("maxTopicsPerUpdate", o.maxTopicsPerUpdate, 1);
  intOption("maxEventBytes", o.maxEventBytes, 1);
  if (o.shutdownRetrySpreadMs !== null) intOption("shutdownRetrySpreadMs", o.shutdownRetrySpreadMs, 1000);
  if (o.retryMs !== null) intOption("retryMs", o.retryMs, 0);
  if (o.maxStreamLifetimeMs !== null) intOption("maxStreamLifetimeMs", o.maxStreamLifetimeMs, 1000);
  intOption("tokenExpiryNoticeMs", o.tokenExpiryNoticeMs, 0);
  intOption("maxBodyBytes", o.maxBodyBytes, 1);
  intOption("maxBatchEvents", o.maxBatchEvents, 1);
  intOption("idempotencyTtlMs", o.idempotencyTtlMs, 1);
  intOption("maxIdempotencyKeys", o.maxIdempotencyKeys, 0);
  if (o.corsOrigins !== null && o.corsOrigins !== "*") {
    if (!Array.isArray(o.corsOrigins) || o.corsOrigins.some((x) => typeof x !== "string" || x === "")) {
      throw optionsError('corsOrigins must be "*", a list of origins, or null');
    }
    o.corsOrigins = Object.freeze([...o.corsOrigins]);
  }
  if (o.publishToken !== null && (typeof o.publishToken !== "string" || o.publishToken === "")) {
    throw optionsError("publishToken must be a non-empty string or null");
  }
  if (!Array.isArray(o.publishOrigins) || o.publishOrigins.some((x) => !isOrigin(x))) {
    throw optionsError('publishOrigins must be a list of origins like "https://example.com"');
  }
  o.publishOrigins = Object.freeze([...o.publishOrigins]);
  trustedProxies(o.trustProxy); // throws on a bad entry
  o.trustProxy = Object.freeze([...o.trustProxy]);
  if (o.metricsToken !== null && (typeof o.metricsToken !== "string" || o.metricsToken === "")) {
    throw optionsError("metricsToken must be a non-empty string or null");
  }
  for (const k of [
    "maxConnections",
    "maxConnectionsPerIp",
    "connectionRatePerIp",
    "publishRatePerKey",
  ] as const) {
    if (o[k] !== null) intOption(k, o[k], 1);
  }
  for (const k of ["subscribeHookUrl", "disconnectHookUrl"] as const) {
    if (o[k] !== null && !isHttpUrl(o[k])) throw optionsError(`${k} must be an http: or https: URL, or null`);
  }
  if (o.subscribeHookFailure !== "deny" && o.subscribeHookFailure !== "allow") {
    throw optionsError('subscribeHookFailure must be "deny" or "allow"');
  }
  intOption("subscribeHookTimeoutMs", o.subscribeHookTimeoutMs, 1);
  intOption("subscribeHookCacheMs", o.subscribeHookCacheMs, 0);
  intOption("subscribeHookCacheSize", o.subscribeHookCacheSize, 1);
  intOption("subscribeHookConcurrency", o.subscribeHookConcurrency, 1);
  intOption("subscribeHookQueue", o.subscribeHookQueue, 0);
  intOption("disconnectHookIntervalMs", o.disconnectHookIntervalMs, 1);
  intOption("disconnectHookBatch", o.disconnectHookBatch, 1);
  intOption("disconnectHookQueue", o.disconnectHookQueue, 1);
  intOption("disconnectHookRetries", o.disconnectHookRetries, 0);
  intOption("disconnectHookTimeoutMs", o.disconnectHookTimeoutMs, 1);
  if (o.presenceTopic !== null) {
    try {
      assertTopic(o.presenceTopic, "presenceTopic");
    } catch (err) {
      throw optionsError((err as Error).message);
    }
  }
  if (o.consoleMode !== "off" && o.consoleMode !== "local" && o.consoleMode !== "on") {
    throw optionsError('consoleMode must be "off", "local" or "on"');
  }
  if (o.consoleToken !== null && (typeof o.consoleToken !== "string" || o.consoleToken === "")) {
    throw optionsError("consoleToken must be a non-empty string or null");
  }
  if (o.consoleMode === "on" && o.consoleToken === null) {
    throw optionsError('consoleMode "on" needs a consoleToken: remote clients must present one');
  }
  if (o.consoleMode !== "on" && o.consoleToken !== null) {
    throw optionsError('consoleToken is only used with consoleMode "on"');
  }
  if (typeof o.demoTopic !== "string" || o.demoTopic === "")
    throw optionsError("demoTopic must be a non-empty string");
  return Object.freeze(o);
}
