/**
 * Safe publishing across two broker processes on one real redis-server: a batch published on one node
 * reaches the other's subscribers in order and unbroken; an Idempotency-Key recorded on one node is
 * recognised on the other; a publisher retrying through a Redis outage, and through a publish whose
 * reply was lost (Redis paused past the command timeout, then running the script), creates no duplicate
 * and loses nothing. Every check ends with an end marker, never a wait for silence.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { decodeEntry } from "../../src/transport/redis-entry.js";
import { type OpenStream, openStream } from "../cli/helpers.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { call, eventsOf, type Node, type Response, startNodes, uniquePrefix, waitUntil } from "./helpers.js";

const TOKEN = "safe-publish-token";

function post(port: number, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return call(
    port,
    "POST",
    "/publish",
    { "Content-Type": "application/json", Authorization: `Bearer ${TOKEN}`, ...headers },
    JSON.stringify(body),
  );
}

/** POSTs until the answer is not a 503 (Redis down or slow); the other answers are the test's to check. */
async function untilAccepted(send: (attempt: number) => Promise<Response>): Promise<Response> {
  const deadline = Date.now() + 30_000;
  for (let attempt = 0; ; attempt++) {
    const r = await send(attempt);
    if (r.status !== 503) return r;
    assert.ok(r.headers["retry-after"] !== undefined, "a 503 says when to retry");
    if (Date.now() > deadline) throw new Error("never accepted");
    await sleep(100);
  }
}

/** Publishes an end marker on `node`, waits for it on every stream, and returns each stream's events before it. */
async function beforeMarker(node: Node, streams: OpenStream[], topic: string): Promise<string[][]> {
  const r = await untilAccepted(() => post(node.port, { topic, data: "end marker" }));
  assert.equal(r.status, 200);
  const marker = (JSON.parse(r.body) as { id: string }).id;
  await waitUntil(
    "the end marker on every stream",
    () => streams.every((s) => eventsOf(s).some((e) => e.id === marker)),
    20_000,
  );
  return streams.map((s) =>
    eventsOf(s)
      .map((e) => e.id)
      .filter((id) => id !== marker),
  );
}

const idOf = (r: Response): string => (JSON.parse(r.body) as { id: string }).id;

