import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectSse } from "../helpers/sse-client.js";
import { type Hub, publisherToken, publishForm, startHub, subscribeUrl } from "./hub-fixture.js";

let hub: Hub;
before(async () => {
  hub = await startHub({ anonymous: true }, { historyLimit: 3 });
});
after(() => hub.close());

async function publish(topic: string, data: string, id?: string): Promise<string> {
  const fields: [string, string][] = [
    ["topic", topic],
    ["data", data],
  ];
  if (id !== undefined) fields.push(["id", id]);
  const r = await publishForm(hub.hub, fields, await publisherToken());
  assert.equal(r.status, 200, r.body);
  return r.body;
}

describe("Mercure reconnection", () => {
  it("replays what followed the Last-Event-ID header and echoes it as the response's Last-Event-ID", async () => {
    const first = await publish("r/header", "1");
    await publish("r/header", "2");
    await publish("r/header", "3");
    const sse = await connectSse(subscribeUrl(hub.hub, ["r/header"]), {
      headers: { "Last-Event-ID": first },
    });
    assert.equal(sse.headers["last-event-id"], first);
    assert.deepEqual(
      (await sse.waitForEvents(2)).map((e) => e.data),
      ["2", "3"],
    );
    await publish("r/header", "4");
    assert.equal((await sse.waitForEvents(3))[2]?.data, "4", "then goes live");
    sse.close();
  });

  it("accepts the lastEventID query parameter, with publisher-supplied ids", async () => {
    await publish("r/query", "a", "https://example.com/ev/a");
    await publish("r/query", "b", "https://example.com/ev/b");
    const sse = await connectSse(
      subscribeUrl(hub.hub, ["r/query"], { lastEventID: "https://example.com/ev/a" }),
    );
    assert.equal(sse.headers["last-event-id"], "https://example.com/ev/a");
    const [ev] = await sse.waitForEvents(1);
    assert.deepEqual(ev, { id: "https://example.com/ev/b", event: undefined, data: "b" });
    sse.close();
  });

  it("lets the header win over the query parameter", async () => {
    const x = await publish("r/both", "x");
    const y = await publish("r/both", "y");
    await publish("r/both", "z");
    const sse = await connectSse(subscribeUrl(hub.hub, ["r/both"], { lastEventID: x }), {
      headers: { "Last-Event-ID": y },
    });
    assert.equal(sse.headers["last-event-id"], y);
    assert.deepEqual(
      (await sse.waitForEvents(1)).map((e) => e.data),
      ["z"],
    );
    sse.close();
  });

  it("replays all retained history for `earliest` and answers Last-Event-ID: earliest", async () => {
    await publish("r/earliest", "e1");
    await publish("r/earliest", "e2");
    const sse = await connectSse(subscribeUrl(hub.hub, ["r/earliest"], { lastEventID: "earliest" }));
    assert.equal(sse.headers["last-event-id"], "earliest");
    assert.deepEqual(
      (await sse.waitForEvents(2)).map((e) => e.data),
      ["e1", "e2"],
    );
    sse.close();
  });

  it("answers Last-Event-ID: earliest when the id is unknown or its successors were evicted (possible loss)", async () => {
    const unknown = await connectSse(subscribeUrl(hub.hub, ["r/evict"], { lastEventID: "urn:uuid:unknown" }));
    assert.equal(unknown.headers["last-event-id"], "earliest");
    unknown.close();
    const old = await publish("r/evict", "0");
    for (let i = 1; i <= 4; i++) await publish("r/evict", String(i)); // history keeps 3 per topic
    const sse = await connectSse(subscribeUrl(hub.hub, ["r/evict"]), { headers: { "Last-Event-ID": old } });
    assert.equal(sse.headers["last-event-id"], "earliest");
    assert.deepEqual(
      (await sse.waitForEvents(3)).map((e) => e.data),
      ["2", "3", "4"],
    );
    sse.close();
  });

  it("resumes with the id a client saw, across a disconnect", async () => {
    const live = await connectSse(subscribeUrl(hub.hub, ["r/reconnect"]));
    await publish("r/reconnect", "seen");
    await live.waitForEvents(1);
    const lastSeen = live.lastEventId as string;
    live.close();
    await publish("r/reconnect", "missed");
    const again = await connectSse(subscribeUrl(hub.hub, ["r/reconnect"]), {
      headers: { "Last-Event-ID": lastSeen },
    });
    assert.deepEqual(
      (await again.waitForEvents(1)).map((e) => e.data),
      ["missed"],
    );
    again.close();
  });
});
