import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import type { Broker } from "../../src/core/broker.js";
import { brokerFactory } from "../helpers/brokers.js";
import { reader } from "../helpers/sink.js";
import { waitFor } from "../helpers/wait.js";

const broker = brokerFactory();

/** Publishes an end marker on `topic` and waits until `r` got it: everything published before it is in. */
async function settle(b: Broker, r: ReturnType<typeof reader>, topic = "a"): Promise<void> {
  const marker = `end-${Math.random()}`;
  await b.publish({ topic, data: marker });
  await waitFor(`marker on ${topic}`, () => r.text().includes(marker));
}

describe("Broker fan-out", () => {
  it("writes the same encoded bytes to every subscriber of a topic", async () => {
    const b = broker();
    const r1 = reader();
    const r2 = reader();
    b.subscribe({ selectors: ["a"] }).open(r1.sink);
    b.subscribe({ selectors: ["a"] }).open(r2.sink);
    const id = await b.publish({ topic: "a", data: "hello", type: "greet" });
    await waitFor("both", () => r1.text() !== "" && r2.text() !== "");
    assert.equal(r1.text(), `id:${id}\nevent:greet\ndata:hello\n\n`);
    assert.equal(r2.text(), r1.text());
    assert.equal(b.stats.eventsDelivered, 2);
  });

  it("delivers an update once even when several selectors match it", async () => {
    const b = broker();
    const r = reader();
    b.subscribe({ selectors: ["/books/1", "/books/{id}", "*"] }).open(r.sink);
    await b.publish({ topic: ["/books/1", "/books/alt"], data: "x" });
    await settle(b, r, "/books/1");
    assert.equal(r.count("data:x\n"), 1);
  });

  it("sends private updates only to subscribers authorized for one of their topics", async () => {
    const b = broker();
    const anon = reader();
    const allowed = reader();
    const other = reader();
    b.subscribe({ selectors: ["*"] }).open(anon.sink);
    b.subscribe({ selectors: ["*"], authorized: ["/orders/{id}"] }).open(allowed.sink);
    b.subscribe({ selectors: ["*"], authorized: ["/users/{id}"] }).open(other.sink);
    await b.publish({ topic: "/orders/7", data: "secret", private: true });
    await b.publish({ topic: "/orders/7", data: "public" });
    await waitFor("public everywhere", () =>
      [anon, allowed, other].every((r) => r.text().includes("public")),
    );
    assert.match(allowed.text(), /secret/);
    assert.doesNotMatch(anon.text(), /secret/);
    assert.doesNotMatch(other.text(), /secret/);
  });

  it("writes bare frames (no id line) for the seed demo stream", async () => {
    const b = broker();
    const r = reader();
    b.subscribe({ selectors: ["*"], bareFrames: true }).open(r.sink);
    await b.publish({ topic: "time", data: '{"timestamp":1}' });
    await waitFor("frame", () => r.text() !== "");
    assert.equal(r.text(), 'data:{"timestamp":1}\n\n');
  });

  it("rejects invalid publishes before anything is delivered", async () => {
    const b = broker();
    await assert.rejects(b.publish({ topic: "a", data: "x", id: "a\nb" }), {
      code: "SSEB_ERR_WIRE_FIELD_INVALID",
    });
    await assert.rejects(b.publish({ topic: "a", data: "x", type: "a\rb" }), {
      code: "SSEB_ERR_WIRE_FIELD_INVALID",
    });
    await assert.rejects(b.publish({ topic: "a", data: "x", retry: -1 }), {
      code: "SSEB_ERR_WIRE_FIELD_INVALID",
    });
    await assert.rejects(b.publish({ topic: [], data: "x" }), { code: "SSEB_ERR_TOPIC_INVALID" });
    await assert.rejects(b.publish({ topic: "a", data: "x", id: "earliest" }), {
      code: "SSEB_ERR_WIRE_FIELD_INVALID",
    });
    assert.equal(b.stats.eventsPublished, 0);
  });
});

