import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { afterEach, describe, it } from "node:test";
import { Broker } from "../../src/core/broker.js";

/** A sink that records everything written to it, as a subscriber's socket would receive it. */
function reader(): { sink: PassThrough; text: () => string } {
  const sink = new PassThrough();
  let out = "";
  sink.on("data", (c: Buffer) => {
    out += c.toString("utf8");
  });
  return { sink, text: () => out };
}

const brokers: Broker[] = [];
function broker(opts: ConstructorParameters<typeof Broker>[0] = {}): Broker {
  const b = new Broker({ heartbeatMs: null, ...opts });
  brokers.push(b);
  return b;
}
afterEach(async () => {
  for (const b of brokers.splice(0)) await b.close();
});

describe("Broker fan-out", () => {
  it("writes the same encoded bytes to every subscriber of a topic", async () => {
    const b = broker();
    const r1 = reader();
    const r2 = reader();
    b.subscribe({ selectors: ["a"] }).open(r1.sink);
    b.subscribe({ selectors: ["a"] }).open(r2.sink);
    const id = await b.publish({ topic: "a", data: "hello", type: "greet" });
    await new Promise((r) => setImmediate(r));
    assert.equal(r1.text(), `id:${id}\nevent:greet\ndata:hello\n\n`);
    assert.equal(r2.text(), r1.text());
    assert.equal(b.stats.eventsDelivered, 2);
  });

  it("delivers an update once even when several selectors match it", async () => {
    const b = broker();
    const r = reader();
    b.subscribe({ selectors: ["/books/1", "/books/{id}", "*"] }).open(r.sink);
    await b.publish({ topic: ["/books/1", "/books/alt"], data: "x" });
    await new Promise((r) => setImmediate(r));
    assert.equal(r.text().split("data:x").length - 1, 1);
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
    await new Promise((r) => setImmediate(r));
    assert.match(allowed.text(), /secret/);
    assert.doesNotMatch(anon.text(), /secret/);
    assert.doesNotMatch(other.text(), /secret/);
    for (const r of [anon, allowed, other]) assert.match(r.text(), /public/);
  });

  it("writes bare frames (no id line) for the seed demo stream", async () => {
    const b = broker();
    const r = reader();
    b.subscribe({ selectors: ["*"], bareFrames: true }).open(r.sink);
    await b.publish({ topic: "time", data: '{"timestamp":1}' });
    await new Promise((r) => setImmediate(r));
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
  it("writes the events of one turn to a socket as one corked write, in order", async () => {
    const b = broker();
    const r = reader();
    let corks = 0;
    let writes = 0;
    const sink = Object.assign(r.sink, {
      cork: () => {
        corks++;
      },
      uncork: () => {},
    });
    const write = sink.write.bind(sink);
    sink.write = ((chunk: Buffer) => {
      writes++;
      return write(chunk);
    }) as typeof sink.write;
    b.subscribe({ selectors: ["a"] }).open(sink);
    await Promise.all(Array.from({ length: 5 }, (_, i) => b.publish({ topic: "a", data: `e${i}` })));
    await new Promise((r) => setImmediate(r));
    assert.equal(corks, 1, "one cork/uncork pair for the burst");
    assert.equal(writes, 5);
    assert.deepEqual(
      [...r.text().matchAll(/data:(e\d)/g)].map((m) => m[1]),
      ["e0", "e1", "e2", "e3", "e4"],
    );
    assert.equal(b.stats.eventsDelivered, 5);
  });

  it("with flushIntervalMs, lets events published apart within the window share one write", async () => {
    const b = broker({ flushIntervalMs: 30 });
    const r = reader();
    let corks = 0;
    const sink = Object.assign(r.sink, { cork: () => corks++, uncork: () => {} });
    b.subscribe({ selectors: ["a"] }).open(sink);
    await b.publish({ topic: "a", data: "w1" });
    await new Promise((r) => setImmediate(r));
    assert.equal(r.text(), "", "held until the window ends");
    await b.publish({ topic: "a", data: "w2" });
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(corks, 1);
    assert.deepEqual(
      [...r.text().matchAll(/data:(w\d)/g)].map((m) => m[1]),
      ["w1", "w2"],
    );
  });

  it("writes a single event without corking", async () => {
    const b = broker();
    const r = reader();
    let corks = 0;
    const sink = Object.assign(r.sink, { cork: () => corks++, uncork: () => {} });
    b.subscribe({ selectors: ["a"] }).open(sink);
    await b.publish({ topic: "a", data: "one" });
    await new Promise((r) => setImmediate(r));
    assert.equal(corks, 0);
    assert.match(r.text(), /data:one/);
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
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(closed, ["slow"]);
    assert.equal(b.stats.droppedSlow, 1);
    assert.ok(stalled.writableLength <= 64 * 1024 + 4200, "pending output stayed within cap + one event");
    assert.equal(fast.text().split(payload).length - 1, 100, "the reading subscriber got every event");
    assert.equal(b.size, 1);
  });

  it("removes a closed subscriber completely (no listeners left on its sink)", async () => {
    const b = broker();
    const r = reader();
    b.subscribe({ selectors: ["a", "/x/{y}"] }).open(r.sink);
    assert.equal(b.size, 1);
    r.sink.destroy();
    await new Promise((r) => setImmediate(r));
    assert.equal(b.size, 0);
    assert.equal(b.subscriptionCounts().size, 0);
    assert.equal(r.sink.listenerCount("close"), 0);
    assert.equal(r.sink.listenerCount("error"), 0);
  });
});

describe("Broker heartbeat and expiry", () => {
  it("writes heartbeat comments to every stream from one timer", async () => {
    const b = broker({ heartbeatMs: 20 });
    const r = reader();
    b.subscribe({ selectors: ["a"] }).open(r.sink);
    await new Promise((r) => setTimeout(r, 70));
    assert.match(r.text(), /^:\n\n:\n\n/);
  });

  it("ends a stream when its expiry time passes", async () => {
    const b = broker();
    const r = reader();
    const closed = new Promise((resolve) => b.once("session-close", (_s, reason) => resolve(reason)));
    b.subscribe({ selectors: ["a"], expiresAt: Date.now() + 30 }).open(r.sink);
    // The broker's timers are unref'd (they never hold a process open); keep this test's loop alive.
    const keepAlive = setTimeout(() => {}, 2000);
    assert.equal(await closed, "expired");
    clearTimeout(keepAlive);
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
    await b.publish({ topic: "a", data: "n10" });
    await new Promise((r) => setImmediate(r));
    const got = [...r.text().matchAll(/data:(n\d+)/g)].map((m) => m[1]);
    assert.deepEqual(got, ["n6", "n7", "n8", "n9", "n10"]);
  });

  it("plans again when events arrive between subscribe() and open()", async () => {
    const b = broker();
    const first = await b.publish({ topic: "a", data: "n0" });
    const pending = b.subscribe({ selectors: ["a"], lastEventId: first });
    await b.publish({ topic: "a", data: "n1" });
    const r = reader();
    pending.open(r.sink);
    await new Promise((r) => setImmediate(r));
    assert.match(r.text(), /data:n1/);
  });

  it("replays a history larger than the cap without dropping the subscriber", async () => {
    const b = broker({ maxBufferedBytes: 8 * 1024 });
    for (let i = 0; i < 50; i++) await b.publish({ topic: "a", data: "z".repeat(1000) });
    const r = reader();
    const s = b.subscribe({ selectors: ["a"], lastEventId: "earliest" }).open(r.sink);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.closed, false);
    assert.equal(r.text().split("data:z").length - 1, 50);
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
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      [...r.text().matchAll(/data:(\w+)/g)].map((m) => m[1]),
      ["d1", "s2", "d2"],
    );
    assert.equal(b.lastEventId !== undefined, true);
  });
});
