/**
 * Gaps, backlog and ephemeral updates on the Redis backplane (issue 8, defect 8), against a real
 * redis-server: a node that missed trimmed entries says so on resume; entries retained before a node
 * started never reach its live subscribers; Mercure-style ephemeral updates never evict the data stream;
 * waiting for a connection is bounded.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { decodeEntry, encodeEntry } from "../../src/transport/redis-entry.js";
import { HOST } from "../helpers/net.js";
import {
  recordingLogger,
  startNode,
  startRedisServer,
  subscribe,
  uniquePrefix,
  useRedis,
  waitFor,
} from "../helpers/redis-server.js";

const fx = useRedis();
const node = fx.node;

function resp(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;
}

/**
 * XADDs `count` entries to `key` the way another node publishes them, from a `redis-cli` child run
 * synchronously: this process's event loop, and so every reader in it, is held up meanwhile. The readers'
 * connections stay open; they just read late, which is how a node falls behind while connected.
 */
function burstWhileThisProcessIsBlocked(
  key: string,
  maxLen: number,
  count: number,
  topics: readonly string[],
): string[] {
  const ids = Array.from({ length: count }, (_, n) => `burst-${n}`);
  const input = ids
    .map((id, n) => {
      const entry = encodeEntry({ id, topics: [topics[n % topics.length] as string], data: id });
      return resp(["XADD", key, "MAXLEN", "~", String(maxLen), "*", ...entry]);
    })
    .join("");
  const run = spawnSync("redis-cli", ["-h", HOST, "-p", String(fx.redis.port), "--pipe"], {
    input,
    timeout: 20_000,
  });
  assert.equal(run.status, 0, `redis-cli --pipe: ${run.stderr.toString()}`);
  assert.match(run.stdout.toString(), /errors: 0, replies: \d+/);
  return ids;
}

const gapLines = (logger: ReturnType<typeof recordingLogger>) =>
  logger.lines.filter((l) => l.msg?.includes("trimmed past this node") === true);

describe("Redis backplane gaps", () => {
  it("marks a gap when its reader falls behind a MAXLEN trim while connected", async () => {
    const prefix = uniquePrefix();
    const logger = recordingLogger();
    const a = node(prefix, { maxLen: 100, logger });
    await a.broker.ready();
    const before = await a.broker.publish({ topic: "t", data: "before" });
    await waitFor("A to deliver the first event", () => a.broker.history.has(before));

    const burst = burstWhileThisProcessIsBlocked(a.transport.key, 100, 500, ["t"]);
    const after = await a.broker.publish({ topic: "t", data: "after" });
    await waitFor("A to deliver the event after the burst", () => a.broker.history.has(after));

    const across = subscribe(a.broker, { selectors: ["t"], lastEventId: before });
    assert.equal(across.complete, false, "a resume from before the gap is incomplete");
    const lastOfBurst = burst.at(-1) as string;
    assert.ok(a.broker.history.has(lastOfBurst), "the retained end of the burst was delivered");
    const beyond = subscribe(a.broker, { selectors: ["t"], lastEventId: lastOfBurst });
    assert.equal(beyond.complete, true, "a resume from after the gap is complete");
    await waitFor("the replay after the gap", () => beyond.ids().length === 1);
    assert.deepEqual(beyond.ids(), [after]);
    const lines = gapLines(logger);
    assert.equal(lines.length, 1, "the gap is logged once, not per entry");
    // Redis 7 counts every entry added: the loss is known for sure, not guessed from the trim edge.
    const obj = (lines[0]?.obj ?? {}) as { certain?: boolean };
    assert.equal(obj.certain, true, JSON.stringify(obj));
  });

  it("marks a gap when the stream was trimmed past it while its reader was reconnecting", async () => {
    const prefix = uniquePrefix();
    const logger = recordingLogger();
    // A reconnects slowly, so B can overrun A's maxLen window while A's reader is away.
    const a = node(prefix, {
      logger,
      maxLen: 100,
      redisOptions: { connectionName: "gap-reconnect", retryStrategy: () => 1_000 },
    });
    const b = node(prefix, { maxLen: 100 });
    await Promise.all([a.broker.ready(), b.broker.ready()]);
    const seen = await b.broker.publish({ topic: "t", data: "seen by both" });
    await waitFor("A to read the first event", () => a.broker.history.has(seen));
    const list = String(await fx.admin.call("CLIENT", "LIST"));
    const reader = /id=(\d+) .*name=gap-reconnect:reader/.exec(list)?.[1];
    assert.notEqual(reader, undefined, "A's reader connection is named");
    await fx.admin.call("CLIENT", "KILL", "ID", reader ?? "");
    const missed = await Promise.all(
      Array.from({ length: 400 }, (_, n) => b.broker.publish({ topic: "t", data: `${n}` })),
    );
    const after = await b.broker.publish({ topic: "t", data: "after the gap" });
    await waitFor("A to deliver again", () => a.broker.history.has(after), 15_000);

    assert.equal(subscribe(a.broker, { selectors: ["t"], lastEventId: seen }).complete, false);
    const lastMissed = missed.at(-1) as string;
    assert.equal(subscribe(a.broker, { selectors: ["t"], lastEventId: lastMissed }).complete, true);
    assert.equal(gapLines(logger).length, 1, "logged once");
  });

  it("reports no gap when a node catches up on pages it lost nothing from", async () => {
    const prefix = uniquePrefix();
    const logger = recordingLogger();
    const a = node(prefix, { logger, maxLen: 2_000 });
    await a.broker.ready();
    const first = await a.broker.publish({ topic: "t", data: "first" });
    await waitFor("A to deliver the first event", () => a.broker.history.has(first));
    // Full pages of 1000 while A is held up, but fewer entries than maxLen: nothing trimmed past A. Two
    // topics, so that local history (1000 per topic) keeps them all.
    const topics = ["t", "u"];
    const burst = burstWhileThisProcessIsBlocked(a.transport.key, 2_000, 1_900, topics);
    await a.transport.catchUp();
    assert.ok(a.broker.history.has(burst.at(-1) as string));
    assert.equal(subscribe(a.broker, { selectors: topics, lastEventId: first }).complete, true);
    // A late node loads more than two pages of backlog: no gap either.
    const late = node(prefix, { logger, maxLen: 2_000 });
    await late.broker.ready();
    assert.equal(subscribe(late.broker, { selectors: topics, lastEventId: first }).complete, true);
    assert.deepEqual(gapLines(logger), []);
  });
});

