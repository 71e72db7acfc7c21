/**
 * Issue 11, feature 2 over real HTTP: what a token refresh (`POST /.well-known/mercure/subscribers/{id}/
 * token`) changes besides the stream's rights and end. The stream's `maxStreamsPerToken` slot moves to the
 * new token (refused with the opening 429 when the new token has no room); the stream's own credential for
 * `POST /subscribers/{id}/selectors` becomes the new token; and a refresh during a history replay is
 * refused with 409, as a selector change is, since the replay was planned with the old token's rights.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Session } from "../../src/core/session.js";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";
import {
  errorCode,
  type Hub,
  httpRequest,
  publishData,
  startHub,
  subscriberToken,
  subscribeUrl,
} from "./hub-fixture.js";

const A = "https://example.com/a";
const B = "https://example.com/b";

function refresh(hub: Hub, subscriber: string, jwt: string) {
  return httpRequest(`${hub.hub}/subscribers/${encodeURIComponent(subscriber)}/token`, {
    method: "POST",
    headers: { Authorization: `Bearer ${jwt}` },
  });
}

/** A distinct classic subscriber token per `n` (same-second tokens with equal claims would be equal). */
const tokenNo = (n: number) => subscriberToken(["*", `urn:n:${n}`]);

/** Opens a stream on A with `jwt`; the connection and, when it opened, its subscriber id. */
async function open(hub: Hub, jwt: string): Promise<{ sse: SseConnection; subscriber: string }> {
  const sse = await connectSse(subscribeUrl(hub.hub, [A]), { headers: { Authorization: `Bearer ${jwt}` } });
  return { sse, subscriber: String(sse.headers["sse-broker-subscriber"] ?? "") };
}

describe("a token refresh moves the stream's maxStreamsPerToken slot", () => {
  let hub: Hub;
  before(async () => {
    hub = await startHub({ maxStreamsPerToken: 1 });
  });
  after(() => hub.close());

  it("frees the old token's slot and takes one of the new token's", async () => {
    const [t1, t2] = [await tokenNo(1), await tokenNo(2)];
    const s1 = await open(hub, t1);
    assert.equal(s1.sse.status, 200, s1.sse.raw);
    const r = await refresh(hub, s1.subscriber, t2);
    assert.equal(r.status, 200, r.body);
    // The stream now counts under t2: t1 has its slot back, t2 has none left.
    const again1 = await open(hub, t1);
    assert.equal(again1.sse.status, 200, "the old token's slot was freed");
    const again2 = await open(hub, t2);
    assert.equal(again2.sse.status, 429, "the new token's slot is taken by the refreshed stream");
    await again2.sse.waitForEnd();
    assert.match(again2.sse.raw, /SSEB_ERR_LIMIT_STREAMS_PER_TOKEN/);
    for (const s of [s1, again1, again2]) s.sse.close();
  });

  it("refuses a refresh to a token with no room (429) and keeps the stream under its own token", async () => {
    const [t3, t4] = [await tokenNo(3), await tokenNo(4)];
    const s3 = await open(hub, t3);
    const s4 = await open(hub, t4);
    assert.equal(s3.sse.status, 200);
    assert.equal(s4.sse.status, 200);
    const full = await refresh(hub, s4.subscriber, t3);
    assert.equal(full.status, 429, full.body);
    assert.equal(errorCode(full), "SSEB_ERR_LIMIT_STREAMS_PER_TOKEN");
    assert.ok(Number(full.headers["retry-after"]) > 0, "Retry-After");
    // Refused: s4 still holds t4's slot, and a refresh with its own token needs no room.
    assert.equal((await open(hub, t4)).sse.status, 429);
    const same = await refresh(hub, s4.subscriber, t4);
    assert.equal(same.status, 200, same.body);
    // Once s3 ends (the hub sees its close a moment later), t3 has room for s4, and t4 is free.
    s3.sse.close();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const moved = await refresh(hub, s4.subscriber, t3);
      if (moved.status === 200) break;
      assert.equal(moved.status, 429, moved.body);
      if (Date.now() > deadline) throw new Error("t3's slot was not freed within 10 s");
      await sleep(20);
    }
    const t4Again = await open(hub, t4);
    assert.equal(t4Again.sse.status, 200, "s4 left t4's count");
    t4Again.sse.close();
    s4.sse.close();
  });
});

