/**
 * Issue 11, feature 2: "never a silent downgrade to anonymous", on every path, over real HTTP and on a hub
 * that does take anonymous subscribers (so that a downgrade would be possible): a stream whose token
 * expires ends (with or without the lifecycle events) instead of going on without its rights; coming back
 * with the expired token is a 401 wherever the token is carried; a refresh with a token granting fewer
 * private rights (or none) is a 403 and the stream keeps the rights it had.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import { connectSse } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";
import {
  errorCode,
  type Hub,
  httpRequest,
  MARKER,
  publishData,
  SUBSCRIBER_SECRET,
  startHub,
  subscriberToken,
  subscribeUrl,
  token,
} from "./hub-fixture.js";
import { AUD, DETAIL, ISS, ISS_KEY, OAUTH } from "./oauth-fixture.js";

const A = "https://example.com/a";
const B = "https://example.com/b";
const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;

let hub: Hub;
before(async () => {
  hub = await startHub({ anonymous: true, ...OAUTH }, { tokenExpiryNoticeMs: 1000 });
});
after(() => hub.close());

/** An `at+jwt` access token of the trusted issuer with these authorization details, expiring at `exp`. */
const access = (details: unknown[], exp: number) =>
  new SignJWT({ authorization_details: details, iss: ISS, aud: AUD, exp })
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
    .sign(new TextEncoder().encode(ISS_KEY));

const subscribeDetail = (topics: string[]) => ({
  type: DETAIL,
  actions: ["subscribe"],
  topics: topics.map((match) => ({ match })),
});

function refresh(subscriber: string, jwt: string) {
  return httpRequest(`${hub.hub}/subscribers/${encodeURIComponent(subscriber)}/token`, {
    method: "POST",
    headers: { Authorization: `Bearer ${jwt}` },
  });
}

const sse = { Accept: "text/event-stream" };

describe("never a silent downgrade to anonymous", () => {
  it("answers 401 to a subscription with an expired token wherever it is carried", async () => {
    const anonymous = await connectSse(subscribeUrl(hub.hub, [A]));
    assert.equal(anonymous.status, 200, "this hub takes anonymous subscribers");
    anonymous.close();
    const classic = await subscriberToken(["*"], {}, { exp: inSeconds(-60) });
    const at = await access([subscribeDetail(["*"])], inSeconds(-60));
    const match = `${hub.hub}?match=${encodeURIComponent(A)}`;
    const cases: [string, string, Record<string, string>, string][] = [
      [
        "classic, header",
        subscribeUrl(hub.hub, [A]),
        { Authorization: `Bearer ${classic}` },
        "AUTH_TOKEN_EXPIRED",
      ],
      ["classic, query", subscribeUrl(hub.hub, [A], { authorization: classic }), {}, "AUTH_TOKEN_EXPIRED"],
      [
        "classic, cookie",
        subscribeUrl(hub.hub, [A]),
        { Cookie: `mercureAuthorization=${classic}` },
        "AUTH_TOKEN_EXPIRED",
      ],
      ["1.0, header", match, { Authorization: `Bearer ${at}` }, "MERCURE_TOKEN_INVALID"],
      ["1.0, cookie", match, { Cookie: `__Secure-mercure_access_token=${at}` }, "MERCURE_TOKEN_INVALID"],
      ["1.0 token, classic cookie", match, { Cookie: `mercureAuthorization=${at}` }, "MERCURE_TOKEN_INVALID"],
    ];
    for (const [what, url, headers, code] of cases) {
      const r = await httpRequest(url, { headers: { ...sse, ...headers } });
      assert.equal(r.status, 401, `${what}: ${r.body}`);
      assert.equal(errorCode(r), `SSEB_ERR_${code}`, what);
    }
  });

  for (const lifecycle of [true, false]) {
    it(`ends a stream at its token's expiry ${lifecycle ? "with" : "without"} the lifecycle events, and the same token cannot come back`, async () => {
      const jwt = await subscriberToken([A], {}, { exp: inSeconds(2) });
      const url = subscribeUrl(hub.hub, [A], lifecycle ? { sse_broker_lifecycle: "1" } : {});
      const stream = await connectSse(url, { headers: { Authorization: `Bearer ${jwt}` } });
      assert.equal(stream.status, 200);
      const id = await publishData(hub, A, "private before", { private: true });
      await waitFor("the private update", () => stream.events.some((e) => e.id === id), 5000);
      await stream.waitForEnd(10_000);
      assert.deepEqual(
        stream.events.map((e) => e.event ?? e.data),
        lifecycle ? ["private before", "sse-broker.token-expiring", "sse-broker.closed"] : ["private before"],
      );
      // What an EventSource does next: the same request with its last event id. Never an anonymous stream.
      const back = await httpRequest(url, {
        headers: { ...sse, Authorization: `Bearer ${jwt}`, "Last-Event-ID": id },
      });
      assert.equal(back.status, 401, back.body);
      assert.equal(errorCode(back), "SSEB_ERR_AUTH_TOKEN_EXPIRED");
      stream.close();
    });
  }

  it("refuses a classic refresh granting fewer or no private rights (403); the stream keeps its rights", async () => {
    const jwt = await subscriberToken([A, B], {}, { exp: inSeconds(3) });
    const stream = await connectSse(subscribeUrl(hub.hub, [A, B, MARKER], { sse_broker_lifecycle: "1" }), {
      headers: { Authorization: `Bearer ${jwt}` },
    });
    assert.equal(stream.status, 200);
    const subscriber = String(stream.headers["sse-broker-subscriber"]);
    const later = { exp: inSeconds(60) };
    const cases: [string, string][] = [
      ["one of its two selectors", await subscriberToken([A], {}, later)],
      ["an empty subscribe claim", await subscriberToken([], {}, later)],
      ["no subscribe claim", await token({ publish: ["*"] }, SUBSCRIBER_SECRET, later)],
      ["no mercure claim", await token(undefined, SUBSCRIBER_SECRET, later)],
    ];
    for (const [what, fresh] of cases) {
      const r = await refresh(subscriber, fresh);
      assert.equal(r.status, 403, `${what}: ${r.body}`);
      assert.equal(errorCode(r), "SSEB_ERR_AUTH_FORBIDDEN", what);
    }
    const id = await publishData(hub, B, "private on B", { private: true });
    await waitFor("the private update", () => stream.events.some((e) => e.id === id), 5000);
    await stream.waitForEnd(10_000);
    assert.deepEqual(
      stream.events.map((e) => e.event ?? e.data),
      ["private on B", "sse-broker.token-expiring", "sse-broker.closed"],
    );
    stream.close();
  });

  it("refuses a 1.0 refresh without the stream's subscribe rights (403 insufficient_scope)", async () => {
    const q = new URLSearchParams([
      ["match", A],
      ["sse_broker_lifecycle", "1"],
    ]);
    const jwt = await access([subscribeDetail([A])], inSeconds(3));
    const stream = await connectSse(`${hub.hub}?${q}`, { headers: { Authorization: `Bearer ${jwt}` } });
    assert.equal(stream.status, 200, stream.raw);
    const subscriber = String(stream.headers["sse-broker-subscriber"]);
    const publishOnly = await access(
      [{ type: DETAIL, actions: ["publish"], topics: [{ match: "*" }] }],
      inSeconds(60),
    );
    const r = await refresh(subscriber, publishOnly);
    assert.equal(r.status, 403, r.body);
    assert.equal(errorCode(r), "SSEB_ERR_MERCURE_TOKEN_SCOPE");
    const id = await publishData(hub, A, "private on A", { private: true });
    await waitFor("the private update", () => stream.events.some((e) => e.id === id), 5000);
    await stream.waitForEnd(10_000);
    assert.deepEqual(
      stream.events.map((e) => e.event ?? e.data),
      ["private on A", "sse-broker.token-expiring", "sse-broker.closed"],
    );
    stream.close();
  });
});

