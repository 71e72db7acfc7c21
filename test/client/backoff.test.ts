/**
 * The reconnect policy with a fixed random source: the server's `retry:` is the base, doubled per failed
 * attempt, capped, jittered downwards only, at least a `Retry-After`, and back to the base after a reset.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ReconnectPolicy } from "../../src/client/index.js";

describe("reconnect policy", () => {
  it("grows from retry: by the factor up to the cap, and resets after a healthy connection", () => {
    const p = new ReconnectPolicy({ initialDelayMs: 1000, maxDelayMs: 5000, jitter: 0.5 }, () => 0);
    assert.deepEqual([p.next(), p.next()], [1000, 2000]);
    p.retryMs = 300;
    assert.deepEqual([p.next(), p.next(), p.next()], [1200, 2400, 4800]);
    assert.deepEqual([p.next(), p.next()], [5000, 5000]);
    p.reset();
    assert.equal(p.next(), 300);
  });

  it("takes at most the jitter fraction off, never adds to the cap, and waits a Retry-After", () => {
    const high = new ReconnectPolicy({ maxDelayMs: 5000, jitter: 0.5 }, () => 0.999_999);
    high.retryMs = 1000;
    assert.equal(high.next(), 500);
    const capped = new ReconnectPolicy({ maxDelayMs: 5000, jitter: 0.5 }, () => 0);
    capped.retryMs = 60_000;
    assert.equal(capped.next(), 5000, "a retry: above the cap is capped");
    const after = new ReconnectPolicy({}, () => 0);
    after.retryMs = 100;
    assert.equal(after.next(3000), 3000);
  });

  it("gives up after maxAttempts and refuses bad options", () => {
    const p = new ReconnectPolicy({ maxAttempts: 2 });
    p.next();
    assert.equal(p.exhausted, false);
    p.next();
    assert.equal(p.exhausted, true);
    assert.throws(() => new ReconnectPolicy({ jitter: 2 }), RangeError);
    assert.throws(() => new ReconnectPolicy({ maxDelayMs: -1 }), RangeError);
  });

  it("still backs off when the server says retry: 0 (no reconnect loop against a failing broker)", () => {
    const p = new ReconnectPolicy({ maxDelayMs: 5000 }, () => 0);
    p.retryMs = 0;
    assert.equal(p.next(), 0, "the first reconnect follows retry: 0");
    const later = [p.next(), p.next(), p.next()];
    assert.ok(
      later.every((d) => d > 0),
      `later delays grow: ${later}`,
    );
    assert.deepEqual(
      later,
      [...later].sort((a, b) => a - b),
    );
  });
});
