import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { publish, startServer, type TestServer } from "../helpers/server.js";
import { connectSse } from "../helpers/sse-client.js";

let srv: TestServer;
before(async () => {
  srv = await startServer();
});
after(() => srv.close());

async function publishMany(topic: string, from: number, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < from + count; i++) {
    const res = await publish(srv.url, { topic, data: { n: i } });
    assert.equal(res.status, 200);
    ids.push((res.body as { id: string }).id);
  }
  return ids;
}

describe("resume with Last-Event-ID", () => {
  it("replays exactly the 50 events missed while away, in order, then continues live", async () => {
    const sse = await connectSse(`${srv.url}/events?topic=resume`);
    const first = await publishMany("resume", 0, 100);
    const got = await sse.waitForEvents(100);
    assert.deepEqual(
      got.map((e) => e.id),
      first,
    );
    const lastSeen = sse.lastEventId as string;
    sse.close();

    const missed = await publishMany("resume", 100, 50);
    const back = await connectSse(`${srv.url}/events?topic=resume`, {
      headers: { "Last-Event-ID": lastSeen },
    });
    assert.equal(back.headers["last-event-id"], lastSeen, "the replay is complete from the given id");
    const replayed = await back.waitForEvents(50);
    assert.deepEqual(
      replayed.map((e) => e.id),
      missed,
    );
    assert.deepEqual(
      replayed.map((e) => JSON.parse(e.data).n),
      Array.from({ length: 50 }, (_, i) => 100 + i),
    );
    const [live, marker] = await publishMany("resume", 150, 2);
    // The end marker comes after anything a duplicate could be: when it is in, so is every other event.
    const all = await back.waitForEvents(52);
    assert.equal(all[50]?.id, live);
    assert.equal(all[51]?.id, marker);
    assert.equal(back.events.length, 52, "no duplicates");
    back.close();
  });

  it("accepts the resume point as the lastEventID query parameter; the header wins over it", async () => {
    const ids = await publishMany("q", 0, 5);
    const viaQuery = await connectSse(
      `${srv.url}/events?topic=q&lastEventID=${encodeURIComponent(ids[2] as string)}`,
    );
    assert.deepEqual(
      (await viaQuery.waitForEvents(2)).map((e) => e.id),
      ids.slice(3),
    );
    viaQuery.close();
    const both = await connectSse(
      `${srv.url}/events?topic=q&lastEventID=${encodeURIComponent(ids[0] as string)}`,
      {
        headers: { "Last-Event-ID": ids[3] as string },
      },
    );
    assert.deepEqual(
      (await both.waitForEvents(1)).map((e) => e.id),
      ids.slice(4),
    );
    both.close();
  });

  it("tells the client it may have missed events when the id is unknown (Last-Event-ID: earliest)", async () => {
    const ids = await publishMany("u", 0, 3);
    const sse = await connectSse(`${srv.url}/events?topic=u`, { headers: { "Last-Event-ID": "no-such-id" } });
    assert.equal(sse.headers["last-event-id"], "earliest");
    // In the stream too: the sse-broker.missed control event (no id) comes before the replay.
    const [notice, ...replayed] = await sse.waitForEvents(4);
    assert.equal(notice?.event, "sse-broker.missed");
    assert.equal(notice?.id, undefined);
    assert.deepEqual(
      replayed.map((e) => e.id),
      ids,
    );
    sse.close();
  });

  it("merges several topics of one stream in publish order", async () => {
    const sse = await connectSse(`${srv.url}/events?topic=m1&topic=m2`);
    const a = await publishMany("m1", 0, 1);
    const b = await publishMany("m2", 1, 1);
    const c = await publishMany("m1", 2, 1);
    assert.deepEqual(
      (await sse.waitForEvents(3)).map((e) => e.id),
      [...a, ...b, ...c],
    );
    sse.close();
  });
});
