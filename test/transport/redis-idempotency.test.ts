/**
 * Batches and idempotency records on the Redis backplane, at the broker level (two brokers in this
 * process, one real redis-server): records found by a node that already holds the event, records that
 * expire in Redis, a record that is not one, and a batch plus key on a one-node Redis Cluster.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Broker } from "../../src/core/broker.js";
import { createRedisTransport, type RedisTransportOptions } from "../../src/transport/redis.js";
import {
  type Node,
  type RedisServer,
  startRedisServer,
  subscribe,
  uniquePrefix,
  useRedis,
  waitFor,
} from "../helpers/redis-server.js";

function brokerOn(
  url: string,
  prefix: string,
  ttlMs: number,
  extra: Partial<RedisTransportOptions> = {},
): Node {
  const transport = createRedisTransport({ url, keyPrefix: prefix, logger: null, ...extra });
  const broker = new Broker({ heartbeatMs: null, logger: null, idempotencyTtlMs: ttlMs }, transport);
  return { broker, transport };
}

describe("idempotency records in Redis", () => {
  const fx = useRedis();

  it("replays on a node that already delivered the event a retry carrying its own id (no 409)", async () => {
    const prefix = uniquePrefix();
    const [a, b] = [
      fx.track(brokerOn(fx.redis.url, prefix, 60_000)),
      fx.track(brokerOn(fx.redis.url, prefix, 60_000)),
    ];
    await Promise.all([a.broker.ready(), b.broker.ready()]);
    const input = { topic: "own", data: "x", id: "own-id-1" };
    const first = await a.broker.publishOnce(input, { key: "k-own", fingerprint: "f1" });
    assert.deepEqual(first, { id: "own-id-1", replayed: false });
    await waitFor("B delivered it", () => b.broker.history.has("own-id-1"));
    assert.deepEqual(await b.broker.publishOnce(input, { key: "k-own", fingerprint: "f1" }), {
      id: "own-id-1",
      replayed: true,
    });
    await assert.rejects(b.broker.publishOnce(input, { key: "k-own", fingerprint: "f2" }), {
      code: "SSEB_ERR_IDEMPOTENCY_KEY_REUSED",
    });
    await assert.rejects(b.broker.publish(input), { code: "SSEB_ERR_ID_CONFLICT" }, "without the key: 409");
    assert.equal(await fx.admin.xlen(`${prefix}events`), 1, "one entry");
  });

  it("lets a record expire in Redis after idempotencyTtlMs, then publishes anew", async () => {
    const prefix = uniquePrefix();
    const a = fx.track(brokerOn(fx.redis.url, prefix, 500));
    await a.broker.ready();
    const req = { key: "k-ttl", fingerprint: "f" };
    const first = await a.broker.publishOnce({ topic: "ttl", data: "x" }, req);
    const pttl = await fx.admin.pttl(`${prefix}idem:k-ttl`);
    // -1 would be a record without expiry; -2 (already gone) and 0..500 are both a TTL at work.
    assert.ok(pttl !== -1 && pttl <= 500, `the record carries the TTL (${pttl})`);
    // A node that never saw the key (empty local cache): it reads Redis.
    const b = fx.track(brokerOn(fx.redis.url, prefix, 500));
    await b.broker.ready();
    const deadline = Date.now() + 10_000;
    while ((await fx.admin.exists(`${prefix}idem:k-ttl`)) === 1) {
      if (Date.now() > deadline) throw new Error("the record never expired");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const again = await b.broker.publishOnce({ topic: "ttl", data: "x" }, req);
    assert.equal(again.replayed, false);
    assert.notEqual(again.id, first.id);
  });

  it("refuses with 500 and appends nothing when the key holds something that is not a record", async () => {
    const prefix = uniquePrefix();
    const a = fx.track(brokerOn(fx.redis.url, prefix, 60_000));
    await a.broker.ready();
    await fx.admin.set(`${prefix}idem:k-bad`, "not a record");
    await assert.rejects(
      a.broker.publishOnce({ topic: "bad", data: "x" }, { key: "k-bad", fingerprint: "f" }),
      {
        code: "SSEB_ERR_INTERNAL",
        statusCode: 500,
      },
    );
    assert.equal(await fx.admin.exists(`${prefix}events`), 0, "nothing appended");
  });
});

describe("batches and keys on a Redis Cluster", () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedisServer({ cluster: true });
  });
  after(() => redis.dispose());

  it("appends a keyed batch in one script (the record shares the streams' slot) and replays it", async () => {
    const prefix = `{${uniquePrefix()}}:`;
    const nodes = [
      brokerOn(redis.url, prefix, 60_000, { cluster: true }),
      brokerOn(redis.url, prefix, 60_000, { cluster: true }),
    ];
    try {
      await Promise.all(nodes.map((n) => n.broker.ready()));
      const [a, b] = nodes as [Node, Node];
      const sub = subscribe(b.broker, { selectors: ["cl"] });
      const batch = [1, 2, 3].map((n) => ({ topic: "cl", data: `${n}` }));
      const req = { key: "k-cluster", fingerprint: "f" };
      const first = await a.broker.publishBatch(batch, req);
      assert.equal(first.replayed, false);
      const again = await b.broker.publishBatch(batch, req);
      assert.deepEqual(again, { ids: first.ids, replayed: true });
      const marker = await a.broker.publish({ topic: "cl", data: "end" });
      await waitFor("the end marker", () => sub.ids().includes(marker));
      assert.deepEqual(sub.ids(), [...first.ids, marker]);
    } finally {
      await Promise.all(nodes.map((n) => n.broker.close()));
    }
  });
});
