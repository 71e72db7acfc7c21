import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SseBrokerError } from "../../src/errors.js";
import { createRedisTransport } from "../../src/transport/redis.js";
import { compareStreamIds, decodeEntry, encodeEntry } from "../../src/transport/redis-entry.js";
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

describe("Redis stream entries", () => {
  it("round-trips every field of an update", () => {
    const u = {
      id: "x1",
      topics: ["a", "b"],
      data: '{"k":"v\\n"}\nline2',
      type: "t",
      retry: 5,
      private: true,
    };
    assert.deepEqual(decodeEntry(encodeEntry(u)), u);
    const plain = { id: "x2", topics: ["a"], data: "" };
    assert.deepEqual(decodeEntry(encodeEntry(plain)), {
      ...plain,
      type: undefined,
      retry: undefined,
      private: false,
    });
  });

  it("names what is wrong with a malformed entry instead of throwing", () => {
    for (const fields of [
      [],
      ["m", "{", "d", ""],
      ["m", "[]", "d", ""],
      ["m", '{"i":"x","t":[]}', "d", ""],
      ["m", '{"i":"x\\ny","t":["a"]}', "d", ""],
      ["m", '{"i":"x","t":["a"],"r":-1}', "d", ""],
      ["m", '{"i":"x","t":["a"],"e":"a\\rb"}', "d", ""],
      ["m", '{"i":"x","t":["a"]}'],
    ]) {
      assert.equal(typeof decodeEntry(fields), "string", JSON.stringify(fields));
    }
  });

  it("orders stream ids numerically, not as text", () => {
    assert.equal(Math.sign(compareStreamIds("9-0", "10-0")), -1);
    assert.equal(Math.sign(compareStreamIds("10-2", "10-10")), -1);
    assert.equal(compareStreamIds("5-5", "5-5"), 0);
    assert.equal(Math.sign(compareStreamIds("18446744073709551615-1", "18446744073709551615-0")), 1);
  });
});