describe("a token refresh replaces the stream's own credential", () => {
  let hub: Hub;
  before(async () => {
    hub = await startHub();
  });
  after(() => hub.close());

  const change = (subscriber: string, jwt: string, add: string) =>
    httpRequest(`${hub.base}/subscribers/${encodeURIComponent(subscriber)}/selectors`, {
      method: "POST",
      headers: { Authorization: `Bearer ${jwt}`, "Content-Type": "application/json" },
      body: JSON.stringify({ add: [add] }),
    });

  it("lets the new token change the stream's selectors, and no longer the old one", async () => {
    const [t1, t2] = [await tokenNo(11), await tokenNo(12)];
    const { sse, subscriber } = await open(hub, t1);
    assert.equal(sse.status, 200);
    const before = await change(subscriber, t1, B);
    assert.equal(before.status, 200, before.body);
    const r = await refresh(hub, subscriber, t2);
    assert.equal(r.status, 200, r.body);
    const withNew = await change(subscriber, t2, "https://example.com/c");
    assert.equal(withNew.status, 200, `the new token: ${withNew.body}`);
    const withOld = await change(subscriber, t1, "https://example.com/d");
    assert.equal(withOld.status, 403, `the old token: ${withOld.body}`);
    assert.equal(errorCode(withOld), "SSEB_ERR_SUBSCRIBER_FORBIDDEN");
    assert.deepEqual(JSON.parse(withNew.body).selectors, [A, B, "https://example.com/c"]);
    sse.close();
  });
});

describe("a token refresh during a history replay", () => {
  let hub: Hub;
  before(async () => {
    hub = await startHub({}, { historyMaxBytes: 64 * 1024 * 1024 });
  });
  after(() => hub.close());

  it("is refused with 409 SSEB_ERR_SUBSCRIBER_REPLAYING and the stream keeps its token", async () => {
    // More history than the loopback socket buffers hold: a client that does not read stalls the replay.
    const big = "x".repeat(900 * 1024);
    for (let i = 0; i < 16; i++) await publishData(hub, A, big);
    const [t1, t2] = [await tokenNo(21), await tokenNo(22)];
    const known = new Set(hub.broker.sessions);
    const url = new URL(subscribeUrl(hub.hub, [A], { lastEventID: "earliest" }));
    const socket: Socket = connect(Number(url.port), url.hostname);
    socket.pause(); // read nothing until the test says so
    socket.write(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n` +
        `Authorization: Bearer ${t1}\r\n\r\n`,
    );
    try {
      let session: Session | undefined;
      await waitFor("the replaying stream", () => {
        session = [...hub.broker.sessions].find((s) => !known.has(s));
        return session?.replaying === true;
      });
      const s = session as Session;
      const end = s.expiresAt;
      const credential = s.credentialHash;
      const r = await refresh(hub, s.subscriberId, t2);
      assert.equal(r.status, 409, r.body);
      assert.equal(errorCode(r), "SSEB_ERR_SUBSCRIBER_REPLAYING");
      assert.equal(s.credentialHash, credential, "the stream keeps its own token");
      assert.equal(s.expiresAt, end);
      // Once the client has read the replay, the stream is live and takes the new token.
      socket.resume();
      await waitFor("the end of the replay", () => !s.replaying, 30_000);
      const live = await refresh(hub, s.subscriberId, t2);
      assert.equal(live.status, 200, live.body);
      assert.equal(s.closed, false);
    } finally {
      socket.destroy();
    }
  });
});
