/**
 * Issue 8, defects 7, 11, 12 and 13 and the broker's limits: what one client or publisher controls is
 * bounded, and what history says about a resume is true.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { Selector } from "../../src/core/topic.js";
import { brokerFactory } from "../helpers/brokers.js";
import { reader } from "../helpers/sink.js";
import { waitFor } from "../helpers/wait.js";

const broker = brokerFactory();

describe("Broker limits on subscriptions", () => {
  it("refuses more selectors than maxSelectorsPerSubscription with a coded 400", () => {
    const b = broker({ maxSelectorsPerSubscription: 3 });
    b.subscribe({ selectors: ["a", "b", "c"] });
    assert.throws(() => b.subscribe({ selectors: ["a", "b", "c", "d"] }), {
      code: "SSEB_ERR_LIMIT_SELECTORS",
      statusCode: 400,
    });
    b.subscribe({ selectors: ["a", "a", "b", "b", "c"] }); // duplicates count once
  });

  it("refuses selectors over the length and expression bounds", () => {
    const b = broker({ maxSelectorLength: 32, maxTemplateExpressions: 2 });
    assert.throws(() => b.subscribe({ selectors: [`/${"x".repeat(32)}`] }), {
      code: "SSEB_ERR_TOPIC_INVALID",
    });
    assert.throws(() => b.subscribe({ selectors: ["/{a}/{b}/{c}"] }), {
      code: "SSEB_ERR_LIMIT_SELECTOR",
      statusCode: 400,
    });
    b.subscribe({ selectors: ["/{a}/{b}"] });
  });

  it("refuses a subscription that would pass maxPatternSelectors distinct templates with 503", () => {
    const b = broker({ maxPatternSelectors: 4 });
    const sink = (): ReturnType<typeof reader>["sink"] => reader().sink;
    b.subscribe({ selectors: ["/a/{x}", "/b/{x}", "/c/{x}"] }).open(sink());
    b.subscribe({ selectors: ["/a/{x}", "/b/{x}", "exact"] }).open(sink()); // shared templates: no new ones
    assert.throws(() => b.subscribe({ selectors: ["/d/{x}", "/e/{x}"] }), {
      code: "SSEB_ERR_LIMIT_PATTERNS",
      statusCode: 503,
    });
    b.subscribe({ selectors: ["/d/{x}"] }).open(sink());
    assert.equal(b.subscriptionCounts().distinctTemplates, 4);
  });

  it("bounds the distinct templates of one client with 429, sharing nothing with other clients", () => {
    const b = broker({ maxPatternSelectorsPerClient: 3 });
    const sink = (): ReturnType<typeof reader>["sink"] => reader().sink;
    const first = b.subscribe({ selectors: ["/a/{x}", "/b/{x}"], client: "10.0.0.1" }).open(sink());
    b.subscribe({ selectors: ["/a/{x}", "/c/{x}"], client: "10.0.0.1" }).open(sink());
    assert.throws(() => b.subscribe({ selectors: ["/d/{x}"], client: "10.0.0.1" }), {
      code: "SSEB_ERR_LIMIT_PATTERNS",
      statusCode: 429,
    });
    b.subscribe({ selectors: ["/d/{x}", "/e/{x}", "/f/{x}"], client: "10.0.0.2" }).open(sink());
    first.close("client"); // frees /b/{x} for 10.0.0.1 (/a/{x} is still used by its other session)
    b.subscribe({ selectors: ["/d/{x}"], client: "10.0.0.1" }).open(sink());
    assert.throws(() => b.subscribe({ selectors: ["/g/{x}"], client: "10.0.0.1" }), { statusCode: 429 });
  });

  it("matches on a publish only the templates whose literal prefix the topic starts with", async () => {
    const b = broker({ maxSelectorsPerSubscription: 64, maxPatternSelectors: 100_000 });
    // 20 anonymous connections × 64 distinct templates elsewhere, and one interested subscriber.
    for (let c = 0; c < 20; c++) {
      const selectors = Array.from({ length: 64 }, (_, i) => `https://other.example/${c}/${i}/{id}`);
      b.subscribe({ selectors }).open(reader().sink);
    }
    const mine = reader();
    b.subscribe({ selectors: ["https://example.com/books/{id}"] }).open(mine.sink);
    let calls = 0;
    const original = Selector.prototype.matches;
    Selector.prototype.matches = function (this: Selector, topic: string): boolean {
      calls++;
      return original.call(this, topic);
    };
    try {
      for (let i = 0; i < 10; i++) await b.publish({ topic: `https://example.com/books/${i}`, data: "x" });
    } finally {
      Selector.prototype.matches = original;
    }
    assert.equal(calls, 10, "one template match per publish, not 1281");
    await waitFor("delivered", () => mine.count("data:x") === 10);
  });
});

describe("Broker limits on publishes", () => {
  it("refuses more topics than maxTopicsPerUpdate, so no publish can evict everyone's history", async () => {
    const b = broker({ maxTopicsPerUpdate: 4, historyMaxTopics: 10 });
    const kept = await b.publish({ topic: "keep", data: "x" });
    await assert.rejects(b.publish({ topic: Array.from({ length: 10_000 }, (_, i) => `t${i}`), data: "x" }), {
      code: "SSEB_ERR_LIMIT_TOPICS",
      statusCode: 400,
    });
    await b.publish({ topic: ["a", "b", "c", "d"], data: "x" });
    assert.equal(b.history.has(kept), true);
  });

  it("refuses event data over maxEventBytes with 413", async () => {
    const b = broker({ maxEventBytes: 10 });
    await b.publish({ topic: "a", data: "0123456789" });
    await assert.rejects(b.publish({ topic: "a", data: "01234567890" }), {
      code: "SSEB_ERR_LIMIT_EVENT_SIZE",
      statusCode: 413,
    });
    await assert.rejects(b.publish({ topic: "a", data: "ééééé é" }), { code: "SSEB_ERR_LIMIT_EVENT_SIZE" });
  });

  it("refuses an id that a retained event already has (409), so the resume point never moves", async () => {
    const b = broker();
    await b.publish({ topic: "a", data: "first", id: "same" });
    await assert.rejects(b.publish({ topic: "b", data: "second", id: "same" }), {
      code: "SSEB_ERR_ID_CONFLICT",
      statusCode: 409,
    });
    const r = reader();
    b.subscribe({ selectors: ["a", "b"], lastEventId: "same" }).open(r.sink);
    await b.publish({ topic: "a", data: "after" });
    await waitFor("after", () => r.text().includes("data:after"));
    assert.doesNotMatch(r.text(), /second/);
  });

  it("says a resume across an event too large to retain is incomplete", async () => {
    const b = broker({ historyMaxBytes: 1024 });
    const before = await b.publish({ topic: "a", data: "small" });
    await b.publish({ topic: "a", data: "L".repeat(4096) }); // delivered live, not retained
    await b.publish({ topic: "a", data: "small again" });
    assert.deepEqual(b.subscribe({ selectors: ["a"], lastEventId: before }).resume, {
      complete: false,
      lastEventId: before,
    });
  });

  it("keeps history within its total byte budget (default 64 MiB) whatever the topics, each event once", async () => {
    const MiB = 1024 * 1024;
    const b = broker();
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100; i++) {
      // Distinct flat strings, as request bodies would be.
      await b.publish({ topic: `distinct-${i}`, data: Buffer.alloc(MiB - 100, 97 + (i % 26)).toString() });
    }
    assert.ok(b.history.bytes <= 64 * MiB, `${b.history.bytes} bytes retained`);
    gc();
    // Frames live outside the heap and data strings are not kept: the heap does not hold the events.
    const grew = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(grew < 16 * MiB, `heap grew by ${Math.round(grew / MiB)} MiB`);
  });
});

/** The engine's collector, for memory assertions that must not count garbage. */
function gc(): void {
  v8.setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}
