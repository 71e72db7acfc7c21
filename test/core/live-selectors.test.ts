import assert from "node:assert/strict";
import { PassThrough, Writable } from "node:stream";
import { describe, it } from "node:test";
import { presenceOf } from "../../src/presence/counter.js";
import { brokerFactory } from "../helpers/brokers.js";
import { reader } from "../helpers/sink.js";
import { waitFor } from "../helpers/wait.js";

const broker = brokerFactory();

/** The `data:` values received, in order. */
function datas(text: string): string[] {
  return [...text.matchAll(/^data:(.*)$/gm)].map((m) => m[1] as string);
}

describe("Live selector changes", () => {
  it("gives every stream a subscriber id, known before open, unique, found by lookup", () => {
    const b = broker();
    const p1 = b.subscribe({ selectors: ["a"] });
    const s1 = p1.open(reader().sink);
    const s2 = b.subscribe({ selectors: ["a"] }).open(reader().sink);
    assert.match(s1.subscriberId, /^urn:uuid:[0-9a-f-]{36}$/);
    assert.equal(p1.subscriberId, s1.subscriberId);
    assert.notEqual(s1.subscriberId, s2.subscriberId);
    assert.equal(b.subscriber(s1.subscriberId), s1);
    const m = b.subscribe({ selectors: ["a"], meta: { mercure: { subscriber: "urn:uuid:given" } } });
    assert.equal(m.open(reader().sink).subscriberId, "urn:uuid:given");
    s1.close("client");
    assert.equal(b.subscriber(s1.subscriberId), undefined);
  });

  it("switches between two events under concurrent publishes: no gap, no duplicate", async () => {
    const b = broker();
    const r = reader();
    const s = b.subscribe({ selectors: ["a"] }).open(r.sink);
    const topics = [["a"], ["b"], ["a", "b"], ["c"]];
    const published: { id: string; topics: string[] }[] = [];
    let cut = -1;
    const sends: Promise<string>[] = [];
    for (let i = 0; i < 400; i++) {
      const t = topics[i % topics.length] as string[];
      published.push({ id: `e${i}`, topics: t });
      sends.push(b.publish({ topic: t, data: `e${i}`, id: `e${i}` }));
      if (i === 200) {
        // Some of the publishes above are delivered already, some not: the change lands between two.
        await Promise.resolve();
        await new Promise((res) => setImmediate(res));
        assert.deepEqual(b.changeSelectors(s, { add: ["b"], remove: ["a"] }), ["b"]);
        cut = Number((b.lastEventId ?? "e-1").slice(1));
      }
    }
    await Promise.all(sends);
    await b.publish({ topic: "b", data: "end", id: "end" });
    await waitFor("end marker", () => r.text().includes("data:end"));
    assert.ok(cut > 0 && cut < 399, `the change fell between publishes (cut ${cut})`);
    const got = datas(r.text());
    const want = published
      .filter((p, i) => (i <= cut ? p.topics.includes("a") : p.topics.includes("b")))
      .map((p) => p.id);
    assert.deepEqual(got, [...want, "end"]);
  });

  it("delivers an event matching an old and a new selector once, then only the new", async () => {
    const b = broker();
    const r = reader();
    const s = b.subscribe({ selectors: ["/books/1"] }).open(r.sink);
    b.changeSelectors(s, { add: ["/books/{id}"] });
    await b.publish({ topic: "/books/1", data: "one" });
    b.changeSelectors(s, { remove: ["/books/1"] });
    await b.publish({ topic: "/books/1", data: "two" });
    await b.publish({ topic: "/books/2", data: "end" });
    await waitFor("end", () => r.text().includes("data:end"));
    assert.deepEqual(datas(r.text()), ["one", "two", "end"]);
    assert.deepEqual(s.selectors, ["/books/{id}"]);
  });

  it("writes frames the old set matched before the change returns, none of the removed ones after", async () => {
    const b = broker();
    let out = "";
    // Records synchronously: what was written when changeSelectors returned is in `out` at that moment.
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        out += chunk.toString("utf8");
        cb();
      },
    });
    const s = b.subscribe({ selectors: ["a"] }).open(sink);
    await b.publish({ topic: "a", data: "before" }); // delivered: queued for this turn's flush
    b.changeSelectors(s, { add: ["b"], remove: ["a"] });
    assert.deepEqual(datas(out), ["before"], "queued frames of the old set are written before the answer");
    await b.publish({ topic: "a", data: "removed" });
    await b.publish({ topic: "b", data: "end" });
    await waitFor("end", () => out.includes("data:end"));
    assert.deepEqual(datas(out), ["before", "end"]);
  });

  it("validates like subscribe: limits, bad selectors, an empty result", () => {
    const b = broker({ maxSelectorsPerSubscription: 2, maxPatternSelectorsPerClient: 1 });
    const s = b.subscribe({ selectors: ["a"], client: "c1" }).open(reader().sink);
    assert.throws(() => b.changeSelectors(s, { add: ["b", "c"] }), { code: "SSEB_ERR_LIMIT_SELECTORS" });
    assert.throws(() => b.changeSelectors(s, { remove: ["a"] }), { code: "SSEB_ERR_TOPIC_INVALID" });
    assert.throws(() => b.changeSelectors(s, { add: ["bad\u0001"] }), { code: "SSEB_ERR_TOPIC_INVALID" });
    b.changeSelectors(s, { add: ["/x/{id}"] });
    assert.throws(() => b.changeSelectors(s, { add: ["/y/{id}"], remove: ["/x/{id}", "a"] }), {
      code: "SSEB_ERR_LIMIT_PATTERNS",
    });
    assert.deepEqual(s.selectors, ["a", "/x/{id}"]);
    s.close("client");
    assert.throws(() => b.changeSelectors(s, { add: ["b"] }), { code: "SSEB_ERR_SUBSCRIBER_NOT_FOUND" });
  });

  it("refuses a change during a history replay (409)", async () => {
    const b = broker();
    const big = "x".repeat(40 * 1024);
    for (let i = 0; i < 3; i++) await b.publish({ topic: "a", data: big, id: `h${i}` });
    // Nobody reads this sink: the replay writes its first chunk, then waits for a 'drain' that never comes.
    const sink = new PassThrough({ highWaterMark: 1024 });
    const s = b.subscribe({ selectors: ["a"], lastEventId: "earliest" }).open(sink);
    assert.equal(s.replaying, true);
    assert.throws(() => b.changeSelectors(s, { add: ["b"] }), { code: "SSEB_ERR_SUBSCRIBER_REPLAYING" });
    assert.deepEqual(s.selectors, ["a"]);
    s.close("client");
  });

  it("presence follows a change: only the selectors that differ join or leave", async () => {
    const b = broker();
    const p = presenceOf(b);
    const s = b.subscribe({ selectors: ["a", "b"] }).open(reader().sink);
    await waitFor("counted", () => p.count("a") === 1);
    const changes: string[] = [];
    p.onChange((sel, n, c) => changes.push(`${c}:${sel}:${n}`));
    b.changeSelectors(s, { add: ["c"], remove: ["a"] });
    await waitFor("changed", () => p.count("c") === 1);
    assert.deepEqual(changes, ["leave:a:0", "join:c:1"]);
    assert.equal(p.count("b"), 1);
    s.close("client");
    await waitFor("left", () => p.count("b") === 0 && p.count("c") === 0);
  });
});
