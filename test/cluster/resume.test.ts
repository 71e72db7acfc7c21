/**
 * A subscriber whose node is SIGKILLed resumes on another node with Last-Event-ID and gets exactly what
 * it missed: the other node's history is the shared stream's.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openStream } from "../cli/helpers.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { eventsOf, type Node, publish, sigkill, startNodes, uniquePrefix, waitUntil } from "./helpers.js";

describe("cross-node resume after SIGKILL", () => {
  let redis: RedisServer;
  let nodes: Node[] = [];
  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    for (const n of nodes) n.kill();
    await redis.dispose();
  });

  it("replays exactly the 100 events published on B while A was dead, in order, once", async (t) => {
    nodes = await startNodes(2, redis.url, uniquePrefix(), ["--heartbeat-ms", "200"]);
    const [a, b] = nodes as [Node, Node];

    const first = await openStream(a.port, "/events?topic=orders");
    const before: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await publish(i % 2 === 0 ? a.port : b.port, "orders", `before ${i}`);
      assert.equal(r.status, 200, `publish ${i} accepted`);
      before.push(r.id as string);
    }
    // Blocks also include the retry: hint and heartbeats: wait for the events themselves.
    await waitUntil("the first 5 on A", () => eventsOf(first).length >= 5, 5_000);
    const seen = eventsOf(first).map((e) => e.id);
    assert.deepEqual(seen, before, "the subscriber on A saw the first 5 in order");
    const lastSeen = seen.at(-1) as string;

    await sigkill(a);
    await first.ended; // the connection to A is gone

    const missed: string[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await publish(b.port, "orders", `missed ${i}`);
      assert.equal(r.status, 200, `publish ${i} via B accepted`);
      missed.push(r.id as string);
    }

    const resumed = await openStream(b.port, "/events?topic=orders", { "Last-Event-ID": lastSeen });
    assert.equal(resumed.res.statusCode, 200, "resume accepted");
    assert.equal(resumed.res.headers["last-event-id"], lastSeen, "complete replay: header echoes the id");
    // An end marker after the 100: anything extra (a duplicate, an older event) would come before it.
    const marker = await publish(b.port, "orders", "end marker");
    assert.equal(marker.status, 200);
    await waitUntil("the end marker on B", () => eventsOf(resumed).some((e) => e.id === marker.id), 10_000);
    const got = eventsOf(resumed).filter((e) => e.id !== marker.id);
    assert.equal(got.length, 100, `exactly 100 events (got ${got.length})`);
    assert.deepEqual(
      got.map((e) => e.id),
      missed,
      "the missed events, in publish order",
    );
    assert.deepEqual(
      got.map((e) => e.data),
      missed.map((_, i) => `missed ${i}`),
      "with their data",
    );
    t.diagnostic(`resumed on B after SIGKILL of A: ${got.length} events replayed, complete`);
    resumed.destroy();
  });
});
