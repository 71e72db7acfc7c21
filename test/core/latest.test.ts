/**
 * Issue 11, feature 4: a subscriber asking for latest values first gets the newest retained event of each
 * topic it matches (in publication order, each once, private ones only when authorized), then the live
 * stream, with no duplicate and no gap, even while publishes go on during those first events.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { afterEach, describe, it } from "node:test";
import { createParser } from "eventsource-parser";
import { Broker } from "../../src/core/broker.js";
import { MAX_LATEST_TOPICS } from "../../src/core/history.js";
import { reader } from "../helpers/sink.js";
import { waitFor } from "../helpers/wait.js";

const brokers: Broker[] = [];
afterEach(async () => {
  for (const b of brokers.splice(0)) await b.close();
});

function broker(opts: ConstructorParameters<typeof Broker>[0] = {}): Broker {
  const b = new Broker({ heartbeatMs: null, retryMs: null, ...opts });
  brokers.push(b);
  return b;
}

/** The events of a wire text, parsed by an independent SSE parser. */
function parse(text: string): { id: string | undefined; data: string }[] {
  const out: { id: string | undefined; data: string }[] = [];
  createParser({ onEvent: (e) => out.push({ id: e.id, data: e.data }) }).feed(text);
  return out;
}

describe("latest value on subscribe", () => {
  it("sends the newest retained event of each exact topic, in publication order, then live", async () => {
    const b = broker();
    await b.publish({ topic: "a", data: "a1" });
    const b1 = await b.publish({ topic: "b", data: "b1" });
    const a2 = await b.publish({ topic: "a", data: "a2" });
    await b.publish({ topic: "other", data: "o1" });
    const r = reader();
    const pending = b.subscribe({ selectors: ["a", "b", "empty"], latest: true });
    assert.equal(pending.resume, null, "not a resume: no Last-Event-ID header");
    pending.open(r.sink);
    const end = await b.publish({ topic: "b", data: "end" });
    await waitFor("the end marker", () => r.text().includes("data:end\n"));
    assert.deepEqual(parse(r.text()), [
      { id: b1, data: "b1" },
      { id: a2, data: "a2" },
      { id: end, data: "end" },
    ]);
  });

  it("sends an event that is the newest of several of its topics once", async () => {
    const b = broker();
    await b.publish({ topic: "a", data: "a1" });
    const both = await b.publish({ topic: ["a", "b"], data: "both" });
    const r = reader();
    b.subscribe({ selectors: ["a", "b"], latest: true }).open(r.sink);
    const end = await b.publish({ topic: "a", data: "end" });
    await waitFor("the end marker", () => r.text().includes("data:end\n"));
    assert.deepEqual(
      parse(r.text()).map((e) => e.id),
      [both, end],
    );
  });

  it("gives an anonymous subscriber the newest public event, an authorized one the newest private one", async () => {
    const b = broker();
    const pub = await b.publish({ topic: "p", data: "public" });
    const priv = await b.publish({ topic: "p", data: "private", private: true });
    await b.publish({ topic: "q", data: "private only", private: true });
    const anon = reader();
    const granted = reader();
    b.subscribe({ selectors: ["p", "q"], latest: true }).open(anon.sink);
    b.subscribe({ selectors: ["p", "q"], latest: true, authorized: ["p"] }).open(granted.sink);
    const end = await b.publish({ topic: "p", data: "end" });
    for (const r of [anon, granted]) await waitFor("the end marker", () => r.text().includes("data:end\n"));
    assert.deepEqual(
      parse(anon.text()).map((e) => e.id),
      [pub, end],
    );
    assert.deepEqual(
      parse(granted.text()).map((e) => e.id),
      [priv, end],
    );
  });

  it("covers every topic a template or * matches that has history, bounded to the most recent topics", async () => {
    const b = broker();
    const ids = new Map<string, string>();
    const n = MAX_LATEST_TOPICS + 200;
    for (let i = 0; i < n; i++) {
      const topic = `https://x.example/items/${i}`;
      await b.publish({ topic, data: `old ${i}` });
      ids.set(topic, await b.publish({ topic, data: `new ${i}` }));
    }
    const unmatched = await b.publish({ topic: "https://y.example/unmatched", data: "no" });
    const r = reader();
    b.subscribe({ selectors: ["https://x.example/items/{id}"], latest: true }).open(r.sink);
    const wildcard = reader();
    b.subscribe({ selectors: ["*"], latest: true }).open(wildcard.sink);
    const end = await b.publish({ topic: "https://x.example/items/end", data: "end" });
    for (const x of [r, wildcard]) await waitFor("the end marker", () => x.text().includes("data:end\n"));
    const want = [...ids.values()].slice(n - MAX_LATEST_TOPICS);
    assert.deepEqual(
      parse(r.text()).map((e) => e.id),
      [...want, end],
    );
    const all = parse(wildcard.text()).map((e) => e.id);
    assert.equal(all.length, MAX_LATEST_TOPICS + 1);
    assert.equal(all.at(-2), unmatched, "* matches the template's topics and the other one, newest last");
  });

  it("replays what followed Last-Event-ID instead when both are given", async () => {
    const b = broker();
    const a1 = await b.publish({ topic: "a", data: "a1" });
    const a2 = await b.publish({ topic: "a", data: "a2" });
    const a3 = await b.publish({ topic: "a", data: "a3" });
    const r = reader();
    const pending = b.subscribe({ selectors: ["a"], latest: true, lastEventId: a1 });
    assert.deepEqual(pending.resume, { complete: true, lastEventId: a1 });
    pending.open(r.sink);
    const end = await b.publish({ topic: "a", data: "end" });
    await waitFor("the end marker", () => r.text().includes("data:end\n"));
    assert.deepEqual(
      parse(r.text()).map((e) => e.id),
      [a2, a3, end],
    );
  });

  it("sends an event published while the latest values are written once, after them (no duplicate, no gap)", async () => {
    const b = broker();
    // Enough topic logs to visit that collecting takes several turns (a step budget each), and large
    // frames so that the latest values span several write chunks.
    for (let i = 0; i < 5000; i++) await b.publish({ topic: `noise/${i}`, data: "n" });
    const big = "x".repeat(512);
    const newest: string[] = [];
    for (let i = 0; i < 900; i++) newest.push(await b.publish({ topic: `t/${i}`, data: `v${i} ${big}` }));
    const sink = new PassThrough({ highWaterMark: 16 * 1024 }); // not read yet: the pass parks on drain
    let text = "";
    const pending = b.subscribe({ selectors: ["t/{n}"], latest: true });
    // Published between subscribe() and open(): open() plans again, so it is t/0's latest value (sent
    // once, last of them by publication order) and t/0's older value is not sent.
    const between = await b.publish({ topic: "t/0", data: "between" });
    const s = pending.open(sink);
    assert.ok(s.replaying, "collecting the latest values takes more than this turn");
    const live: string[] = [between];
    // Publishes during the pass, on topics whose latest value is still to be found (these, before the
    // next turn goes on collecting), then to be sent (after it parked on drain).
    for (let i = 0; i < 10; i++) live.push(await b.publish({ topic: `t/${899 - i}`, data: `live ${i}` }));
    await waitFor("the pass parked on drain", () => sink.listenerCount("drain") > 0);
    for (let i = 10; i < 25; i++) live.push(await b.publish({ topic: `t/${899 - i}`, data: `live ${i}` }));
    assert.ok(s.replaying, "the latest values are still being written");
    sink.on("data", (c: Buffer) => {
      text += c.toString("utf8");
    });
    for (let i = 25; i < 50; i++) live.push(await b.publish({ topic: `t/${899 - i}`, data: `live ${i}` }));
    const end = await b.publish({ topic: "t/1", data: "end" });
    live.push(end);
    const r = { text: () => text };
    await waitFor("the end marker", () => r.text().includes("data:end\n"), 30_000);
    const got = parse(r.text()).map((e) => e.id);
    assert.deepEqual(got, [...newest.slice(1), ...live]);
    assert.equal(new Set(got).size, got.length, "no duplicate");
  });
});
