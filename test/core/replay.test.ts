/**
 * Issue 8, defect 6: a history replay is written in drain-paced chunks. A client that never reads holds at
 * most the cap plus one chunk, the work is spread over turns, and live events published meanwhile follow
 * the replay in order (or drop the client at the cap), whatever the size of the history.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { afterEach, describe, it } from "node:test";
import { Broker } from "../../src/core/broker.js";
import { REPLAY_CHUNK_BYTES } from "../../src/core/session.js";
import { reader } from "../helpers/sink.js";
import { waitFor } from "../helpers/wait.js";

const brokers: Broker[] = [];
afterEach(async () => {
  for (const b of brokers.splice(0)) await b.close();
});

const EVENTS = 20_000;

async function filled(opts: ConstructorParameters<typeof Broker>[0] = {}): Promise<Broker> {
  const b = new Broker({ heartbeatMs: null, ...opts });
  brokers.push(b);
  for (let i = 0; i < EVENTS; i++) await b.publish({ topic: `t${i % 500}`, data: `e${i}` });
  return b;
}

describe("History replay", () => {
  it("holds at most the cap plus one chunk for each of ten clients that never read", async () => {
    const cap = 256 * 1024;
    const b = await filled({ maxBufferedBytes: cap });
    const sinks: PassThrough[] = [];
    for (let i = 0; i < 10; i++) {
      const sink = new PassThrough({ highWaterMark: 1024 }); // never read
      sinks.push(sink);
      b.subscribe({ selectors: ["*"], lastEventId: "earliest" }).open(sink);
    }
    // Each replay is parked on 'drain' after its first chunk.
    await waitFor("every replay waits for drain", () => sinks.every((s) => s.listenerCount("drain") > 0));
    for (const s of sinks)
      assert.ok(s.writableLength <= REPLAY_CHUNK_BYTES + 64, `${s.writableLength} bytes`);
    assert.equal(b.size, 10);
    // Live events are held behind the replay, counted against the cap: past it the client is dropped.
    const payload = "L".repeat(8 * 1024);
    for (let i = 0; i < 40 && b.size > 0; i++) await b.publish({ topic: "t1", data: payload });
    assert.equal(b.size, 0);
    assert.equal(b.stats.droppedSlow, 10);
    for (const s of sinks) assert.ok(s.writableLength <= cap + REPLAY_CHUNK_BYTES + 64);
  });

  it("spreads a large replay over turns and delivers all of it, then the live events, in order", async () => {
    const b = await filled();
    const r = reader();
    const s = b.subscribe({ selectors: ["*"], lastEventId: "earliest" }).open(r.sink);
    assert.ok(s.replaying, "the replay is not written at once");
    const live = await b.publish({ topic: "t7", data: "live-1" });
    await b.publish({ topic: "t8", data: "live-2" });
    await waitFor("live events after the replay", () => r.text().includes("data:live-2\n"), 30_000);
    const data = [...r.text().matchAll(/data:(\S+)\n/g)].map((m) => m[1]);
    assert.equal(data.length, EVENTS + 2);
    for (let i = 0; i < EVENTS; i++) if (data[i] !== `e${i}`) assert.fail(`event ${i} is ${data[i]}`);
    assert.deepEqual(data.slice(EVENTS), ["live-1", "live-2"]);
    assert.match(r.text(), new RegExp(`id:${live}\\n`));
    assert.equal(s.replaying, false);
  });

  it("drops a replaying client whose replay history evicts first, so its resume learns it missed events", async () => {
    const b = new Broker({ heartbeatMs: null, historyLimit: 100 });
    brokers.push(b);
    for (let i = 0; i < 100; i++) await b.publish({ topic: "a", data: "x".repeat(2000) });
    const sink = new PassThrough({ highWaterMark: 1024 }); // never read: the replay stops after one chunk
    const reasons: string[] = [];
    b.on("session-close", (_s, reason) => reasons.push(reason));
    b.subscribe({ selectors: ["a"], lastEventId: "earliest" }).open(sink);
    await waitFor("parked", () => sink.listenerCount("drain") > 0);
    // 100 more events evict every retained one the replay had not sent yet.
    for (let i = 0; i < 100; i++) await b.publish({ topic: "b", data: "y" });
    for (let i = 0; i < 100; i++) await b.publish({ topic: "a", data: "z" });
    sink.resume(); // now it reads: the replay finds its next event gone
    await waitFor("dropped", () => reasons.length === 1);
    assert.deepEqual(reasons, ["lagged"]);
    assert.equal(b.stats.droppedLagged, 1);
  });
});
