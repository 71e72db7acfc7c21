/**
 * Command line and environment → server configuration. Pure: takes argv and env, returns a command or
 * throws SSEB_ERR_OPTIONS_INVALID with a one-line message naming the option and the bad value.
 * @module
 */
import { parseArgs } from "node:util";
import type { JwtAlgorithm } from "../auth/keys.js";
import { optionsError } from "../errors.js";
import { trustedProxies } from "../http/client-address.js";
import type { MercureOptions, MercureProtocol } from "../mercure/options.js";
import { DEFAULT_BROKER_OPTIONS } from "../options.js";
import type { CliBrokerOptions } from "./broker-options.js";
import { ALGORITHMS, LOG_LEVELS, type LogLevel, MERCURE_PROTOCOLS, OPTIONS, spec } from "./option-specs.js";

export type { LogLevel } from "./option-specs.js";

/**
 * What the command line configures. The broker's options (CLI_BROKER_KEYS) come with BrokerOptions' own
 * types and docs; only what the CLI alone knows is declared here.
 */
export interface CliConfig extends CliBrokerOptions {
  /** 0 = any free port (the listening log line tells which). */
  port: number;
  /** `undefined` = all interfaces, like the Go original. */
  host: string | undefined;
  /** The demo producer plus the demo routes (`GET /` page and stream). */
  demo: boolean;
  demoIntervalMs: number;
  /** Node's `server.headersTimeout`: a request's headers must arrive within it. */
  headersTimeoutMs: number;
  /** Node's `server.requestTimeout`: a request's headers and body must arrive within it (never streams). */
  requestTimeoutMs: number;
  logLevel: LogLevel;
  metrics: boolean;
  /** A second listener serving `/metrics` and `/healthz` without a token; `null` = none. */
  metricsListen: { host: string; port: number } | null;
  /** `--tls-cert`/`--tls-key`: serve HTTPS (HTTP/2 + HTTP/1.1); `null` = plain HTTP. Read at start. */
  tls: { certFile: string; keyFile: string } | null;
  /** Redis backplane URL; `null` = single process, in-memory transport. */
  redisUrl: string | null;
  redisPrefix: string;
  /**
   * With `redisUrl` and Mercure subscriptions: TTL of this node's entries in the cluster-wide list of
   * subscriptions. Absent = the registry's default (30 s).
   */
  subscriptionsTtlMs?: number;
  /** With `redisUrl`: TTL of this node's presence counts in Redis. Absent = the default (15 s). */
  presenceTtlMs?: number;
  /** Processes serving the port (node:cluster); 1 = no cluster. */
  workers: number;
  /** The Mercure hub on /.well-known/mercure; `null` = off (no JWT key configured). */
  mercure: MercureOptions | null;
}

export type CliCommand = { kind: "help" } | { kind: "version" } | { kind: "run"; config: CliConfig };

const MAX_PORT = 65_535;
const MAX_WORKERS = 256;

