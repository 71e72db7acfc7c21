/**
 * Issue 11, feature 2 over real HTTP: with `sse_broker_lifecycle=1` a Mercure stream gets the
 * `sse-broker.token-expiring` notice before its token expires and the final `sse-broker.closed` event
 * when it does, then the response ends; neither carries an `id:` line.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectSse } from "../helpers/sse-client.js";
import {
  errorCode,
  type Hub,
  httpRequest,
  publishData,
  startHub,
  subscriberToken,
  subscribeUrl,
} from "./hub-fixture.js";

let hub: Hub;
before(async () => {
  hub = await startHub({}, { tokenExpiryNoticeMs: 1500 });
});
after(() => hub.close());

/** A subscriber token expiring in 2–3 s (`exp` is in whole seconds). */
const shortToken = () => subscriberToken(["*"], {}, { exp: Math.floor(Date.now() / 1000) + 3 });

describe("Mercure token lifecycle events", () => {
  it("sends the notice before expiry, then the closed event, then ends the stream", async () => {
    const jwt = await shortToken();
    const sse = await connectSse(subscribeUrl(hub.hub, ["a"], { sse_broker_lifecycle: "1" }), {
      headers: { Authorization: `Bearer ${jwt}` },
    });
    assert.equal(sse.status, 200);
    const [session] = [...hub.broker.sessions];
    const id = await publishData(hub, "a", "before");
    await sse.waitForEnd(10_000);
    const events = sse.events;
    assert.deepEqual(
      events.map((e) => e.event),
      [undefined, "sse-broker.token-expiring", "sse-broker.closed"],
    );
    assert.equal(events[0]?.id, id);
    const notice = JSON.parse(events[1]?.data ?? "");
    assert.equal(notice.expiresAt, new Date(session?.expiresAt as number).toISOString());
    assert.match(notice.subscriber, /^urn:uuid:[0-9a-f-]{36}$/);
    assert.deepEqual(JSON.parse(events[2]?.data ?? ""), { reason: "token-expired" });
    // The control events leave the resume point on the last real event.
    assert.equal(sse.lastEventId, id);
    assert.equal(sse.raw.match(/^id:/gm)?.length, 1);
    sse.close();
  });

  it("ends a stream that did not ask for them without either event", async () => {
    const jwt = await shortToken();
    const sse = await connectSse(subscribeUrl(hub.hub, ["a"]), {
      headers: { Authorization: `Bearer ${jwt}` },
    });
    assert.equal(sse.status, 200);
    await sse.waitForEnd(10_000);
    assert.deepEqual(sse.events, []);
    sse.close();
  });

  it("refuses a sse_broker_lifecycle value other than 0 or 1", async () => {
    const r = await httpRequest(subscribeUrl(hub.hub, ["a"], { sse_broker_lifecycle: "yes" }), {
      headers: { Accept: "text/event-stream", Authorization: `Bearer ${await shortToken()}` },
    });
    assert.equal(r.status, 400);
    assert.equal(errorCode(r), "SSEB_ERR_REQUEST_INVALID");
  });
});
