/**
 * src/cli/args.ts is pure: argv + env in, config or a one-line error out. Tested without processes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type CliConfig, parseCli } from "../../src/cli/args.js";
import { helpText } from "../../src/cli/help.js";
import { OPTIONS } from "../../src/cli/option-specs.js";
import { SseBrokerError } from "../../src/errors.js";
import { DEFAULT_BROKER_OPTIONS } from "../../src/options.js";

/** The backend hooks' part of a config without hook flags. */
const HOOKS_OFF = {
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
} as const;

function config(argv: string[], env: Record<string, string> = {}): CliConfig {
  const c = parseCli(argv, env);
  assert.equal(c.kind, "run");
  return (c as { config: CliConfig }).config;
}

function errorOf(argv: string[], env: Record<string, string> = {}): string {
  try {
    parseCli(argv, env);
  } catch (err) {
    assert.ok(err instanceof SseBrokerError);
    assert.equal(err.code, "SSEB_ERR_OPTIONS_INVALID");
    assert.ok(!err.message.includes("\n"), `one line: ${err.message}`);
    return err.message;
  }
  assert.fail(`expected ${JSON.stringify(argv)} to be refused`);
}

describe("defaults", () => {
  it("matches the Go original: port 8080, all interfaces, demo every 2 s", () => {
    assert.deepEqual(config([]), {
      port: 8080,
      host: undefined,
      demo: true,
      demoIntervalMs: 2000,
      publishToken: null,
      corsOrigins: "*",
      heartbeatMs: 15_000,
      retryMs: null,
      maxStreamLifetimeMs: null,
      tokenExpiryNoticeMs: 60_000,
      tls: null,
      maxBufferedBytes: 1_048_576,
      flushIntervalMs: 0,
      maxFlushDelayMs: 20,
      historyLimit: 1000,
      historyMaxBytes: 4_194_304,
      historyMaxTopics: 10_000,
      historyMaxEvents: 100_000,
      historyMaxTotalBytes: 64 * 1024 * 1024,
      shutdownRetrySpreadMs: 10_000,
      maxBodyBytes: 1_048_576,
      maxSelectorsPerSubscription: 64,
      maxSelectorLength: 1024,
      maxTemplateExpressions: 8,
      maxPatternSelectors: 10_000,
      maxPatternSelectorsPerClient: 256,
      maxTopicsPerUpdate: 32,
      maxEventBytes: 1_048_576,
      maxBatchEvents: 100,
      idempotencyTtlMs: 86_400_000,
      maxIdempotencyKeys: 10_000,
      trustProxy: [],
      publishOrigins: [],
      maxConnections: DEFAULT_BROKER_OPTIONS.maxConnections,
      maxConnectionsPerIp: 256,
      connectionRatePerIp: 32,
      publishRatePerKey: 1000,
      headersTimeoutMs: 20_000,
      requestTimeoutMs: 60_000,
      ...HOOKS_OFF,
      logLevel: "info",
      metrics: true,
      metricsToken: null,
      metricsListen: null,
      consoleMode: "local",
      consoleToken: null,
      redisUrl: null,
      redisPrefix: "sse-broker:",
      presenceTopic: null,
      workers: 1,
      mercure: null,
    });
  });
});

