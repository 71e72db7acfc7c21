/**
 * Issue 11, feature 3 across real broker processes on one real `redis-server`: the `sse-broker.missed`
 * control event follows the same completeness as the response header, whichever node the client resumes
 * on: an id another node published that history has since evicted, an id no node knows, and a resume
 * across a trim of the Redis stream that a node slept through. And latest values on one node of what
 * another published.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { encodeEntry } from "../../src/transport/redis-entry.js";
import { type OpenStream, openStream } from "../cli/helpers.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { eventsOf, type Node, publish, startNodes, uniquePrefix, waitUntil } from "./helpers.js";

/** The CLI's stream length (`maxLen` default). */
const MAX_LEN = 10_000;
const NOTICE = /^event:sse-broker\.missed\ndata:(.*)$/;

/** The stream's control events, parsed, in order. */
function noticesOf(s: OpenStream): unknown[] {
  const out: unknown[] = [];
  for (const { block } of s.events) {
    const m = NOTICE.exec(block);
    if (m !== null) out.push(JSON.parse(m[1] as string));
  }
  return out;
}

/** Index of the first block with an `id:` line, and of the first notice (-1 when none). */
function order(s: OpenStream): { notice: number; firstEvent: number } {
  return {
    notice: s.events.findIndex(({ block }) => NOTICE.test(block)),
    firstEvent: s.events.findIndex(({ block }) => block.split("\n").some((l) => l.startsWith("id:"))),
  };
}

describe("sse-broker.missed in a cluster", () => {
  let redis: RedisServer;
  let admin: Redis;
  const nodes: Node[] = [];
  const streams: OpenStream[] = [];
  before(async () => {
    redis = await startRedisServer();
    admin = new Redis(redis.url);
  });
  after(async () => {
    for (const s of streams) s.destroy();
    for (const n of nodes) n.kill();
    admin.disconnect();
    await redis.dispose();
  });

  const stream = async (port: number, path: string, headers: Record<string, string> = {}) => {
    const s = await openStream(port, path, headers);
    streams.push(s);
    return s;
  };

  it("starts a resume on B from an id A published and history evicted with the notice", async () => {
    const started = await startNodes(2, redis.url, uniquePrefix(), ["--history-size", "3"]);
    nodes.push(...started);
    const [a, b] = started as [Node, Node];
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await publish(a.port, "orders", `o${i}`)).id as string);

    const evicted = await stream(b.port, "/events?topic=orders", { "Last-Event-ID": ids[0] as string });
    const unknown = await stream(b.port, "/events?topic=orders", { "Last-Event-ID": "never-published" });
    const complete = await stream(b.port, "/events?topic=orders", { "Last-Event-ID": ids[3] as string });
    const optOut = await stream(b.port, "/events?topic=orders&missed=0", {
      "Last-Event-ID": ids[0] as string,
    });
    assert.equal(evicted.res.headers["last-event-id"], "earliest");
    assert.equal(unknown.res.headers["last-event-id"], "earliest");
    assert.equal(complete.res.headers["last-event-id"], ids[3]);
    assert.equal(optOut.res.headers["last-event-id"], "earliest");
    // An end marker through A: when it is in, everything before it is too.
    const end = (await publish(a.port, "orders", "end")).id as string;
    for (const s of [evicted, unknown, complete, optOut]) {
      await waitUntil("the end marker", () => eventsOf(s).some((e) => e.id === end));
    }
    assert.deepEqual(noticesOf(evicted), [{ requested: ids[0], earliest: ids[2] }]);
    assert.deepEqual(noticesOf(unknown), [{ requested: "never-published", earliest: ids[2] }]);
    for (const s of [evicted, unknown]) {
      const o = order(s);
      assert.ok(o.notice >= 0 && o.notice < o.firstEvent, "the notice comes before the replay");
      assert.deepEqual(
        eventsOf(s).map((e) => e.id),
        [...ids.slice(2), end],
      );
    }
    assert.deepEqual(noticesOf(complete), [], "no notice on a complete resume");
    assert.deepEqual(noticesOf(optOut), [], "none with missed=0");

    // Latest values on B of what A published (history is the shared stream's on every node).
    const other = (await publish(a.port, "stock", "s0")).id as string;
    const latest = await stream(b.port, "/events?topic=orders&topic=stock&latest=1");
    const end2 = (await publish(a.port, "orders", "end2")).id as string;
    await waitUntil("the second end marker", () => eventsOf(latest).some((e) => e.id === end2));
    assert.deepEqual(
      eventsOf(latest).map((e) => e.id),
      [end, other, end2],
    );
  });

  it("starts a resume across a trim the node slept through with the notice", async () => {
    const prefix = uniquePrefix();
    const started = await startNodes(2, redis.url, prefix);
    nodes.push(...started);
    const [a, b] = started as [Node, Node];
    const first = (await publish(b.port, "t", "before")).id as string;
    const probe = await stream(a.port, "/events?topic=t", { "Last-Event-ID": first });
    assert.equal(probe.res.headers["last-event-id"], first, "A has the first event");
    probe.destroy();

    // A stops (its Redis connections stay open) while more than maxLen entries go through the stream.
    process.kill(a.pid, "SIGSTOP");
    try {
      const pipeline = admin.pipeline();
      for (let n = 0; n < MAX_LEN + 500; n++) {
        pipeline.xadd(
          `${prefix}events`,
          "MAXLEN",
          "~",
          String(MAX_LEN),
          "*",
          ...encodeEntry({ id: `burst-${n}`, topics: ["noise"], data: "x" }),
        );
      }
      const results = (await pipeline.exec()) ?? [];
      assert.ok(
        results.every(([err]) => err === null),
        "every XADD accepted",
      );
    } finally {
      process.kill(a.pid, "SIGCONT");
    }
    const next = (await publish(b.port, "t", "after")).id as string;
    // A catches up before it serves an id it does not know yet: resume from the burst's end, complete.
    const caughtUp = await stream(a.port, "/events?topic=t", { "Last-Event-ID": `burst-${MAX_LEN + 499}` });
    assert.equal(caughtUp.res.headers["last-event-id"], `burst-${MAX_LEN + 499}`);
    await waitUntil("A has the event after the burst", () => eventsOf(caughtUp).some((e) => e.id === next));

    const across = await stream(a.port, "/events?topic=t", { "Last-Event-ID": first });
    const onB = await stream(b.port, "/events?topic=t", { "Last-Event-ID": first });
    assert.equal(across.res.headers["last-event-id"], "earliest", "across the gap: incomplete");
    assert.equal(onB.res.headers["last-event-id"], first, "B read everything: complete");
    const end = (await publish(b.port, "t", "end")).id as string;
    for (const s of [across, onB])
      await waitUntil("the end marker", () => eventsOf(s).some((e) => e.id === end));
    // A still retains `first` and `next` for topic t, but the gap between them may have held events on t.
    assert.deepEqual(noticesOf(across), [{ requested: first, earliest: next }]);
    assert.ok(order(across).notice < order(across).firstEvent);
    assert.deepEqual(
      eventsOf(across).map((e) => e.id),
      [next, end],
    );
    assert.deepEqual(noticesOf(onB), []);
    assert.deepEqual(noticesOf(caughtUp), []);
  });
});