/** Parses argv (without `node` and the script) and env. Throws SSEB_ERR_OPTIONS_INVALID on bad input. */
export function parseCli(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): CliCommand {
  const values = parseFlags(argv);
  if (values.help === true) return { kind: "help" };
  if (values.version === true) return { kind: "version" };
  const src = new Source(values, env);

  const workers = src.int("workers", 1, MAX_WORKERS) ?? 1;
  const redisUrl = src.redisUrl("redis") ?? null;
  if (workers > 1 && redisUrl === null) {
    throw optionsError(
      `--workers ${workers} needs --redis <url>: worker processes must share a backplane to see each other's events`,
    );
  }
  // The flags say 0 where the broker says null (off).
  const heartbeatMs = src.int("heartbeat-ms", 0) ?? DEFAULT_BROKER_OPTIONS.heartbeatMs;
  const shutdownSpread =
    src.int("shutdown-retry-spread-ms", 0) ?? DEFAULT_BROKER_OPTIONS.shutdownRetrySpreadMs;
  if (shutdownSpread !== null && shutdownSpread > 0 && shutdownSpread < 1000) {
    throw optionsError(
      `--shutdown-retry-spread-ms must be 0 (no hint) or at least 1000, not ${shutdownSpread}`,
    );
  }
  const corsOrigins = src.origins("cors-origin");
  const config: CliConfig = {
    port: src.int("port", 0, MAX_PORT) ?? 8080,
    host: src.str("host"),
    tls: tlsConfig(src),
    demo: !src.flag("no-demo"),
    demoIntervalMs: src.int("demo-interval-ms", 1) ?? 2000,
    publishToken: src.str("publish-token") ?? DEFAULT_BROKER_OPTIONS.publishToken,
    corsOrigins,
    heartbeatMs: heartbeatMs === 0 ? null : heartbeatMs,
    retryMs: src.int("retry-ms", 0) ?? DEFAULT_BROKER_OPTIONS.retryMs,
    maxStreamLifetimeMs:
      src.int("max-stream-lifetime-ms", 1000) ?? DEFAULT_BROKER_OPTIONS.maxStreamLifetimeMs,
    tokenExpiryNoticeMs: src.int("token-expiry-notice-ms", 0) ?? DEFAULT_BROKER_OPTIONS.tokenExpiryNoticeMs,
    maxBufferedBytes: src.int("max-buffered-bytes", 1) ?? DEFAULT_BROKER_OPTIONS.maxBufferedBytes,
    flushIntervalMs: src.int("flush-interval-ms", 0) ?? DEFAULT_BROKER_OPTIONS.flushIntervalMs,
    maxFlushDelayMs: src.int("max-flush-delay-ms", 0) ?? DEFAULT_BROKER_OPTIONS.maxFlushDelayMs,
    historyLimit: src.int("history-size", 0) ?? DEFAULT_BROKER_OPTIONS.historyLimit,
    historyMaxBytes: src.int("history-bytes", 0) ?? DEFAULT_BROKER_OPTIONS.historyMaxBytes,
    historyMaxTopics: src.int("history-topics", 1) ?? DEFAULT_BROKER_OPTIONS.historyMaxTopics,
    historyMaxEvents: src.int("history-total-events", 1) ?? DEFAULT_BROKER_OPTIONS.historyMaxEvents,
    historyMaxTotalBytes: src.int("history-total-bytes", 0) ?? DEFAULT_BROKER_OPTIONS.historyMaxTotalBytes,
    shutdownRetrySpreadMs: shutdownSpread === 0 ? null : shutdownSpread,
    maxBodyBytes: src.int("max-body-bytes", 1) ?? DEFAULT_BROKER_OPTIONS.maxBodyBytes,
    maxSelectorsPerSubscription:
      src.int("max-selectors", 1) ?? DEFAULT_BROKER_OPTIONS.maxSelectorsPerSubscription,
    maxSelectorLength: src.int("max-selector-length", 1, 2048) ?? DEFAULT_BROKER_OPTIONS.maxSelectorLength,
    maxTemplateExpressions:
      src.int("max-template-expressions", 1) ?? DEFAULT_BROKER_OPTIONS.maxTemplateExpressions,
    maxPatternSelectors: src.int("max-pattern-selectors", 0) ?? DEFAULT_BROKER_OPTIONS.maxPatternSelectors,
    maxPatternSelectorsPerClient:
      src.int("max-pattern-selectors-per-ip", 0) ?? DEFAULT_BROKER_OPTIONS.maxPatternSelectorsPerClient,
    maxTopicsPerUpdate: src.int("max-topics-per-update", 1) ?? DEFAULT_BROKER_OPTIONS.maxTopicsPerUpdate,
    maxEventBytes: src.int("max-event-bytes", 1) ?? DEFAULT_BROKER_OPTIONS.maxEventBytes,
    maxBatchEvents: src.int("max-batch-events", 1) ?? DEFAULT_BROKER_OPTIONS.maxBatchEvents,
    idempotencyTtlMs: src.int("idempotency-ttl-ms", 1) ?? DEFAULT_BROKER_OPTIONS.idempotencyTtlMs,
    maxIdempotencyKeys: src.int("max-idempotency-keys", 0) ?? DEFAULT_BROKER_OPTIONS.maxIdempotencyKeys,
    trustProxy: src.proxies("trust-proxy"),
    publishOrigins: src.publishOrigins("publish-cors-origin"),
    maxConnections: src.intOrNone("max-connections", DEFAULT_BROKER_OPTIONS.maxConnections),
    maxConnectionsPerIp: src.intOrNone("max-connections-per-ip", DEFAULT_BROKER_OPTIONS.maxConnectionsPerIp),
    connectionRatePerIp: src.intOrNone("connection-rate-per-ip", DEFAULT_BROKER_OPTIONS.connectionRatePerIp),
    publishRatePerKey: src.intOrNone("publish-rate-per-key", DEFAULT_BROKER_OPTIONS.publishRatePerKey),
    headersTimeoutMs: src.int("headers-timeout-ms", 1) ?? 20_000,
    requestTimeoutMs: src.int("request-timeout-ms", 1) ?? 60_000,
    ...hookConfig(src),
    logLevel: src.logLevel("log-level") ?? "info",
    metrics: !src.flag("no-metrics"),
    metricsToken: src.str("metrics-token") ?? DEFAULT_BROKER_OPTIONS.metricsToken,
    metricsListen: src.hostPort("metrics-listen") ?? null,
    ...consoleConfig(src),
    redisUrl,
    redisPrefix: src.str("redis-prefix") ?? "sse-broker:",
    presenceTopic: src.str("presence-topic") ?? DEFAULT_BROKER_OPTIONS.presenceTopic,
    workers,
    mercure: mercureConfig(src, corsOrigins),
  };
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    throw optionsError(
      `--headers-timeout-ms (${config.headersTimeoutMs}) must not exceed --request-timeout-ms (${config.requestTimeoutMs})`,
    );
  }
  const subscriptionsTtlMs = src.int("subscriptions-ttl-ms", 1_000);
  if (subscriptionsTtlMs !== undefined) {
    if (redisUrl === null || config.mercure?.subscriptions !== true) {
      throw optionsError(
        "--subscriptions-ttl-ms sets the cluster-wide subscriptions list: it needs --redis and --subscriptions",
      );
    }
    config.subscriptionsTtlMs = subscriptionsTtlMs;
  }
  const presenceTtlMs = src.int("presence-ttl-ms", 1_000);
  if (presenceTtlMs !== undefined) {
    if (redisUrl === null) {
      throw optionsError(
        "--presence-ttl-ms sets how long a node's presence counts live in Redis: it needs --redis",
      );
    }
    config.presenceTtlMs = presenceTtlMs;
  }
  return { kind: "run", config };
}