describe("flags", () => {
  it("reads every flag", () => {
    const c = config([
      "--port=9000",
      "--host",
      "127.0.0.1",
      "--tls-cert",
      "c.pem",
      "--tls-key",
      "k.pem",
      "--no-demo",
      "--demo-interval-ms",
      "500",
      "--publish-token",
      "s3cret",
      "--cors-origin",
      "https://a.example",
      "--cors-origin",
      "http://b.example:8080",
      "--heartbeat-ms",
      "0",
      "--max-stream-lifetime-ms",
      "3600000",
      "--token-expiry-notice-ms",
      "0",
      "--retry-ms",
      "3000",
      "--max-buffered-bytes",
      "2048",
      "--flush-interval-ms",
      "5",
      "--max-flush-delay-ms",
      "7",
      "--history-size",
      "0",
      "--history-bytes",
      "0",
      "--history-topics",
      "50",
      "--max-body-bytes",
      "100",
      "--history-total-events",
      "11",
      "--history-total-bytes",
      "12",
      "--shutdown-retry-spread-ms",
      "0",
      "--max-selectors",
      "13",
      "--max-selector-length",
      "14",
      "--max-template-expressions",
      "15",
      "--max-pattern-selectors",
      "16",
      "--max-pattern-selectors-per-ip",
      "17",
      "--max-topics-per-update",
      "18",
      "--max-event-bytes",
      "19",
      "--max-batch-events",
      "20",
      "--idempotency-ttl-ms",
      "21",
      "--max-idempotency-keys",
      "0",
      "--trust-proxy",
      "loopback",
      "--trust-proxy",
      "10.0.0.0/8",
      "--publish-cors-origin",
      "https://app.example",
      "--max-connections",
      "none",
      "--max-connections-per-ip",
      "9",
      "--connection-rate-per-ip",
      "none",
      "--publish-rate-per-key",
      "50",
      "--headers-timeout-ms",
      "1000",
      "--request-timeout-ms",
      "2000",
      "--metrics-token",
      "m",
      "--metrics-listen",
      "[::1]:9090",
      "--console",
      "on",
      "--console-token",
      "ct",
      "--log-level",
      "debug",
      "--no-metrics",
      "--redis",
      "redis://127.0.0.1:6379/1",
      "--redis-prefix",
      "x:",
      "--presence-topic",
      "presence",
      "--presence-ttl-ms",
      "4000",
      "--workers",
      "3",
    ]);
    assert.deepEqual(c, {
      port: 9000,
      host: "127.0.0.1",
      demo: false,
      demoIntervalMs: 500,
      publishToken: "s3cret",
      corsOrigins: ["https://a.example", "http://b.example:8080"],
      heartbeatMs: null,
      retryMs: 3000,
      maxStreamLifetimeMs: 3_600_000,
      tokenExpiryNoticeMs: 0,
      tls: { certFile: "c.pem", keyFile: "k.pem" },
      maxBufferedBytes: 2048,
      flushIntervalMs: 5,
      maxFlushDelayMs: 7,
      historyLimit: 0,
      historyMaxBytes: 0,
      historyMaxTopics: 50,
      historyMaxEvents: 11,
      historyMaxTotalBytes: 12,
      shutdownRetrySpreadMs: null,
      maxBodyBytes: 100,
      maxSelectorsPerSubscription: 13,
      maxSelectorLength: 14,
      maxTemplateExpressions: 15,
      maxPatternSelectors: 16,
      maxPatternSelectorsPerClient: 17,
      maxTopicsPerUpdate: 18,
      maxEventBytes: 19,
      maxBatchEvents: 20,
      idempotencyTtlMs: 21,
      maxIdempotencyKeys: 0,
      trustProxy: ["loopback", "10.0.0.0/8"],
      publishOrigins: ["https://app.example"],
      maxConnections: null,
      maxConnectionsPerIp: 9,
      connectionRatePerIp: null,
      publishRatePerKey: 50,
      headersTimeoutMs: 1000,
      requestTimeoutMs: 2000,
      ...HOOKS_OFF,
      logLevel: "debug",
      metrics: false,
      metricsToken: "m",
      metricsListen: { host: "::1", port: 9090 },
      consoleMode: "on",
      consoleToken: "ct",
      redisUrl: "redis://127.0.0.1:6379/1",
      redisPrefix: "x:",
      presenceTopic: "presence",
      presenceTtlMs: 4000,
      workers: 3,
      mercure: null,
    });
  });

  it("takes -p, -h and -v", () => {
    assert.equal(config(["-p", "1234"]).port, 1234);
    assert.deepEqual(parseCli(["-h"], {}), { kind: "help" });
    assert.deepEqual(parseCli(["--version"], {}), { kind: "version" });
  });

  it("refuses bad limits, proxies and listen addresses with one line naming the option", () => {
    assert.match(errorOf(["--trust-proxy", "10.0.0.0/33"]), /--trust-proxy: .*10\.0\.0\.0\/33/);
    assert.match(errorOf(["--trust-proxy", "proxy.example"]), /--trust-proxy/);
    assert.match(errorOf([], { SSE_BROKER_TRUST_PROXY: "1.2.3.4,nope" }), /SSE_BROKER_TRUST_PROXY/);
    assert.match(errorOf(["--max-connections", "0"]), /--max-connections must be an integer >= 1/);
    assert.match(errorOf(["--publish-rate-per-key", "fast"]), /--publish-rate-per-key/);
    assert.match(errorOf(["--publish-cors-origin", "*"]), /--publish-cors-origin must be an origin/);
    assert.match(errorOf(["--metrics-listen", "9090"]), /--metrics-listen must be HOST:PORT/);
    assert.match(
      errorOf(["--headers-timeout-ms", "5000", "--request-timeout-ms", "1000"]),
      /--headers-timeout-ms \(5000\) must not exceed --request-timeout-ms/,
    );
  });

  it("maps --cors-origin none to no CORS, and * anywhere to any origin", () => {
    assert.equal(config(["--cors-origin", "none"]).corsOrigins, null);
    assert.equal(config(["--cors-origin", "https://a.example", "--cors-origin", "*"]).corsOrigins, "*");
  });
});