describe("a 1.0 refresh is judged by matcher type and string", () => {
  const open = async (details: unknown[]) => {
    const q = new URLSearchParams([
      ["match", `${A}/1`],
      ["match", MARKER],
    ]);
    const stream = await connectSse(`${hub.hub}?${q}`, {
      headers: { Authorization: `Bearer ${await access(details, inSeconds(60))}` },
    });
    assert.equal(stream.status, 200, stream.raw);
    return { stream, subscriber: String(stream.headers["sse-broker-subscriber"]) };
  };

  it("refuses an exact matcher in place of the same string as a URL pattern (fewer rights, 403)", async () => {
    const pattern = [
      { type: DETAIL, actions: ["subscribe"], topics: [{ match: `${A}/*`, match_type: "urlpattern" }] },
    ];
    const { stream, subscriber } = await open(pattern);
    // The same string as an exact matcher grants only the topic literally named `${A}/*`.
    const r = await refresh(subscriber, await access([subscribeDetail([`${A}/*`])], inSeconds(60)));
    assert.equal(r.status, 403, r.body);
    assert.equal(errorCode(r), "SSEB_ERR_MERCURE_TOKEN_SCOPE");
    const id = await publishData(hub, `${A}/1`, "private on A/1", { private: true });
    await waitFor("the private update", () => stream.events.some((e) => e.id === id), 5000);
    stream.close();
  });

  it("accepts a `*` matcher in place of any (wider rights)", async () => {
    const { stream, subscriber } = await open([subscribeDetail([`${A}/1`])]);
    const r = await refresh(subscriber, await access([subscribeDetail(["*"])], inSeconds(120)));
    assert.equal(r.status, 200, r.body);
    const id = await publishData(hub, `${A}/1`, "private on A/1", { private: true });
    await waitFor("the private update", () => stream.events.some((e) => e.id === id), 5000);
    stream.close();
  });
});
