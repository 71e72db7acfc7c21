/**
 * Changing an open Mercure stream's topics through the hub, over real HTTP (issue 11, feature 1):
 * `POST /.well-known/mercure/subscribers/{id}/selectors` authorized by a Mercure publisher token whose
 * publish rights cover the change (classic JWT and 1.0 `at+jwt`, verified as the publish endpoint does),
 * 1.0 streams taking 1.0 matchers, the subscription events and APIs following the change, and private
 * updates still following the stream's own token.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";
import {
  errorCode,
  type HttpResult,
  type Hub,
  httpRequest,
  MARKER,
  publishData,
  publisherToken,
  SUBSCRIBER_SECRET,
  settle,
  startHub,
  subscriberToken,
  subscribeUrl,
  token,
} from "./hub-fixture.js";
import { AUD, accessToken, DETAIL, grantToken, ISS, ISS_KEY, OAUTH } from "./oauth-fixture.js";

const A = "https://example.com/a";
const BOOK = "https://example.com/books/:id";
const API = "/.well-known/mercure/subscriptions";
const EVENTS_TEMPLATE = "/.well-known/mercure/subscriptions/{topic}/{subscriber}";

// biome-ignore lint/suspicious/noExplicitAny: JSON documents under test
type Doc = Record<string, any>;

let hub: Hub;
before(async () => {
  hub = await startHub({ anonymous: true, subscriptions: true, maxMatchersPerSubscription: 4, ...OAUTH });
});
after(() => hub.close());

const bearer = (jwt: string) => ({ headers: { Authorization: `Bearer ${jwt}` } });

/**
 * POSTs a change: to the hub's route, or (`broker`) to the broker's `/subscribers/{id}/selectors`, which a
 * stream's own token may use as well: what a 1.0 stream takes and what the events say does not depend on it.
 */
function change(
  id: string,
  body: unknown,
  jwt?: string,
  route: "hub" | "broker" = "hub",
): Promise<HttpResult> {
  const base = route === "hub" ? hub.hub : hub.base;
  return httpRequest(`${base}/subscribers/${encodeURIComponent(id)}/selectors`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(jwt === undefined ? {} : { Authorization: `Bearer ${jwt}` }),
    },
    body: JSON.stringify(body),
  });
}

/** A Mercure 1.0 subscription (always with the marker, so `settle` works). */
function open1(pairs: [string, string][], jwt?: string): Promise<SseConnection> {
  const q = new URLSearchParams([...pairs, ["match", MARKER]]);
  return connectSse(`${hub.hub}?${q}`, jwt === undefined ? {} : bearer(jwt));
}

const idOf = (c: SseConnection): string => c.headers["sse-broker-subscriber"] as string;

/** An expired `at+jwt` of the trusted issuer that may publish everywhere. */
function expiredAccessToken(): Promise<string> {
  const past = Math.floor(Date.now() / 1000) - 3600;
  return new SignJWT({
    authorization_details: [{ type: DETAIL, actions: ["publish"], topics: [{ match: "*" }] }],
  })
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
    .setIssuer(ISS)
    .setAudience(AUD)
    .setIssuedAt(past - 60)
    .setExpirationTime(past)
    .sign(new TextEncoder().encode(ISS_KEY));
}

