/**
 * Batch publish on `POST /publish` (a JSON array of events), one process: validated as a whole before
 * anything is published, appended in order as consecutive events, answered with the ids in order, bounded.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { publish, startServer, type TestServer } from "../helpers/server.js";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";

let srv: TestServer;
before(async () => {
  srv = await startServer({ maxBatchEvents: 5, maxBodyBytes: 4096 });
});
after(() => srv.close());

interface ErrorBody {
  error: { code: string; message: string };
}

/** Publishes an end marker and waits for it: whatever the stream got before it is all it will get. */
async function untilMarker(sse: SseConnection, topic: string): Promise<string[]> {
  const r = await publish(srv.url, { topic, data: "end" });
  assert.equal(r.status, 200);
  const marker = (r.body as { id: string }).id;
  const deadline = Date.now() + 5_000;
  while (!sse.events.some((e) => e.id === marker)) {
    if (Date.now() > deadline) throw new Error("the end marker did not arrive");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return sse.events.filter((e) => e.id !== marker).map((e) => e.data);
}

describe("batch publish", () => {
  it("appends a batch in order, answered with the ids in order, and nothing lands inside it", async () => {
    const sse = await connectSse(`${srv.url}/events?topic=batch`);
    const batch = [0, 1, 2, 3, 4].map((n) => ({ topic: "batch", data: `b${n}`, event: "item" }));
    // Singles sent at the same time may land before or after the batch, never between its events.
    const [r, singles] = await Promise.all([
      publish(srv.url, batch),
      Promise.all([0, 1, 2, 3].map((n) => publish(srv.url, { topic: "batch", data: `s${n}` }))),
    ]);
    assert.equal(r.status, 200);
    const ids = (r.body as { ids: string[] }).ids;
    assert.equal(ids.length, 5);
    for (const s of singles) assert.equal(s.status, 200);
    const got = await sse.waitForEvents(9);
    const at = got.findIndex((e) => e.id === ids[0]);
    assert.deepEqual(
      got.slice(at, at + 5).map((e) => [e.id, e.data, e.event]),
      ids.map((id, n) => [id, `b${n}`, "item"]),
      "the batch's events are consecutive, in order, with their ids",
    );
    sse.close();
  });

  it("keeps the given ids and answers a one-event batch with a list", async () => {
    const r = await publish(srv.url, [{ topic: "batch-ids", data: "x", id: "batch-own-id-1" }]);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { ids: ["batch-own-id-1"] });
    const bad = await publish(srv.url, [{ topic: "batch-ids", data: "x", id: "batch-own-id-1" }]);
    assert.equal(bad.status, 409);
    assert.match((bad.body as ErrorBody).error.message, /^event 0: /, "a one-event batch names index 0 too");
  });

  for (const [what, bad, index, code] of [
    ["a missing topic", { data: "x" }, 2, "SSEB_ERR_REQUEST_INVALID"],
    ["a CR in the id", { topic: "atomic", data: "x", id: "a\rb" }, 1, "SSEB_ERR_WIRE_FIELD_INVALID"],
    ["a bad retry", { topic: "atomic", data: "x", retry: -1 }, 0, "SSEB_ERR_REQUEST_INVALID"],
    ["a non-object", "just text", 3, "SSEB_ERR_REQUEST_INVALID"],
  ] as const) {
    it(`refuses the whole batch with 400 naming the index of ${what}, publishing none`, async () => {
      const sse = await connectSse(`${srv.url}/events?topic=atomic`);
      const batch: unknown[] = [0, 1, 2, 3].map((n) => ({ topic: "atomic", data: `ok ${n}` }));
      batch[index] = bad;
      const r = await publish(srv.url, batch);
      assert.equal(r.status, 400);
      assert.equal((r.body as ErrorBody).error.code, code);
      assert.match((r.body as ErrorBody).error.message, new RegExp(`^event ${index}: `));
      assert.deepEqual(await untilMarker(sse, "atomic"), [], "no event of the refused batch was published");
      sse.close();
    });
  }

  it("refuses a batch whose ids repeat or collide with a retained event (409), publishing none", async () => {
    const sse = await connectSse(`${srv.url}/events?topic=dup`);
    const twice = await publish(srv.url, [
      { topic: "dup", data: "a", id: "dup-1" },
      { topic: "dup", data: "b", id: "dup-1" },
    ]);
    assert.equal(twice.status, 409);
    assert.match((twice.body as ErrorBody).error.message, /^event 1: /);
    assert.equal((await publish(srv.url, { topic: "dup", data: "kept", id: "dup-kept" })).status, 200);
    const clash = await publish(srv.url, [
      { topic: "dup", data: "c" },
      { topic: "dup", data: "d", id: "dup-kept" },
    ]);
    assert.equal(clash.status, 409);
    assert.equal((clash.body as ErrorBody).error.code, "SSEB_ERR_ID_CONFLICT");
    assert.deepEqual(await untilMarker(sse, "dup"), ["kept"]);
    sse.close();
  });

  it("refuses more than maxBatchEvents with 413, an empty batch with 400, and a body over the limit with 413", async () => {
    const six = [0, 1, 2, 3, 4, 5].map((n) => ({ topic: "limits", data: String(n) }));
    const many = await publish(srv.url, six);
    assert.equal(many.status, 413);
    assert.equal((many.body as ErrorBody).error.code, "SSEB_ERR_LIMIT_BATCH_EVENTS");
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(metrics, /^sse_broker_refused_total\{reason="batch_events"\} 1$/m, "counted as a refusal");
    const empty = await publish(srv.url, []);
    assert.equal(empty.status, 400);
    const big = await publish(srv.url, [{ topic: "limits", data: "x".repeat(5000) }]);
    assert.equal(big.status, 413);
    assert.equal((big.body as ErrorBody).error.code, "SSEB_ERR_BODY_TOO_LARGE");
  });
});
