/**
 * Presence in the library (issue 11, feature 5): the counter follows sessions; join/leave notices on the
 * presence topic are coalesced per selector per tick and carry the count, never who.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { Broker } from "../../src/core/broker.js";
import { presenceOf } from "../../src/presence/counter.js";
import { type PresenceNotice, startPresenceNotices } from "../../src/presence/notices.js";
import { waitFor } from "../helpers/wait.js";

/** A subscriber of `topic`: the `data:` values it received, parsed. */
function watch(broker: Broker, topic: string): PresenceNotice[] {
  const sink = new PassThrough();
  const got: PresenceNotice[] = [];
  let text = "";
  sink.setEncoding("utf8").on("data", (chunk: string) => {
    text += chunk;
    const blocks = text.split("\n\n");
    text = blocks.pop() ?? "";
    for (const b of blocks) {
      const data = /^data:(.*)$/m.exec(b)?.[1];
      if (data !== undefined) got.push(JSON.parse(data) as PresenceNotice);
    }
  });
  broker.subscribe({ selectors: [topic] }).open(sink);
  return got;
}

describe("presence counter and notices", () => {
  it("counts sessions per selector as they open and close, forgetting selectors left empty", async () => {
    const broker = new Broker({ heartbeatMs: null });
    try {
      const counter = presenceOf(broker);
      const a = broker.subscribe({ selectors: ["x", "y"] }).open(new PassThrough());
      broker.subscribe({ selectors: ["x"] }).open(new PassThrough());
      await waitFor("two on x", () => counter.count("x") === 2);
      assert.equal(counter.count("y"), 1);
      a.close("client");
      await waitFor("y left", () => counter.count("y") === 0);
      assert.equal(counter.count("x"), 1);
      assert.deepEqual([...counter.entries()], [["x", 1]]);
    } finally {
      await broker.close();
    }
  });

  it("sends one notice with the count for several joins within a tick, then a leave", async () => {
    const broker = new Broker({ heartbeatMs: null });
    try {
      startPresenceNotices(broker, "presence", 50);
      const got = watch(broker, "presence");
      const lobby = () => got.filter((n) => n.selector === "lobby");
      // Three joins in one tick of the event loop: the first notice about lobby already says 3.
      const sessions = [1, 2, 3].map(() =>
        broker.subscribe({ selectors: ["lobby"] }).open(new PassThrough()),
      );
      await waitFor("a lobby notice", () => lobby().length === 1);
      assert.deepEqual(lobby()[0], { selector: "lobby", count: 3, change: "join" });
      for (const s of sessions) s.close("client");
      await waitFor("a leave notice", () => lobby().length === 2);
      assert.deepEqual(lobby()[1], { selector: "lobby", count: 0, change: "leave" });
      // The watcher's own join was noticed too, under the presence topic itself.
      assert.deepEqual(got[0], { selector: "presence", count: 1, change: "join" });
    } finally {
      await broker.close();
    }
  });
});