describe("Redis backplane", () => {
  for (const count of [2, 3]) {
    it(`delivers every event on all ${count} brokers in the same order`, async () => {
      const prefix = uniquePrefix();
      const brokers = Array.from({ length: count }, () => node(prefix).broker);
      await Promise.all(brokers.map((b) => b.ready()));
      const subs = brokers.map((b) => subscribe(b, { selectors: ["a"] }));
      // Every broker publishes 40 events one after another, all brokers at once.
      const published = await Promise.all(
        brokers.map(async (b, i) => {
          const ids: string[] = [];
          for (let n = 0; n < 40; n++)
            ids.push(await b.publish({ topic: "a", data: `b${i} n${n}`, id: `b${i}-${n}` }));
          return ids;
        }),
      );
      const total = count * 40;
      await waitFor("every broker to deliver every event", () => subs.every((s) => s.ids().length >= total));
      const first = subs[0]?.ids() ?? [];
      assert.equal(first.length, total);
      for (const s of subs) assert.deepEqual(s.ids(), first, "same events in the same order on every broker");
      assert.deepEqual([...first].sort(), published.flat().sort(), "exactly the published events");
      for (const ids of published) {
        assert.deepEqual(
          first.filter((id) => ids.includes(id)),
          ids,
          "one publisher's events keep their order",
        );
      }
    });
  }

  it("resumes on another broker from history after 100 events published elsewhere", async () => {
    const prefix = uniquePrefix();
    const a = node(prefix);
    const b = node(prefix);
    await Promise.all([a.broker.ready(), b.broker.ready()]);
    const seen = subscribe(a.broker, { selectors: ["a"] });
    const lastSeen = await a.broker.publish({ topic: "a", data: "before" });
    await waitFor("the first event", () => seen.ids().length === 1);
    seen.sink.destroy(); // the client goes away
    const missed: string[] = [];
    for (let n = 0; n < 100; n++) missed.push(await a.broker.publish({ topic: "a", data: `missed ${n}` }));
    await a.broker.publish({ topic: "other", data: "not for this subscriber" });

    // It comes back on B, which may still be reading: catch up first (what the HTTP layer does via prepare).
    await b.transport.catchUp();
    const resumed = subscribe(b.broker, { selectors: ["a"], lastEventId: lastSeen });
    assert.equal(resumed.complete, true);
    await waitFor("the replay", () => resumed.ids().length >= 100);
    assert.deepEqual(resumed.ids(), missed);
    assert.deepEqual(
      resumed.data(),
      missed.map((_, n) => `missed ${n}`),
    );
  });

  it("lets prepare() resume from an id published on another broker just before", async () => {
    const prefix = uniquePrefix();
    const a = node(prefix);
    const b = node(prefix);
    await Promise.all([a.broker.ready(), b.broker.ready()]);
    for (let round = 0; round < 20; round++) {
      const from = await a.broker.publish({ topic: "p", data: `from ${round}` });
      const next = await a.broker.publish({ topic: "p", data: `next ${round}` });
      // B may not have read `from` yet: prepare() catches up first, so the resume is exact either way.
      const pending = await b.broker.prepare({ selectors: ["p"], lastEventId: from });
      assert.equal(pending.resume?.complete, true, `round ${round}`);
      const sub = subscribe(b.broker, { selectors: ["p"], lastEventId: from });
      await waitFor("the next event", () => sub.ids().length === 1);
      assert.deepEqual(sub.ids(), [next]);
      sub.sink.destroy();
    }
  });

  it("loads the retained stream into history when a broker starts after the publishes", async () => {
    const prefix = uniquePrefix();
    const a = node(prefix);
    await a.broker.ready();
    const ids: string[] = [];
    for (let n = 0; n < 2_500; n++) {
      ids.push(await a.broker.publish({ topic: n % 2 === 0 ? "even" : "odd", data: `${n}` }));
    }
    const late = node(prefix); // the backlog is more than two XREAD pages
    const published: string[] = [];
    late.broker.on("publish", (d) => published.push(d.id));
    await late.broker.ready();
    assert.ok(late.broker.history.has(ids.at(-1) as string), "ready() once the whole stream is delivered");
    assert.deepEqual(published, [], "backlog: history only, no 'publish' event");
    const even = subscribe(late.broker, { selectors: ["even", "odd"], lastEventId: "earliest" });
    // History keeps 1000 per topic: the newest 2000 events, in stream order.
    await waitFor("the replay", () => even.ids().length >= 2_000);
    assert.deepEqual(even.ids(), ids.slice(-2_000));
  });

  it("trims the stream to about maxLen entries", async () => {
    const prefix = uniquePrefix();
    const a = node(prefix, { maxLen: 100 });
    await a.broker.ready();
    for (let n = 0; n < 1_000; n++) await a.broker.publish({ topic: "t", data: `${n}` });
    const length = await fx.admin.xlen(a.transport.key);
    assert.ok(length >= 100 && length < 1_000, `XLEN ${length}`);
  });

  it("skips malformed entries, logs each once, and keeps delivering", async () => {
    const prefix = uniquePrefix();
    const logger = recordingLogger();
    const a = node(prefix, { logger });
    await a.broker.ready();
    const sub = subscribe(a.broker, { selectors: ["a"] });
    const good1 = await a.broker.publish({ topic: "a", data: "1" });
    await fx.admin.xadd(a.transport.key, "*", "m", "not json", "d", "x");
    await fx.admin.xadd(a.transport.key, "*", "m", '{"i":"evil\\nid","t":["a"]}', "d", "x");
    await fx.admin.xadd(a.transport.key, "*", "junk", "1");
    const good2 = await a.broker.publish({ topic: "a", data: "2" });
    await waitFor("both good events", () => sub.ids().length === 2);
    assert.deepEqual(sub.ids(), [good1, good2]);
    assert.equal(logger.lines.filter((l) => l.msg === "Skipped a malformed stream entry").length, 3);
  });

  it("catchUp() resolves once everything in the stream at call time is delivered", async () => {
    const prefix = uniquePrefix();
    const a = node(prefix);
    await a.broker.ready();
    const delivered: string[] = [];
    a.broker.on("publish", (d) => delivered.push(d.id));
    // Written straight to Redis, as other nodes would: several pages for the reader to get through.
    const ids = Array.from({ length: 5_000 }, (_, n) => `c${n}`);
    const pipeline = fx.admin.pipeline();
    for (const id of ids)
      pipeline.xadd(a.transport.key, "*", ...encodeEntry({ id, topics: ["c"], data: "" }));
    await pipeline.exec();
    await a.transport.catchUp();
    assert.deepEqual(delivered, ids);
    await a.transport.catchUp(); // nothing new: resolves at once
  });

  it("logs an error when the stream was trimmed past its position while its reader was away", async () => {
    const prefix = uniquePrefix();
    const logger = recordingLogger();
    // A reconnects slowly, so B can overrun A's maxLen window while A's reader is away.
    const a = node(prefix, {
      logger,
      maxLen: 100,
      redisOptions: { connectionName: "lagging", retryStrategy: () => 1_000 },
    });
    const b = node(prefix, { maxLen: 100 });
    await Promise.all([a.broker.ready(), b.broker.ready()]);
    await b.broker.publish({ topic: "t", data: "seen by both" });
    await waitFor("A to read the first event", () => a.transport.lastId !== "0-0");
    const list = String(await fx.admin.call("CLIENT", "LIST"));
    const reader = /id=(\d+) .*name=lagging:reader/.exec(list)?.[1];
    assert.notEqual(reader, undefined, "A's reader connection is named");
    await fx.admin.call("CLIENT", "KILL", "ID", reader ?? "");
    await Promise.all(Array.from({ length: 400 }, (_, n) => b.broker.publish({ topic: "t", data: `${n}` })));
    await waitFor("the gap to be reported", () =>
      logger.lines.some((l) => l.level === "error" && l.msg?.includes("trimmed past this node") === true),
    );
    const after = await b.broker.publish({ topic: "t", data: "after the gap" });
    await waitFor("A to go on delivering", () => a.broker.history.has(after));
  });

  it("rejects publishes with SSEB_ERR_BACKPLANE_UNAVAILABLE when Redis is unreachable", {
    timeout: 20_000,
  }, async () => {
    // A port nobody listens on: the server's, after it stopped.
    const gone = await startRedisServer();
    await gone.dispose();
    const logger = recordingLogger();
    const n = startNode(gone.url, uniquePrefix(), { logger, catchUpTimeoutMs: 500 });
    fx.track(n);
    await n.broker.ready(); // resolves (after the catch-up timeout) instead of hanging or failing for good
    for (let i = 0; i < 3; i++) {
      await assert.rejects(n.broker.publish({ topic: "a", data: "x" }), (err: unknown) => {
        assert.ok(err instanceof SseBrokerError, "an SseBrokerError");
        assert.equal(err.code, "SSEB_ERR_BACKPLANE_UNAVAILABLE");
        assert.equal(err.statusCode, 503);
        return true;
      });
    }
    await assert.rejects(n.transport.catchUp(), { code: "SSEB_ERR_BACKPLANE_UNAVAILABLE" });
    // A subscriber can still connect meanwhile.
    subscribe(n.broker, { selectors: ["a"] });
    assert.equal(n.broker.size, 1);
    const lost = logger.lines.filter((l) => l.msg?.startsWith("Redis backplane unavailable"));
    assert.ok(lost.length <= 2, `one line per connection per outage, got ${lost.length}`);
  });

  it("authenticates with the ACL user and password of the URL, and answers 503 on a wrong one", async () => {
    const secured = await startRedisServer({
      args: ["--user", "default", "off", "--user", "broker", "on", ">s3cret", "~*", "&*", "+@all"],
    });
    try {
      const url = new URL(secured.url);
      url.username = "broker";
      url.password = "s3cret";
      const ok = startNode(url.href, uniquePrefix());
      fx.track(ok);
      await ok.broker.ready();
      const sub = subscribe(ok.broker, { selectors: ["a"] });
      const id = await ok.broker.publish({ topic: "a", data: "x" });
      await waitFor("the event", () => sub.ids().includes(id));
      url.password = "wrong";
      const denied = startNode(url.href, uniquePrefix(), { catchUpTimeoutMs: 300 });
      fx.track(denied);
      await denied.broker.ready();
      await assert.rejects(denied.broker.publish({ topic: "a", data: "x" }), {
        code: "SSEB_ERR_BACKPLANE_UNAVAILABLE",
      });
    } finally {
      await fx.closeNodes();
      await secured.dispose();
    }
  });

  it("refuses to append after close", async () => {
    const t = createRedisTransport({ url: fx.redis.url, keyPrefix: uniquePrefix() });
    await t.start({ deliver: () => {}, gap: () => {} });
    await t.close();
    await assert.rejects(t.append({ id: "x", topics: ["a"], data: "" }), { code: "SSEB_ERR_BROKER_CLOSED" });
    await t.close(); // idempotent
  });

  it("rejects bad options", () => {
    assert.throws(() => createRedisTransport({ url: "http://127.0.0.1:6379" }), {
      code: "SSEB_ERR_OPTIONS_INVALID",
    });
    assert.throws(() => createRedisTransport({ url: fx.redis.url, maxLen: 0 }), {
      code: "SSEB_ERR_OPTIONS_INVALID",
    });
  });
});
