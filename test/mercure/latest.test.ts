/**
 * Issue 11, feature 4 on the Mercure hub: `sse_broker_latest=1` (opt-in, outside the reserved `match…`
 * namespace) first sends the newest retained update of each matched topic, classic and 1.0, private ones
 * only to subscribers whose token allows them; a resume point wins over it.
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
  subscriberToken,
  subscribeUrl,
} from "./hub-fixture.js";

let hub: Hub;
before(async () => {
  hub = await startHub({ anonymous: true });
});
after(() => hub.close());

async function publish(topic: string, data: string, priv = false): Promise<string> {
  const fields: [string, string][] = [
    ["topic", topic],
    ["data", data],
  ];
  if (priv) fields.push(["private", "on"]);
  const r = await publishForm(hub.hub, fields, await publisherToken());
  assert.equal(r.status, 200, r.body);
  return r.body;
}

const url1 = (pairs: [string, string][]): string => `${hub.hub}?${new URLSearchParams(pairs)}`;
const BOOKS = "https://example.com/latest/books/{id}";

describe("Mercure: latest value on subscribe (opt-in)", () => {
  it("is off by default", async () => {
    await publish("https://example.com/latest/off", "old");
    const sse = await connectSse(subscribeUrl(hub.hub, ["https://example.com/latest/off"]));
    const end = await publish("https://example.com/latest/off", "end");
    assert.deepEqual(
      (await sse.waitForEvents(1)).map((e) => e.id),
      [end],
    );
    sse.close();
  });

  it("classic: the newest update of each matched topic first; private ones only with a grant", async () => {
    const b1 = await publish("https://example.com/latest/books/1", "1 public");
    const b2 = await publish("https://example.com/latest/books/2", "2 public");
    const b1p = await publish("https://example.com/latest/books/1", "1 private", true);
    const anon = await connectSse(subscribeUrl(hub.hub, [BOOKS], { sse_broker_latest: "1" }));
    const granted = await connectSse(subscribeUrl(hub.hub, [BOOKS], { sse_broker_latest: "1" }), {
      headers: { Authorization: `Bearer ${await subscriberToken([BOOKS])}` },
    });
    const end = await publish("https://example.com/latest/books/3", "end");
    assert.deepEqual(
      (await anon.waitForEvents(3)).map((e) => e.data),
      ["1 public", "2 public", "end"],
    );
    assert.deepEqual(
      anon.events.map((e) => e.id),
      [b1, b2, end],
    );
    assert.deepEqual(
      (await granted.waitForEvents(3)).map((e) => e.id),
      [b2, b1p, end],
    );
    anon.close();
    granted.close();
  });

  it("Mercure 1.0: match and match_urlpattern with sse_broker_latest=1", async () => {
    const t1 = await publish("https://example.com/latest/one/1", "one 1");
    const t2 = await publish("https://example.com/latest/one/2", "one 2");
    await publish("https://example.com/latest/one/3", "one 3 old");
    const t3 = await publish("https://example.com/latest/one/3", "one 3");
    const exact = await connectSse(
      url1([
        ["match", "https://example.com/latest/one/2"],
        ["sse_broker_latest", "1"],
      ]),
    );
    const pattern = await connectSse(
      url1([
        ["match_urlpattern", "https://example.com/latest/one/:n"],
        ["sse_broker_latest", "1"],
      ]),
    );
    const end = await publish("https://example.com/latest/one/2", "end");
    assert.deepEqual(
      (await exact.waitForEvents(2)).map((e) => e.id),
      [t2, end],
    );
    assert.deepEqual(
      (await pattern.waitForEvents(4)).map((e) => e.id),
      [t1, t2, t3, end],
    );
    exact.close();
    pattern.close();
  });

  it("Mercure 1.0 with the matchers and the opt-ins in a QUERY body", async () => {
    const topic = "https://example.com/latest/body";
    await publish(topic, "old");
    const newest = await publish(topic, "new");
    const latest = await connectSse(hub.hub, {
      method: "QUERY",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams([
        ["match", topic],
        ["sse_broker_latest", "1"],
      ]).toString(),
    });
    const missed = await connectSse(`${hub.hub}?last_event_id=gone`, {
      method: "QUERY",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams([
        ["match", "https://example.com/latest/body-empty"],
        ["sse_broker_missed", "1"],
      ]).toString(),
    });
    assert.equal(latest.status, 200);
    assert.equal(missed.headers["mercure-last-event-id"], "earliest");
    const end = await publish(topic, "end");
    const end2 = await publish("https://example.com/latest/body-empty", "end");
    assert.deepEqual(
      (await latest.waitForEvents(2)).map((e) => e.id),
      [newest, end],
    );
    assert.deepEqual(await missed.waitForEvents(2), [
      { id: undefined, event: "sse-broker.missed", data: '{"requested":"gone","earliest":null}' },
      { id: end2, event: undefined, data: "end" },
    ]);
    latest.close();
    missed.close();
  });

  it("replays what followed the resume point instead when both are given", async () => {
    const topic = "https://example.com/latest/resume";
    const r1 = await publish(topic, "r1");
    const r2 = await publish(topic, "r2");
    const r3 = await publish(topic, "r3");
    const classic = await connectSse(subscribeUrl(hub.hub, [topic], { sse_broker_latest: "1" }), {
      headers: { "Last-Event-ID": r1 },
    });
    const one = await connectSse(
      url1([
        ["match", topic],
        ["sse_broker_latest", "1"],
        ["last_event_id", r1],
      ]),
    );
    assert.equal(classic.headers["last-event-id"], r1);
    assert.equal(one.headers["mercure-last-event-id"], r1);
    const end = await publish(topic, "end");
    for (const sse of [classic, one]) {
      assert.deepEqual(
        (await sse.waitForEvents(3)).map((e) => e.id),
        [r2, r3, end],
      );
      sse.close();
    }
  });

  it("refuses sse_broker_latest values other than 0 or 1 (400)", async () => {
    const r = await httpRequest(
      subscribeUrl(hub.hub, ["https://example.com/latest/bad"], { sse_broker_latest: "on" }),
    );
    assert.equal(r.status, 400);
    assert.equal(errorCode(r), "SSEB_ERR_REQUEST_INVALID");
  });
});