describe("Mercure: a publisher token changes a stream's topics", () => {
  it("accepts a classic publisher JWT whose mercure.publish covers every added and removed selector", async () => {
    const c = await connectSse(subscribeUrl(hub.hub, [A, MARKER]));
    try {
      assert.equal(c.status, 200);
      const id = idOf(c);
      const jwt = await publisherToken([A, "https://example.com/b/{n}"]);
      const r = await change(id, { add: ["https://example.com/b/{n}"], remove: [A] }, jwt);
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(JSON.parse(r.body), {
        subscriber: id,
        selectors: [MARKER, "https://example.com/b/{n}"],
      });
      // An exact topic the rights match is covered; a template they do not hold is not.
      assert.equal((await change(id, { add: ["https://example.com/b/7"] }, jwt)).status, 200);
      const wider = await change(id, { add: ["https://example.com/{any}"] }, jwt);
      assert.equal(wider.status, 403, wider.body);
      assert.equal(errorCode(wider), "SSEB_ERR_AUTH_FORBIDDEN");
      const narrow = await change(id, { remove: ["https://example.com/b/7"] }, await publisherToken([A]));
      assert.equal(narrow.status, 403, narrow.body);
      await publishData(hub, A, "removed");
      await publishData(hub, "https://example.com/b/1", "added");
      assert.deepEqual(await settle(hub, c), ["added"]);
    } finally {
      c.close();
    }
  });

  it("answers an invalid or expired publisher JWT with the hub's 401 challenge", async () => {
    const c = await connectSse(subscribeUrl(hub.hub, [A, MARKER]));
    try {
      const id = idOf(c);
      const none = await change(id, { add: ["https://example.com/x"] });
      assert.equal(none.status, 401, none.body);
      assert.match(none.headers["www-authenticate"] ?? "", /^Bearer realm="mercure"/);
      const forged = await token({ publish: ["*"] }, "not-the-publisher-key-at-least-256-bits!!");
      const bad = await change(id, { add: ["https://example.com/x"] }, forged);
      assert.equal(bad.status, 401, bad.body);
      assert.equal(errorCode(bad), "SSEB_ERR_AUTH_TOKEN_INVALID");
      assert.match(bad.headers["www-authenticate"] ?? "", /^Bearer realm="mercure", error="invalid_token"/);
      const expired = await publisherToken(["*"], { exp: Math.floor(Date.now() / 1000) - 3600 });
      const late = await change(id, { add: ["https://example.com/x"] }, expired);
      assert.equal(late.status, 401, late.body);
      assert.equal(errorCode(late), "SSEB_ERR_AUTH_TOKEN_EXPIRED");
      assert.match(late.headers["www-authenticate"] ?? "", /^Bearer realm="mercure"/);
      // Another stream's subscriber token is neither this stream's own nor a publisher's.
      const other = await change(id, { add: ["https://example.com/x"] }, await subscriberToken(["*"]));
      assert.equal(other.status, 401, other.body);
      assert.deepEqual(await settle(hub, c), []);
    } finally {
      c.close();
    }
  });

  it("accepts a 1.0 access token whose publish matchers cover the change, else 403 insufficient_scope", async () => {
    const c = await open1([["match", A]]);
    try {
      assert.equal(c.status, 200, c.raw);
      const id = idOf(c);
      const jwt = await grantToken({ publish: [{ match: BOOK, match_type: "urlpattern" }, { match: A }] });
      const r = await change(id, { add: [{ match_urlpattern: BOOK }], remove: [A] }, jwt);
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(JSON.parse(r.body).selectors, [MARKER, { match_urlpattern: BOOK }]);
      const wider = await change(id, { add: [{ match_urlpattern: "https://example.com/:any" }] }, jwt);
      assert.equal(wider.status, 403, wider.body);
      assert.equal(errorCode(wider), "SSEB_ERR_MERCURE_TOKEN_SCOPE");
      assert.match(wider.headers["www-authenticate"] ?? "", /error="insufficient_scope"/);
      const late = await change(id, { add: [{ match_urlpattern: BOOK }] }, await expiredAccessToken());
      assert.equal(late.status, 401, late.body);
      assert.match(late.headers["www-authenticate"] ?? "", /^Bearer realm="mercure", error="invalid_token"/);
      await publishData(hub, A, "removed");
      await publishData(hub, "https://example.com/books/1", "added");
      assert.deepEqual(await settle(hub, c), ["added"]);
    } finally {
      c.close();
    }
  });
});

