import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createRedisTransport } from "../../src/transport/redis.js";
import {
  type Node,
  type RedisServer,
  startNode,
  startRedisServer,
  subscribe,
  uniquePrefix,
  waitFor,
} from "../helpers/redis-server.js";

let redis: RedisServer;

before(async () => {
  redis = await startRedisServer({ cluster: true });
});

after(async () => {
  await redis.dispose();
});

describe("Redis backplane on a Redis Cluster", () => {
  it("delivers every event on both brokers in the same order and resumes from history", async () => {
    // A hash tag: both streams (data and ephemeral) are read by one XREAD, so they must share a slot.
    const prefix = `{${uniquePrefix()}}:`;
    const nodes: Node[] = [
      startNode(redis.url, prefix, { cluster: true }),
      startNode(redis.url, prefix, { cluster: true }),
    ];
    try {
      await Promise.all(nodes.map((n) => n.broker.ready()));
      const subs = nodes.map((n) => subscribe(n.broker, { selectors: ["c"] }));
      const ids: string[] = [];
      for (let n = 0; n < 50; n++)
        ids.push(await (nodes[n % 2]?.broker ?? assert.fail()).publish({ topic: "c", data: `${n}` }));
      await waitFor("both brokers", () => subs.every((s) => s.ids().length >= 50));
      for (const s of subs) assert.deepEqual(s.ids(), ids);
      await nodes[1]?.transport.catchUp();
      const resumed = subscribe(nodes[1]?.broker ?? assert.fail(), { selectors: ["c"], lastEventId: ids[9] });
      assert.equal(resumed.complete, true);
      await waitFor("the replay", () => resumed.ids().length >= 40);
      assert.deepEqual(resumed.ids(), ids.slice(10));
      const ephemeral = await nodes[0]?.broker.publish({ topic: "c", data: "e", ephemeral: true });
      await waitFor("an ephemeral update on both", () =>
        subs.every((s) => s.ids().includes(ephemeral ?? "")),
      );
    } finally {
      await Promise.all(nodes.map((n) => n.broker.close()));
    }
  });

  it("refuses a keyPrefix without a hash tag, and defaults to one", async () => {
    assert.throws(() => createRedisTransport({ url: redis.url, cluster: true, keyPrefix: "plain:" }), {
      code: "SSEB_ERR_OPTIONS_INVALID",
    });
    const t = createRedisTransport({ url: redis.url, cluster: true, logger: null });
    assert.deepEqual([t.key, t.ephemeralKey], ["{sse-broker}:events", "{sse-broker}:ephemeral"]);
    await t.close();
  });
});