describe("environment", () => {
  it("reads PORT and HOST like most hosting platforms set them", () => {
    const c = config([], { PORT: "3000", HOST: "127.0.0.1" });
    assert.equal(c.port, 3000);
    assert.equal(c.host, "127.0.0.1");
  });

  it("prefers flags over SSE_BROKER_* over PORT/HOST/REDIS_URL", () => {
    assert.equal(config([], { PORT: "3000", SSE_BROKER_PORT: "4000" }).port, 4000);
    assert.equal(config(["--port", "5000"], { PORT: "3000", SSE_BROKER_PORT: "4000" }).port, 5000);
    assert.equal(
      config([], { REDIS_URL: "redis://a:1", SSE_BROKER_REDIS_URL: "redis://b:2" }).redisUrl,
      "redis://b:2",
    );
  });

  it("reads every SSE_BROKER_* variable", () => {
    const c = config([], {
      SSE_BROKER_PORT: "1",
      SSE_BROKER_HOST: "::1",
      SSE_BROKER_TLS_CERT: "/etc/c.pem",
      SSE_BROKER_TLS_KEY: "/etc/k.pem",
      SSE_BROKER_DEMO: "false",
      SSE_BROKER_DEMO_INTERVAL_MS: "100",
      SSE_BROKER_PUBLISH_TOKEN: "t",
      SSE_BROKER_CORS_ORIGIN: "https://a.example, https://b.example",
      SSE_BROKER_HEARTBEAT_MS: "1000",
      SSE_BROKER_RETRY_MS: "0",
      SSE_BROKER_MAX_STREAM_LIFETIME_MS: "1000",
      SSE_BROKER_TOKEN_EXPIRY_NOTICE_MS: "5000",
      SSE_BROKER_MAX_BUFFERED_BYTES: "10",
      SSE_BROKER_FLUSH_INTERVAL_MS: "3",
      SSE_BROKER_MAX_FLUSH_DELAY_MS: "0",
      SSE_BROKER_HISTORY_SIZE: "5",
      SSE_BROKER_HISTORY_BYTES: "50",
      SSE_BROKER_HISTORY_TOPICS: "7",
      SSE_BROKER_MAX_BODY_BYTES: "20",
      SSE_BROKER_HISTORY_TOTAL_EVENTS: "21",
      SSE_BROKER_HISTORY_TOTAL_BYTES: "22",
      SSE_BROKER_SHUTDOWN_RETRY_SPREAD_MS: "2000",
      SSE_BROKER_MAX_SELECTORS: "23",
      SSE_BROKER_MAX_SELECTOR_LENGTH: "24",
      SSE_BROKER_MAX_TEMPLATE_EXPRESSIONS: "25",
      SSE_BROKER_MAX_PATTERN_SELECTORS: "26",
      SSE_BROKER_MAX_PATTERN_SELECTORS_PER_IP: "27",
      SSE_BROKER_MAX_TOPICS_PER_UPDATE: "28",
      SSE_BROKER_MAX_EVENT_BYTES: "29",
      SSE_BROKER_TRUST_PROXY: "127.0.0.1, ::1/128",
      SSE_BROKER_PUBLISH_CORS_ORIGIN: "https://a.example,https://b.example",
      SSE_BROKER_MAX_CONNECTIONS: "100",
      SSE_BROKER_MAX_CONNECTIONS_PER_IP: "none",
      SSE_BROKER_CONNECTION_RATE_PER_IP: "4",
      SSE_BROKER_PUBLISH_RATE_PER_KEY: "none",
      SSE_BROKER_HEADERS_TIMEOUT_MS: "500",
      SSE_BROKER_REQUEST_TIMEOUT_MS: "500",
      SSE_BROKER_METRICS_TOKEN: "mt",
      SSE_BROKER_METRICS_LISTEN: "10.0.0.5:0",
      SSE_BROKER_CONSOLE: "Off",
      SSE_BROKER_LOG_LEVEL: "WARN",
      SSE_BROKER_METRICS: "off",
      SSE_BROKER_REDIS_URL: "rediss://h:6380",
      SSE_BROKER_REDIS_PREFIX: "p:",
      SSE_BROKER_PRESENCE_TOPIC: "who",
      SSE_BROKER_PRESENCE_TTL_MS: "2000",
      SSE_BROKER_WORKERS: "2",
      SSE_BROKER_MAX_BATCH_EVENTS: "30",
      SSE_BROKER_IDEMPOTENCY_TTL_MS: "31",
      SSE_BROKER_MAX_IDEMPOTENCY_KEYS: "32",
    });
    assert.deepEqual(c, {
      port: 1,
      host: "::1",
      demo: false,
      demoIntervalMs: 100,
      publishToken: "t",
      corsOrigins: ["https://a.example", "https://b.example"],
      heartbeatMs: 1000,
      retryMs: 0,
      maxStreamLifetimeMs: 1000,
      tokenExpiryNoticeMs: 5000,
      tls: { certFile: "/etc/c.pem", keyFile: "/etc/k.pem" },
      maxBufferedBytes: 10,
      flushIntervalMs: 3,
      maxFlushDelayMs: 0,
      historyLimit: 5,
      historyMaxBytes: 50,
      historyMaxTopics: 7,
      historyMaxEvents: 21,
      historyMaxTotalBytes: 22,
      shutdownRetrySpreadMs: 2000,
      maxBodyBytes: 20,
      maxSelectorsPerSubscription: 23,
      maxSelectorLength: 24,
      maxTemplateExpressions: 25,
      maxPatternSelectors: 26,
      maxPatternSelectorsPerClient: 27,
      maxTopicsPerUpdate: 28,
      maxEventBytes: 29,
      maxBatchEvents: 30,
      idempotencyTtlMs: 31,
      maxIdempotencyKeys: 32,
      trustProxy: ["127.0.0.1", "::1/128"],
      publishOrigins: ["https://a.example", "https://b.example"],
      maxConnections: 100,
      maxConnectionsPerIp: null,
      connectionRatePerIp: 4,
      publishRatePerKey: null,
      headersTimeoutMs: 500,
      requestTimeoutMs: 500,
      ...HOOKS_OFF,
      logLevel: "warn",
      metrics: false,
      metricsToken: "mt",
      metricsListen: { host: "10.0.0.5", port: 0 },
      consoleMode: "off",
      consoleToken: null,
      redisUrl: "rediss://h:6380",
      redisPrefix: "p:",
      presenceTopic: "who",
      presenceTtlMs: 2000,
      workers: 2,
      mercure: null,
    });
  });

  it("ignores empty variables (compose files leave those)", () => {
    assert.equal(config([], { PORT: "", SSE_BROKER_PORT: "" }).port, 8080);
  });

  it("lets a switch's flag win over its env var", () => {
    assert.equal(config(["--no-demo"], { SSE_BROKER_DEMO: "true" }).demo, false);
    assert.equal(config([], { SSE_BROKER_DEMO: "1" }).demo, true);
  });
});

