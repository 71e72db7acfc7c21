/**
 * Every command-line option, described once: name, environment variables, default and help. Parsing
 * (args.ts), `--help` (help.ts) and docs/configuration.md all read this table; an option that sets a
 * broker option names it (`broker`), and shows that option's default from DEFAULT_BROKER_OPTIONS.
 * @module
 */
import { ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS } from "../auth/keys.js";
import { DEFAULT_BROKER_OPTIONS } from "../options.js";
import type { CliBrokerKey } from "./broker-options.js";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const MERCURE_PROTOCOLS = ["classic", "1", "both"] as const;

export const ALGORITHMS: readonly string[] = [...HMAC_ALGORITHMS, ...ASYMMETRIC_ALGORITHMS];

export interface OptionSpec {
  readonly name: string;
  /** Heading in --help. */
  readonly group: Group;
  readonly short?: string;
  /** Placeholder shown in help; absent for switches. */
  readonly arg?: string;
  readonly multiple?: boolean;
  /** Environment variables read when the flag is absent, first set wins. */
  readonly env?: readonly string[];
  /**
   * The broker option (BrokerOptions field) this option sets. Its default in DEFAULT_BROKER_OPTIONS is the
   * `default` shown, unless the spec writes one that explains more.
   */
  readonly broker?: CliBrokerKey;
  /** Shown in help and docs; a `broker` option without one shows the broker's default. */
  readonly default?: string;
  readonly help: string;
}

export type Group =
  | "Server"
  | "Demo"
  | "Broker"
  | "Limits"
  | "Backend hooks"
  | "Logging and metrics"
  | "Scaling"
  | "Mercure hub"
  | "Other";

