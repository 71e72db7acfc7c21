/**
 * RedisSubscriptionRegistry in one process against a real Redis: two brokers stand for two nodes. Covers
 * what the CLI tests do not: filters, sessions open before `attach`, a node started while Redis is down,
 * other routes' sessions, option checks.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import { Broker } from "../../src/core/broker.js";
import type { Session } from "../../src/core/session.js";
import { SseBrokerError } from "../../src/errors.js";
import { RedisSubscriptionRegistry } from "../../src/mercure/redis-registry.js";
import type { MercureSessionMeta } from "../../src/mercure/registry.js";
import { type RedisServer, recordingLogger, startRedisServer } from "../helpers/redis-server.js";
import { uniquePrefix, waitUntil } from "./helpers.js";

function mercureSession(broker: Broker, subscriber: string, topics: string[], payload?: unknown): Session {
  const mercure: MercureSessionMeta = { subscriber, topics, payload };
  return broker.subscribe({ selectors: topics, meta: { mercure } }).open(new PassThrough());
}

describe("RedisSubscriptionRegistry", () => {
  let redis: RedisServer;
  const cleanup: (() => Promise<void>)[] = [];
  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    for (const c of cleanup) await c();
    await redis.dispose();
  });

  const node = (
    keyPrefix: string,
    url = redis.url,
  ): { broker: Broker; registry: RedisSubscriptionRegistry } => {
    const broker = new Broker({ heartbeatMs: null, logger: null });
    const registry = new RedisSubscriptionRegistry({ url, keyPrefix, ttlMs: 3_000 });
    cleanup.push(async () => {
      await broker.close();
      await registry.close();
    });
    return { broker, registry };
  };

  it("lists every node's Mercure sessions, filtered by topic and subscriber", async () => {
    const prefix = uniquePrefix();
    const a = node(prefix);
    const b = node(prefix);
    // Opened before attach: recorded at attach time.
    mercureSession(a.broker, "urn:uuid:alice", ["https://example.com/books/1", "https://example.com/{x}"], {
      user: "alice",
    });
    a.registry.attach(a.broker);
    b.registry.attach(b.broker);
    mercureSession(b.broker, "urn:uuid:bob", ["https://example.com/books/1"]);
    // A plain /events session has no Mercure metadata: not a subscription.
    b.broker.subscribe({ selectors: ["news"] }).open(new PassThrough());

    await waitUntil("3 subscriptions listed", async () => (await a.registry.list({})).length === 3);
    const all = await b.registry.list({});
    assert.deepEqual(
      all.map((d) => `${d.subscriber} ${d.topic}`).sort(),
      [
        "urn:uuid:alice https://example.com/books/1",
        "urn:uuid:alice https://example.com/{x}",
        "urn:uuid:bob https://example.com/books/1",
      ],
      "both nodes' subscriptions",
    );
    const byTopic = await b.registry.list({ topic: "https://example.com/books/1" });
    assert.equal(byTopic.length, 2, "filtered by topic");
    const one = await b.registry.list({ topic: "https://example.com/{x}", subscriber: "urn:uuid:alice" });
    assert.equal(one.length, 1, "filtered by topic and subscriber");
    assert.deepEqual(one[0]?.payload, { user: "alice" }, "payload kept");
    assert.equal(one[0]?.active, true, "active");
    assert.equal((await a.registry.list({ subscriber: "urn:uuid:nobody" })).length, 0, "unknown subscriber");
  });

  it("records sessions of a node started while Redis was down once Redis is up", async () => {
    const prefix = uniquePrefix();
    await redis.stop();
    const logger = recordingLogger();
    const broker = new Broker({ heartbeatMs: null, logger: null });
    const registry = new RedisSubscriptionRegistry({
      url: redis.url,
      keyPrefix: prefix,
      ttlMs: 3_000,
      logger,
    });
    cleanup.push(async () => {
      await broker.close();
      await registry.close();
    });
    registry.attach(broker);
    const session = mercureSession(broker, "urn:uuid:early", ["t"]);
    assert.equal(session.closed, false, "the subscription opened without Redis");
    await assert.rejects(
      registry.list({}),
      (err: unknown) =>
        err instanceof SseBrokerError &&
        err.code === "SSEB_ERR_BACKPLANE_UNAVAILABLE" &&
        err.statusCode === 503,
      "list without Redis is a 503",
    );
    await redis.start();
    await waitUntil("the early subscription listed", async () => {
      try {
        return (await registry.list({})).length === 1;
      } catch {
        return false;
      }
    });
    const warned = logger.lines.filter((l) => l.level === "warn").length;
    assert.equal(warned, 1, `the outage logged once (${warned})`);
    assert.ok(
      logger.lines.some((l) => l.level === "info" && l.msg?.includes("available again") === true),
      "the end of the outage logged",
    );
  });

  it("closes with its broker and removes its entries", async () => {
    const prefix = uniquePrefix();
    const a = node(prefix);
    const b = node(prefix);
    a.registry.attach(a.broker);
    b.registry.attach(b.broker);
    mercureSession(a.broker, "urn:uuid:a", ["t"]);
    mercureSession(b.broker, "urn:uuid:b", ["t"]);
    await waitUntil("2 listed", async () => (await b.registry.list({})).length === 2);
    await a.broker.close(); // closes a.registry too
    await a.registry.close();
    const left = await b.registry.list({});
    assert.deepEqual(
      left.map((d) => d.subscriber),
      ["urn:uuid:b"],
      "the closed node's entries are gone at once",
    );
  });

  it("refuses bad options with SSEB_ERR_OPTIONS_INVALID", () => {
    for (const opts of [
      { url: "http://x" },
      { url: redis.url, ttlMs: 999 },
      { url: redis.url, ttlMs: 1.5 },
      { url: redis.url, commandTimeoutMs: 0 },
      { url: redis.url, nodeId: "" },
    ]) {
      assert.throws(
        () => new RedisSubscriptionRegistry(opts),
        (err: unknown) => err instanceof SseBrokerError && err.code === "SSEB_ERR_OPTIONS_INVALID",
        JSON.stringify(opts),
      );
    }
  });
});
