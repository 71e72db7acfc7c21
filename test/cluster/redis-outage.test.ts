/**
 * Redis stopped under two running nodes: streams stay open (heartbeats go on), publishes get 503 with
 * Retry-After, nothing crashes; Redis restarted from its AOF: both nodes read again and every accepted
 * event reaches the subscribers on both, in one order. Figures go to the test output.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type OpenStream, openStream } from "../cli/helpers.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { commentsOf, eventsOf, type Node, publish, startNodes, uniquePrefix, waitUntil } from "./helpers.js";

const OUTAGE_MS = 2_000;

describe("Redis stopped mid-stream", () => {
  let redis: RedisServer;
  let nodes: Node[] = [];
  before(async () => {
    redis = await startRedisServer({ persistent: true });
  });
  after(async () => {
    for (const n of nodes) n.kill();
    await redis.dispose();
  });

  it("keeps streams open, refuses publishes with 503, and resumes every node after a restart", async (t) => {
    nodes = await startNodes(2, redis.url, uniquePrefix(), ["--heartbeat-ms", "200"]);
    const [a, b] = nodes as [Node, Node];
    const streams: [OpenStream, OpenStream] = [
      await openStream(a.port, "/events?topic=feed"),
      await openStream(b.port, "/events?topic=feed"),
    ];
    const accepted: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await publish((i % 2 === 0 ? a : b).port, "feed", `before ${i}`);
      assert.equal(r.status, 200, `publish ${i} before the outage accepted`);
      accepted.push(r.id as string);
    }
    await waitUntil("the first 10 events on both nodes", () =>
      streams.every((s) => eventsOf(s).length === 10),
    );

    // ---- outage ----
    await redis.stop();
    const stoppedAt = performance.now();
    const beats = streams.map(commentsOf);
    for (const [i, n] of nodes.entries()) {
      const r = await publish(n.port, "feed", "during the outage");
      assert.equal(r.status, 503, `node ${i}: publish during the outage is a 503 (got ${r.status})`);
      assert.ok(r.headers["retry-after"] !== undefined, `node ${i}: the 503 carries Retry-After`);
      assert.match(r.body, /SSEB_ERR_BACKPLANE_UNAVAILABLE/, `node ${i}: coded error body`);
    }
    await sleep(Math.max(0, OUTAGE_MS - (performance.now() - stoppedAt)));
    for (const [i, s] of streams.entries()) {
      assert.ok(
        commentsOf(s) >= (beats[i] as number) + 3,
        `stream ${i} kept receiving heartbeats during the outage (${commentsOf(s) - (beats[i] as number)})`,
      );
    }
    for (const [i, n] of nodes.entries()) {
      assert.equal(n.child.exitCode, null, `node ${i} still running`);
      assert.equal(n.child.signalCode, null, `node ${i} not killed`);
    }
    assert.equal(eventsOf(streams[0]).length, 10, "nothing refused was delivered on A");
    assert.equal(eventsOf(streams[1]).length, 10, "nothing refused was delivered on B");

    // ---- back ----
    await redis.start();
    const backAt = performance.now();
    const outageMs = backAt - stoppedAt;
    // Publish as soon as a node accepts again; the first accepted event times the recovery.
    let firstId: string | undefined;
    let attempts = 0;
    await waitUntil(
      "a publish accepted after the restart",
      async () => {
        attempts++;
        const r = await publish(a.port, "feed", "after 0");
        if (r.status === 200) firstId = r.id;
        else assert.equal(r.status, 503, `only 503 while reconnecting (got ${r.status})`);
        return r.status === 200;
      },
      15_000,
    );
    const acceptedAt = performance.now();
    accepted.push(firstId as string);
    await waitUntil(
      "the first event after the restart on both nodes",
      () => streams.every((s) => eventsOf(s).length === 11),
      15_000,
    );
    const arrival = (s: OpenStream): number =>
      s.events.find((e) => e.block.split("\n").includes(`id:${firstId}`))?.at ?? Number.NaN;
    const firstDelivery = Math.max(...streams.map(arrival)) - backAt;
    for (let i = 1; i < 10; i++) {
      const n = i % 2 === 0 ? a : b;
      let r = await publish(n.port, "feed", `after ${i}`);
      // B's publisher connection may still be reconnecting for a moment: a 503 is a refusal, retry.
      for (let tries = 0; r.status === 503 && tries < 100; tries++) {
        await sleep(50);
        r = await publish(n.port, "feed", `after ${i}`);
      }
      assert.equal(r.status, 200, `publish ${i} after the outage accepted`);
      accepted.push(r.id as string);
    }
    // An end marker after every accepted event: once both nodes have it, any duplicate would be in.
    let marker = await publish(a.port, "feed", "end marker");
    for (let tries = 0; marker.status === 503 && tries < 100; tries++) {
      await sleep(50);
      marker = await publish(a.port, "feed", "end marker");
    }
    assert.equal(marker.status, 200);
    await waitUntil(
      "the end marker on both nodes",
      () => streams.every((s) => eventsOf(s).some((e) => e.id === marker.id)),
      15_000,
    );
    for (const [i, s] of streams.entries()) {
      assert.deepEqual(
        eventsOf(s)
          .map((e) => e.id)
          .filter((id) => id !== marker.id),
        accepted,
        `node ${i}: every accepted event, once, in publish order`,
      );
    }
    for (const [i, n] of nodes.entries()) {
      const warned = n.logs.filter((l) => l.msg === "Redis backplane unavailable; retrying").length;
      // One line per connection (publisher, reader) per outage, not one per retry.
      assert.ok(warned >= 1 && warned <= 2, `node ${i} logged the outage once per connection (${warned})`);
    }
    t.diagnostic(`outage: ${Math.round(outageMs)} ms (Redis stopped, then restarted from its AOF)`);
    t.diagnostic(
      `after Redis was back: first publish accepted in ${Math.round(acceptedAt - backAt)} ms ` +
        `(${attempts} attempts), first delivery on both nodes in ${Math.round(firstDelivery)} ms`,
    );
    t.diagnostic(
      `heartbeats during the outage: ${streams.map((s, i) => commentsOf(s) - (beats[i] as number)).join(", ")}`,
    );
    for (const s of streams) s.destroy();
  });
});
