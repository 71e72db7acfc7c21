import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
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
    const prefix = uniquePrefix();
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
    } finally {
      await Promise.all(nodes.map((n) => n.broker.close()));
    }
  });
});