describe("cluster-wide subscriptions", () => {
  it("takes --subscriptions-ttl-ms with --redis and Mercure subscriptions", () => {
    const c = config(
      ["--redis", "redis://127.0.0.1:6379", "--subscriptions", "--subscriptions-ttl-ms", "5000"],
      { MERCURE_JWT_KEY: "k".repeat(32) },
    );
    assert.equal(c.subscriptionsTtlMs, 5000);
  });
});

describe("presence", () => {
  it("takes --presence-topic (off by default) and --presence-ttl-ms with --redis", () => {
    assert.equal(config([]).presenceTopic, null);
    assert.equal(config([]).presenceTtlMs, undefined);
    assert.equal(config(["--presence-topic", "presence"]).presenceTopic, "presence");
    assert.equal(config([], { SSE_BROKER_PRESENCE_TOPIC: "who" }).presenceTopic, "who");
    const c = config(["--redis", "redis://127.0.0.1:6379", "--presence-ttl-ms", "4000"]);
    assert.equal(c.presenceTtlMs, 4000);
  });
});

describe("bad configuration", () => {
  const table: [argv: string[], env: Record<string, string>, message: string][] = [
    [["--port", "abc"], {}, '--port must be an integer between 0 and 65535 (got "abc")'],
    [
      ["--subscriptions-ttl-ms", "5000"],
      {},
      "--subscriptions-ttl-ms sets the cluster-wide subscriptions list: it needs --redis and --subscriptions",
    ],
    [["--subscriptions-ttl-ms", "10"], {}, '--subscriptions-ttl-ms must be an integer >= 1000 (got "10")'],
    [
      ["--presence-ttl-ms", "5000"],
      {},
      "--presence-ttl-ms sets how long a node's presence counts live in Redis: it needs --redis",
    ],
    [["--presence-ttl-ms", "999"], {}, '--presence-ttl-ms must be an integer >= 1000 (got "999")'],
    [["--port", "70000"], {}, '--port must be an integer between 0 and 65535 (got "70000")'],
    [["--port", "80.5"], {}, '--port must be an integer between 0 and 65535 (got "80.5")'],
    [["--port", "1e3"], {}, '--port must be an integer between 0 and 65535 (got "1e3")'],
    [[], { PORT: "http" }, 'PORT must be an integer between 0 and 65535 (got "http")'],
    [["--history-size", "-5"], {}, '--history-size must be an integer >= 0 (got "-5")'],
    [["--retry-ms", "-1"], {}, '--retry-ms must be an integer >= 0 (got "-1")'],
    [
      ["--max-stream-lifetime-ms", "999"],
      {},
      '--max-stream-lifetime-ms must be an integer >= 1000 (got "999")',
    ],
    [["--retry-ms=-1"], {}, '--retry-ms must be an integer >= 0 (got "-1")'],
    [["--token-expiry-notice-ms", "-1"], {}, '--token-expiry-notice-ms must be an integer >= 0 (got "-1")'],
    [["--max-buffered-bytes", "0"], {}, '--max-buffered-bytes must be an integer >= 1 (got "0")'],
    [["--heartbeat-ms", "-1"], {}, '--heartbeat-ms must be an integer >= 0 (got "-1")'],
    [["--foo"], {}, "unknown option --foo (see --help)"],
    [["serve"], {}, 'unexpected argument "serve" (see --help)'],
    [["--port"], {}, "--port needs a value"],
    [
      ["--port", "--no-demo"],
      {},
      '--port needs a value (write --port=<value> for a value starting with "-")',
    ],
    [["--no-demo=yes"], {}, "--no-demo does not take a value"],
    [
      ["--log-level", "loud"],
      {},
      '--log-level must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
    ],
    [[], { SSE_BROKER_DEMO: "maybe" }, 'SSE_BROKER_DEMO must be true or false (got "maybe")'],
    [
      ["--cors-origin", "example.com"],
      {},
      '--cors-origin must be "*", "none" or an origin like https://example.com (got "example.com")',
    ],
    [["--workers", "0"], {}, '--workers must be an integer between 1 and 256 (got "0")'],
    [["--publish-token="], {}, "--publish-token must not be empty"],
  ];
  for (const [argv, env, message] of table) {
    it(`refuses ${JSON.stringify(argv)} ${JSON.stringify(env)}`, () => {
      assert.equal(errorOf(argv, env), message);
    });
  }

  it("refuses --workers > 1 without a backplane", () => {
    assert.match(errorOf(["--workers", "2"]), /^--workers 2 needs --redis <url>/);
  });

  it("never echoes a Redis URL, which may hold a password", () => {
    const message = errorOf(["--redis", "http://:hunter2@host"]);
    assert.equal(message, "--redis must be a URL like redis://127.0.0.1:6379/0");
  });
});