/** `--console on` needs a token, and a token means nothing without it. */
function consoleConfig(src: Source): { consoleMode: "off" | "local" | "on"; consoleToken: string | null } {
  const consoleMode = src.consoleMode("console") ?? DEFAULT_BROKER_OPTIONS.consoleMode;
  const consoleToken = src.str("console-token") ?? null;
  if (consoleMode === "on" && consoleToken === null) {
    throw optionsError(
      "--console on opens /ui/ to remote clients: it needs --console-token (or SSE_BROKER_CONSOLE_TOKEN)",
    );
  }
  if (consoleMode !== "on" && consoleToken !== null) {
    throw optionsError(`--console-token is for remote clients: it needs --console on (not ${consoleMode})`);
  }
  return { consoleMode, consoleToken };
}

/** Both files or neither: a certificate without its key (or the reverse) cannot serve anything. */
function tlsConfig(src: Source): { certFile: string; keyFile: string } | null {
  const certFile = src.str("tls-cert");
  const keyFile = src.str("tls-key");
  if (certFile === undefined && keyFile === undefined) return null;
  if (certFile === undefined) throw optionsError("--tls-key needs --tls-cert (the certificate of that key)");
  if (keyFile === undefined) throw optionsError("--tls-cert needs --tls-key (the certificate's private key)");
  return { certFile, keyFile };
}