describe("Redis backplane backlog", () => {
  it("hands entries retained before a node started to its history only, never to live subscribers", async () => {
    const prefix = uniquePrefix();
    const a = node(prefix);
    await a.broker.ready();
    const ids: string[] = [];
    for (let n = 0; n < 30; n++) ids.push(await a.broker.publish({ topic: "s", data: `${n}` }));

    const late = node(prefix);
    const live = subscribe(late.broker, { selectors: ["s"] }); // before the node read anything
    const published: string[] = [];
    late.broker.on("publish", (d) => published.push(d.id));
    await late.broker.ready();
    const next = await a.broker.publish({ topic: "s", data: "new" });
    await waitFor("the new event", () => live.ids().includes(next));
    assert.deepEqual(live.ids(), [next], "only the new event arrives live");
    assert.deepEqual(published, [next], "retained entries are not 'publish' events on the late node");

    const resumed = subscribe(late.broker, { selectors: ["s"], lastEventId: ids[9] });
    assert.equal(resumed.complete, true);
    await waitFor("the replay", () => resumed.ids().length >= 21);
    assert.deepEqual(resumed.ids(), [...ids.slice(10), next], "Last-Event-ID still replays the backlog");
  });
});

describe("Redis backplane ephemeral updates", () => {
  it("keeps 5000 ephemeral updates out of the data stream", async () => {
    const prefix = uniquePrefix();
    const a = node(prefix, { maxLen: 1_000 });
    await a.broker.ready();
    const data: string[] = [];
    for (let n = 0; n < 20; n++) data.push(await a.broker.publish({ topic: "books", data: `${n}` }));
    const lengthBefore = await fx.admin.xlen(a.transport.key);
    for (let chunk = 0; chunk < 50; chunk++) {
      await Promise.all(
        Array.from({ length: 100 }, (_, n) =>
          a.broker.publish({
            topic: `/.well-known/mercure/subscriptions/books/${chunk * 100 + n}`,
            data: "{}",
            private: true,
            ephemeral: true,
          }),
        ),
      );
    }
    assert.equal(await fx.admin.xlen(a.transport.key), lengthBefore, "the data stream did not grow");

    // A node started now loads the data stream: the old data events are all there.
    const late = node(prefix, { maxLen: 1_000 });
    await late.broker.ready();
    const resumed = subscribe(late.broker, { selectors: ["books"], lastEventId: data[0] });
    assert.equal(resumed.complete, true, "an old data event still resumes");
    await waitFor("the replay", () => resumed.ids().length >= 19);
    assert.deepEqual(resumed.ids(), data.slice(1));
    assert.equal(late.broker.history.size, 20, "no ephemeral update in the data history");
    assert.ok(late.broker.ephemeralHistory.size > 0, "ephemeral updates loaded into their own history");
  });
});

