import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Broker } from "../../src/core/broker.js";
import { SseBrokerError } from "../../src/errors.js";
import {
  type Node,
  type RedisServer,
  recordingLogger,
  startNode,
  startRedisServer,
  subscribe,
  uniquePrefix,
  waitFor,
} from "../helpers/redis-server.js";

let redis: RedisServer;

before(async () => {
  redis = await startRedisServer({ persistent: true });
});

after(async () => {
  await redis.dispose();
});

/** Publishes one event after another until stopped, recording which were accepted and which refused. */
function publishLoop(broker: Broker, name: string) {
  const accepted: string[] = [];
  const refused: { id: string; err: unknown }[] = [];
  let stopped = false;
  const done = (async () => {
    for (let n = 0; !stopped; n++) {
      const id = `${name}-${n}`;
      try {
        await broker.publish({ topic: "r", data: `${n}`, id });
        accepted.push(id);
      } catch (err) {
        refused.push({ id, err });
        await sleep(20); // refusals are immediate; don't spin
      }
      await sleep(2);
    }
  })();
  return {
    accepted,
    refused,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

describe("Redis backplane across a Redis restart", () => {
  it("refuses publishes during the outage with a 503, then delivers everything accepted in one order", async () => {
    const prefix = uniquePrefix();
    const logger = recordingLogger();
    const nodes: Node[] = [startNode(redis.url, prefix, { logger }), startNode(redis.url, prefix)];
    try {
      await Promise.all(nodes.map((n) => n.broker.ready()));
      const subs = nodes.map((n) => subscribe(n.broker, { selectors: ["r"] }));
      const loops = nodes.map((n, i) => publishLoop(n.broker, `n${i}`));
      const acceptedCount = (): number => loops.reduce((sum, l) => sum + l.accepted.length, 0);
      const refusedCount = (): number => loops.reduce((sum, l) => sum + l.refused.length, 0);

      await waitFor("publishes before the outage", () => acceptedCount() >= 40);
      await redis.stop();
      const acceptedBeforeRestart = acceptedCount();
      await waitFor("refused publishes during the outage", () => refusedCount() >= 6);
      // catch-up cannot succeed either, and says so instead of hanging
      await assert.rejects(nodes[1]?.transport.catchUp() ?? Promise.resolve(), {
        code: "SSEB_ERR_BACKPLANE_UNAVAILABLE",
      });
      await redis.start();
      await waitFor(
        "publishes after the restart",
        () => acceptedCount() >= acceptedBeforeRestart + 40,
        20_000,
      );
      await Promise.all(loops.map((l) => l.stop()));

      for (const { err } of loops.flatMap((l) => l.refused)) {
        assert.ok(err instanceof SseBrokerError, "refused with an SseBrokerError");
        assert.equal(err.code, "SSEB_ERR_BACKPLANE_UNAVAILABLE");
        assert.equal(err.statusCode, 503);
      }
      const accepted = loops.flatMap((l) => l.accepted);
      const last = loops.map((l) => l.accepted.at(-1));
      await waitFor("every accepted event on both nodes", () =>
        subs.every((s) => last.every((id) => id !== undefined && s.ids().includes(id))),
      );
      const delivered = subs[0]?.ids() ?? [];
      assert.deepEqual(subs[1]?.ids(), delivered, "both nodes deliver the same events in the same order");
      assert.equal(new Set(delivered).size, delivered.length, "no duplicates");
      const known = new Set([...accepted, ...loops.flatMap((l) => l.refused.map((r) => r.id))]);
      assert.deepEqual(
        delivered.filter((id) => !known.has(id)),
        [],
        "only published events",
      );
      assert.deepEqual(
        accepted.filter((id) => !delivered.includes(id)),
        [],
        "nothing accepted is lost",
      );
      for (const l of loops) {
        const mine = new Set(l.accepted);
        assert.deepEqual(
          delivered.filter((id) => mine.has(id)),
          l.accepted,
          "each publisher's order is kept",
        );
      }
      // The subscribers stayed connected through the outage.
      for (const n of nodes) assert.equal(n.broker.size, 1);
      for (const s of subs) assert.equal(s.sink.destroyed, false);
      assert.deepEqual(
        logger.lines.filter((l) => l.level === "error"),
        [],
        "no gap reported",
      );
      // One line when the outage starts and one when it ends, per connection, not one per retry.
      for (const role of ["publisher", "reader"]) {
        const lines = logger.lines.filter((l) => (l.obj as { role?: string }).role === role);
        assert.equal(lines.filter((l) => l.msg?.startsWith("Redis backplane unavailable")).length, 1, role);
        assert.equal(
          lines.filter((l) => l.msg?.startsWith("Redis backplane available again")).length,
          1,
          role,
        );
      }
    } finally {
      await Promise.all(nodes.map((n) => n.broker.close()));
    }
  });

  it("starts while Redis is down and loads the retained stream into history once it is back", async () => {
    const prefix = uniquePrefix();
    const a = startNode(redis.url, prefix);
    let late: Node | undefined;
    try {
      await a.broker.ready();
      const ids: string[] = [];
      for (let n = 0; n < 30; n++) ids.push(await a.broker.publish({ topic: "s", data: `${n}` }));
      await redis.stop();
      late = startNode(redis.url, prefix, { catchUpTimeoutMs: 300 });
      await late.broker.ready(); // resolves although Redis is down
      const sub = subscribe(late.broker, { selectors: ["s"] });
      await redis.start();
      const lastId = ids.at(-1) ?? "";
      await waitFor("the backlog on the late node", () => late?.broker.history.has(lastId) === true, 20_000);
      // The reader is back (it loaded the backlog); the publisher connection may still be reconnecting.
      const next = await publishWhenBack(late.broker, { topic: "s", data: "after" });
      await waitFor("the live event", () => sub.ids().includes(next), 20_000);
      // Connected before the node had read the backlog, the subscriber still gets only the new event: the
      // node learnt where the backlog ends when it reached Redis, before delivering anything.
      assert.deepEqual(sub.ids(), [next]);
      const replay = subscribe(late.broker, { selectors: ["s"], lastEventId: "earliest" });
      await waitFor("the replay", () => replay.ids().length >= ids.length + 1);
      assert.deepEqual(replay.ids(), [...ids, next]);
    } finally {
      await Promise.all([a.broker.close(), late?.broker.close()]);
    }
  });
});

/** Publishes, retrying while the backplane still answers 503 unavailable (its publisher reconnecting). */
async function publishWhenBack(
  broker: Node["broker"],
  input: { topic: string; data: string },
): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      return await broker.publish(input);
    } catch (err) {
      if ((err as SseBrokerError).code !== "SSEB_ERR_BACKPLANE_UNAVAILABLE" || Date.now() > deadline)
        throw err;
      await sleep(50);
    }
  }
}