/** Backend hooks; their tuning flags without the hook's URL are a mistake worth saying. */
function hookConfig(src: Source) {
  const d = DEFAULT_BROKER_OPTIONS;
  const subscribeHookUrl = src.httpUrl("subscribe-hook-url") ?? null;
  const disconnectHookUrl = src.httpUrl("disconnect-hook-url") ?? null;
  for (const [url, hook, names] of [
    [
      subscribeHookUrl,
      "subscribe-hook-url",
      ["timeout-ms", "failure", "cache-ms", "cache-size", "concurrency", "queue"].map(
        (n) => `subscribe-hook-${n}`,
      ),
    ],
    [
      disconnectHookUrl,
      "disconnect-hook-url",
      ["interval-ms", "batch", "queue", "retries", "timeout-ms"].map((n) => `disconnect-hook-${n}`),
    ],
  ] as const) {
    const stray = url === null ? names.find((n) => src.has(n)) : undefined;
    if (stray !== undefined) throw optionsError(`--${stray} configures a hook: it needs --${hook}`);
  }
  return {
    subscribeHookUrl,
    subscribeHookTimeoutMs: src.int("subscribe-hook-timeout-ms", 1) ?? d.subscribeHookTimeoutMs,
    subscribeHookFailure: src.failurePolicy("subscribe-hook-failure") ?? d.subscribeHookFailure,
    subscribeHookCacheMs: src.int("subscribe-hook-cache-ms", 0) ?? d.subscribeHookCacheMs,
    subscribeHookCacheSize: src.int("subscribe-hook-cache-size", 1) ?? d.subscribeHookCacheSize,
    subscribeHookConcurrency: src.int("subscribe-hook-concurrency", 1) ?? d.subscribeHookConcurrency,
    subscribeHookQueue: src.int("subscribe-hook-queue", 0) ?? d.subscribeHookQueue,
    disconnectHookUrl,
    disconnectHookIntervalMs: src.int("disconnect-hook-interval-ms", 1) ?? d.disconnectHookIntervalMs,
    disconnectHookBatch: src.int("disconnect-hook-batch", 1) ?? d.disconnectHookBatch,
    disconnectHookQueue: src.int("disconnect-hook-queue", 1) ?? d.disconnectHookQueue,
    disconnectHookRetries: src.int("disconnect-hook-retries", 0) ?? d.disconnectHookRetries,
    disconnectHookTimeoutMs: src.int("disconnect-hook-timeout-ms", 1) ?? d.disconnectHookTimeoutMs,
  };
}

