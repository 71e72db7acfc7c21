/**
 * The token-bucket map and the fd-limit defaults, with explicit clocks and inputs (no timing).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultMaxConnections, openFileSoftLimit } from "../../src/http/fd-limit.js";
import { TokenBuckets } from "../../src/http/rate-limit.js";

describe("TokenBuckets", () => {
  it("grants a burst, refuses with the wait until the next token, refills at the rate", () => {
    const b = new TokenBuckets({ ratePerSec: 10, burst: 3 });
    assert.deepEqual([b.take("a", 0), b.take("a", 0), b.take("a", 0)], [0, 0, 0]);
    assert.equal(b.take("a", 0), 100);
    assert.equal(b.take("a", 50), 50);
    assert.equal(b.take("a", 100), 0);
    assert.equal(b.take("b", 100), 0, "keys are independent");
    assert.deepEqual([b.take("a", 10_000), b.take("a", 10_000), b.take("a", 10_000)], [0, 0, 0]);
    assert.ok(b.take("a", 10_000) > 0, "never more than the burst");
  });

  it("keeps at most maxKeys buckets, dropping the least recently used", () => {
    const b = new TokenBuckets({ ratePerSec: 1, burst: 1, maxKeys: 100 });
    b.take("keep", 0);
    for (let i = 0; i < 10_000; i++) {
      b.take(`k${i}`, 0);
      if (i % 50 === 0) b.take("keep", 0); // recently used: stays
    }
    assert.equal(b.size, 100);
    assert.ok(b.take("keep", 0) > 0, "the busy key kept its empty bucket");
  });
});

describe("default maxConnections", () => {
  const limits = (soft: string) =>
    `Limit                     Soft Limit           Hard Limit           Units     \nMax open files            ${soft}                20000                files     \n`;
  it("is the open-file soft limit minus max(256, 5 %)", () => {
    assert.equal(openFileSoftLimit(limits("20000")), 20_000);
    assert.equal(defaultMaxConnections(20_000), 19_000);
    assert.equal(defaultMaxConnections(1024), 768);
    assert.equal(defaultMaxConnections(100), 1);
  });
  it("is 10 000 when the limit is unknown or unlimited", () => {
    assert.equal(openFileSoftLimit(limits("unlimited")), null);
    assert.equal(openFileSoftLimit("nothing here"), null);
    assert.equal(defaultMaxConnections(null), 10_000);
  });
});