describe("Broker write coalescing", () => {
  /** A sink that counts write() calls and keeps their sizes. */
  function counting(): ReturnType<typeof reader> & { writes: number[] } {
    const r = reader();
    const writes: number[] = [];
    const write = r.sink.write.bind(r.sink);
    r.sink.write = ((chunk: Buffer) => {
      writes.push(chunk.length);
      return write(chunk);
    }) as typeof r.sink.write;
    return Object.assign(r, { writes });
  }

  it("writes the events of one turn to a socket in one write, in order, the same buffer for every socket", async () => {
    const b = broker();
    const r1 = counting();
    const r2 = counting();
    b.subscribe({ selectors: ["a"] }).open(r1.sink);
    b.subscribe({ selectors: ["a"] }).open(r2.sink);
    await Promise.all(Array.from({ length: 5 }, (_, i) => b.publish({ topic: "a", data: `e${i}` })));
    await waitFor("five", () => r1.count("data:e") === 5 && r2.count("data:e") === 5);
    assert.equal(r1.writes.length, 1, "one write for the burst");
    assert.deepEqual(r2.writes, r1.writes);
    assert.deepEqual(
      [...r1.text().matchAll(/data:(e\d)/g)].map((m) => m[1]),
      ["e0", "e1", "e2", "e3", "e4"],
    );
    assert.equal(b.stats.eventsDelivered, 10);
  });

  it("with flushIntervalMs, lets events published apart within the window share one write", async () => {
    const b = broker({ flushIntervalMs: 200 });
    const r = counting();
    b.subscribe({ selectors: ["a"] }).open(r.sink);
    await b.publish({ topic: "a", data: "w1" });
    // Held until the window ends: no timer can have fired between the two publishes (microtasks only).
    const heldBeforeSecond = r.text();
    await b.publish({ topic: "a", data: "w2" });
    await waitFor("both", () => r.count("data:w") === 2);
    assert.equal(heldBeforeSecond, "");
    assert.equal(r.writes.length, 1);
    assert.deepEqual(
      [...r.text().matchAll(/data:(w\d)/g)].map((m) => m[1]),
      ["w1", "w2"],
    );
  });

  it("writes at once when idle, and lets events gather while the broker is busy writing", async () => {
    // maxFlushDelayMs bounds the wait; after a flush that took long, queued events wait as long (its time).
    const b = broker({ maxFlushDelayMs: 10_000 });
    const r = counting();
    b.subscribe({ selectors: ["a"] }).open(r.sink);
    // A slow sink: each write takes 100 ms of the event loop, so the broker is "busy writing".
    const write = r.sink.write.bind(r.sink);
    r.sink.write = ((chunk: Buffer) => {
      const until = performance.now() + 100;
      while (performance.now() < until);
      return write(chunk);
    }) as typeof r.sink.write;
    await b.publish({ topic: "a", data: "x0" });
    await waitFor("the first, at once", () => r.count("data:x") === 1);
    for (let i = 1; i <= 3; i++) {
      await b.publish({ topic: "a", data: `x${i}` });
      await new Promise((resolve) => setImmediate(resolve)); // each in its own event-loop iteration
    }
    await waitFor("the rest", () => r.count("data:x") === 4);
    // Written at the end of each iteration they would take three writes; the 100 ms linger joins them.
    assert.equal(r.writes.length, 2, "the three published during the linger share one write");
  });

  it("writes a single event as it is", async () => {
    const b = broker();
    const r = counting();
    let corks = 0;
    Object.assign(r.sink, { cork: () => corks++, uncork: () => {} });
    b.subscribe({ selectors: ["a"] }).open(r.sink);
    await b.publish({ topic: "a", data: "one" });
    await waitFor("one", () => r.text().includes("data:one"));
    assert.equal(corks, 0);
    assert.equal(r.writes.length, 1);
  });
});