describe("Mercure 1.0: a stream's topics change as 1.0 matchers", () => {
  it("takes strings as exact topics and match_urlpattern objects as URL patterns, resolved on the hub URL", async () => {
    const own = await grantToken({ subscribe: [{ match: "*" }] });
    const c = await open1([["match", A]], own);
    try {
      assert.equal(c.status, 200, c.raw);
      const id = idOf(c);
      const r = await change(
        id,
        { add: ["https://example.com/t/{n}", { match_urlpattern: "/books/:id" }] },
        own,
      );
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(JSON.parse(r.body).selectors, [
        A,
        MARKER,
        "https://example.com/t/{n}",
        { match_urlpattern: "/books/:id" },
      ]);
      await publishData(hub, "https://example.com/t/1", "not an exact match");
      await publishData(hub, "https://example.com/t/{n}", "exact");
      await publishData(hub, "https://hub.example.com/books/1", "pattern");
      assert.deepEqual(await settle(hub, c), ["exact", "pattern"]);
      // Removal names the matcher the same way; `{"match": …}` is an exact topic too.
      const r2 = await change(
        id,
        { remove: [{ match_urlpattern: "/books/:id" }, { match: A }] },
        own,
        "broker",
      );
      assert.equal(r2.status, 200, r2.body);
      assert.deepEqual(JSON.parse(r2.body).selectors, [MARKER, "https://example.com/t/{n}"]);
      await publishData(hub, "https://hub.example.com/books/2", "removed pattern");
      await publishData(hub, A, "removed exact");
      assert.deepEqual(await settle(hub, c), ["exact", "pattern"]);
    } finally {
      c.close();
    }
  });

  it("checks added matchers with the subscription's rules and limits", async () => {
    const own = await grantToken({ subscribe: [{ match: "*" }] });
    const c = await open1([["match", A]], own);
    try {
      const id = idOf(c);
      const refused = async (add: unknown[], status: number, code: string) => {
        const r = await change(id, { add }, own, "broker");
        assert.equal(r.status, status, `${JSON.stringify(add).slice(0, 80)}: ${r.body}`);
        assert.equal(errorCode(r), code);
      };
      await refused([{ match_regex: "x" }], 400, "SSEB_ERR_MERCURE_MATCHER_INVALID"); // reserved namespace
      await refused([{ topic: "x" }], 400, "SSEB_ERR_MERCURE_MATCHER_INVALID");
      await refused([{ match: "" }], 400, "SSEB_ERR_MERCURE_MATCHER_INVALID");
      await refused(["https://example.com/\u200bx"], 400, "SSEB_ERR_MERCURE_MATCHER_INVALID");
      await refused([`https://example.com/${"x".repeat(1100)}`], 400, "SSEB_ERR_LIMIT_SELECTOR");
      await refused(
        [{ match_urlpattern: "https://example.com/(\\d+)" }],
        400,
        "SSEB_ERR_MERCURE_MATCHER_INVALID",
      );
      // Two matchers now, at most four: three more would be five.
      await refused(
        ["https://example.com/1", "https://example.com/2", "https://example.com/3"],
        400,
        "SSEB_ERR_LIMIT_SELECTORS",
      );
      assert.deepEqual(await settle(hub, c), []);
    } finally {
      c.close();
    }
  });

  it("refuses matcher objects on a classic stream", async () => {
    const own = await subscriberToken(["*"]);
    const c = await connectSse(subscribeUrl(hub.hub, [A, MARKER]), bearer(own));
    try {
      const r = await change(idOf(c), { add: [{ match_urlpattern: BOOK }] }, own, "broker");
      assert.equal(r.status, 400, r.body);
      assert.equal(errorCode(r), "SSEB_ERR_REQUEST_INVALID");
    } finally {
      c.close();
    }
  });
});

