import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { History } from "../../src/core/history.js";
import type { DeliveredUpdate } from "../../src/core/update.js";
import { encodeEvent } from "../../src/wire/encode.js";

let seq = 0;
function update(id: string, topics: string[], data = "x"): DeliveredUpdate {
  return { id, topics, data, seq: ++seq, frame: encodeEvent({ id, data }) };
}
const all = () => true;
const ids = (h: History, from: string, topics: string[]) =>
  h.plan(from, topics, null, all).updates.map((u) => u.id);

describe("History", () => {
  it("replays exactly the events after a known id, in order", () => {
    const h = new History({ maxEventsPerTopic: 100, maxBytesPerTopic: 1 << 20, maxTopics: 100 });
    for (let i = 0; i < 10; i++) h.add(update(`e${i}`, ["a"]));
    const plan = h.plan("e6", ["a"], null, all);
    assert.deepEqual(
      plan.updates.map((u) => u.id),
      ["e7", "e8", "e9"],
    );
    assert.equal(plan.complete, true);
  });

  it("evicts the oldest events past the per-topic count and forgets their ids", () => {
    const h = new History({ maxEventsPerTopic: 3, maxBytesPerTopic: 1 << 20, maxTopics: 100 });
    for (let i = 0; i < 5; i++) h.add(update(`c${i}`, ["a"]));
    assert.equal(h.size, 3);
    assert.equal(h.has("c1"), false);
    assert.equal(h.has("c2"), true);
    const plan = h.plan("c1", ["a"], null, all);
    assert.equal(plan.complete, false, "an evicted id cannot promise a complete replay");
    assert.deepEqual(
      plan.updates.map((u) => u.id),
      ["c2", "c3", "c4"],
    );
  });

  it("bounds each topic by bytes", () => {
    const one = update("probe", ["z"]).frame.length;
    const h = new History({ maxEventsPerTopic: 1000, maxBytesPerTopic: one * 4, maxTopics: 100 });
    for (let i = 0; i < 10; i++) h.add(update(`b${i}`, ["a"]));
    assert.ok(h.bytes <= one * 4);
    assert.ok(h.size >= 3 && h.size <= 4);
  });

  it("keeps an event on several topics until the last topic evicts it, and replays it once", () => {
    const h = new History({ maxEventsPerTopic: 2, maxBytesPerTopic: 1 << 20, maxTopics: 100 });
    h.add(update("m0", ["a", "b"]));
    h.add(update("m1", ["a"]));
    h.add(update("m2", ["a"])); // evicts m0 from a, still in b
    assert.equal(h.has("m0"), true);
    assert.deepEqual(ids(h, "earliest", ["a", "b"]), ["m0", "m1", "m2"]);
  });

  it("flags the replay incomplete when a subscribed topic evicted events after the resume point", () => {
    const h = new History({ maxEventsPerTopic: 2, maxBytesPerTopic: 1 << 20, maxTopics: 100 });
    h.add(update("p0", ["a"]));
    for (let i = 0; i < 3; i++) h.add(update(`q${i}`, ["b"]));
    const plan = h.plan("p0", ["a", "b"], null, all);
    assert.equal(plan.complete, false);
    assert.deepEqual(
      plan.updates.map((u) => u.id),
      ["q1", "q2"],
    );
  });

  it("treats an unknown id as 'maybe missed': everything retained, incomplete", () => {
    const h = new History({ maxEventsPerTopic: 10, maxBytesPerTopic: 1 << 20, maxTopics: 100 });
    h.add(update("u0", ["a"]));
    h.add(update("u1", ["a"]));
    const plan = h.plan("nope", ["a"], null, all);
    assert.equal(plan.complete, false);
    assert.deepEqual(
      plan.updates.map((u) => u.id),
      ["u0", "u1"],
    );
    assert.equal(h.plan("earliest", ["a"], null, all).complete, true);
  });

  it("walks topic logs with a pattern filter and applies the subscriber's filter", () => {
    const h = new History({ maxEventsPerTopic: 10, maxBytesPerTopic: 1 << 20, maxTopics: 100 });
    h.add(update("t0", ["/books/1"]));
    h.add(update("t1", ["/authors/1"]));
    h.add(update("t2", ["/books/2"], "secret"));
    const plan = h.plan(
      "earliest",
      [],
      (t) => t.startsWith("/books/"),
      (u) => u.data !== "secret",
    );
    assert.deepEqual(
      plan.updates.map((u) => u.id),
      ["t0"],
    );
  });

  it("drops the least recently published topic's log past the topic cap, and says resumes may miss", () => {
    const h = new History({ maxEventsPerTopic: 10, maxBytesPerTopic: 1 << 20, maxTopics: 2 });
    h.add(update("x0", ["t1"]));
    h.add(update("x1", ["t2"]));
    h.add(update("x2", ["t1"])); // t1 is now the most recent
    h.add(update("x3", ["t3"])); // drops t2
    assert.equal(h.topicCount, 2);
    assert.equal(h.has("x1"), false);
    assert.equal(h.has("x0"), true);
    assert.equal(h.plan("x0", ["t1"], null, all).complete, false, "t2 was dropped after x0");
    assert.equal(h.plan("x2", ["t1"], null, all).complete, true);
  });

  it("retains nothing when the limit is 0", () => {
    const h = new History({ maxEventsPerTopic: 0, maxBytesPerTopic: 1 << 20, maxTopics: 100 });
    h.add(update("n0", ["a"]));
    assert.equal(h.size, 0);
  });
});