/** The hub is on when a key (or JWKS) is given; its other flags alone are a mistake worth saying. */
function mercureConfig(src: Source, corsOrigins: "*" | readonly string[] | null): MercureOptions | null {
  const o: MercureOptions = {};
  for (const role of ["", "publisher-", "subscriber-"] as const) {
    const prefix = role === "" ? "jwt" : `${role.slice(0, -1)}Jwt`;
    const key = src.str(`${role}jwt-key`);
    const keyFile = src.str(`${role}jwt-key-file`);
    const alg = src.alg(`${role}jwt-alg`);
    if (key !== undefined) (o as Record<string, unknown>)[`${prefix}Key`] = key;
    if (keyFile !== undefined) (o as Record<string, unknown>)[`${prefix}KeyFile`] = keyFile;
    if (alg !== undefined) (o as Record<string, unknown>)[`${prefix}Alg`] = alg;
  }
  const jwksUrl = src.str("jwks-url");
  if (jwksUrl !== undefined) o.jwksUrl = jwksUrl;
  const publisherJwksUrl = src.str("publisher-jwks-url");
  if (publisherJwksUrl !== undefined) o.publisherJwksUrl = publisherJwksUrl;
  const subscriberJwksUrl = src.str("subscriber-jwks-url");
  if (subscriberJwksUrl !== undefined) o.subscriberJwksUrl = subscriberJwksUrl;
  const oauthIssuer = src.str("oauth-issuer");
  const oauthKey = src.str("oauth-issuer-key");
  const oauthAlg = src.alg("oauth-issuer-alg");
  const oauthJwks = src.str("oauth-issuer-jwks-url");
  const oauthAudience = src.str("oauth-audience");
  const oauthStrict = src.switch("oauth-strict");
  const protocol = src.protocol("mercure-protocol");
  if (protocol === "1" && oauthIssuer === undefined) {
    // Checked here too, so the message names the flag: a 1.0-only hub could authorize no publisher.
    throw optionsError(
      "--mercure-protocol 1 (MERCURE_PROTOCOL) needs --oauth-issuer: a Mercure 1.0-only hub accepts access tokens only",
    );
  }
  if (oauthIssuer !== undefined) {
    if (oauthAudience === undefined) {
      throw optionsError("--oauth-issuer needs --oauth-audience (the hub's resource identifier)");
    }
    o.oauthIssuers = [
      {
        issuer: oauthIssuer,
        ...(oauthKey === undefined ? {} : { key: oauthKey }),
        ...(oauthAlg === undefined ? {} : { alg: oauthAlg }),
        ...(oauthJwks === undefined ? {} : { jwksUrl: oauthJwks }),
      },
    ];
  } else if (oauthKey !== undefined || oauthAlg !== undefined || oauthJwks !== undefined) {
    throw optionsError(
      "--oauth-issuer-key, --oauth-issuer-alg and --oauth-issuer-jwks-url need --oauth-issuer",
    );
  }
  const enabled = [
    oauthIssuer,
    o.jwtKey,
    o.jwtKeyFile,
    o.jwksUrl,
    o.publisherJwtKey,
    o.publisherJwtKeyFile,
    o.publisherJwksUrl,
    o.subscriberJwtKey,
    o.subscriberJwtKeyFile,
    o.subscriberJwksUrl,
  ].some((v) => v !== undefined);
  const audience = src.list("jwt-audience");
  const issuer = src.list("jwt-issuer");
  const cookieName = src.str("cookie-name");
  const hubUrl = src.str("hub-url");
  const anonymous = src.switch("anonymous");
  const subscriptions = src.switch("subscriptions");
  const publishOrigins = src.originList("publish-origin");
  const maxMatchers = src.int("max-matchers", 1);
  const maxMatcherLength = src.int("max-matcher-length", 1);
  const maxSubscribeBody = src.int("max-subscribe-body-bytes", 1);
  const maxStreamsPerToken = src.int("max-streams-per-token", 1);
  const regExpGroups = src.switch("url-pattern-regexp-groups");
  if (!enabled) {
    const stray = [
      anonymous ? "--anonymous" : "",
      subscriptions ? "--subscriptions" : "",
      publishOrigins !== undefined ? "--publish-origin" : "",
      audience !== undefined ? "--jwt-audience" : "",
      issuer !== undefined ? "--jwt-issuer" : "",
      regExpGroups ? "--url-pattern-regexp-groups" : "",
      oauthAudience !== undefined ? "--oauth-audience" : "",
      oauthStrict ? "--oauth-strict" : "",
      ...(
        [
          "jwt-alg",
          "publisher-jwt-alg",
          "subscriber-jwt-alg",
          "cookie-name",
          "hub-url",
          "max-matchers",
          "max-matcher-length",
          "max-subscribe-body-bytes",
          "max-streams-per-token",
          "mercure-protocol",
        ] as const
      ).map((n) => (src.has(n) ? `--${n}` : "")),
    ].filter((x) => x !== "");
    if (stray.length > 0) {
      throw optionsError(
        `${stray[0]} configures the Mercure hub, which needs a key: --jwt-key, --publisher-jwt-key, --subscriber-jwt-key (or their -file forms), a --jwks-url or an --oauth-issuer`,
      );
    }
    return null;
  }
  o.anonymous = anonymous;
  o.subscriptions = subscriptions;
  o.corsOrigins = corsOrigins;
  if (publishOrigins !== undefined) o.publishOrigins = publishOrigins;
  if (audience !== undefined) o.jwtAudience = audience;
  if (issuer !== undefined) o.jwtIssuer = issuer;
  if (cookieName !== undefined) o.cookieName = cookieName;
  if (hubUrl !== undefined) o.hubUrl = hubUrl;
  if (maxMatchers !== undefined) o.maxMatchersPerSubscription = maxMatchers;
  if (maxMatcherLength !== undefined) o.maxMatcherLength = maxMatcherLength;
  if (maxSubscribeBody !== undefined) o.maxSubscribeBodyBytes = maxSubscribeBody;
  if (maxStreamsPerToken !== undefined) o.maxStreamsPerToken = maxStreamsPerToken;
  if (regExpGroups) o.urlPatternRegExpGroups = true;
  if (oauthAudience !== undefined) o.oauthAudience = oauthAudience;
  if (oauthStrict) o.oauthStrict = true;
  if (protocol !== undefined) o.protocol = protocol;
  return o;
}

