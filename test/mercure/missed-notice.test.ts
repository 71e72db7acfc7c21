/**
 * Issue 11, feature 3 on the Mercure hub: the `sse-broker.missed` control event is opt-in there (the
 * protocol does not define it), with `sse_broker_missed=1` outside the reserved `match…` namespace, for
 * classic and 1.0 subscriptions alike, and never on a complete replay.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectSse } from "../helpers/sse-client.js";
import {
  errorCode,
  type Hub,
  httpRequest,
  publisherToken,
  publishForm,
  startHub,
  subscribeUrl,
} from "./hub-fixture.js";

let hub: Hub;
before(async () => {
  hub = await startHub({ anonymous: true }, { historyLimit: 3 });
});
after(() => hub.close());

async function publish(topic: string, data: string): Promise<string> {
  const r = await publishForm(
    hub.hub,
    [
      ["topic", topic],
      ["data", data],
    ],
    await publisherToken(),
  );
  assert.equal(r.status, 200, r.body);
  return r.body;
}

async function publishMany(topic: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await publish(topic, String(i)));
  return ids;
}

const url1 = (pairs: [string, string][]): string => `${hub.hub}?${new URLSearchParams(pairs)}`;

describe("Mercure: missed-events control event (opt-in)", () => {
  it("is off by default: an evicted classic resume replays without it", async () => {
    const ids = await publishMany("https://example.com/m/off", 5);
    const sse = await connectSse(subscribeUrl(hub.hub, ["https://example.com/m/off"]), {
      headers: { "Last-Event-ID": ids[0] as string },
    });
    assert.equal(sse.headers["last-event-id"], "earliest");
    const end = await publish("https://example.com/m/off", "end");
    assert.deepEqual(
      (await sse.waitForEvents(4)).map((e) => e.id),
      [...ids.slice(2), end],
    );
    assert.doesNotMatch(sse.raw, /sse-broker\.missed/);
    sse.close();
  });

  it("starts an evicted classic resume with it when sse_broker_missed=1", async () => {
    const ids = await publishMany("https://example.com/m/classic", 5);
    const sse = await connectSse(
      subscribeUrl(hub.hub, ["https://example.com/m/classic"], { sse_broker_missed: "1" }),
      { headers: { "Last-Event-ID": ids[0] as string } },
    );
    assert.equal(sse.headers["last-event-id"], "earliest");
    const end = await publish("https://example.com/m/classic", "end");
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
    sse.close();
  });

  it("starts an evicted Mercure 1.0 resume (last_event_id) with it when sse_broker_missed=1", async () => {
    const topic = "https://example.com/m/one";
    const ids = await publishMany(topic, 5);
    const sse = await connectSse(
      url1([
        ["match", topic],
        ["last_event_id", ids[1] as string],
        ["sse_broker_missed", "1"],
      ]),
    );
    assert.equal(sse.headers["mercure-last-event-id"], "earliest");
    const end = await publish(topic, "end");
    const got = await sse.waitForEvents(5);
    assert.deepEqual(got[0], {
      id: undefined,
      event: "sse-broker.missed",
      data: JSON.stringify({ requested: ids[1], earliest: ids[2] }),
    });
    assert.deepEqual(
      got.slice(1).map((e) => e.id),
      [...ids.slice(2), end],
    );
    sse.close();
  });

  it("is never sent on a complete replay, classic or 1.0, even when asked for", async () => {
    const topic = "https://example.com/m/complete";
    const ids = await publishMany(topic, 3);
    const classic = await connectSse(subscribeUrl(hub.hub, [topic], { sse_broker_missed: "1" }), {
      headers: { "Last-Event-ID": ids[0] as string },
    });
    const one = await connectSse(
      url1([
        ["match", topic],
        ["last_event_id", ids[0] as string],
        ["sse_broker_missed", "1"],
      ]),
    );
    assert.equal(classic.headers["last-event-id"], ids[0]);
    assert.equal(one.headers["mercure-last-event-id"], ids[0]);
    const end = await publish(topic, "end");
    for (const sse of [classic, one]) {
      // The end marker is the third event: a notice would have been before it.
      assert.deepEqual(
        (await sse.waitForEvents(3)).map((e) => e.id),
        [ids[1], ids[2], end],
      );
      assert.doesNotMatch(sse.raw, /sse-broker\.missed/);
      sse.close();
    }
  });

  it("refuses sse_broker_missed values other than 0 or 1 (400)", async () => {
    for (const url of [
      subscribeUrl(hub.hub, ["https://example.com/m/bad"], { sse_broker_missed: "true" }),
      url1([
        ["match", "https://example.com/m/bad"],
        ["sse_broker_missed", "2"],
      ]),
    ]) {
      const r = await httpRequest(url);
      assert.equal(r.status, 400, url);
      assert.equal(errorCode(r), "SSEB_ERR_REQUEST_INVALID");
    }
  });
});
