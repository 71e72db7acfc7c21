/**
 * Issue 11, feature 2 over real HTTP: `POST /.well-known/mercure/subscribers/{id}/token` gives a live
 * stream a new token without reconnecting; refreshes that do not verify like the stream's own token, or do
 * not cover its private rights, are refused and leave the stream as it was.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";
import {
  errorCode,
  type Hub,
  httpRequest,
  MARKER,
  PUBLISHER_SECRET,
  publishData,
  startHub,
  subscriberToken,
  subscribeUrl,
  token,
} from "./hub-fixture.js";
import { AUD, DETAIL, ISS, ISS_KEY, OAUTH } from "./oauth-fixture.js";

let hub: Hub;
before(async () => {
  hub = await startHub({ anonymous: true }, { tokenExpiryNoticeMs: 1500 });
});
after(() => hub.close());

const A = "https://example.com/a";
const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;

function refresh(subscriber: string, jwt: string | null) {
  return httpRequest(`${hub.hub}/subscribers/${encodeURIComponent(subscriber)}/token`, {
    method: "POST",
    headers: jwt === null ? {} : { Authorization: `Bearer ${jwt}` },
  });
}

/** A lifecycle stream on A and MARKER with a subscriber token granting `grants`, expiring in 2–3 s. */
async function open(grants: string[] = [A, MARKER]): Promise<{ sse: SseConnection; subscriber: string }> {
  const jwt = await subscriberToken(grants, {}, { exp: inSeconds(3) });
  const before = new Set(hub.broker.sessions);
  const sse = await connectSse(subscribeUrl(hub.hub, [A, MARKER], { sse_broker_lifecycle: "1" }), {
    headers: { Authorization: `Bearer ${jwt}` },
  });
  assert.equal(sse.status, 200);
  const session = [...hub.broker.sessions].find((s) => !before.has(s));
  return { sse, subscriber: session?.subscriberId as string };
}

describe("Mercure token refresh", () => {
  it("extends a live stream past its old exp without reconnecting, with its new rights", async () => {
    const { sse } = await open();
    await waitFor("the notice", () => sse.events.some((e) => e.event === "sse-broker.token-expiring"), 5000);
    const notice = JSON.parse(sse.events.find((e) => e.event === "sse-broker.token-expiring")?.data ?? "");
    const oldEnd = Date.parse(notice.expiresAt);
    const r = await refresh(
      notice.subscriber,
      await subscriberToken([A, MARKER, "https://example.com/c"], {}, { exp: inSeconds(60) }),
    );
    assert.equal(r.status, 200, r.body);
    const body = JSON.parse(r.body);
    assert.equal(body.subscriber, notice.subscriber);
    assert.ok(Date.parse(body.expiresAt) > oldEnd + 30_000);
    // Past the old end, the same connection still gets events (private ones too: the new token's rights).
    await waitFor("the old exp passed", () => Date.now() > oldEnd + 200, 10_000);
    await publishData(hub, A, "private after", { private: true });
    const id = await publishData(hub, MARKER, "marker");
    await waitFor("the marker", () => sse.events.some((e) => e.id === id), 5000);
    assert.equal(sse.ended, false);
    assert.deepEqual(
      sse.events.map((e) => e.event ?? e.data),
      ["sse-broker.token-expiring", "private after", "marker"],
    );
    sse.close();
  });

  it("refuses bad refreshes and the stream still ends at its old exp", async () => {
    const { sse, subscriber } = await open([A, MARKER]);
    const cases: [string, string | null, number, string][] = [
      ["no token", null, 401, "SSEB_ERR_AUTH_REQUIRED"],
      ["garbage", "not.a.jwt", 401, "SSEB_ERR_AUTH_TOKEN_INVALID"],
      [
        "publisher key",
        await token({ subscribe: ["*"] }, PUBLISHER_SECRET, { exp: inSeconds(60) }),
        401,
        "SSEB_ERR_AUTH_TOKEN_INVALID",
      ],
      [
        "expired",
        await subscriberToken(["*"], {}, { exp: inSeconds(-60) }),
        401,
        "SSEB_ERR_AUTH_TOKEN_EXPIRED",
      ],
      [
        "narrower rights",
        await subscriberToken([A], {}, { exp: inSeconds(60) }),
        403,
        "SSEB_ERR_AUTH_FORBIDDEN",
      ],
    ];
    for (const [what, jwt, status, code] of cases) {
      const r = await refresh(subscriber, jwt);
      assert.equal(r.status, status, `${what}: ${r.body}`);
      assert.equal(errorCode(r), code, what);
    }
    const unknown = await refresh(
      "urn:uuid:00000000-0000-0000-0000-000000000000",
      await subscriberToken(["*"], {}, { exp: inSeconds(60) }),
    );
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown), "SSEB_ERR_NOT_FOUND");
    await sse.waitForEnd(10_000);
    assert.deepEqual(
      sse.events.map((e) => e.event),
      ["sse-broker.token-expiring", "sse-broker.closed"],
    );
    sse.close();
  });

  it("refuses a token for a stream opened without one (409)", async () => {
    const before = new Set(hub.broker.sessions);
    const sse = await connectSse(subscribeUrl(hub.hub, [A]));
    assert.equal(sse.status, 200);
    const session = [...hub.broker.sessions].find((s) => !before.has(s));
    const r = await refresh(
      session?.subscriberId as string,
      await subscriberToken(["*"], {}, { exp: inSeconds(60) }),
    );
    assert.equal(r.status, 409);
    assert.equal(errorCode(r), "SSEB_ERR_SUBSCRIBER_NO_TOKEN");
    assert.equal(session?.grants, null);
    sse.close();
  });
});

