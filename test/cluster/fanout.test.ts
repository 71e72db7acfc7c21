/**
 * Three nodes, one Redis: events published (with the publish token) to one node reach the subscribers of
 * all three, every one of them, in the same order.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type OpenStream, openStream } from "../cli/helpers.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { eventsOf, type Node, publish, startNodes, uniquePrefix, waitUntil } from "./helpers.js";

const TOKEN = "cluster-publish-token";
const EVENTS = 200;
const IN_FLIGHT = 8;

describe("three nodes", () => {
  let redis: RedisServer;
  let nodes: Node[] = [];
  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    for (const n of nodes) n.kill();
    await redis.dispose();
  });

  it("deliver every event published to one node to subscribers on all three, in one order", async (t) => {
    nodes = await startNodes(3, redis.url, uniquePrefix(), ["--publish-token", TOKEN]);
    const streams: OpenStream[] = [];
    // Two subscribers per node, one of them to a wildcard-free second topic as well.
    for (const n of nodes) {
      streams.push(await openStream(n.port, "/events?topic=news"));
      streams.push(await openStream(n.port, "/events?topic=news&topic=other"));
    }
    const target = nodes[1] as Node;
    const refused = await publish(target.port, "news", "no token");
    assert.equal(refused.status, 401, "publishing needs the token");

    // Concurrent publishes: the stream decides one order, which every node must deliver.
    const accepted: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < EVENTS) {
          const i = next++;
          const r = await publish(target.port, "news", `event ${i}`, TOKEN);
          assert.equal(r.status, 200, `publish ${i} accepted`);
          accepted.push(r.id as string);
        }
      }),
    );
    // An end marker, published after every other event: once each stream has it, a duplicate would be in.
    const marker = await publish(target.port, "news", "end marker", TOKEN);
    assert.equal(marker.status, 200);
    // Blocks also include the retry: hint and any heartbeat: wait for the marker itself on every stream.
    for (const [i, s] of streams.entries()) {
      await waitUntil(
        `the end marker on subscriber ${i}`,
        () => eventsOf(s).some((e) => e.id === marker.id),
        10_000,
      );
    }
    const orders = streams.map((s) =>
      eventsOf(s)
        .map((e) => e.id)
        .filter((id) => id !== marker.id),
    );
    const reference = orders[0] as string[];
    assert.equal(reference.length, EVENTS, `${EVENTS} events on the first subscriber`);
    assert.deepEqual([...reference].sort(), [...accepted].sort(), "every accepted event, each once");
    for (const [i, order] of orders.entries()) {
      assert.deepEqual(order, reference, `subscriber ${i} (node ${Math.floor(i / 2)}) has the same order`);
    }
    t.diagnostic(`${EVENTS} events, ${IN_FLIGHT} in flight, to 6 subscribers on 3 nodes: same order`);
    for (const s of streams) s.destroy();
  });
});
