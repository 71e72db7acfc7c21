/**
 * Issue 11, feature 3 over real HTTP: on `/events` a resume that history cannot cover starts with the
 * `sse-broker.missed` control event (on by default, `missed=0` turns it off), beside the response's
 * `Last-Event-ID: earliest`.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { publish, startServer, type TestServer } from "../helpers/server.js";
import { connectSse } from "../helpers/sse-client.js";

let srv: TestServer;
before(async () => {
  srv = await startServer({ historyLimit: 3 });
});
after(() => srv.close());

async function publishMany(topic: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await publish(srv.url, { topic, data: `${topic}-${i}` });
    assert.equal(res.status, 200);
    ids.push((res.body as { id: string }).id);
  }
  return ids;
}

async function endMarker(topic: string): Promise<string> {
  const res = await publish(srv.url, { topic, data: "end" });
  assert.equal(res.status, 200);
  return (res.body as { id: string }).id;
}

describe("missed-events control event on /events", () => {
  it("starts a resume from an evicted id with the notice, then the retained events, then live", async () => {
    const ids = await publishMany("m/evicted", 5);
    const sse = await connectSse(`${srv.url}/events?topic=m/evicted`, {
      headers: { "Last-Event-ID": ids[0] as string },
    });
    assert.equal(sse.headers["last-event-id"], "earliest");
    const end = await endMarker("m/evicted");
    const got = await sse.waitForEvents(5);
    assert.deepEqual(got[0], {
      id: undefined,
      event: "sse-broker.missed",
      data: JSON.stringify({ requested: ids[0], earliest: ids[2] }),
    });
    assert.deepEqual(
      got.slice(1).map((e) => e.id),
      [...ids.slice(2), end],
    );
    // First on the wire (after a retry hint, if any), without an id line.
    assert.match(sse.raw, /^(retry:\d+\n\n)?event:sse-broker\.missed\ndata:\{[^\n]*\}\n\nid:/);
    sse.close();
  });

  it("also for the lastEventID query parameter and an unknown id, with earliest: null", async () => {
    const sse = await connectSse(`${srv.url}/events?topic=m/empty&lastEventID=nope`);
    assert.equal(sse.headers["last-event-id"], "earliest");
    const end = await endMarker("m/empty");
    const got = await sse.waitForEvents(2);
    assert.deepEqual(got[0], {
      id: undefined,
      event: "sse-broker.missed",
      data: '{"requested":"nope","earliest":null}',
    });
    assert.equal(got[1]?.id, end);
    sse.close();
  });

  it("sends no notice on a complete resume", async () => {
    const ids = await publishMany("m/complete", 3);
    const sse = await connectSse(`${srv.url}/events?topic=m/complete`, {
      headers: { "Last-Event-ID": ids[1] as string },
    });
    assert.equal(sse.headers["last-event-id"], ids[1]);
    const end = await endMarker("m/complete");
    // The end marker is the second event: a notice would have come before it.
    assert.deepEqual(
      (await sse.waitForEvents(2)).map((e) => e.id),
      [ids[2], end],
    );
    assert.doesNotMatch(sse.raw, /sse-broker\.missed/);
    sse.close();
  });

  it("leaves it out with missed=0, and keeps it with missed=1", async () => {
    const ids = await publishMany("m/optout", 5);
    const off = await connectSse(`${srv.url}/events?topic=m/optout&missed=0`, {
      headers: { "Last-Event-ID": ids[0] as string },
    });
    const on = await connectSse(`${srv.url}/events?topic=m/optout&missed=1`, {
      headers: { "Last-Event-ID": ids[0] as string },
    });
    assert.equal(off.headers["last-event-id"], "earliest", "the header still says so");
    const end = await endMarker("m/optout");
    assert.deepEqual(
      (await off.waitForEvents(4)).map((e) => e.id),
      [...ids.slice(2), end],
    );
    assert.doesNotMatch(off.raw, /sse-broker\.missed/);
    assert.equal((await on.waitForEvents(5))[0]?.event, "sse-broker.missed");
    off.close();
    on.close();
  });

  it("refuses a missed value other than 0 or 1 with a 400, on GET and HEAD", async () => {
    for (const method of ["GET", "HEAD"]) {
      const res = await fetch(`${srv.url}/events?topic=m/bad&missed=yes`, { method });
      assert.equal(res.status, 400, method);
      if (method === "GET") {
        const body = (await res.json()) as { error: { code: string } };
        assert.equal(body.error.code, "SSEB_ERR_REQUEST_INVALID");
      }
    }
  });
});