describe("Broker slow subscribers", () => {
  it("drops a subscriber whose pending output passes the cap, without delaying the others", async () => {
    const b = broker({ maxBufferedBytes: 64 * 1024 });
    const stalled = new PassThrough({ highWaterMark: 1024 }); // nobody reads it
    const fast = reader();
    const closed: string[] = [];
    b.on("session-close", (_s, reason) => closed.push(reason));
    b.subscribe({ selectors: ["a"] }).open(stalled);
    b.subscribe({ selectors: ["a"] }).open(fast.sink);
    const payload = "y".repeat(4096);
    for (let i = 0; i < 100; i++) await b.publish({ topic: "a", data: payload });
    await settle(b, fast);
    await waitFor("close event", () => closed.length === 1);
    assert.deepEqual(closed, ["slow"]);
    assert.equal(b.stats.droppedSlow, 1);
    assert.ok(stalled.writableLength <= 64 * 1024 + 4200, "pending output stayed within cap + one event");
    assert.equal(fast.count(payload), 100, "the reading subscriber got every event");
    assert.equal(b.size, 1);
  });

  it("never registers a subscriber whose connection closed before the stream opened", async () => {
    const b = broker();
    const r = reader();
    const pending = b.subscribe({ selectors: ["a"] });
    r.sink.destroy();
    await waitFor("closed", () => r.sink.closed);
    const s = pending.open(r.sink);
    assert.equal(s.closed, true);
    assert.equal(b.size, 0);
    assert.equal(b.subscriptionCounts().exact, 0);
  });

  it("removes a closed subscriber completely (no listeners left on its sink)", async () => {
    const b = broker();
    const r = reader();
    b.subscribe({ selectors: ["a", "/x/{y}"] }).open(r.sink);
    assert.equal(b.size, 1);
    r.sink.destroy();
    await waitFor("gone", () => b.size === 0);
    assert.deepEqual(b.subscriptionCounts(), {
      exact: 0,
      wildcard: 0,
      template: 0,
      distinctTemplates: 0,
      distinctTopics: 0,
    });
    assert.equal(r.sink.listenerCount("close"), 0);
    assert.equal(r.sink.listenerCount("error"), 0);
  });
});

describe("Broker heartbeat and expiry", () => {
  it("writes heartbeat comments to every stream from one timer", async () => {
    const b = broker({ heartbeatMs: 20 });
    const r1 = reader();
    const r2 = reader();
    b.subscribe({ selectors: ["a"] }).open(r1.sink);
    b.subscribe({ selectors: ["b"] }).open(r2.sink);
    const keepAlive = setTimeout(() => {}, 5000); // the broker's timers are unref'd
    await waitFor("two beats each", () => r1.count(":\n\n") >= 2 && r2.count(":\n\n") >= 2);
    clearTimeout(keepAlive);
    assert.match(r1.text(), /^:\n\n:\n\n/);
  });

  it("ends streams when their expiry time passes, earliest first, leaving the others", async () => {
    const b = broker();
    const order: number[] = [];
    b.on("session-close", (s, reason) => {
      if (reason === "expired") order.push(s.expiresAt as number);
    });
    const now = Date.now();
    const meta = { mine: true };
    const times = [now + 90, now + 30, now + 60];
    for (const t of times) b.subscribe({ selectors: ["a"], expiresAt: t, meta }).open(reader().sink);
    const early = b.subscribe({ selectors: ["a"], expiresAt: now + 40 }).open(reader().sink);
    early.close("client"); // leaves before its expiry: removed from the timer's queue
    const forever = b.subscribe({ selectors: ["a"] }).open(reader().sink);
    const keepAlive = setTimeout(() => {}, 5000);
    await waitFor("three expiries", () => order.length === 3);
    clearTimeout(keepAlive);
    assert.deepEqual(
      order,
      [...times].sort((x, y) => x - y),
    );
    assert.equal(forever.closed, false);
    assert.deepEqual(meta, { mine: true }, "the caller's meta is not written to");
  });

  it("ends every stream within maxStreamLifetimeMs, in its last 10 %, or at its token's expiry if sooner", async () => {
    const b = broker({ maxStreamLifetimeMs: 1000 });
    const before = Date.now();
    const plain = b.subscribe({ selectors: ["a"] }).open(reader().sink);
    const later = b.subscribe({ selectors: ["a"], expiresAt: before + 60_000 }).open(reader().sink);
    const sooner = b.subscribe({ selectors: ["a"], expiresAt: before + 50 }).open(reader().sink);
    const after = Date.now();
    for (const s of [plain, later]) {
      const end = s.expiresAt as number;
      assert.ok(end >= before + 900 && end <= after + 1000, `ends in the last 10 % (${end - before} ms)`);
    }
    assert.equal(sooner.expiresAt, before + 50, "an earlier token expiry wins");
    const closed: string[] = [];
    b.on("session-close", (_s, reason) => closed.push(reason));
    await waitFor("all three ended", () => closed.length === 3);
    assert.deepEqual(closed, ["expired", "expired", "expired"]);
  });
});

