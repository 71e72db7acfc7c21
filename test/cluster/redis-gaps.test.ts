/**
 * Real broker processes on one real Redis: a node that was stopped (SIGSTOP, its connections kept open)
 * while the stream was trimmed past it answers a resume across the gap with `Last-Event-ID: earliest`; a
 * node started on a retained stream never sends those old entries to a live subscriber, however early it
 * connects, while a Last-Event-ID resume still replays them.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { encodeEntry } from "../../src/transport/redis-entry.js";
import { freePort, HOST, type OpenStream, openStream, spawnCli } from "../cli/helpers.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { eventsOf, type Node, publish, startNodes, uniquePrefix, waitUntil } from "./helpers.js";

/** The CLI's stream length (`maxLen` default). */
const MAX_LEN = 10_000;

describe("Redis backplane gaps and backlog across processes", () => {
  let redis: RedisServer;
  let admin: Redis;
  let nodes: Node[] = [];
  const kills: (() => void)[] = [];
  const streams: OpenStream[] = [];
  before(async () => {
    redis = await startRedisServer();
    admin = new Redis(redis.url);
  });
  after(async () => {
    for (const s of streams) s.destroy();
    for (const n of nodes) n.kill();
    for (const k of kills) k();
    admin.disconnect();
    await redis.dispose();
  });

  /** XADDs entries the way another node publishes them; returns their ids. */
  async function append(key: string, count: number, topic: string, name: string): Promise<string[]> {
    const ids = Array.from({ length: count }, (_, n) => `${name}-${n}`);
    const pipeline = admin.pipeline();
    for (const id of ids) {
      pipeline.xadd(
        key,
        "MAXLEN",
        "~",
        String(MAX_LEN),
        "*",
        ...encodeEntry({ id, topics: [topic], data: id }),
      );
    }
    const results = (await pipeline.exec()) ?? [];
    assert.ok(
      results.every(([err]) => err === null),
      "every XADD accepted",
    );
    return ids;
  }

  const stream = async (port: number, path: string, headers: Record<string, string> = {}) => {
    const s = await openStream(port, path, headers);
    streams.push(s);
    return s;
  };

  it("answers a resume across a trim it slept through with Last-Event-ID: earliest", async () => {
    const prefix = uniquePrefix();
    nodes = await startNodes(2, redis.url, prefix);
    const [a, b] = nodes as [Node, Node];
    const first = (await publish(b.port, "t", "before")).id as string;
    const probe = await stream(a.port, "/events?topic=t", { "Last-Event-ID": first });
    assert.equal(probe.res.headers["last-event-id"], first, "A has the first event");
    probe.destroy();

    // A stops (its Redis connections stay open) while more than maxLen entries go through the stream.
    process.kill(a.pid, "SIGSTOP");
    let burst: string[];
    try {
      burst = await append(`${prefix}events`, MAX_LEN + 500, "noise", "burst");
    } finally {
      process.kill(a.pid, "SIGCONT");
    }
    const next = (await publish(b.port, "t", "after")).id as string;

    // The end of the burst is unknown to A until it caught up: prepare() waits for that.
    const lastOfBurst = burst.at(-1) as string;
    const beyond = await stream(a.port, "/events?topic=t", { "Last-Event-ID": lastOfBurst });
    assert.equal(beyond.res.headers["last-event-id"], lastOfBurst, "after the gap: complete");
    await beyond.waitForEvents(1, 10_000);
    await waitUntil("the event after the burst", () => eventsOf(beyond).some((e) => e.id === next));
    assert.deepEqual(
      eventsOf(beyond).map((e) => e.id),
      [next],
    );

    const across = await stream(a.port, "/events?topic=t", { "Last-Event-ID": first });
    assert.equal(across.res.headers["last-event-id"], "earliest", "across the gap: incomplete");
    const onB = await stream(b.port, "/events?topic=t", { "Last-Event-ID": first });
    assert.equal(onB.res.headers["last-event-id"], first, "B, which read everything, is complete");
    const warned = a.logs.filter((l) => l.msg.includes("trimmed past this node"));
    assert.equal(warned.length, 1, `the gap logged once by A (${warned.length})`);
    assert.equal(b.logs.filter((l) => l.msg.includes("trimmed past this node")).length, 0, "no gap on B");
  });

  it("sends no retained entry live to a subscriber connected as soon as a restarted node accepts", async () => {
    const prefix = uniquePrefix();
    const old = await append(`${prefix}events`, MAX_LEN, "r", "old");
    const port = await freePort();
    const c = spawnCli([
      "--redis",
      redis.url,
      "--redis-prefix",
      prefix,
      "--no-demo",
      "--host",
      HOST,
      "--port",
      String(port),
    ]);
    kills.push(() => c.kill());
    // Connect at the first moment the port accepts.
    let live: OpenStream | undefined;
    const deadline = Date.now() + 15_000;
    while (live === undefined) {
      assert.ok(Date.now() < deadline, "the node accepts connections");
      assert.equal(c.child.exitCode, null, `the node runs: ${c.stderr()}`);
      live = await stream(port, "/events?topic=r").catch(async () => {
        await sleep(2);
        return undefined;
      });
    }
    assert.equal(live.res.statusCode, 200);
    await c.waitForLog((l) => l.msg.startsWith("Listening on "));
    const next = (await publish(port, "r", "new")).id as string;
    await waitUntil("the new event", () => eventsOf(live).some((e) => e.id === next));
    assert.deepEqual(
      eventsOf(live).map((e) => e.id),
      [next],
      "only the new event arrives live",
    );

    const resumed = await stream(port, "/events?topic=r", { "Last-Event-ID": old[MAX_LEN - 11] as string });
    assert.equal(resumed.res.headers["last-event-id"], old[MAX_LEN - 11], "complete replay");
    await waitUntil("the replay", () => eventsOf(resumed).some((e) => e.id === next));
    assert.deepEqual(
      eventsOf(resumed).map((e) => e.id),
      [...old.slice(-10), next],
    );
  });
});