type FlagValues = Record<string, string | boolean | string[] | undefined>;

function parseFlags(argv: readonly string[]): FlagValues {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }> = {};
  for (const o of OPTIONS) {
    options[o.name] = {
      type: o.arg === undefined ? "boolean" : "string",
      ...(o.multiple === true ? { multiple: true } : {}),
      ...(o.short === undefined ? {} : { short: o.short }),
    };
  }
  try {
    return parseArgs({
      args: joinNegativeValues(argv, options),
      options,
      strict: true,
      allowPositionals: false,
    }).values as FlagValues;
  } catch (err) {
    throw optionsError(flagErrorMessage(err));
  }
}

/**
 * `--retry-ms -1` is ambiguous to parseArgs (a value that looks like a flag); the user clearly meant a
 * value, so pass it as `--retry-ms=-1` and let validation explain what is wrong with it.
 */
function joinNegativeValues(argv: readonly string[], options: Record<string, { type: string }>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const next = argv[i + 1];
    const name = a.startsWith("--") ? a.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === "string" && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

/** parseArgs' messages span several lines and suggest things; ours are one line each. */
function flagErrorMessage(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const message = e.message ?? String(err);
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? "";
  const flag = /--[a-z][a-z0-9-]*/.exec(quoted)?.[0] ?? quoted;
  switch (e.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${flag} (see --help)`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument "${quoted}" (see --help)`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (message.includes("does not take an argument")) return `${flag} does not take a value`;
      if (message.includes("ambiguous")) {
        return `${flag} needs a value (write ${flag}=<value> for a value starting with "-")`;
      }
      return `${flag} needs a value`;
    default:
      return message.split("\n")[0] ?? "invalid arguments";
  }
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off"]);

/** Reads one option from its flag, else its env vars; error messages name where the value came from. */
class Source {
  readonly #values: FlagValues;
  readonly #env: Readonly<Record<string, string | undefined>>;

  constructor(values: FlagValues, env: Readonly<Record<string, string | undefined>>) {
    this.#values = values;
    this.#env = env;
  }

  /** The raw value and a label for messages; empty env vars count as unset (compose files leave those). */
  #raw(name: string): { value: string | string[] | boolean; label: string } | undefined {
    const flag = this.#values[name];
    if (flag !== undefined) return { value: flag, label: `--${name}` };
    for (const key of spec(name).env ?? []) {
      const v = this.#env[key];
      if (v !== undefined && v !== "") return { value: v, label: key };
    }
    return undefined;
  }

  str(name: string): string | undefined {
    const r = this.#raw(name);
    if (r === undefined) return undefined;
    const v = String(r.value);
    if (v === "") throw optionsError(`${r.label} must not be empty`);
    return v;
  }

  int(name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const r = this.#raw(name);
    if (r === undefined) return undefined;
    const text = String(r.value).trim();
    // Digits only: Number() would take "", "1e3", "0x10" and " 12 ".
    const n = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
      throw optionsError(`${r.label} must be an integer ${range} (got ${JSON.stringify(String(r.value))})`);
    }
    return n;
  }

  /** A `--no-x` switch, or its env var holding the positive sense (`SSE_BROKER_DEMO=false` = `--no-demo`). */
  flag(name: string): boolean {
    if (this.#values[name] === true) return true;
    const r = this.#raw(name);
    if (r === undefined) return false;
    const v = String(r.value).trim().toLowerCase();
    if (TRUE.has(v)) return false;
    if (FALSE.has(v)) return true;
    throw optionsError(`${r.label} must be true or false (got ${JSON.stringify(String(r.value))})`);
  }

  origins(name: string): "*" | readonly string[] | null {
    const r = this.#raw(name);
    if (r === undefined) return "*";
    const list = (Array.isArray(r.value) ? r.value : String(r.value).split(/[\s,]+/))
      .map((o) => o.trim())
      .filter((o) => o !== "");
    if (list.length === 0) throw optionsError(`${r.label} must not be empty`);
    if (list.includes("*")) return "*";
    if (list.includes("none")) return null;
    for (const o of list) {
      if (!/^https?:\/\/[^/\s]+$/.test(o)) {
        throw optionsError(
          `${r.label} must be "*", "none" or an origin like https://example.com (got ${JSON.stringify(o)})`,
        );
      }
    }
    return list;
  }

  /** An integer >= 1, or `none` (`null`: no cap); the default when unset. */
  intOrNone(name: string, fallback: number | null): number | null {
    const r = this.#raw(name);
    if (r !== undefined && String(r.value).trim().toLowerCase() === "none") return null;
    const n = this.int(name, 1);
    if (n === undefined) return fallback;
    return n;
  }

  /** Repeatable list; env vars separate entries by commas or spaces. */
  #list(r: { value: string | string[] | boolean }): string[] {
    return (Array.isArray(r.value) ? r.value : String(r.value).split(/[\s,]+/))
      .map((o) => o.trim())
      .filter((o) => o !== "");
  }

  proxies(name: string): readonly string[] {
    const r = this.#raw(name);
    if (r === undefined) return [];
    const list = this.#list(r);
    try {
      trustedProxies(list);
    } catch (err) {
      throw optionsError(`${r.label}: ${(err as Error).message}`);
    }
    return list;
  }

  publishOrigins(name: string): readonly string[] {
    const r = this.#raw(name);
    if (r === undefined) return [];
    const list = this.#list(r);
    for (const o of list) {
      if (!/^https?:\/\/[^/\s]+$/.test(o)) {
        throw optionsError(
          `${r.label} must be an origin like https://example.com (got ${JSON.stringify(o)})`,
        );
      }
    }
    return list;
  }

  /** `HOST:PORT` or `[IPv6]:PORT`. */
  hostPort(name: string): { host: string; port: number } | undefined {
    const r = this.#raw(name);
    if (r === undefined) return undefined;
    const v = String(r.value).trim();
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(v);
    const port = Number(m?.[2]);
    if (m === null || port > MAX_PORT) {
      throw optionsError(`${r.label} must be HOST:PORT, e.g. 127.0.0.1:9090 (got ${JSON.stringify(v)})`);
    }
    const host = (m[1] as string).replace(/^\[(.*)\]$/, "$1");
    return { host, port };
  }

  protocol(name: string): MercureProtocol | undefined {
    const r = this.#raw(name);
    if (r === undefined) return undefined;
    const v = String(r.value).trim().toLowerCase();
    if (!(MERCURE_PROTOCOLS as readonly string[]).includes(v)) {
      throw optionsError(
        `${r.label} must be one of ${MERCURE_PROTOCOLS.join(", ")} (got ${JSON.stringify(String(r.value))})`,
      );
    }
    return v as MercureProtocol;
  }

  logLevel(name: string): LogLevel | undefined {
    const r = this.#raw(name);
    if (r === undefined) return undefined;
    const level = String(r.value).trim().toLowerCase();
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      throw optionsError(
        `${r.label} must be one of ${LOG_LEVELS.join(", ")} (got ${JSON.stringify(String(r.value))})`,
      );
    }
    return level as LogLevel;
  }

  has(name: string): boolean {
    return this.#raw(name) !== undefined;
  }

  /** A positive switch (`--anonymous`), or its env var set to true/false. */
  switch(name: string): boolean {
    if (this.#values[name] === true) return true;
    const r = this.#raw(name);
    if (r === undefined) return false;
    const v = String(r.value).trim().toLowerCase();
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
    throw optionsError(`${r.label} must be true or false (got ${JSON.stringify(String(r.value))})`);
  }

  /** A repeatable value; its env var separates values by commas (audiences and issuers are often URIs). */
  list(name: string): readonly string[] | undefined {
    const r = this.#raw(name);
    if (r === undefined) return undefined;
    const list = (Array.isArray(r.value) ? r.value : String(r.value).split(",")).map((v) => v.trim());
    if (list.length === 0 || list.some((v) => v === "")) throw optionsError(`${r.label} must not be empty`);
    return list;
  }

  /** Repeatable origins, or `*`; env vars separate them by commas or spaces (the reference hub's way). */
  originList(name: string): "*" | readonly string[] | undefined {
    const r = this.#raw(name);
    if (r === undefined) return undefined;
    const list = (Array.isArray(r.value) ? r.value : String(r.value).split(/[\s,]+/))
      .map((o) => o.trim())
      .filter((o) => o !== "");
    if (list.includes("*")) return "*";
    for (const o of list) {
      if (!/^https?:\/\/[^/\s]+$/.test(o)) {
        throw optionsError(
          `${r.label} must be "*" or an origin like https://example.com (got ${JSON.stringify(o)})`,
        );
      }
    }
    return list;
  }

  alg(name: string): JwtAlgorithm | undefined {
    const r = this.#raw(name);
    if (r === undefined) return undefined;
    const v = String(r.value).trim();
    if (!ALGORITHMS.includes(v)) {
      throw optionsError(`${r.label} must be one of ${ALGORITHMS.join(", ")} (got ${JSON.stringify(v)})`);
    }
    return v as JwtAlgorithm;
  }

  /** An `http:`/`https:` URL; never echoed (it may carry credentials). */
  httpUrl(name: string): string | undefined {
    const r = this.#raw(name);
    if (r === undefined) return undefined;
    let ok = false;
    try {
      const u = new URL(String(r.value));
      ok = (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
    } catch {}
    if (!ok) throw optionsError(`${r.label} must be an http: or https: URL like http://127.0.0.1:3000/hook`);
    return String(r.value);
  }

  consoleMode(name: string): "off" | "local" | "on" | undefined {
    const r = this.#raw(name);
    if (r === undefined) return undefined;
    const v = String(r.value).trim().toLowerCase();
    if (v !== "off" && v !== "local" && v !== "on") {
      throw optionsError(`${r.label} must be off, local or on (got ${JSON.stringify(String(r.value))})`);
    }
    return v;
  }

  failurePolicy(name: string): "deny" | "allow" | undefined {
    const r = this.#raw(name);
    if (r === undefined) return undefined;
    const v = String(r.value).trim().toLowerCase();
    if (v !== "deny" && v !== "allow") {
      throw optionsError(`${r.label} must be deny or allow (got ${JSON.stringify(String(r.value))})`);
    }
    return v;
  }

  /** Never echoes the value: a Redis URL may carry a password. */
  redisUrl(name: string): string | undefined {
    const r = this.#raw(name);
    if (r === undefined) return undefined;
    let ok = false;
    try {
      const u = new URL(String(r.value));
      ok = (u.protocol === "redis:" || u.protocol === "rediss:") && u.hostname !== "";
    } catch {}
    if (!ok) throw optionsError(`${r.label} must be a URL like redis://127.0.0.1:6379/0`);
    return String(r.value);
  }
}
