import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  History,
  type HistoryLimits,
  LOST,
  type ReplayCursor,
  type Retained,
} from "../../src/core/history.js";
import { compileSelector, SelectorSet } from "../../src/core/topic.js";
import type { DeliveredUpdate } from "../../src/core/update.js";
import { encodeEvent } from "../../src/wire/encode.js";

let seq = 0;
function update(id: string, topics: string[], data = "x", priv = false): DeliveredUpdate {
  return { id, topics, data, private: priv, seq: ++seq, frame: encodeEvent({ id, data }) };
}
const LIMITS = { maxSelectorLength: 1024, maxTemplateExpressions: 8 };
const sel = (...s: string[]): SelectorSet => new SelectorSet(s.map((x) => compileSelector(x, LIMITS)));
const all = (): boolean => true;
const big = (o: Partial<HistoryLimits> = {}): History =>
  new History({
    maxEventsPerTopic: 100,
    maxBytesPerTopic: 1 << 20,
    maxTopics: 100,
    maxEvents: 100_000,
    maxBytes: 1 << 30,
    ...o,
  });

/** Reads a whole cursor (or up to LOST). */
function drain(c: ReplayCursor): (string | typeof LOST)[] {
  const out: (string | typeof LOST)[] = [];
  for (;;) {
    const budget = { left: 1_000_000 };
    const e = c.peek(budget);
    if (e === LOST) return [...out, LOST];
    if (e === null) return out;
    out.push(e.id);
    c.advance();
  }
}
const after = (h: History, id: string | undefined): number | undefined =>
  id === undefined ? undefined : id === "earliest" ? 0 : h.seqOf(id);
function replay(h: History, from: string, s: SelectorSet, wants: (e: Retained) => boolean = all) {
  const plan = h.plan(after(h, from), s, wants, seq);
  return { complete: plan.complete, ids: drain(plan.cursor) };
}