describe("Mercure 1.0 token refresh", () => {
  let hub1: Hub;
  before(async () => {
    hub1 = await startHub(OAUTH, { tokenExpiryNoticeMs: 1500 });
  });
  after(() => hub1.close());

  /** An `at+jwt` access token subscribing to `topics`, expiring at `exp`. */
  const access = (topics: string[], exp: number) =>
    new SignJWT({
      authorization_details: [
        { type: DETAIL, actions: ["subscribe"], topics: topics.map((match) => ({ match })) },
      ],
      iss: ISS,
      aud: AUD,
      exp,
    })
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
      .sign(new TextEncoder().encode(ISS_KEY));

  it("takes only a 1.0 access token covering the stream's rights, then extends the stream", async () => {
    const q = new URLSearchParams([
      ["match", A],
      ["match", MARKER],
      ["sse_broker_lifecycle", "1"],
    ]);
    const sse = await connectSse(`${hub1.hub}?${q}`, {
      headers: { Authorization: `Bearer ${await access([A, MARKER], inSeconds(3))}` },
    });
    assert.equal(sse.status, 200, sse.raw);
    const subscriber = [...hub1.broker.sessions][0]?.subscriberId as string;
    const post = async (jwt: string) =>
      httpRequest(`${hub1.hub}/subscribers/${encodeURIComponent(subscriber)}/token`, {
        method: "POST",
        headers: { Authorization: `Bearer ${jwt}` },
      });
    // A classic subscriber token, valid as such, is not this stream's kind of token.
    const classic = await post(await subscriberToken(["*"], {}, { exp: inSeconds(60) }));
    assert.equal(classic.status, 401, classic.body);
    assert.equal(errorCode(classic), "SSEB_ERR_MERCURE_TOKEN_INVALID");
    const narrower = await post(await access([A], inSeconds(60)));
    assert.equal(narrower.status, 403, narrower.body);
    assert.equal(errorCode(narrower), "SSEB_ERR_MERCURE_TOKEN_SCOPE");
    const oldEnd = hub1.broker.subscriber(subscriber)?.expiresAt as number;
    const ok = await post(await access([A, MARKER], inSeconds(60)));
    assert.equal(ok.status, 200, ok.body);
    await waitFor("the old exp passed", () => Date.now() > oldEnd + 200, 10_000);
    const id = await publishData(hub1, MARKER, "marker");
    await waitFor("the marker", () => sse.events.some((e) => e.id === id), 5000);
    assert.equal(sse.ended, false);
    assert.ok(!sse.events.some((e) => e.event === "sse-broker.closed"));
    sse.close();
  });
});