describe("Redis stream entry kinds", () => {
  it("never takes a data stream entry for ephemeral, or the reverse", async () => {
    const prefix = uniquePrefix();
    const logger = recordingLogger();
    const a = node(prefix, { logger });
    await a.broker.ready();
    const sub = subscribe(a.broker, { selectors: ["k"] });
    await fx.admin.xadd(
      a.transport.key,
      "*",
      ...encodeEntry({ id: "eph-in-data", topics: ["k"], data: "", ephemeral: true }),
    );
    await fx.admin.xadd(
      a.transport.ephemeralKey,
      "*",
      ...encodeEntry({ id: "data-in-eph", topics: ["k"], data: "" }),
    );
    const good = await a.broker.publish({ topic: "k", data: "x" });
    const eph = await a.broker.publish({ topic: "k", data: "y", ephemeral: true });
    await waitFor("both good events", () => sub.ids().includes(good) && sub.ids().includes(eph));
    assert.deepEqual(sub.ids().sort(), [eph, good].sort());
    assert.equal(a.broker.history.has(eph), false, "the ephemeral one in its own history");
    assert.equal(a.broker.ephemeralHistory.has(eph), true);
    const skipped = logger.lines.filter((l) => l.msg === "Skipped a malformed stream entry");
    assert.deepEqual(skipped.map((l) => (l.obj as { reason: string }).reason).sort(), [
      "a data entry in the ephemeral stream",
      "an ephemeral entry in the data stream",
    ]);
  });

  it("round-trips the ephemeral flag", () => {
    const u = { id: "e1", topics: ["a"], data: "x", ephemeral: true };
    assert.deepEqual(decodeEntry(encodeEntry(u)), {
      ...u,
      type: undefined,
      retry: undefined,
      private: false,
    });
    assert.equal(typeof decodeEntry(["m", '{"i":"x","t":["a"],"x":2}', "d", ""]), "string");
  });
});

describe("waiting for Redis", () => {
  it("reconnects by itself after ioredis gave up reconnecting", { timeout: 60_000 }, async () => {
    const own = await startRedisServer();
    try {
      // retryStrategy returning null: ioredis ends the connection for good at the first drop.
      const n = startNode(own.url, uniquePrefix(), {
        redisOptions: { retryStrategy: () => null },
        catchUpTimeoutMs: 500,
      });
      fx.track(n);
      await n.broker.ready();
      const sub = subscribe(n.broker, { selectors: ["a"] });
      await own.restart();
      let id: string | undefined;
      const deadline = Date.now() + 20_000;
      while (id === undefined) {
        assert.ok(Date.now() < deadline, "a publish is accepted again after the restart");
        id = await n.broker.publish({ topic: "a", data: "after" }).catch(async () => {
          await new Promise((resolve) => setTimeout(resolve, 100));
          return undefined;
        });
      }
      const accepted = id;
      await waitFor("the event delivered after the restart", () => sub.ids().includes(accepted), 20_000);
    } finally {
      await fx.closeNodes();
      await own.dispose();
    }
  });

  // The bound is the test's timeout: start() resolves after catchUpTimeoutMs, close() at once.
  it("starts and closes promptly when Redis never comes up", { timeout: 10_000 }, async () => {
    const gone = await startRedisServer();
    await gone.dispose();
    const n = startNode(gone.url, uniquePrefix(), {
      redisOptions: { retryStrategy: () => null },
      catchUpTimeoutMs: 500,
    });
    await n.broker.ready();
    await assert.rejects(n.broker.publish({ topic: "a", data: "x" }), {
      code: "SSEB_ERR_BACKPLANE_UNAVAILABLE",
    });
    await n.broker.close();
  });
});
