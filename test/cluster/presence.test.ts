/**
 * Presence across nodes (issue 11, feature 5): two broker processes on one real redis-server; each
 * node's `GET /presence` sums both nodes' counts; a closed stream leaves the sums; a SIGKILLed node drops
 * out within its TTL; a node stopping cleanly removes its keys. Join/leave notices reach a subscriber of
 * the presence topic on the other node.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { type OpenStream, openStream } from "../cli/helpers.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { call, type Node, sigkill, startNodes, uniquePrefix, waitUntil } from "./helpers.js";

const TTL_MS = 1_500;

interface Counts {
  counts: Record<string, number>;
  nodes: number;
}

describe("presence across nodes", () => {
  let redis: RedisServer;
  let nodes: Node[] = [];
  const streams: OpenStream[] = [];
  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    for (const s of streams) s.destroy();
    for (const n of nodes) n.kill();
    await redis.dispose();
  });

  async function counts(node: Node, ...topics: string[]): Promise<Counts | number> {
    const qs = topics.map((t) => `topic=${encodeURIComponent(t)}`).join("&");
    const r = await call(node.port, "GET", `/presence?${qs}`);
    return r.status === 200 ? (JSON.parse(r.body) as Counts) : r.status;
  }
  const sub = async (node: Node, path: string): Promise<OpenStream> => {
    const s = await openStream(node.port, path);
    streams.push(s);
    return s;
  };

  it("sums both nodes' counts, follows closes, and drops a killed node after its TTL", async () => {
    const prefix = uniquePrefix();
    nodes = await startNodes(2, redis.url, prefix, ["--presence-ttl-ms", String(TTL_MS)]);
    const [a, b] = nodes as [Node, Node];
    const tpl = "https://example.com/rooms/{id}";
    await sub(a, "/events?topic=room");
    const closing = await sub(a, `/events?topic=room&topic=${encodeURIComponent(tpl)}`);
    await sub(b, "/events?topic=room");
    const want = (n: Node, room: number, t: number, nodeCount: number) =>
      waitUntil(`room ${room}, template ${t} on :${n.port}`, async () => {
        const c = await counts(n, "room", tpl, "nobody");
        return (
          typeof c !== "number" &&
          c.counts.room === room &&
          c.counts[tpl] === t &&
          c.counts.nobody === 0 &&
          c.nodes === nodeCount
        );
      });
    await want(a, 3, 1, 2);
    await want(b, 3, 1, 2);
    // The top list sums too.
    const top = await call(b.port, "GET", "/presence");
    assert.deepEqual(JSON.parse(top.body), {
      top: [
        { selector: "room", count: 3 },
        { selector: tpl, count: 1 },
      ],
      selectors: 2,
      nodes: 2,
    });
    closing.destroy();
    await want(b, 2, 0, 2);
    // A node that dies without closing: its counts leave the sums within the TTL.
    await sigkill(a);
    await want(b, 1, 0, 1);
  });

  it("removes a node's keys when it stops cleanly", async () => {
    const prefix = uniquePrefix();
    const [a] = await startNodes(1, redis.url, prefix);
    nodes.push(a as Node);
    await sub(a as Node, "/events?topic=solo");
    const reader = new Redis(redis.url);
    try {
      await waitUntil(
        "A's hash",
        async () => (await reader.hget(`${prefix}presence:${await nodeOf(reader, prefix)}`, "solo")) === "1",
      );
      process.kill((a as Node).pid, "SIGTERM");
      await (a as Node).exited;
      assert.deepEqual(await reader.keys(`${prefix}presence*`), []);
    } finally {
      reader.disconnect();
    }
  });

  it("publishes join and leave notices on --presence-topic, seen on another node", async () => {
    const prefix = uniquePrefix();
    const pair = await startNodes(2, redis.url, prefix, ["--presence-topic", "presence"]);
    nodes.push(...pair);
    const [a, b] = pair as [Node, Node];
    const watcher = await sub(b, "/events?topic=presence");
    const joined = await sub(a, "/events?topic=lobby");
    const notices = () =>
      watcher.events
        .map((e) => /^data: ?(.*)$/m.exec(e.block)?.[1])
        .filter((d): d is string => d !== undefined)
        .map((d) => JSON.parse(d) as { selector: string; count: number; change: string })
        .filter((n) => n.selector === "lobby");
    await waitUntil("a join notice", () => notices().length === 1);
    assert.deepEqual(notices()[0], { selector: "lobby", count: 1, change: "join" });
    joined.destroy();
    await waitUntil("a leave notice", () => notices().length === 2);
    assert.deepEqual(notices()[1], { selector: "lobby", count: 0, change: "leave" });
    // Counts only: no address, session or subscriber id in what the watcher received.
    assert.doesNotMatch(watcher.text(), /127\.0\.0\.1|session|subscriber/);
  });
});

async function nodeOf(reader: Redis, prefix: string): Promise<string> {
  return (await reader.zrange(`${prefix}presence`, 0, -1))[0] ?? "none";
}
