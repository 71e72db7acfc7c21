/**
 * RedisPresence in one process against a real redis-server: the per-node cap on exported selectors (the
 * largest counts win), option checks, and a Redis outage (reads answer 503; after it the node rewrites
 * its hash whole).
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { Broker } from "../../src/core/broker.js";
import type { Session } from "../../src/core/session.js";
import { SseBrokerError } from "../../src/errors.js";
import { RedisPresence } from "../../src/presence/redis.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { uniquePrefix, waitUntil } from "./helpers.js";

describe("RedisPresence", () => {
  let redis: RedisServer;
  let reader: Redis;
  const cleanup: (() => Promise<void>)[] = [];
  before(async () => {
    redis = await startRedisServer();
    reader = new Redis(redis.url);
  });
  after(async () => {
    for (const c of cleanup) await c();
    reader.disconnect();
    await redis.dispose();
  });

  const node = (keyPrefix: string, maxSelectors?: number) => {
    const broker = new Broker({ heartbeatMs: null, logger: null });
    const presence = new RedisPresence({
      url: redis.url,
      keyPrefix,
      ttlMs: 3_000,
      intervalMs: 50,
      ...(maxSelectors === undefined ? {} : { maxSelectors }),
    });
    presence.attach(broker);
    cleanup.push(async () => {
      await broker.close();
      await presence.close();
    });
    return { broker, presence };
  };
  const open = (broker: Broker, ...selectors: string[]): Session =>
    broker.subscribe({ selectors }).open(new PassThrough());

  it("exports at most maxSelectors selectors per node, those with most subscribers", async () => {
    const prefix = uniquePrefix();
    const a = node(prefix, 2);
    const b = node(prefix);
    for (let i = 0; i < 3; i++) open(a.broker, "big");
    for (let i = 0; i < 2; i++) open(a.broker, "mid");
    open(a.broker, "small");
    const key = a.presence.key;
    await waitUntil("A's hash", async () => (await reader.hlen(key)) === 2);
    assert.deepEqual(await reader.hgetall(key), { big: "3", mid: "2" });
    // B sums what A exported.
    const seen = await b.presence.read(["big", "mid", "small"]);
    assert.deepEqual(
      [...seen.counts],
      [
        ["big", 3],
        ["mid", 2],
      ],
    );
    assert.equal(seen.nodes, 2);
    // A slot frees up: the selector left out is exported at the next rewrite.
    for (const s of [...a.broker.sessions].filter((x) => x.selectors.includes("mid"))) s.close("client");
    await waitUntil("small exported", async () => (await reader.hget(key, "small")) === "1");
    assert.deepEqual(await reader.hgetall(key), { big: "3", small: "1" });
  });

  it("refuses bad options", () => {
    const bad = [{ ttlMs: 999 }, { maxSelectors: 0 }, { intervalMs: 1 }];
    for (const o of bad) {
      assert.throws(
        () => new RedisPresence({ url: redis.url, ...o }),
        (e: unknown) => e instanceof SseBrokerError && e.code === "SSEB_ERR_OPTIONS_INVALID",
      );
    }
    assert.throws(() => new RedisPresence({ url: "http://x" }), /redis:\/\//);
  });

  it("answers 503 while Redis is down, and rewrites its hash once Redis is back", async () => {
    const prefix = uniquePrefix();
    const a = node(prefix);
    const b = node(prefix);
    open(a.broker, "room");
    await waitUntil("A exported", async () => (await b.presence.read(["room"])).counts.get("room") === 1);
    await redis.stop();
    await assert.rejects(
      b.presence.read(["room"]),
      (e: unknown) =>
        e instanceof SseBrokerError && e.code === "SSEB_ERR_BACKPLANE_UNAVAILABLE" && e.statusCode === 503,
    );
    open(a.broker, "room"); // changed during the outage
    await redis.start(); // not persistent: the hashes are gone
    await waitUntil("A rewrote its hash", async () => {
      try {
        return (await b.presence.read(["room"])).counts.get("room") === 2;
      } catch {
        return false;
      }
    });
  });
});
