import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ACCEPTED, Chain, FAILED, Ledger, maskOf, REFUSED } from "../../bench/lib/soak/ledger.js";

const A = maskOf([0]);
const B = maskOf([1]);
const AB = maskOf([0, 1]);

/** Publishes `topics` (one mask per attempt) and settles each as `status` (default accepted). */
function publish(l: Ledger, masks: ReturnType<typeof maskOf>[], status = ACCEPTED): number[] {
  return masks.map((m) => {
    const id = l.begin(m);
    l.settle(id, status as typeof ACCEPTED);
    return id;
  });
}

describe("soak loss accounting", () => {
  it("counts nothing when a chain gets every event of its topics in order", () => {
    const l = new Ledger();
    const c = new Chain(l, A, l.lastBegun);
    const ids = publish(l, [A, B, AB, A, B]);
    for (const id of ids) if (l.matches(id, A)) c.receive(id);
    c.complete(l.lastBegun);
    assert.deepEqual(
      [l.totals.lost, l.totals.duplicates, l.totals.outOfOrder, l.totals.wrongTopic],
      [0, 0, 0, 0],
    );
    assert.equal(l.totals.deliveries, 3);
  });

  it("counts a missing event as lost once a later one arrives", () => {
    const l = new Ledger();
    const c = new Chain(l, A, 0);
    const [a1, , a3] = publish(l, [A, A, A]) as [number, number, number];
    c.receive(a1);
    c.receive(a3);
    assert.equal(l.totals.lost, 1);
    assert.equal(c.lost, 1);
  });

  it("counts missing events up to the end marker as lost", () => {
    const l = new Ledger();
    const c = new Chain(l, A, 0);
    const [a1] = publish(l, [A, A, B]) as [number];
    const marker = publish(l, [AB])[0] as number;
    c.receive(a1);
    c.complete(marker);
    assert.equal(l.totals.lost, 2); // the second A and the marker; B is not this chain's
  });

  it("does not expect events that were refused or failed, nor those before a fresh start", () => {
    const l = new Ledger();
    publish(l, [A, A]); // before the subscription
    const c = new Chain(l, A, l.lastBegun);
    publish(l, [A], REFUSED);
    publish(l, [A], FAILED);
    const [last] = publish(l, [A]) as [number];
    c.receive(last);
    c.complete(last);
    assert.equal(l.totals.lost, 0);
  });

  it("counts a refused attempt that still arrives as delivered-though-refused, not as an error", () => {
    const l = new Ledger();
    const c = new Chain(l, A, 0);
    const [r] = publish(l, [A], REFUSED) as [number];
    const [ok] = publish(l, [A]) as [number];
    c.receive(r);
    c.receive(ok);
    assert.equal(l.totals.unacceptedDelivered, 1);
    assert.deepEqual([l.totals.lost, l.totals.duplicates, l.totals.outOfOrder], [0, 0, 0]);
  });

  it("counts the same id twice as a duplicate", () => {
    const l = new Ledger();
    const c = new Chain(l, A, 0);
    const [a1, a2] = publish(l, [A, A]) as [number, number];
    c.receive(a1);
    c.receive(a2);
    c.receive(a2);
    assert.equal(l.totals.duplicates, 1);
    assert.equal(l.totals.lost, 0);
  });

  it("turns a loss into out-of-order when the event arrives late", () => {
    const l = new Ledger();
    const c = new Chain(l, A, 0);
    const [a1, a2, a3] = publish(l, [A, A, A]) as [number, number, number];
    c.receive(a1);
    c.receive(a3);
    assert.equal(l.totals.lost, 1);
    c.receive(a2);
    assert.equal(l.totals.lost, 0);
    assert.equal(l.totals.outOfOrder, 1);
  });

  it("counts an event of another topic as delivered to the wrong subscriber", () => {
    const l = new Ledger();
    const c = new Chain(l, A, 0);
    const [b] = publish(l, [B]) as [number];
    c.receive(b);
    assert.equal(l.totals.wrongTopic, 1);
  });

  it("counts an id the publisher never used as unknown", () => {
    const l = new Ledger();
    const c = new Chain(l, A, 0);
    publish(l, [A]);
    c.receive(99);
    assert.equal(l.totals.unknownIds, 1);
  });

  it("keeps track of ids far apart and below the first one seen", () => {
    const l = new Ledger();
    const ids = publish(
      l,
      Array.from({ length: 5000 }, () => A),
    );
    const c = new Chain(l, A, 0);
    c.receive(ids[4000] as number); // 4000 earlier ones lost
    c.receive(ids[10] as number); // late: out of order, one loss less
    c.receive(ids[10] as number); // then a duplicate
    c.receive(ids[4999] as number);
    assert.equal(l.totals.lost, 4000 - 1 + 998);
    assert.equal(l.totals.outOfOrder, 1);
    assert.equal(l.totals.duplicates, 1);
  });
});
