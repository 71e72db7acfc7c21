/**
 * `Idempotency-Key` on `POST /publish` and the Mercure hub's publish, one process (memory transport): a
 * retry gets the first answer and publishes nothing; another request under the same key is 422; keys are
 * per publisher; records expire and are bounded (LRU); a retry while the first is in flight is 409.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Update } from "../../src/core/update.js";
import { MemoryTransport, type Transport } from "../../src/index.js";
import { publish, startServer, type TestServer } from "../helpers/server.js";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";
import { type Hub, publisherToken, publishForm, startHub, subscribeUrl } from "../mercure/hub-fixture.js";

interface ErrorBody {
  error: { code: string; message: string };
}

const keyed = (key: string, extra: Record<string, string> = {}) => ({
  headers: { "Idempotency-Key": key, ...extra },
});

/** Publishes an end marker on `url` and returns the data of what the stream got before it. */
async function untilMarker(sse: SseConnection, url: string, topic: string): Promise<string[]> {
  const r = await publish(url, { topic, data: "end" });
  assert.equal(r.status, 200);
  const marker = (r.body as { id: string }).id;
  await waitFor("the end marker", () => sse.events.some((e) => e.id === marker));
  return sse.events.filter((e) => e.id !== marker).map((e) => e.data);
}

describe("Idempotency-Key on POST /publish", () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ maxIdempotencyKeys: 3 });
  });
  after(() => srv.close());

  it("answers a retry with the first answer, marked replayed, and publishes once", async () => {
    const sse = await connectSse(`${srv.url}/events?topic=idem`);
    const body = { topic: "idem", data: "once" };
    const first = await publish(srv.url, body, keyed('"k-replay"'));
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("idempotent-replayed"), null);
    for (let i = 0; i < 3; i++) {
      const again = await publish(srv.url, body, keyed('"k-replay"'));
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, first.body, "the same id again");
      assert.equal(again.headers.get("idempotent-replayed"), "true");
    }
    // The bare form of the same key is the same key.
    assert.equal(
      (await publish(srv.url, body, keyed("k-replay"))).headers.get("idempotent-replayed"),
      "true",
    );
    assert.deepEqual(await untilMarker(sse, srv.url, "idem"), ["once"]);
    sse.close();
  });

  it("replays a batch's ids, and a text publish's id", async () => {
    const sse = await connectSse(`${srv.url}/events?topic=idem-batch`);
    const batch = [1, 2, 3].map((n) => ({ topic: "idem-batch", data: `b${n}` }));
    const first = await publish(srv.url, batch, keyed("k-batch"));
    const again = await publish(srv.url, batch, keyed("k-batch"));
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, first.body);
    assert.equal((again.body as { ids: string[] }).ids.length, 3);
    const text = { contentType: "text/plain", query: "?topic=idem-batch", ...keyed("k-text") };
    const t1 = await publish(srv.url, "plain", text);
    const t2 = await publish(srv.url, "plain", text);
    assert.deepEqual(t2.body, t1.body);
    assert.equal(t2.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(await untilMarker(sse, srv.url, "idem-batch"), ["b1", "b2", "b3", "plain"]);
    sse.close();
  });

  it("refuses the same key for a different body or path with 422, publishing nothing", async () => {
    const sse = await connectSse(`${srv.url}/events?topic=idem-422`);
    assert.equal((await publish(srv.url, { topic: "idem-422", data: "a" }, keyed("k-422"))).status, 200);
    const other = await publish(srv.url, { topic: "idem-422", data: "b" }, keyed("k-422"));
    assert.equal(other.status, 422);
    assert.equal((other.body as ErrorBody).error.code, "SSEB_ERR_IDEMPOTENCY_KEY_REUSED");
    const query = await publish(
      srv.url,
      { topic: "idem-422", data: "a" },
      { ...keyed("k-422"), query: "?x=1" },
    );
    assert.equal(query.status, 422);
    assert.deepEqual(await untilMarker(sse, srv.url, "idem-422"), ["a"]);
    sse.close();
  });

  it("refuses a malformed, empty or over-long key with 400 before publishing", async () => {
    for (const key of ["", '"unterminated', "two, values", '"bad\\escape"', "x".repeat(256), "é"]) {
      const r = await publish(srv.url, { topic: "idem-bad", data: "x" }, keyed(key));
      assert.equal(r.status, 400, `key ${JSON.stringify(key.slice(0, 20))}`);
      assert.equal((r.body as ErrorBody).error.code, "SSEB_ERR_IDEMPOTENCY_KEY_INVALID");
    }
    assert.equal(
      (await publish(srv.url, { topic: "idem-bad", data: "x" }, keyed("x".repeat(255)))).status,
      200,
    );
  });

  it("forgets the least recently used key past maxIdempotencyKeys", async () => {
    const body = (n: string) => ({ topic: "idem-lru", data: n });
    const ids: Record<string, string> = {};
    for (const k of ["lru-a", "lru-b", "lru-c"]) {
      ids[k] = ((await publish(srv.url, body(k), keyed(k))).body as { id: string }).id;
    }
    // Touch a: b is now the least recently used; d evicts it.
    assert.equal(
      (await publish(srv.url, body("lru-a"), keyed("lru-a"))).headers.get("idempotent-replayed"),
      "true",
    );
    await publish(srv.url, body("lru-d"), keyed("lru-d"));
    const b = await publish(srv.url, body("lru-b"), keyed("lru-b"));
    assert.equal(b.status, 200);
    assert.equal(b.headers.get("idempotent-replayed"), null, "b was forgotten: published again");
    assert.notEqual((b.body as { id: string }).id, ids["lru-b"]);
    const a = await publish(srv.url, body("lru-a"), keyed("lru-a"));
    assert.equal(a.headers.get("idempotent-replayed"), "true", "a was kept");
    assert.equal((a.body as { id: string }).id, ids["lru-a"]);
  });
});