/** Every option, in help order, as written: broker options may leave their default to the broker. */
const TABLE: readonly OptionSpec[] = [
  {
    name: "port",
    group: "Server",
    short: "p",
    arg: "N",
    env: ["SSE_BROKER_PORT", "PORT"],
    default: "8080",
    help: "TCP port to listen on (0 = any free port)",
  },
  {
    name: "host",
    group: "Server",
    arg: "ADDR",
    env: ["SSE_BROKER_HOST", "HOST"],
    default: "all interfaces",
    help: "address to listen on, e.g. 127.0.0.1",
  },
  {
    name: "trust-proxy",
    group: "Server",
    arg: "ADDR",
    multiple: true,
    env: ["SSE_BROKER_TRUST_PROXY"],
    broker: "trustProxy",
    help: "reverse proxy whose X-Forwarded-For/Forwarded give the client address: IP, CIDR or 'loopback'; repeatable",
  },
  {
    name: "tls-cert",
    group: "Server",
    arg: "FILE",
    env: ["SSE_BROKER_TLS_CERT"],
    help: "PEM certificate (chain): serve HTTPS with HTTP/2 and HTTP/1.1 fallback; needs --tls-key",
  },
  {
    name: "tls-key",
    group: "Server",
    arg: "FILE",
    env: ["SSE_BROKER_TLS_KEY"],
    help: "PEM private key of --tls-cert",
  },
  {
    name: "no-demo",
    group: "Demo",
    env: ["SSE_BROKER_DEMO"],
    help: "no demo: no time producer, no page or stream on GET /",
  },
  {
    name: "demo-interval-ms",
    group: "Demo",
    arg: "MS",
    env: ["SSE_BROKER_DEMO_INTERVAL_MS"],
    default: "2000",
    help: "period of the demo producer's time events",
  },
  {
    name: "publish-token",
    group: "Broker",
    arg: "TOKEN",
    env: ["SSE_BROKER_PUBLISH_TOKEN"],
    broker: "publishToken",
    default: "none: publish from this machine only",
    help: "bearer token required by POST /publish; without one only local requests publish: loopback client and Host, no untrusted proxy headers, no foreign Origin (prefer the env var: argv is visible to other users)",
  },
  {
    name: "presence-topic",
    group: "Broker",
    arg: "TOPIC",
    env: ["SSE_BROKER_PRESENCE_TOPIC"],
    broker: "presenceTopic",
    help: 'publish {"selector","count","change":"join"|"leave"} on this topic when a selector\'s subscriber count changes (at most once per selector per second; public: any subscriber of the topic sees which selectors are subscribed)',
  },
  {
    name: "publish-cors-origin",
    group: "Broker",
    arg: "ORIGIN",
    multiple: true,
    env: ["SSE_BROKER_PUBLISH_CORS_ORIGIN"],
    broker: "publishOrigins",
    help: "origin allowed to POST /publish from a browser (CORS, and the Origin check without a token); repeatable",
  },
  {
    name: "cors-origin",
    group: "Broker",
    arg: "ORIGIN",
    multiple: true,
    env: ["SSE_BROKER_CORS_ORIGIN", "MERCURE_CORS_ORIGINS"],
    broker: "corsOrigins",
    help: "allowed origin (streams, publish, Mercure); repeat for several; 'none' = no CORS headers",
  },
  {
    name: "heartbeat-ms",
    group: "Broker",
    arg: "MS",
    env: ["SSE_BROKER_HEARTBEAT_MS"],
    broker: "heartbeatMs",
    help: "interval of heartbeat comments on every stream (0 = off)",
  },
  {
    name: "retry-ms",
    group: "Broker",
    arg: "MS",
    env: ["SSE_BROKER_RETRY_MS"],
    broker: "retryMs",
    help: "reconnection delay sent to clients as 'retry:' when a stream opens, plus a random 0-50 %",
  },
  {
    name: "max-stream-lifetime-ms",
    group: "Broker",
    arg: "MS",
    env: ["SSE_BROKER_MAX_STREAM_LIFETIME_MS"],
    broker: "maxStreamLifetimeMs",
    help: "end every stream after at most this long (in its last 10 %, at random); clients reconnect and resume",
  },
  {
    name: "token-expiry-notice-ms",
    group: "Broker",
    arg: "MS",
    env: ["SSE_BROKER_TOKEN_EXPIRY_NOTICE_MS"],
    broker: "tokenExpiryNoticeMs",
    help: "send the sse-broker.token-expiring event this long before a stream's token expires (0 = off)",
  },
  {
    name: "max-buffered-bytes",
    group: "Broker",
    arg: "BYTES",
    env: ["SSE_BROKER_MAX_BUFFERED_BYTES"],
    broker: "maxBufferedBytes",
    help: "pending output after which a slow subscriber is disconnected (it resumes with Last-Event-ID)",
  },
  {
    name: "flush-interval-ms",
    group: "Broker",
    arg: "MS",
    env: ["SSE_BROKER_FLUSH_INTERVAL_MS"],
    broker: "flushIntervalMs",
    help: "a fixed wait: each write waits MS after its first event so later ones share it (0 = adaptive, see --max-flush-delay-ms)",
  },
  {
    name: "max-flush-delay-ms",
    group: "Broker",
    arg: "MS",
    env: ["SSE_BROKER_MAX_FLUSH_DELAY_MS"],
    broker: "maxFlushDelayMs",
    help: "with --flush-interval-ms 0: longest an event waits to share a write while the broker is busy writing (idle: at once; 0 = never wait)",
  },
  {
    name: "history-size",
    group: "Broker",
    arg: "N",
    env: ["SSE_BROKER_HISTORY_SIZE"],
    broker: "historyLimit",
    help: "events kept per topic for Last-Event-ID resume (0 = none)",
  },
  {
    name: "history-bytes",
    group: "Broker",
    arg: "BYTES",
    env: ["SSE_BROKER_HISTORY_BYTES"],
    broker: "historyMaxBytes",
    help: "encoded bytes kept per topic",
  },
  {
    name: "history-topics",
    group: "Broker",
    arg: "N",
    env: ["SSE_BROKER_HISTORY_TOPICS"],
    broker: "historyMaxTopics",
    help: "topics with kept history; past it the least recently published topic's history goes",
  },
  {
    name: "history-total-events",
    group: "Broker",
    arg: "N",
    env: ["SSE_BROKER_HISTORY_TOTAL_EVENTS"],
    broker: "historyMaxEvents",
    help: "events kept for resume in all topics together; past it the oldest go",
  },
  {
    name: "history-total-bytes",
    group: "Broker",
    arg: "BYTES",
    env: ["SSE_BROKER_HISTORY_TOTAL_BYTES"],
    broker: "historyMaxTotalBytes",
    help: "encoded bytes kept for resume in all topics together; past it the oldest go",
  },
  {
    name: "shutdown-retry-spread-ms",
    group: "Broker",
    arg: "MS",
    env: ["SSE_BROKER_SHUTDOWN_RETRY_SPREAD_MS"],
    broker: "shutdownRetrySpreadMs",
    help: "at shutdown, tell each stream to reconnect after a random 1 s to MS (0 = no hint)",
  },
  {
    name: "max-body-bytes",
    group: "Broker",
    arg: "BYTES",
    env: ["SSE_BROKER_MAX_BODY_BYTES"],
    broker: "maxBodyBytes",
    help: "largest accepted publish request body",
  },
  {
    name: "max-connections",
    group: "Limits",
    arg: "N",
    env: ["SSE_BROKER_MAX_CONNECTIONS"],
    broker: "maxConnections",
    default: "open-file limit minus max(256, 5 %)",
    help: "open event streams at most; more get 503 with Retry-After ('none' = no cap)",
  },
  {
    name: "max-connections-per-ip",
    group: "Limits",
    arg: "N",
    env: ["SSE_BROKER_MAX_CONNECTIONS_PER_IP"],
    broker: "maxConnectionsPerIp",
    help: "open event streams per client address; more get 503 ('none' = no cap); with TLS also caps connections per address at N + 8",
  },
  {
    name: "connection-rate-per-ip",
    group: "Limits",
    arg: "N",
    env: ["SSE_BROKER_CONNECTION_RATE_PER_IP"],
    broker: "connectionRatePerIp",
    help: "new event streams per second per client address, bursts of twice that; more get 429 ('none' = off); with TLS also new connections",
  },
  {
    name: "publish-rate-per-key",
    group: "Limits",
    arg: "N",
    env: ["SSE_BROKER_PUBLISH_RATE_PER_KEY"],
    broker: "publishRatePerKey",
    help: "publishes per second per token (or per address without one), bursts of twice that; more get 429 ('none' = off)",
  },
  {
    name: "max-selectors",
    group: "Limits",
    arg: "N",
    env: ["SSE_BROKER_MAX_SELECTORS"],
    broker: "maxSelectorsPerSubscription",
    help: "topic selectors per subscription; more get 400",
  },
  {
    name: "max-selector-length",
    group: "Limits",
    arg: "N",
    env: ["SSE_BROKER_MAX_SELECTOR_LENGTH"],
    broker: "maxSelectorLength",
    help: "characters per topic selector (at most 2048, the longest topic); longer get 400",
  },
  {
    name: "max-template-expressions",
    group: "Limits",
    arg: "N",
    env: ["SSE_BROKER_MAX_TEMPLATE_EXPRESSIONS"],
    broker: "maxTemplateExpressions",
    help: "expressions ({...}) per URI template selector; more get 400",
  },
  {
    name: "max-pattern-selectors",
    group: "Limits",
    arg: "N",
    env: ["SSE_BROKER_MAX_PATTERN_SELECTORS"],
    broker: "maxPatternSelectors",
    help: "distinct URI template selectors on this node (they bound a publish's matching work); more get 503",
  },
  {
    name: "max-pattern-selectors-per-ip",
    group: "Limits",
    arg: "N",
    env: ["SSE_BROKER_MAX_PATTERN_SELECTORS_PER_IP"],
    broker: "maxPatternSelectorsPerClient",
    help: "distinct URI template selectors held by one client address; more get 429",
  },
  {
    name: "max-topics-per-update",
    group: "Limits",
    arg: "N",
    env: ["SSE_BROKER_MAX_TOPICS_PER_UPDATE"],
    broker: "maxTopicsPerUpdate",
    help: "topics of one published update (canonical plus alternates); more get 400",
  },
  {
    name: "max-batch-events",
    group: "Limits",
    arg: "N",
    env: ["SSE_BROKER_MAX_BATCH_EVENTS"],
    broker: "maxBatchEvents",
    help: "events of one batch publish (a JSON array on POST /publish); more get 413",
  },
  {
    name: "idempotency-ttl-ms",
    group: "Limits",
    arg: "MS",
    env: ["SSE_BROKER_IDEMPOTENCY_TTL_MS"],
    broker: "idempotencyTtlMs",
    help: "how long the answer to a publish with an Idempotency-Key is remembered for its retries",
  },
  {
    name: "max-idempotency-keys",
    group: "Limits",
    arg: "N",
    env: ["SSE_BROKER_MAX_IDEMPOTENCY_KEYS"],
    broker: "maxIdempotencyKeys",
    help: "Idempotency-Key answers remembered on this node (least recently used go first; with --redis they are in Redis too)",
  },
  {
    name: "max-event-bytes",
    group: "Limits",
    arg: "BYTES",
    env: ["SSE_BROKER_MAX_EVENT_BYTES"],
    broker: "maxEventBytes",
    help: "UTF-8 bytes of one event's data; more get 413",
  },
  {
    name: "headers-timeout-ms",
    group: "Limits",
    arg: "MS",
    env: ["SSE_BROKER_HEADERS_TIMEOUT_MS"],
    default: "20000",
    help: "a request's headers must arrive within MS (408, connection closed); never applies to open streams",
  },
  {
    name: "request-timeout-ms",
    group: "Limits",
    arg: "MS",
    env: ["SSE_BROKER_REQUEST_TIMEOUT_MS"],
    default: "60000",
    help: "a request's headers and body must arrive within MS (408); never applies to open streams",
  },
  {
    name: "subscribe-hook-url",
    group: "Backend hooks",
    arg: "URL",
    env: ["SSE_BROKER_SUBSCRIBE_HOOK_URL"],
    broker: "subscribeHookUrl",
    help: "ask this URL (JSON POST, with the client's Authorization and Cookie) before each stream opens; it allows, denies or narrows the topics",
  },
  {
    name: "subscribe-hook-timeout-ms",
    group: "Backend hooks",
    arg: "MS",
    env: ["SSE_BROKER_SUBSCRIBE_HOOK_TIMEOUT_MS"],
    broker: "subscribeHookTimeoutMs",
    help: "longest wait for the subscribe hook's answer, queueing included",
  },
  {
    name: "subscribe-hook-failure",
    group: "Backend hooks",
    arg: "POLICY",
    env: ["SSE_BROKER_SUBSCRIBE_HOOK_FAILURE"],
    broker: "subscribeHookFailure",
    help: "when the hook fails (timeout, non-200, invalid answer): deny (503) or allow (the topics asked for)",
  },
  {
    name: "subscribe-hook-cache-ms",
    group: "Backend hooks",
    arg: "MS",
    env: ["SSE_BROKER_SUBSCRIBE_HOOK_CACHE_MS"],
    broker: "subscribeHookCacheMs",
    help: "reuse an answer for the same credentials and topics this long (a shorter Cache-Control max-age wins; 0 = no cache)",
  },
  {
    name: "subscribe-hook-cache-size",
    group: "Backend hooks",
    arg: "N",
    env: ["SSE_BROKER_SUBSCRIBE_HOOK_CACHE_SIZE"],
    broker: "subscribeHookCacheSize",
    help: "answers cached at most (least recently used go first)",
  },
  {
    name: "subscribe-hook-concurrency",
    group: "Backend hooks",
    arg: "N",
    env: ["SSE_BROKER_SUBSCRIBE_HOOK_CONCURRENCY"],
    broker: "subscribeHookConcurrency",
    help: "subscribe hook calls in flight at most",
  },
  {
    name: "subscribe-hook-queue",
    group: "Backend hooks",
    arg: "N",
    env: ["SSE_BROKER_SUBSCRIBE_HOOK_QUEUE"],
    broker: "subscribeHookQueue",
    help: "subscribe hook calls waiting for a slot at most; past it a connect gets 503",
  },
  {
    name: "disconnect-hook-url",
    group: "Backend hooks",
    arg: "URL",
    env: ["SSE_BROKER_DISCONNECT_HOOK_URL"],
    broker: "disconnectHookUrl",
    help: "POST batches of ended streams ([{id, client, selectors, openedAt, closedAt, reason}]) to this URL",
  },
  {
    name: "disconnect-hook-interval-ms",
    group: "Backend hooks",
    arg: "MS",
    env: ["SSE_BROKER_DISCONNECT_HOOK_INTERVAL_MS"],
    broker: "disconnectHookIntervalMs",
    help: "a batch of disconnects is sent at most MS after its first entry",
  },
  {
    name: "disconnect-hook-batch",
    group: "Backend hooks",
    arg: "N",
    env: ["SSE_BROKER_DISCONNECT_HOOK_BATCH"],
    broker: "disconnectHookBatch",
    help: "disconnects per POST; a full batch is sent at once",
  },
  {
    name: "disconnect-hook-queue",
    group: "Backend hooks",
    arg: "N",
    env: ["SSE_BROKER_DISCONNECT_HOOK_QUEUE"],
    broker: "disconnectHookQueue",
    help: "disconnects waiting at most; past it the oldest are dropped (counted in /metrics)",
  },
  {
    name: "disconnect-hook-retries",
    group: "Backend hooks",
    arg: "N",
    env: ["SSE_BROKER_DISCONNECT_HOOK_RETRIES"],
    broker: "disconnectHookRetries",
    help: "retries of a failed disconnect POST before its batch is dropped",
  },
  {
    name: "disconnect-hook-timeout-ms",
    group: "Backend hooks",
    arg: "MS",
    env: ["SSE_BROKER_DISCONNECT_HOOK_TIMEOUT_MS"],
    broker: "disconnectHookTimeoutMs",
    help: "longest wait for one disconnect POST",
  },
  {
    name: "log-level",
    group: "Logging and metrics",
    arg: "LEVEL",
    env: ["SSE_BROKER_LOG_LEVEL", "LOG_LEVEL"],
    default: "info",
    help: `one of ${LOG_LEVELS.join(", ")}`,
  },
  {
    name: "no-metrics",
    group: "Logging and metrics",
    env: ["SSE_BROKER_METRICS"],
    help: "do not serve GET /metrics",
  },
  {
    name: "metrics-token",
    group: "Logging and metrics",
    arg: "TOKEN",
    env: ["SSE_BROKER_METRICS_TOKEN"],
    broker: "metricsToken",
    default: "none: /metrics from this machine only",
    help: "bearer token GET /metrics requires (prefer the env var)",
  },
  {
    name: "console",
    group: "Logging and metrics",
    arg: "MODE",
    env: ["SSE_BROKER_CONSOLE"],
    broker: "consoleMode",
    help: "the live console at /ui/: off; local = requests from this machine only (loopback client and Host, no untrusted proxy headers); on = also remote clients with --console-token",
  },
  {
    name: "console-token",
    group: "Logging and metrics",
    arg: "TOKEN",
    env: ["SSE_BROKER_CONSOLE_TOKEN"],
    broker: "consoleToken",
    help: "with --console on: the token remote clients give (HTTP Basic password, any user name; or Bearer) to open /ui/ (prefer the env var)",
  },
  {
    name: "metrics-listen",
    group: "Logging and metrics",
    arg: "HOST:PORT",
    env: ["SSE_BROKER_METRICS_LISTEN"],
    default: "none",
    help: "also serve /metrics and /healthz, with no token, on this address (an internal interface)",
  },
  {
    name: "redis",
    group: "Scaling",
    arg: "URL",
    env: ["SSE_BROKER_REDIS_URL", "REDIS_URL"],
    default: "none: in-memory, one process",
    help: "Redis backplane, e.g. redis://127.0.0.1:6379/0, shared by every broker process",
  },
  {
    name: "redis-prefix",
    group: "Scaling",
    arg: "PREFIX",
    env: ["SSE_BROKER_REDIS_PREFIX"],
    default: "sse-broker:",
    help: "prefix of the backplane's Redis keys",
  },
  {
    name: "subscriptions-ttl-ms",
    group: "Scaling",
    arg: "MS",
    env: ["SSE_BROKER_SUBSCRIPTIONS_TTL_MS"],
    default: "30000",
    help: "with --redis and --subscriptions: how long a dead node's subscriptions stay listed",
  },
  {
    name: "presence-ttl-ms",
    group: "Scaling",
    arg: "MS",
    env: ["SSE_BROKER_PRESENCE_TTL_MS"],
    default: "15000",
    help: "with --redis: GET /presence sums every node's counts; a node that dies without closing drops out within this time",
  },
  {
    name: "workers",
    group: "Scaling",
    arg: "N",
    env: ["SSE_BROKER_WORKERS"],
    default: "1",
    help: "processes sharing the port (node:cluster); more than 1 needs --redis",
  },
  ...mercureOptions(),
  { name: "help", group: "Other", short: "h", help: "print this help and exit" },
  { name: "version", group: "Other", short: "v", help: "print the version and exit" },
];

