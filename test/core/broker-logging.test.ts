/**
 * Issue 8, defect 15: what clients make the broker log is bounded. No line per event; the seed's
 * per-connection lines pass at a bounded rate, the rest are counted and reported.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { Broker } from "../../src/core/broker.js";
import { reader } from "../helpers/sink.js";
import { recordingLogger, waitFor } from "../helpers/wait.js";

const brokers: Broker[] = [];
afterEach(async () => {
  for (const b of brokers.splice(0)) await b.close();
});

describe("Broker logging", () => {
  it("logs no line per published event", async () => {
    const log = recordingLogger();
    const b = new Broker({ heartbeatMs: null, logger: log });
    brokers.push(b);
    const r = reader();
    b.subscribe({ selectors: ["a"] }).open(r.sink);
    const before = log.lines.length;
    for (let i = 0; i < 1000; i++) await b.publish({ topic: "a", data: `e${i}` });
    await waitFor("delivered", () => r.text().includes("data:e999\n"));
    assert.equal(log.lines.length, before);
  });

  it("bounds the per-connection lines of a connection storm and says how many it left out", async () => {
    const log = recordingLogger();
    const b = new Broker({ heartbeatMs: 50, logger: log });
    brokers.push(b);
    for (let i = 0; i < 2000; i++)
      b.subscribe({ selectors: ["a"] })
        .open(reader().sink)
        .close("client");
    const added = log.lines.filter((l) => l.msg?.startsWith("Client added."));
    const removed = log.lines.filter((l) => l.msg?.startsWith("Removed client."));
    assert.ok(added.length <= 60, `${added.length} "Client added" lines for 2000 connections`);
    assert.ok(removed.length <= 60, `${removed.length} "Removed client" lines`);
    assert.equal(added[0]?.msg, "Client added. 1 registered clients", "the seed's line, as it was");
    // The heartbeat timer reports what was left out.
    const keepAlive = setTimeout(() => {}, 5000);
    await waitFor("a summary", () =>
      log.lines.some((l) => /more "client-added" lines not logged/.test(l.msg ?? "")),
    );
    clearTimeout(keepAlive);
    // Every connection is accounted for: logged, or counted in a later line's `suppressed`.
    const counted = log.lines
      .filter((l) => l.msg?.startsWith("Client added.") || /"client-added"/.test(l.msg ?? ""))
      .reduce((n, l) => n + ((l.obj as { suppressed?: number }).suppressed ?? 0), added.length);
    assert.equal(counted, 2000);
  });
});