describe("Mercure hub options", () => {
  it("is off without a key", () => {
    assert.equal(config([]).mercure, null);
  });

  it("reads the reference hub's flags", () => {
    const c = config([
      "--publisher-jwt-key",
      "pub",
      "--publisher-jwt-alg",
      "HS512",
      "--subscriber-jwt-key-file",
      "/keys/sub.pem",
      "--subscriber-jwt-alg",
      "RS256",
      "--anonymous",
      "--subscriptions",
      "--publish-origin",
      "https://admin.example",
      "--cors-origin",
      "https://app.example",
    ]);
    assert.deepEqual(c.mercure, {
      publisherJwtKey: "pub",
      publisherJwtAlg: "HS512",
      subscriberJwtKeyFile: "/keys/sub.pem",
      subscriberJwtAlg: "RS256",
      anonymous: true,
      subscriptions: true,
      corsOrigins: ["https://app.example"],
      publishOrigins: ["https://admin.example"],
    });
  });

  it("reads MERCURE_* variables (origins separated by spaces or commas)", () => {
    const c = config([], {
      MERCURE_JWT_KEY: "k",
      MERCURE_JWT_ALG: "HS384",
      MERCURE_ANONYMOUS: "true",
      MERCURE_PUBLISH_ORIGINS: "https://a.example https://b.example",
      MERCURE_CORS_ORIGINS: "https://c.example,https://d.example",
      MERCURE_SUBSCRIPTIONS: "0",
    });
    assert.deepEqual(c.mercure, {
      jwtKey: "k",
      jwtAlg: "HS384",
      anonymous: true,
      subscriptions: false,
      corsOrigins: ["https://c.example", "https://d.example"],
      publishOrigins: ["https://a.example", "https://b.example"],
    });
    assert.deepEqual(c.corsOrigins, ["https://c.example", "https://d.example"]);
  });

  it("takes per-role JWKS URLs, the cookie name and the advertised hub URL", () => {
    const c = config([
      "--publisher-jwks-url",
      "https://idp.example/p.json",
      "--subscriber-jwks-url",
      "https://idp.example/s.json",
      "--cookie-name",
      "auth",
      "--hub-url",
      "https://hub.example/.well-known/mercure",
    ]);
    assert.deepEqual(c.mercure, {
      publisherJwksUrl: "https://idp.example/p.json",
      subscriberJwksUrl: "https://idp.example/s.json",
      anonymous: false,
      subscriptions: false,
      corsOrigins: "*",
      cookieName: "auth",
      hubUrl: "https://hub.example/.well-known/mercure",
    });
    assert.match(errorOf(["--hub-url", "/hub"]), /^--hub-url configures the Mercure hub/);
  });

  it("takes the Mercure 1.0 matcher limits and the regexp-group switch from flags or env vars", () => {
    const c = config(["--jwt-key", "k", "--max-matchers", "8", "--url-pattern-regexp-groups"], {
      MERCURE_MAX_MATCHER_LENGTH: "256",
    });
    assert.equal(c.mercure?.maxMatchersPerSubscription, 8);
    assert.equal(c.mercure?.maxMatcherLength, 256);
    assert.equal(c.mercure?.urlPatternRegExpGroups, true);
    const d = config(["--jwt-key", "k"]);
    assert.equal(d.mercure?.maxMatchersPerSubscription, undefined, "the hub's default applies");
    assert.equal(d.mercure?.urlPatternRegExpGroups, undefined);
    assert.match(errorOf(["--jwt-key", "k", "--max-matchers", "0"]), /--max-matchers/);
    assert.match(errorOf(["--max-matchers", "4"]), /^--max-matchers configures the Mercure hub/);
  });

  it("takes the Mercure 1.0 subscribe body limit from --max-subscribe-body-bytes or MERCURE_MAX_SUBSCRIBE_BODY_BYTES", () => {
    assert.equal(
      config(["--jwt-key", "k", "--max-subscribe-body-bytes", "1024"]).mercure?.maxSubscribeBodyBytes,
      1024,
    );
    assert.equal(
      config(["--jwt-key", "k"], { MERCURE_MAX_SUBSCRIBE_BODY_BYTES: "2048" }).mercure?.maxSubscribeBodyBytes,
      2048,
    );
    assert.equal(config(["--jwt-key", "k"]).mercure?.maxSubscribeBodyBytes, undefined, "the hub's default");
    assert.match(
      errorOf(["--jwt-key", "k", "--max-subscribe-body-bytes", "0"]),
      /--max-subscribe-body-bytes/,
    );
    assert.match(
      errorOf(["--max-subscribe-body-bytes", "4"]),
      /^--max-subscribe-body-bytes configures the Mercure hub/,
    );
    assert.match(
      errorOf(["--url-pattern-regexp-groups"]),
      /^--url-pattern-regexp-groups configures the Mercure hub/,
    );
  });

  it("takes accepted JWT audiences and issuers from repeated flags or comma-separated env vars", () => {
    const c = config([
      "--jwt-key",
      "k",
      "--jwt-audience",
      "https://hub.example",
      "--jwt-audience",
      "mercure",
      "--jwt-issuer",
      "https://idp.example",
    ]);
    assert.deepEqual(c.mercure?.jwtAudience, ["https://hub.example", "mercure"]);
    assert.deepEqual(c.mercure?.jwtIssuer, ["https://idp.example"]);
    const e = config([], {
      MERCURE_JWT_KEY: "k",
      MERCURE_JWT_AUDIENCE: "a, b",
      MERCURE_JWT_ISSUER: "https://idp.example",
    });
    assert.deepEqual(e.mercure?.jwtAudience, ["a", "b"]);
    assert.deepEqual(e.mercure?.jwtIssuer, ["https://idp.example"]);
    assert.equal(config(["--jwt-key", "k"]).mercure?.jwtAudience, undefined, "not checked by default");
    assert.match(errorOf(["--jwt-audience", "a"]), /^--jwt-audience configures the Mercure hub/);
    assert.match(errorOf(["--jwt-key", "k", "--jwt-issuer="]), /--jwt-issuer must not be empty/);
  });

  it("takes a JWKS URL as the key", () => {
    assert.equal(
      config(["--jwks-url", "https://idp.example/jwks.json"]).mercure?.jwksUrl,
      "https://idp.example/jwks.json",
    );
  });

  it("refuses hub flags without a key, and unknown algorithms", () => {
    assert.match(errorOf(["--anonymous"]), /^--anonymous configures the Mercure hub, which needs a key/);
    assert.match(errorOf(["--jwt-alg", "HS256"]), /^--jwt-alg configures the Mercure hub/);
    assert.match(
      errorOf(["--jwt-key", "k", "--jwt-alg", "none"]),
      /^--jwt-alg must be one of HS256, .* \(got "none"\)$/,
    );
    assert.match(
      errorOf(["--jwt-key", "k", "--publish-origin", "nope"]),
      /^--publish-origin must be "\*" or an origin/,
    );
  });

  it("never echoes a key in an error", () => {
    assert.equal(errorOf(["--jwt-key="]), "--jwt-key must not be empty");
  });
});