/** Every option, in help order, with the broker options' defaults filled in. */
export const OPTIONS: readonly OptionSpec[] = TABLE.map(withBrokerDefault);

function withBrokerDefault(o: OptionSpec): OptionSpec {
  if (o.broker === undefined || o.default !== undefined) return o;
  return { ...o, default: defaultText(DEFAULT_BROKER_OPTIONS[o.broker]) };
}

/** A broker default as help shows it: the value itself, `none` for null or an empty list. */
export function defaultText(value: unknown): string {
  if (value === null) return "none";
  if (typeof value === "number" || typeof value === "string") return String(value);
  if (Array.isArray(value)) return value.length === 0 ? "none" : value.join(", ");
  throw new Error(`no text for the default ${JSON.stringify(value)}`);
}

/** Names and env vars of the reference hub (dunglas/mercure), so its configuration carries over. */
function mercureOptions(): OptionSpec[] {
  const group = "Mercure hub";
  const keys = (role: "" | "publisher-" | "subscriber-", who: string): OptionSpec[] => {
    const ENV = `MERCURE_${role.replace("-", "_").toUpperCase()}`;
    return [
      {
        name: `${role}jwt-key`,
        group,
        arg: "KEY",
        env: [`${ENV}JWT_KEY`],
        help: `${who} JWT key: HS* secret or PEM public key/certificate (prefer the env var)`,
      },
      {
        name: `${role}jwt-key-file`,
        group,
        arg: "FILE",
        env: [`${ENV}JWT_KEY_FILE`],
        help: `file holding the ${who} JWT key`,
      },
      {
        name: `${role}jwt-alg`,
        group,
        arg: "ALG",
        env: [`${ENV}JWT_ALG`],
        default: role === "" ? "HS256" : "same as --jwt-alg",
        help: role === "" ? `${who} JWT algorithm: ${ALGORITHMS.join(", ")}` : `${who} JWT algorithm`,
      },
    ];
  };
  return [
    ...keys("", "publishers' and subscribers'"),
    ...keys("publisher-", "publishers'"),
    ...keys("subscriber-", "subscribers'"),
    {
      name: "jwks-url",
      group,
      arg: "URL",
      env: ["MERCURE_JWKS_URL"],
      help: "JWKS URL for publishers' and subscribers' keys, instead of a key",
    },
    {
      name: "publisher-jwks-url",
      group,
      arg: "URL",
      env: ["MERCURE_PUBLISHER_JWKS_URL"],
      help: "JWKS URL for publishers' keys",
    },
    {
      name: "subscriber-jwks-url",
      group,
      arg: "URL",
      env: ["MERCURE_SUBSCRIBER_JWKS_URL"],
      help: "JWKS URL for subscribers' keys",
    },
    {
      name: "jwt-audience",
      group,
      arg: "AUD",
      multiple: true,
      env: ["MERCURE_JWT_AUDIENCE"],
      default: "not checked",
      help: "accepted token audience: a token's aud must name one; repeat for several (env: comma-separated)",
    },
    {
      name: "jwt-issuer",
      group,
      arg: "ISS",
      multiple: true,
      env: ["MERCURE_JWT_ISSUER"],
      default: "not checked",
      help: "accepted token issuer: a token's iss must be one; repeat for several (env: comma-separated)",
    },
    {
      name: "oauth-issuer",
      group,
      arg: "ISS",
      env: ["MERCURE_OAUTH_ISSUER"],
      help: "Mercure 1.0: trusted issuer (exact iss) of at+jwt access tokens; needs --oauth-audience and a key",
    },
    {
      name: "oauth-issuer-key",
      group,
      arg: "KEY",
      env: ["MERCURE_OAUTH_ISSUER_KEY"],
      help: "Mercure 1.0: the issuer's key: HS* secret or PEM public key/certificate (prefer the env var)",
    },
    {
      name: "oauth-issuer-alg",
      group,
      arg: "ALG",
      env: ["MERCURE_OAUTH_ISSUER_ALG"],
      default: "HS256",
      help: "Mercure 1.0: algorithm of --oauth-issuer-key",
    },
    {
      name: "oauth-issuer-jwks-url",
      group,
      arg: "URL",
      env: ["MERCURE_OAUTH_ISSUER_JWKS_URL"],
      help: "Mercure 1.0: JWKS URL of the issuer's keys, instead of a key",
    },
    {
      name: "oauth-audience",
      group,
      arg: "URI",
      env: ["MERCURE_OAUTH_AUDIENCE"],
      help: "Mercure 1.0: the hub's resource identifier, required in access tokens' aud",
    },
    {
      name: "oauth-strict",
      group,
      env: ["MERCURE_OAUTH_STRICT"],
      help: "Mercure 1.0: also require sub, client_id, iat and jti in access tokens",
    },
    {
      name: "mercure-protocol",
      group,
      arg: "classic|1|both",
      env: ["MERCURE_PROTOCOL"],
      default: "both",
      help: "dialects served: classic (pre-standard only), 1 (Mercure 1.0 only; needs --oauth-issuer) or both, per request",
    },
    {
      name: "anonymous",
      group,
      env: ["MERCURE_ANONYMOUS"],
      help: "let subscribers connect without a token (they never get private updates)",
    },
    {
      name: "publish-origin",
      group,
      arg: "ORIGIN",
      multiple: true,
      env: ["MERCURE_PUBLISH_ORIGINS"],
      default: "none",
      help: "origin allowed to publish from a browser; repeat for several; * = any",
    },
    {
      name: "subscriptions",
      group,
      env: ["MERCURE_SUBSCRIPTIONS"],
      help: "publish subscription events and serve the subscriptions API",
    },
    {
      name: "cookie-name",
      group,
      arg: "NAME",
      env: ["MERCURE_COOKIE_NAME"],
      default: "mercureAuthorization",
      help: "cookie carrying the subscriber's or publisher's token",
    },
    {
      name: "hub-url",
      group,
      arg: "URL",
      env: ["MERCURE_HUB_URL"],
      default: "/.well-known/mercure",
      help: "hub URL advertised in Link headers (e.g. the public URL behind a proxy)",
    },
    {
      name: "max-matchers",
      group,
      arg: "N",
      env: ["MERCURE_MAX_MATCHERS"],
      default: "32",
      help: "Mercure 1.0: topic matchers (match… parameters) per subscription; 400 past it",
    },
    {
      name: "max-matcher-length",
      group,
      arg: "N",
      env: ["MERCURE_MAX_MATCHER_LENGTH"],
      default: "1024",
      help: "Mercure 1.0: longest matcher value (UTF-16 code units); 400 past it",
    },
    {
      name: "max-subscribe-body-bytes",
      group,
      arg: "N",
      env: ["MERCURE_MAX_SUBSCRIBE_BODY_BYTES"],
      default: "65536",
      help: "Mercure 1.0: largest form body of a QUERY (or POST event-stream) subscription; 413 past it",
    },
    {
      name: "max-streams-per-token",
      group,
      arg: "N",
      env: ["MERCURE_MAX_STREAMS_PER_TOKEN"],
      default: "none",
      help: "open streams one subscriber token may hold on this node; 429 past it",
    },
    {
      name: "url-pattern-regexp-groups",
      group,
      env: ["MERCURE_URL_PATTERN_REGEXP_GROUPS"],
      help: "Mercure 1.0: accept regexp groups (…) in match_urlpattern; their matching cost is unbounded (trusted subscribers only)",
    },
  ];
}

/** The spec of `name`; a missing one is a bug in the caller, not user input. */
export function spec(name: string): OptionSpec {
  const s = OPTIONS.find((o) => o.name === name);
  if (s === undefined) throw new Error(`no option spec for ${name}`);
  return s;
}
