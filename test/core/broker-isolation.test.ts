/**
 * Issue 8, defect 5: user code (the broker's listeners) never runs inside the fan-out, and a listener
 * that throws or rejects neither crashes the process, nor stops deliveries, nor fails a publish whose
 * event went out (which a retrying publisher would then publish twice).
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { brokerFactory } from "../helpers/brokers.js";
import { reader } from "../helpers/sink.js";
import { recordingLogger, waitFor } from "../helpers/wait.js";

const broker = brokerFactory();

/** Fails the test if anything reaches the process-level handlers while `fn` runs. */
async function noUncaught(fn: () => Promise<void>): Promise<void> {
  const seen: unknown[] = [];
  const onError = (err: unknown): void => {
    seen.push(err);
  };
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
  try {
    await fn();
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off("uncaughtException", onError);
    process.off("unhandledRejection", onError);
  }
  assert.deepEqual(seen, []);
}

describe("Broker listeners run outside the fan-out", () => {
  it("a throwing session-close listener does not stop healthy sessions from being written", async () => {
    await noUncaught(async () => {
      const log = recordingLogger();
      const b = broker({ maxBufferedBytes: 16 * 1024, logger: log });
      b.on("session-close", () => {
        throw new Error("listener bug");
      });
      const stalled = new PassThrough({ highWaterMark: 1024 }); // never read: dropped as slow in a flush
      const healthy = reader();
      b.subscribe({ selectors: ["a"] }).open(stalled);
      b.subscribe({ selectors: ["a"] }).open(healthy.sink);
      const payload = "p".repeat(2000);
      // Bursts: each turn's flush writes both, and drops the stalled one in the middle of a flush.
      for (let round = 0; round < 5; round++) {
        await Promise.all(Array.from({ length: 10 }, () => b.publish({ topic: "a", data: payload })));
        await new Promise((r) => setImmediate(r));
      }
      await b.publish({ topic: "a", data: "last" });
      await waitFor("the healthy session gets the last event", () => healthy.text().includes("data:last"));
      assert.equal(healthy.count(payload), 50);
      assert.equal(b.stats.droppedSlow, 1);
      await waitFor("the failure is logged", () => log.lines.some((l) => l.msg?.includes("listener failed")));
    });
  });

  it("a throwing publish listener does not make publish() reject after delivery", async () => {
    await noUncaught(async () => {
      const b = broker({ logger: recordingLogger() });
      b.on("publish", () => {
        throw new Error("listener bug");
      });
      const r = reader();
      b.subscribe({ selectors: ["a"] }).open(r.sink);
      const id = await b.publish({ topic: "a", data: "once" });
      assert.match(id, /^urn:uuid:/);
      await waitFor("delivered", () => r.text().includes("data:once"));
      assert.equal(r.count("data:once"), 1);
      assert.equal(b.history.size, 1);
    });
  });

  it("a rejecting async listener is caught, not an unhandled rejection", async () => {
    await noUncaught(async () => {
      const log = recordingLogger();
      const b = broker({ logger: log });
      b.on("session-open", async () => {
        throw new Error("async listener bug");
      });
      b.subscribe({ selectors: ["a"] }).open(reader().sink);
      await waitFor("logged", () => log.lines.some((l) => l.msg?.includes('"session-open" listener failed')));
    });
  });

  it("a sink that throws on write ends its own session only", async () => {
    const b = broker();
    const bad = new PassThrough();
    bad.write = (() => {
      throw new Error("sink bug");
    }) as typeof bad.write;
    const good = reader();
    const s = b.subscribe({ selectors: ["a"] }).open(bad);
    b.subscribe({ selectors: ["a"] }).open(good.sink);
    await b.publish({ topic: "a", data: "x1" });
    await b.publish({ topic: "a", data: "x2" });
    await waitFor("good got both", () => good.count("data:x") === 2);
    assert.equal(s.closeReason, "error");
    assert.equal(b.size, 1);
  });
});