describe("safe publishing on two nodes", () => {
  let redis: RedisServer;
  let admin: Redis;
  let nodes: Node[] = [];
  let streams: OpenStream[] = [];
  before(async () => {
    redis = await startRedisServer({ persistent: true });
    admin = new Redis(redis.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  });
  afterEach(async () => {
    for (const s of streams) s.destroy();
    streams = [];
    for (const n of nodes) n.kill();
    await Promise.all(nodes.map((n) => n.exited));
    nodes = [];
  });
  after(async () => {
    admin.disconnect();
    await redis.dispose();
  });

  it("delivers a batch published on A to B's subscriber in order, unbroken, as consecutive stream entries", async () => {
    const prefix = uniquePrefix();
    nodes = await startNodes(2, redis.url, prefix, ["--publish-token", TOKEN]);
    const [a, b] = nodes as [Node, Node];
    streams = [await openStream(b.port, "/events?topic=batch")];
    const batch = Array.from({ length: 20 }, (_, n) => ({ topic: "batch", data: `b${n}` }));
    // Singles on B at the same time: before or after the batch, never inside it.
    const [r, singles] = await Promise.all([
      post(a.port, batch),
      Promise.all(Array.from({ length: 10 }, (_, n) => post(b.port, { topic: "batch", data: `s${n}` }))),
    ]);
    assert.equal(r.status, 200, r.body);
    const ids = (JSON.parse(r.body) as { ids: string[] }).ids;
    assert.equal(ids.length, 20);
    for (const s of singles) assert.equal(s.status, 200);
    const [got] = (await beforeMarker(a, streams, "batch")) as [string[]];
    assert.equal(got.length, 30, "every event once");
    const at = got.indexOf(ids[0] as string);
    assert.deepEqual(got.slice(at, at + 20), ids, "the batch arrives in order, nothing in between");
    const data = eventsOf(streams[0] as OpenStream).slice(at, at + 20);
    assert.deepEqual(
      data.map((e) => e.data),
      batch.map((e) => e.data),
    );
    // In Redis itself: consecutive entries of the one stream.
    await admin.connect().catch(() => {});
    const entries = await admin.xrange(`${prefix}events`, "-", "+");
    const order = entries.map(([, fields]) => {
      const u = decodeEntry(fields);
      return typeof u === "string" ? "" : u.id;
    });
    const first = order.indexOf(ids[0] as string);
    assert.deepEqual(order.slice(first, first + 20), ids);
  });

  it("recognises on B a key first used on A: the same answer replayed, 422 for another body", async () => {
    nodes = await startNodes(2, redis.url, uniquePrefix(), ["--publish-token", TOKEN]);
    const [a, b] = nodes as [Node, Node];
    streams = [
      await openStream(a.port, "/events?topic=keyed"),
      await openStream(b.port, "/events?topic=keyed"),
    ];
    const body = [
      { topic: "keyed", data: "one" },
      { topic: "keyed", data: "two" },
    ];
    const first = await post(a.port, body, { "Idempotency-Key": '"cross-node"' });
    assert.equal(first.status, 200);
    const again = await post(b.port, body, { "Idempotency-Key": '"cross-node"' });
    assert.equal(again.status, 200);
    assert.equal(again.body, first.body, "B answers A's ids");
    assert.equal(again.headers["idempotent-replayed"], "true");
    const other = await post(b.port, [{ topic: "keyed", data: "three" }], {
      "Idempotency-Key": '"cross-node"',
    });
    assert.equal(other.status, 422);
    assert.match(other.body, /SSEB_ERR_IDEMPOTENCY_KEY_REUSED/);
    const ids = (JSON.parse(first.body) as { ids: string[] }).ids;
    for (const got of await beforeMarker(b, streams, "keyed")) assert.deepEqual(got, ids, "published once");
  });

  it("lets a publisher retry through a Redis outage with its key: every event once, none lost", async () => {
    nodes = await startNodes(2, redis.url, uniquePrefix(), ["--publish-token", TOKEN]);
    const [a, b] = nodes as [Node, Node];
    streams = [
      await openStream(a.port, "/events?topic=outage"),
      await openStream(b.port, "/events?topic=outage"),
    ];
    const event = (n: number) => ({ topic: "outage", data: `event ${n}` });
    const key = (n: number) => ({ "Idempotency-Key": `outage-${n}` });
    const accepted: string[] = [];
    for (let n = 0; n < 3; n++) {
      const r = await post(a.port, event(n), key(n));
      assert.equal(r.status, 200);
      accepted.push(idOf(r));
    }
    const pid = redis.pid;
    assert.ok(pid !== undefined);
    await redis.stop(); // SIGTERM to the redis-server this test started (its PID), AOF flushed
    const during = await post(a.port, event(3), key(3));
    assert.equal(during.status, 503, "refused while Redis is down");
    assert.match(during.body, /SSEB_ERR_BACKPLANE_UNAVAILABLE/);
    await redis.start(); // same port, same data
    // The publisher does not know what landed: it retries event 3, alternating nodes, until accepted...
    const retried = await untilAccepted((i) => post((i % 2 === 0 ? b : a).port, event(3), key(3)));
    assert.equal(retried.status, 200);
    accepted.push(idOf(retried));
    // ...and, to be sure, the earlier ones too: each answered with its first id, nothing published again.
    for (let n = 0; n < 3; n++) {
      const r = await untilAccepted(() => post(b.port, event(n), key(n)));
      assert.equal(r.status, 200);
      assert.equal(r.headers["idempotent-replayed"], "true");
      assert.equal(idOf(r), accepted[n]);
    }
    for (const [i, got] of (await beforeMarker(a, streams, "outage")).entries()) {
      assert.deepEqual(got, accepted, `node ${i}: every accepted event, once, in order`);
    }
  });

  it("recognises a retry whose first attempt reached Redis after its 503 (reply lost to the command timeout)", async () => {
    nodes = await startNodes(2, redis.url, uniquePrefix(), ["--publish-token", TOKEN]);
    const [a, b] = nodes as [Node, Node];
    streams = [
      await openStream(a.port, "/events?topic=lost"),
      await openStream(b.port, "/events?topic=lost"),
    ];
    // Writes (scripts included) wait while paused: the node's 2 s command timeout answers 503 first, and
    // Redis runs the script when the pause ends, 4 s in. Reads (the nodes' XREAD loops) go on.
    const pauser = new Redis(redis.url);
    assert.equal(await pauser.call("CLIENT", "PAUSE", "4000", "WRITE"), "OK");
    pauser.disconnect();
    const first = await post(
      a.port,
      { topic: "lost", data: "exactly once" },
      { "Idempotency-Key": "lost-reply" },
    );
    assert.equal(first.status, 503, "the publish timed out towards Redis");
    // The script ran after all: the event is delivered although its publish was refused.
    await waitUntil(
      "the timed-out event delivered",
      () => eventsOf(streams[1] as OpenStream).length === 1,
      20_000,
    );
    const written = (eventsOf(streams[1] as OpenStream)[0] as { id: string }).id;
    const retry = await untilAccepted(() =>
      post(b.port, { topic: "lost", data: "exactly once" }, { "Idempotency-Key": "lost-reply" }),
    );
    assert.equal(retry.status, 200);
    assert.equal(retry.headers["idempotent-replayed"], "true", "the retry is recognised, not published");
    assert.equal(idOf(retry), written, "with the id of the event that was written");
    for (const [i, got] of (await beforeMarker(a, streams, "lost")).entries()) {
      assert.deepEqual(got, [written], `node ${i}: the event once`);
    }
  });
});