describe("Idempotency-Key expiry", () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ idempotencyTtlMs: 200 });
  });
  after(() => srv.close());

  it("publishes again once idempotencyTtlMs has passed", async () => {
    const body = { topic: "idem-ttl", data: "x" };
    const first = await publish(srv.url, body, keyed("k-ttl"));
    let last = first;
    const deadline = Date.now() + 10_000;
    while (last.headers.get("idempotent-replayed") !== null || last === first) {
      if (Date.now() > deadline) throw new Error("the key never expired");
      await new Promise((resolve) => setTimeout(resolve, 50));
      last = await publish(srv.url, body, keyed("k-ttl"));
      assert.equal(last.status, 200);
    }
    assert.notDeepEqual(last.body, first.body, "a new event once the record expired");
  });
});

describe("Idempotency-Key while the first request is in flight", () => {
  let srv: TestServer;
  let release: () => void = () => {};
  let held = false;
  before(async () => {
    // A transport that holds batches until released: the first request stays in flight.
    const memory = new MemoryTransport();
    const gate: Transport = {
      start: (r) => memory.start(r),
      append: (u) => memory.append(u),
      close: () => memory.close(),
      async appendBatch(updates: readonly Update[]) {
        if (!held) {
          held = true; // only the first batch is held
          await new Promise<void>((resolve) => {
            release = resolve;
          });
        }
        return memory.appendBatch(updates);
      },
    };
    srv = await startServer({ transport: gate });
  });
  after(() => srv.close());

  it("answers a concurrent retry 409, then replays once the first is done", async () => {
    const body = { topic: "idem-409", data: "x" };
    const first = publish(srv.url, body, keyed("k-409"));
    await waitFor("the first request in flight", () => held);
    const during = await publish(srv.url, body, keyed("k-409"));
    assert.equal(during.status, 409);
    assert.equal((during.body as ErrorBody).error.code, "SSEB_ERR_IDEMPOTENCY_IN_FLIGHT");
    release();
    const done = await first;
    assert.equal(done.status, 200);
    const after_ = await publish(srv.url, body, keyed("k-409"));
    assert.deepEqual(after_.body, done.body);
    assert.equal(after_.headers.get("idempotent-replayed"), "true");
  });
});

describe("Idempotency-Key on the Mercure hub", () => {
  let hub: Hub;
  before(async () => {
    hub = await startHub({ anonymous: true });
  });
  after(() => hub.close());

  it("replays a retry per publisher token: the same key from another publisher is its own", async () => {
    const sse = await connectSse(subscribeUrl(hub.hub, ["https://example.com/idem"]));
    const fields: [string, string][] = [
      ["topic", "https://example.com/idem"],
      ["data", "hello"],
    ];
    const alice = await publisherToken(["https://example.com/idem"]);
    const bob = await publisherToken(["https://example.com/idem", "https://example.com/other"]);
    const a1 = await publishForm(hub.hub, fields, alice, { "Idempotency-Key": '"shared"' });
    const a2 = await publishForm(hub.hub, fields, alice, { "Idempotency-Key": '"shared"' });
    assert.equal(a1.status, 200);
    assert.equal(a2.status, 200);
    assert.equal(a2.body, a1.body);
    assert.equal(a2.headers["idempotent-replayed"], "true");
    const b1 = await publishForm(hub.hub, fields, bob, { "Idempotency-Key": '"shared"' });
    assert.equal(b1.status, 200);
    assert.equal(b1.headers["idempotent-replayed"], undefined, "another publisher's key does not collide");
    assert.notEqual(b1.body, a1.body);
    const mismatch = await publishForm(hub.hub, [...fields, ["type", "x"]], alice, {
      "Idempotency-Key": '"shared"',
    });
    assert.equal(mismatch.status, 422);
    // An end marker: what arrived before it is all the keyed publishes produced.
    const marker = await publishForm(hub.hub, [...fields.slice(0, 1), ["data", "end"]], alice);
    const got = await sse.waitForEvents(3);
    assert.deepEqual(
      got.map((e) => e.id),
      [a1.body, b1.body, marker.body],
    );
    sse.close();
  });
});
