/**
 * Issue 11, feature 4 over real HTTP: `/events?…&latest=1` first sends the newest retained event of each
 * topic the stream matches (with its real id), then the live stream; a publisher running meanwhile is
 * seen with no duplicate and no gap; a resume point wins over it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { publish, startServer, type TestServer } from "../helpers/server.js";
import { connectSse } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";

let srv: TestServer;
before(async () => {
  srv = await startServer();
});
after(() => srv.close());

async function post(topic: string, data: string): Promise<string> {
  const res = await publish(srv.url, { topic, data });
  assert.equal(res.status, 200);
  return (res.body as { id: string }).id;
}

describe("latest value on subscribe (/events?latest=1)", () => {
  it("sends the newest event of each topic first, in publication order, with real ids, then live", async () => {
    await post("l/a", "a1");
    const b1 = await post("l/b", "b1");
    const a2 = await post("l/a", "a2");
    await post("l/other", "o");
    const sse = await connectSse(`${srv.url}/events?topic=l/a&topic=l/b&topic=l/none&latest=1`);
    assert.equal(sse.headers["last-event-id"], undefined, "not a resume");
    const end = await post("l/a", "end");
    assert.deepEqual(await sse.waitForEvents(3), [
      { id: b1, event: undefined, data: "b1" },
      { id: a2, event: undefined, data: "a2" },
      { id: end, event: undefined, data: "end" },
    ]);
    sse.close();

    // A later reconnect resumes from a latest value's id like from any other: Last-Event-ID wins.
    const back = await connectSse(`${srv.url}/events?topic=l/a&topic=l/b&latest=1`, {
      headers: { "Last-Event-ID": b1 },
    });
    assert.equal(back.headers["last-event-id"], b1, "a normal, complete replay");
    const end2 = await post("l/b", "end2");
    assert.deepEqual(
      (await back.waitForEvents(3)).map((e) => e.id),
      [a2, end, end2],
    );
    back.close();
  });

  it("covers the topics a template matches", async () => {
    const one = await post("https://l.example/items/1", "1");
    await post("https://l.example/items/2", "2 old");
    const two = await post("https://l.example/items/2", "2 new");
    await post("https://l.example/elsewhere", "no");
    const sse = await connectSse(
      `${srv.url}/events?topic=${encodeURIComponent("https://l.example/items/{id}")}&latest=1`,
    );
    const end = await post("https://l.example/items/3", "end");
    assert.deepEqual(
      (await sse.waitForEvents(3)).map((e) => e.id),
      [one, two, end],
    );
    sse.close();
  });

  it("sends nothing from history without latest=1 or with latest=0", async () => {
    await post("l/plain", "old");
    for (const q of ["", "&latest=0"]) {
      const sse = await connectSse(`${srv.url}/events?topic=l/plain${q}`);
      const end = await post("l/plain", "end");
      // The end marker is the first event: a latest value would have come before it.
      assert.deepEqual(
        (await sse.waitForEvents(1)).map((e) => e.id),
        [end],
      );
      sse.close();
    }
  });

  it("refuses a latest value other than 0 or 1 with a 400", async () => {
    const res = await fetch(`${srv.url}/events?topic=l/x&latest=true`);
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, "SSEB_ERR_REQUEST_INVALID");
    const head = await fetch(`${srv.url}/events?topic=l/x&latest=yes`, { method: "HEAD" });
    assert.equal(head.status, 400);
  });

  it("sees a publisher running while it subscribes once each, with no gap, after the latest values", async () => {
    const d = await post("l/race-d", "d");
    await post("l/race-c", "c-before");
    const ids: string[] = [];
    let stop = false;
    // Publishes on l/race-c back to back while the subscriber connects and gets its latest values.
    const publisher = (async () => {
      for (let i = 0; i < 400 && !stop; i++) ids.push(await post("l/race-c", `c${i}`));
    })();
    await waitFor("the publisher under way", () => ids.length >= 20);
    const sse = await connectSse(`${srv.url}/events?topic=l/race-c&topic=l/race-d&latest=1`);
    stop = true;
    await publisher;
    const end = await post("l/race-c", "end");
    await waitFor("the end marker", () => sse.events.some((e) => e.id === end) || sse.ended);
    const seen = sse.events.map((e) => e.id as string);
    assert.equal(seen[0], d, "d's latest value first: it was published before every c event");
    // Then c's latest value at subscribe time and every c event after it, in order, each once.
    const all = [...ids, end];
    const k = all.indexOf(seen[1] as string);
    assert.ok(k >= 0, "the second event is one of the publisher's");
    assert.deepEqual(seen.slice(1), all.slice(k));
    sse.close();
  });
});
