/**
 * The demo producer's event: the Go original's JSON shape and RFC1123 time (zone "UTC", not "GMT").
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { demoEventData, rfc1123Utc, startDemo } from "../../src/cli/demo.js";
import { Broker } from "../../src/core/broker.js";
import { waitFor } from "../helpers/wait.js";

describe("rfc1123Utc", () => {
  const table: [iso: string, expected: string][] = [
    ["2026-11-26T10:00:00Z", "Thu, 26 Nov 2026 10:00:00 UTC"],
    ["2006-01-02T15:04:05Z", "Mon, 02 Jan 2006 15:04:05 UTC"], // Go's reference time
    ["2024-02-29T00:00:09.999Z", "Thu, 29 Feb 2024 00:00:09 UTC"],
    ["1999-12-31T23:59:59Z", "Fri, 31 Dec 1999 23:59:59 UTC"],
  ];
  for (const [iso, expected] of table) {
    it(`formats ${iso} as Go's time.RFC1123 does in UTC`, () => {
      assert.equal(rfc1123Utc(new Date(iso)), expected);
    });
  }

  it("agrees with Date#toUTCString apart from the zone name", () => {
    const d = new Date(1_795_000_000_123);
    assert.equal(rfc1123Utc(d), d.toUTCString().replace(/GMT$/, "UTC"));
  });
});

describe("demoEventData", () => {
  it("writes timestamp (unix seconds) then message, like the Go struct", () => {
    const data = demoEventData(new Date("2026-11-26T10:00:00.750Z"));
    assert.equal(data, '{"timestamp":1795687200,"message":"the time is Thu, 26 Nov 2026 10:00:00 UTC"}');
  });
});

describe("startDemo", () => {
  it("publishes to the demo topic every interval and stops", async () => {
    const broker = new Broker({ heartbeatMs: null });
    const seen: string[] = [];
    broker.on("publish", (u) => seen.push(`${u.topics[0]} ${u.data}`));
    const keepAlive = setInterval(() => {}, 1000); // the producer's timer is unref'd
    try {
      const demo = startDemo(broker, { intervalMs: 20 });
      await waitFor("two demo events", () => seen.length >= 2);
      demo.stop();
      const count = seen.length;
      assert.match(seen[0] ?? "", /^time \{"timestamp":\d+,"message":"the time is .+ UTC"\}$/);
      // End marker: a second producer with the same interval, started later. Timers of one duration fire in
      // the order they were started, so had the first not stopped, it would publish before the marker's second.
      const marker = startDemo(broker, { intervalMs: 20, topic: "marker" });
      await waitFor("two marker events", () => seen.filter((e) => e.startsWith("marker ")).length >= 2);
      marker.stop();
      assert.equal(seen.filter((e) => e.startsWith("time ")).length, count, "nothing after stop()");
    } finally {
      clearInterval(keepAlive);
      await broker.close();
    }
  });
});