describe("--help", () => {
  it("lists every option with its default and environment variables", () => {
    const text = helpText("1.2.3");
    for (const o of OPTIONS) {
      assert.ok(text.includes(`--${o.name}`), o.name);
      if (o.default !== undefined) assert.ok(text.includes(`default: ${o.default}`), `${o.name} default`);
      for (const e of o.env ?? []) assert.ok(text.includes(e), `${o.name} env ${e}`);
    }
  });
});

describe("backend hooks", () => {
  it("reads every hook flag", () => {
    const c = config([
      "--subscribe-hook-url",
      "http://127.0.0.1:3000/auth",
      "--subscribe-hook-timeout-ms",
      "300",
      "--subscribe-hook-failure",
      "allow",
      "--subscribe-hook-cache-ms",
      "0",
      "--subscribe-hook-cache-size",
      "5",
      "--subscribe-hook-concurrency",
      "6",
      "--subscribe-hook-queue",
      "0",
      "--disconnect-hook-url",
      "https://app.example/gone",
      "--disconnect-hook-interval-ms",
      "50",
      "--disconnect-hook-batch",
      "7",
      "--disconnect-hook-queue",
      "8",
      "--disconnect-hook-retries",
      "0",
      "--disconnect-hook-timeout-ms",
      "9",
    ]);
    assert.deepEqual(Object.fromEntries(Object.keys(HOOKS_OFF).map((k) => [k, c[k as keyof CliConfig]])), {
      subscribeHookUrl: "http://127.0.0.1:3000/auth",
      subscribeHookTimeoutMs: 300,
      subscribeHookFailure: "allow",
      subscribeHookCacheMs: 0,
      subscribeHookCacheSize: 5,
      subscribeHookConcurrency: 6,
      subscribeHookQueue: 0,
      disconnectHookUrl: "https://app.example/gone",
      disconnectHookIntervalMs: 50,
      disconnectHookBatch: 7,
      disconnectHookQueue: 8,
      disconnectHookRetries: 0,
      disconnectHookTimeoutMs: 9,
    });
  });

  it("reads the hook URLs and policy from the environment", () => {
    const c = config([], {
      SSE_BROKER_SUBSCRIBE_HOOK_URL: "http://localhost/a",
      SSE_BROKER_SUBSCRIBE_HOOK_FAILURE: "ALLOW",
      SSE_BROKER_DISCONNECT_HOOK_URL: "http://localhost/b",
      SSE_BROKER_DISCONNECT_HOOK_BATCH: "2",
    });
    assert.equal(c.subscribeHookUrl, "http://localhost/a");
    assert.equal(c.subscribeHookFailure, "allow");
    assert.equal(c.disconnectHookUrl, "http://localhost/b");
    assert.equal(c.disconnectHookBatch, 2);
  });

  it("refuses a URL that is not http(s), without echoing it", () => {
    const m = errorOf(["--subscribe-hook-url", "ftp://user:pw@h/x"]);
    assert.match(m, /--subscribe-hook-url must be an http: or https: URL/);
    assert.ok(!m.includes("pw"), m);
  });

  it("refuses a failure policy other than deny or allow", () => {
    assert.match(
      errorOf(["--subscribe-hook-url", "http://h/", "--subscribe-hook-failure", "maybe"]),
      /--subscribe-hook-failure must be deny or allow \(got "maybe"\)/,
    );
  });

  it("refuses a hook's tuning flag without the hook's URL", () => {
    assert.match(
      errorOf(["--subscribe-hook-cache-ms", "1"]),
      /--subscribe-hook-cache-ms configures a hook: it needs --subscribe-hook-url/,
    );
    assert.match(
      errorOf([], { SSE_BROKER_DISCONNECT_HOOK_BATCH: "5" }),
      /--disconnect-hook-batch configures a hook: it needs --disconnect-hook-url/,
    );
  });
});

describe("console", () => {
  it("is local by default, and on takes its token from the flag or SSE_BROKER_CONSOLE_TOKEN", () => {
    assert.equal(config([]).consoleMode, "local");
    const env = config(["--console", "on"], { SSE_BROKER_CONSOLE_TOKEN: "from-env" });
    assert.deepEqual([env.consoleMode, env.consoleToken], ["on", "from-env"]);
    assert.equal(config([], { SSE_BROKER_CONSOLE: "off" }).consoleMode, "off");
  });

  it("refuses on without a token, a token without on, and other modes, without echoing the token", () => {
    assert.throws(() => config(["--console", "on"]), {
      code: "SSEB_ERR_OPTIONS_INVALID",
      message: /^--console on opens \/ui\/ to remote clients: it needs --console-token/,
    });
    assert.throws(
      () => config(["--console-token", "secret-value"]),
      (err: Error) => {
        assert.match(
          err.message,
          /^--console-token is for remote clients: it needs --console on \(not local\)$/,
        );
        return true;
      },
    );
    assert.throws(() => config(["--console", "public"]), {
      message: '--console must be off, local or on (got "public")',
    });
  });
});
