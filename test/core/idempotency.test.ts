import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IdempotencyStore } from "../../src/core/idempotency.js";

const record = (ids: string[]) => ({ fingerprint: "f", ids });

describe("IdempotencyStore", () => {
  it("forgets the least recently used record past the count bound", () => {
    const s = new IdempotencyStore(2);
    s.set("a", record(["1"]), 1000, 0);
    s.set("b", record(["2"]), 1000, 0);
    assert.ok(s.get("a", 1)); // a is now the most recent
    s.set("c", record(["3"]), 1000, 1);
    assert.equal(s.get("b", 2), undefined);
    assert.deepEqual(s.get("a", 2)?.ids, ["1"]);
    assert.equal(s.size, 2);
  });

  it("bounds the bytes held, whatever the count: long ids evict older records", () => {
    const s = new IdempotencyStore(1000, 10_000);
    const long = (n: number) => [`${n}`.padEnd(2000, "x")];
    for (let n = 0; n < 10; n++) s.set(`k${n}`, record(long(n)), 1000, 0);
    assert.ok(s.bytes <= 10_000, `${s.bytes} bytes held`);
    assert.ok(s.size < 10);
    assert.ok(s.get("k9", 1), "the newest is kept");
    assert.equal(s.get("k0", 1), undefined, "the oldest went");
    s.set("huge", record(long(0).concat(long(1), long(2), long(3), long(4), long(5))), 1000, 1);
    assert.equal(s.get("huge", 1), undefined, "a record over the whole budget is not kept");
    assert.ok(s.get("k9", 1), "and evicts nothing");
  });

  it("expires records after their TTL and gives their bytes back", () => {
    const s = new IdempotencyStore(10);
    s.set("a", record(["1"]), 100, 0);
    assert.ok(s.get("a", 99));
    assert.equal(s.get("a", 100), undefined);
    assert.equal(s.bytes, 0);
  });

  it("marks a key in flight once", () => {
    const s = new IdempotencyStore(10);
    assert.equal(s.begin("k"), true);
    assert.equal(s.begin("k"), false);
    s.end("k");
    assert.equal(s.begin("k"), true);
  });
});