describe("History", () => {
  it("replays exactly the events after a known id, in order", () => {
    const h = big();
    for (let i = 0; i < 10; i++) h.add(update(`e${i}`, ["a"]));
    assert.deepEqual(replay(h, "e6", sel("a")), { complete: true, ids: ["e7", "e8", "e9"] });
  });

  it("evicts the oldest events past the per-topic count and forgets their ids", () => {
    const h = big({ maxEventsPerTopic: 3 });
    for (let i = 0; i < 5; i++) h.add(update(`c${i}`, ["a"]));
    assert.equal(h.size, 3);
    assert.equal(h.has("c1"), false);
    assert.equal(h.has("c2"), true);
    const r = replay(h, "c1", sel("a"));
    assert.equal(r.complete, false, "an evicted id cannot promise a complete replay");
    assert.deepEqual(r.ids, ["c2", "c3", "c4"]);
  });

  it("bounds each topic by bytes", () => {
    const one = update("probe", ["z"]).frame.length;
    const h = big({ maxEventsPerTopic: 1000, maxBytesPerTopic: one * 4 });
    for (let i = 0; i < 10; i++) h.add(update(`b${i}`, ["a"]));
    assert.ok(h.bytes <= one * 4);
    assert.ok(h.size >= 3 && h.size <= 4);
  });

  it("bounds all topics together by count and by bytes, oldest first, each event counted once", () => {
    const h = big({ maxEvents: 5 });
    for (let i = 0; i < 20; i++) h.add(update(`g${i}`, [`t${i % 7}`, "all"]));
    assert.equal(h.size, 5);
    assert.deepEqual(replay(h, "earliest", sel("*")).ids, ["g15", "g16", "g17", "g18", "g19"]);
    const one = update("probe", ["z"], "y".repeat(100)).frame.length;
    const hb = big({ maxBytes: one * 3 });
    for (let i = 0; i < 10; i++) hb.add(update(`h${i}`, [`t${i}`], "y".repeat(100)));
    assert.ok(hb.bytes <= one * 3, `${hb.bytes} <= ${one * 3}`);
    assert.deepEqual(replay(hb, "earliest", sel("*")).ids, ["h7", "h8", "h9"]);
    assert.equal(replay(hb, "h2", sel("t9")).complete, false, "the global bound counts as an eviction");
  });

  it("holds the frame and the routing fields, not the data string", () => {
    const h = big();
    h.add(update("d0", ["a"], "payload"));
    const plan = h.plan(0, sel("a"), all, seq);
    const e = plan.cursor.peek({ left: 10 }) as Retained;
    assert.equal("data" in e, false);
    assert.match((e.frame as Buffer).toString(), /data:payload/);
  });

  it("keeps an event on several topics until the last topic evicts it, and replays it once", () => {
    const h = big({ maxEventsPerTopic: 2 });
    h.add(update("m0", ["a", "b"]));
    h.add(update("m1", ["a"]));
    h.add(update("m2", ["a"])); // evicts m0 from a, still in b
    assert.equal(h.has("m0"), true);
    assert.deepEqual(replay(h, "earliest", sel("a", "b")).ids, ["m0", "m1", "m2"]);
  });

  it("flags the replay incomplete when a subscribed topic evicted events after the resume point", () => {
    const h = big({ maxEventsPerTopic: 2 });
    h.add(update("p0", ["a"]));
    for (let i = 0; i < 3; i++) h.add(update(`q${i}`, ["b"]));
    assert.deepEqual(replay(h, "p0", sel("a", "b")), { complete: false, ids: ["q1", "q2"] });
    assert.equal(replay(h, "p0", sel("a")).complete, true, "evictions on other topics do not count");
  });

  it("says a resume across an event too large to retain is incomplete", () => {
    const h = big({ maxBytesPerTopic: 200 });
    h.add(update("s0", ["a"]));
    h.add(update("s1", ["a"], "z".repeat(500))); // delivered live only
    h.add(update("s2", ["a"]));
    assert.deepEqual(replay(h, "s0", sel("a")), { complete: false, ids: ["s2"] });
    assert.equal(replay(h, "s0", sel("/{x}")).complete, true, "patterns check the topics they match");
    assert.equal(replay(h, "s0", sel("{+x}")).complete, false);
    assert.equal(replay(h, "s1", sel("a")).complete, false, "its id was never retained");
  });

  it("keeps the first event of a duplicate id as the resume point", () => {
    const h = big();
    h.add(update("dup", ["a"]));
    h.add(update("k1", ["a"]));
    h.add(update("dup", ["a"]));
    assert.deepEqual(replay(h, "dup", sel("a")).ids, ["k1", "dup"]);
  });

  it("treats an unknown id as 'maybe missed': everything retained, incomplete", () => {
    const h = big();
    h.add(update("u0", ["a"]));
    h.add(update("u1", ["a"]));
    assert.deepEqual(replay(h, "nope", sel("a")), { complete: false, ids: ["u0", "u1"] });
    assert.equal(replay(h, "earliest", sel("a")).complete, true);
  });

  it("matches patterns against topic logs and applies the subscriber's filter", () => {
    const h = big();
    h.add(update("t0", ["/books/1"]));
    h.add(update("t1", ["/authors/1"]));
    h.add(update("t2", ["/books/2"], "secret", true));
    const anonymous = (e: Retained): boolean => !e.private;
    assert.deepEqual(replay(h, "earliest", sel("/books/{id}"), anonymous).ids, ["t0"]);
    assert.deepEqual(replay(h, "earliest", sel("/books/{id}")).ids, ["t0", "t2"]);
    assert.deepEqual(replay(h, "earliest", sel("*", "/authors/1")).ids, ["t0", "t1", "t2"]);
  });

  it("drops the least recently published topic's log past the topic cap, and says resumes may miss", () => {
    const h = big({ maxTopics: 2 });
    h.add(update("x0", ["t1"]));
    h.add(update("x1", ["t2"]));
    h.add(update("x2", ["t1"])); // t1 is now the most recent
    h.add(update("x3", ["t3"])); // drops t2
    assert.equal(h.topicCount, 2);
    assert.equal(h.has("x1"), false);
    assert.equal(h.has("x0"), true);
    assert.equal(replay(h, "x0", sel("t1")).complete, false, "t2 was dropped after x0");
    assert.equal(replay(h, "x2", sel("t1")).complete, true);
  });

  it("marks a gap: resumes from before it are incomplete, from after it complete", () => {
    const h = big();
    h.add(update("y0", ["a"]));
    h.markGap(seq + 1);
    h.add(update("y1", ["a"]));
    assert.equal(replay(h, "y0", sel("a")).complete, false);
    assert.equal(replay(h, "y1", sel("a")).complete, true);
  });

  it("reports a loss when an event the cursor still had to send is evicted", () => {
    const h = big({ maxEventsPerTopic: 3 });
    for (let i = 0; i < 3; i++) h.add(update(`l${i}`, ["a"]));
    const c = h.plan(0, sel("a"), all, seq).cursor;
    const first = c.peek({ left: 10 }) as Retained;
    assert.equal(first.id, "l0");
    c.advance();
    h.add(update("l3", ["a"])); // evicts l0 (sent): no loss
    assert.equal((c.peek({ left: 10 }) as Retained).id, "l1");
    h.add(update("l4", ["a"])); // evicts l1, not sent yet
    assert.equal(c.peek({ left: 10 }), LOST);
  });

  it("stops at the plan's end: later events are the live stream's", () => {
    const h = big();
    h.add(update("v0", ["a"]));
    const plan = h.plan(0, sel("a"), all, seq);
    h.add(update("v1", ["a"]));
    assert.deepEqual(drain(plan.cursor), ["v0"]);
  });

  it("pauses when its step budget runs out, and goes on from there", () => {
    const h = big({ maxEventsPerTopic: 1000 });
    for (let i = 0; i < 10; i++) h.add(update(`w${i}`, ["a"], "x", i < 8));
    const c = h.plan(0, sel("a"), (e) => !e.private, seq).cursor;
    const budget = { left: 5 };
    assert.equal(c.peek(budget), null, "five private events passed over: paused");
    assert.equal(budget.left, 0);
    assert.deepEqual(drain(c), ["w8", "w9"]);
  });

  it("collects a pattern subscriber's topic logs a budget at a time, not all at the plan", () => {
    const h = big({ maxTopics: 10_000 });
    for (let i = 0; i < 5000; i++) h.add(update(`c${i}`, [`/t/${i}`]));
    const c = h.plan(0, sel("/t/{n}"), all, seq).cursor;
    const budget = { left: 100 };
    assert.equal(c.peek(budget), null, "paused while collecting");
    assert.equal(budget.left, 0);
    const ids = drain(c);
    assert.equal(ids.length, 5000);
    assert.equal(ids[0], "c0");
    assert.equal(ids[4999], "c4999");
  });

  it("reports a loss when a topic is dropped while a pattern replay collects its logs", () => {
    const h = big({ maxTopics: 100 });
    for (let i = 0; i < 100; i++) h.add(update(`d${i}`, [`/t/${i}`]));
    const c = h.plan(0, sel("/t/{n}"), all, seq).cursor;
    assert.equal(c.peek({ left: 10 }), null);
    h.add(update("new", ["/other"])); // drops the least recently published topic log
    assert.equal(c.peek({ left: 10 }), LOST);
  });

  it("retains nothing when the limit is 0", () => {
    const h = big({ maxEventsPerTopic: 0 });
    h.add(update("n0", ["a"]));
    assert.equal(h.size, 0);
  });

  it("keeps its memory flat under sustained publishing (head compaction)", () => {
    const h = big({ maxEvents: 100, maxEventsPerTopic: 1_000_000 });
    for (let i = 0; i < 50_000; i++) h.add(update(`f${i}`, [`t${i % 3}`]));
    assert.equal(h.size, 100);
    assert.deepEqual(replay(h, "f49997", sel("*")).ids, ["f49998", "f49999"]);
  });
});