describe("Mercure: subscription events and APIs follow a change", () => {
  it("classic: an added topic starts (event, API), a removed one ends, and at the end only the current ones", async () => {
    const watcher = await connectSse(
      subscribeUrl(hub.hub, [EVENTS_TEMPLATE, MARKER]),
      bearer(await subscriberToken([EVENTS_TEMPLATE])),
    );
    const own = await subscriberToken(["*"]);
    const c = await connectSse(subscribeUrl(hub.hub, [A]), bearer(own));
    const id = idOf(c);
    const about = () =>
      watcher.events
        .filter((e) => e.data !== "marker")
        .map((e) => JSON.parse(e.data) as Doc)
        .filter((d) => d.subscriber === id)
        .map((d) => `${d.topic} ${d.active}`);
    try {
      await waitFor("the subscription event", () => about().length === 1);
      const r = await change(id, { add: ["https://example.com/b"], remove: [A] }, own, "broker");
      assert.equal(r.status, 200, r.body);
      await waitFor("the change's events", () => about().length === 3);
      assert.deepEqual(about(), [`${A} true`, `${A} false`, "https://example.com/b true"]);
      const api = await httpRequest(
        `${hub.base}${API}`,
        bearer(await subscriberToken([`${API}{/topic}{/subscriber}`])),
      );
      assert.equal(api.status, 200, api.body);
      const listed = (JSON.parse(api.body).subscriptions as Doc[]).filter((d) => d.subscriber === id);
      assert.deepEqual(
        listed.map((d) => d.topic),
        ["https://example.com/b"],
      );
    } finally {
      c.close();
    }
    await waitFor("the end event", () => about().length === 4);
    await settle(hub, watcher);
    assert.deepEqual(about().slice(3), ["https://example.com/b false"]);
    watcher.close();
  });

  it("1.0: an added matcher starts (event mercure, API), a removed one ends, and at the end only the current ones", async () => {
    const watch = await grantToken({
      subscribe: [{ match: API }, { match: `${API}/*`, match_type: "urlpattern" }],
    });
    const watcher = await open1([["match_urlpattern", `${API}/*`]], watch);
    // The added matcher's payload is the token's detail matching it, as on subscribe (draft-08, Payloads).
    const own = await accessToken([
      {
        type: DETAIL,
        actions: ["subscribe"],
        topics: [{ match: BOOK, match_type: "urlpattern" }],
        payload: { p: "book" },
      },
      { type: DETAIL, actions: ["subscribe"], topics: [{ match: "*" }], payload: { p: "any" } },
    ]);
    const c = await connectSse(`${hub.hub}?${new URLSearchParams([["match", A]])}`, bearer(own));
    const id = idOf(c);
    const about = () =>
      watcher.events
        .filter((e) => e.event === "mercure")
        .map((e) => JSON.parse(e.data) as Doc)
        .filter((d) => d.subscriber === id)
        .map((d) => `${d.match_type} ${d.match} ${d.active}`);
    try {
      await waitFor("the subscription event", () => about().length === 1);
      const r = await change(id, { add: [{ match_urlpattern: BOOK }], remove: [A] }, own, "broker");
      assert.equal(r.status, 200, r.body);
      await waitFor("the change's events", () => about().length === 3);
      assert.deepEqual(about(), [`exact ${A} true`, `exact ${A} false`, `urlpattern ${BOOK} true`]);
      const api = await httpRequest(`${hub.base}${API}`, bearer(watch));
      assert.equal(api.status, 200, api.body);
      const listed = (JSON.parse(api.body).subscriptions as Doc[]).filter((d) => d.subscriber === id);
      assert.deepEqual(
        listed.map((d) => `${d.match_type} ${d.match}`),
        [`urlpattern ${BOOK}`],
      );
      assert.deepEqual(listed[0]?.payload, { p: "book" });
    } finally {
      c.close();
    }
    await waitFor("the end event", () => about().length === 4);
    await settle(hub, watcher);
    assert.deepEqual(about().slice(3), [`urlpattern ${BOOK} false`]);
    watcher.close();
  });
});

describe("Mercure: an added topic gives no private rights", () => {
  it("classic: a publisher adds a template; private updates still follow the stream's token", async () => {
    const own = await token({ subscribe: ["https://example.com/p/1"] }, SUBSCRIBER_SECRET);
    const c = await connectSse(subscribeUrl(hub.hub, [A, MARKER]), bearer(own));
    try {
      const r = await change(idOf(c), { add: ["https://example.com/p/{n}"] }, await publisherToken(["*"]));
      assert.equal(r.status, 200, r.body);
      await publishData(hub, "https://example.com/p/1", "private allowed", { private: true });
      await publishData(hub, "https://example.com/p/2", "private not allowed", { private: true });
      await publishData(hub, "https://example.com/p/3", "public");
      assert.deepEqual(await settle(hub, c), ["private allowed", "public"]);
    } finally {
      c.close();
    }
  });

  it("1.0: an added URL pattern; private updates still follow the access token's subscribe matchers", async () => {
    const own = await grantToken({ subscribe: [{ match: "https://example.com/p/1" }, { match: MARKER }] });
    const c = await open1([["match", A]], own);
    try {
      assert.equal(c.status, 200, c.raw);
      const r = await change(
        idOf(c),
        { add: [{ match_urlpattern: "https://example.com/p/:n" }] },
        own,
        "broker",
      );
      assert.equal(r.status, 200, r.body);
      await publishData(hub, "https://example.com/p/1", "private allowed", { private: true });
      await publishData(hub, "https://example.com/p/2", "private not allowed", { private: true });
      await publishData(hub, "https://example.com/p/3", "public");
      assert.deepEqual(await settle(hub, c), ["private allowed", "public"]);
    } finally {
      c.close();
    }
  });
});
