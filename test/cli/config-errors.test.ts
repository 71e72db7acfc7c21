/**
 * The real process on bad configuration: exactly one line on stderr, no stack trace, exit 2; a port in
 * use: one line, exit 1. And --help / --version.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:net";
import { describe, it } from "node:test";
import { OPTIONS } from "../../src/cli/option-specs.js";
import { cleanEnv, HOST, runCli } from "./helpers.js";

function assertOneLine(stderr: string): void {
  const lines = stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, `exactly one stderr line, got:\n${stderr}`);
  assert.match(lines[0] ?? "", /^sse-broker: /);
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
}

describe("--help and --version", () => {
  it("lists every option, its default and its env vars, and exits 0", async () => {
    const { code, stdout, stderr } = await runCli(["--help"]);
    assert.equal(code, 0);
    assert.equal(stderr, "");
    const expected = [
      "--port",
      "--host",
      "--trust-proxy",
      "--tls-cert",
      "--tls-key",
      "--no-demo",
      "--demo-interval-ms",
      "--publish-token",
      "--publish-cors-origin",
      "--cors-origin",
      "--heartbeat-ms",
      "--retry-ms",
      "--max-stream-lifetime-ms",
      "--token-expiry-notice-ms",
      "--max-buffered-bytes",
      "--flush-interval-ms",
      "--history-size",
      "--history-bytes",
      "--history-topics",
      "--max-body-bytes",
      "--max-connections",
      "--max-connections-per-ip",
      "--connection-rate-per-ip",
      "--publish-rate-per-key",
      "--headers-timeout-ms",
      "--request-timeout-ms",
      "--log-level",
      "--no-metrics",
      "--metrics-token",
      "--metrics-listen",
      "--console",
      "--console-token",
      "--redis",
      "--redis-prefix",
      "--subscriptions-ttl-ms",
      "--presence-ttl-ms",
      "--presence-topic",
      "--workers",
      "--max-flush-delay-ms",
      "--history-total-events",
      "--history-total-bytes",
      "--shutdown-retry-spread-ms",
      "--max-selectors",
      "--max-selector-length",
      "--max-template-expressions",
      "--max-pattern-selectors",
      "--max-pattern-selectors-per-ip",
      "--max-topics-per-update",
      "--max-event-bytes",
      "--subscribe-hook-url",
      "--subscribe-hook-timeout-ms",
      "--subscribe-hook-failure",
      "--subscribe-hook-cache-ms",
      "--subscribe-hook-cache-size",
      "--subscribe-hook-concurrency",
      "--subscribe-hook-queue",
      "--disconnect-hook-url",
      "--disconnect-hook-interval-ms",
      "--disconnect-hook-batch",
      "--disconnect-hook-queue",
      "--disconnect-hook-retries",
      "--disconnect-hook-timeout-ms",
      "--max-batch-events",
      "--idempotency-ttl-ms",
      "--max-idempotency-keys",
      "--jwt-key",
      "--jwt-key-file",
      "--jwt-alg",
      "--publisher-jwt-key",
      "--publisher-jwt-key-file",
      "--publisher-jwt-alg",
      "--subscriber-jwt-key",
      "--subscriber-jwt-key-file",
      "--subscriber-jwt-alg",
      "--jwks-url",
      "--publisher-jwks-url",
      "--subscriber-jwks-url",
      "--jwt-audience",
      "--jwt-issuer",
      "--oauth-issuer",
      "--oauth-issuer-key",
      "--oauth-issuer-alg",
      "--oauth-issuer-jwks-url",
      "--oauth-audience",
      "--oauth-strict",
      "--mercure-protocol",
      "--anonymous",
      "--publish-origin",
      "--subscriptions",
      "--cookie-name",
      "--hub-url",
      "--max-matchers",
      "--max-matcher-length",
      "--max-subscribe-body-bytes",
      "--max-streams-per-token",
      "--url-pattern-regexp-groups",
      "--help",
      "--version",
    ];
    for (const flag of expected) assert.match(stdout, new RegExp(`${flag}\\b`), flag);
    assert.equal(OPTIONS.length, expected.length, "every option is in this list");
    const envs = ["PORT", "HOST", "SSE_BROKER_PUBLISH_TOKEN", "REDIS_URL", "SSE_BROKER_DEMO=false"];
    for (const env of [
      ...envs,
      "MERCURE_PUBLISHER_JWT_KEY",
      "MERCURE_SUBSCRIBER_JWT_ALG",
      "MERCURE_ANONYMOUS=true",
    ]) {
      assert.ok(stdout.includes(env), env);
    }
    for (const d of [
      "default: 8080",
      "default: 2000",
      "default: 15000",
      "default: 1048576",
      "default: 4194304",
    ]) {
      assert.ok(stdout.includes(d), d);
    }
  });

  it("prints the package version", async () => {
    const { code, stdout } = await runCli(["--version"]);
    assert.equal(code, 0);
    assert.match(stdout, /^\d+\.\d+\.\d+\n$/);
  });
});

describe("bad configuration", () => {
  const table: [args: string[], env: Record<string, string>, message: RegExp][] = [
    [["--port", "abc"], {}, /^sse-broker: --port must be an integer between 0 and 65535 \(got "abc"\)$/],
    [["--port", "70000"], {}, /--port must be an integer between 0 and 65535 \(got "70000"\)/],
    [[], { PORT: "abc" }, /^sse-broker: PORT must be an integer/],
    [["--max-buffered-bytes", "-1"], {}, /--max-buffered-bytes must be an integer >= 1 \(got "-1"\)/],
    [["--history-bytes=-4"], {}, /--history-bytes must be an integer >= 0/],
    [["--retry-ms", "-1"], {}, /--retry-ms must be an integer >= 0 \(got "-1"\)/],
    [["--bogus"], {}, /^sse-broker: unknown option --bogus/],
    [["--host"], {}, /^sse-broker: --host needs a value$/],
    [["extra"], {}, /unexpected argument "extra"/],
    [["--log-level", "verbose"], {}, /--log-level must be one of/],
    [["--workers", "2"], {}, /--workers 2 needs --redis/],
    [
      ["--console", "on"],
      {},
      /^sse-broker: --console on opens \/ui\/ to remote clients: it needs --console-token/,
    ],
    [
      [],
      { SSE_BROKER_CONSOLE: "yes" },
      /^sse-broker: SSE_BROKER_CONSOLE must be off, local or on \(got "yes"\)$/,
    ],
    [
      ["--subscribe-hook-url", "not a url"],
      {},
      /^sse-broker: --subscribe-hook-url must be an http: or https: URL/,
    ],
    [
      ["--disconnect-hook-retries", "2"],
      {},
      /^sse-broker: --disconnect-hook-retries configures a hook: it needs --disconnect-hook-url$/,
    ],
    [[], { SSE_BROKER_HEARTBEAT_MS: "soon" }, /SSE_BROKER_HEARTBEAT_MS must be an integer >= 0/],
    [["--anonymous"], {}, /^sse-broker: --anonymous configures the Mercure hub, which needs a key/],
    [
      ["--jwt-key", "k".repeat(32), "--mercure-protocol", "2"],
      {},
      /^sse-broker: --mercure-protocol must be one of classic, 1, both \(got "2"\)$/,
    ],
    [
      ["--jwt-key", "k".repeat(32)],
      { MERCURE_PROTOCOL: "1" },
      /^sse-broker: --mercure-protocol 1 \(MERCURE_PROTOCOL\) needs --oauth-issuer/,
    ],
    // Checked when the hub starts (keys are loaded then), still a configuration error.
    [
      ["--jwt-alg", "RS256"],
      { MERCURE_JWT_KEY: "not-a-pem" },
      /^sse-broker: Mercure hub: .*RS256 needs a PEM/,
    ],
    [
      ["--jwt-key-file", "/nonexistent/key.pem"],
      {},
      /^sse-broker: Mercure hub: .*cannot read the JWT key file/,
    ],
  ];
  for (const [args, env, message] of table) {
    it(`exits 2 with one line for ${JSON.stringify(args)} ${JSON.stringify(env)}`, async () => {
      const { code, stdout, stderr } = await runCli(args, cleanEnv(env));
      assert.equal(code, 2);
      assertOneLine(stderr);
      assert.match(stderr.trim(), message);
      assert.equal(stdout, "", "nothing started, nothing logged");
    });
  }
});

describe("port in use", () => {
  it("exits 1 with one line naming EADDRINUSE", async () => {
    const blocker = createServer().listen(0, HOST);
    await once(blocker, "listening");
    try {
      const port = (blocker.address() as { port: number }).port;
      const { code, stderr } = await runCli(["--host", HOST, "--port", String(port)]);
      assert.equal(code, 1);
      assertOneLine(stderr);
      assert.equal(
        stderr.trim(),
        `sse-broker: cannot listen on ${HOST}:${port}: address already in use (EADDRINUSE)`,
      );
    } finally {
      blocker.close();
    }
  });
});