describe("Broker resume", () => {
  it("replays the retained events after Last-Event-ID, then goes live with no gap or duplicate", async () => {
    const b = broker();
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await b.publish({ topic: "a", data: `n${i}` }));
    const pending = b.subscribe({ selectors: ["a"], lastEventId: ids[5] });
    assert.deepEqual(pending.resume, { complete: true, lastEventId: ids[5] });
    const r = reader();
    pending.open(r.sink);
    await settle(b, r);
    const got = [...r.text().matchAll(/data:(n\d+)/g)].map((m) => m[1]);
    assert.deepEqual(got, ["n6", "n7", "n8", "n9"]);
  });

  it("plans again when events arrive between subscribe() and open()", async () => {
    const b = broker();
    const first = await b.publish({ topic: "a", data: "n0" });
    const pending = b.subscribe({ selectors: ["a"], lastEventId: first });
    await b.publish({ topic: "a", data: "n1" });
    const r = reader();
    pending.open(r.sink);
    await settle(b, r);
    assert.equal(r.count("data:n1"), 1);
  });

  it("replays a history larger than the cap without dropping the subscriber", async () => {
    const b = broker({ maxBufferedBytes: 8 * 1024 });
    for (let i = 0; i < 50; i++) await b.publish({ topic: "a", data: "z".repeat(1000) });
    const r = reader();
    const s = b.subscribe({ selectors: ["a"], lastEventId: "earliest" }).open(r.sink);
    await settle(b, r);
    assert.equal(s.closed, false);
    assert.equal(r.count("data:z"), 50);
  });
});

describe("Broker ephemeral updates", () => {
  it("keeps them in their own history so their churn never evicts data history", async () => {
    const b = broker({ historyMaxTopics: 5 });
    const data = await b.publish({ topic: "orders", data: "keep me" });
    for (let i = 0; i < 50; i++) await b.publish({ topic: `/subs/${i}`, data: "{}", ephemeral: true });
    assert.equal(b.history.has(data), true);
    assert.equal(b.history.size, 1);
    assert.ok(b.ephemeralHistory.size > 0);
  });

  it("resumes after an ephemeral event id, merging both histories in delivery order", async () => {
    const b = broker();
    const e1 = await b.publish({ topic: "/subs/1", data: "s1", ephemeral: true });
    await b.publish({ topic: "orders", data: "d1" });
    await b.publish({ topic: "/subs/2", data: "s2", ephemeral: true });
    await b.publish({ topic: "orders", data: "d2" });
    const pending = b.subscribe({ selectors: ["*"], lastEventId: e1 });
    assert.equal(pending.resume?.complete, true);
    const r = reader();
    pending.open(r.sink);
    await settle(b, r, "orders");
    assert.deepEqual([...r.text().matchAll(/data:(\w+)\n/g)].map((m) => m[1]).slice(0, 3), [
      "d1",
      "s2",
      "d2",
    ]);
  });
});
