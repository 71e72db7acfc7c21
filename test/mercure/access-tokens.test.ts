/**
 * Mercure 1.0 (draft-08) authorization with RFC 9068 access tokens, over real HTTP against a real hub:
 * token validation (typ, iss, aud, exp, signature, strict claims), `authorization_details` parsing,
 * publish scope, private updates, token sources and RFC 6750 challenges. Each case names its section.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import { SseBrokerError } from "../../src/errors.js";
import { verifyAccessToken } from "../../src/mercure/access-token.js";
import { type MercureOptions, resolveMercureOptions } from "../../src/mercure/options.js";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";
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
import { AUD, DETAIL, ISS, ISS_KEY } from "./oauth-fixture.js";

const OTHER_ISS = "https://other-issuer.example.com";
const OTHER_KEY = "other-issuer-secret-at-least-256-bits-long!";
const MARKER = "https://example.com/marker";

interface Mint {
  typ?: string | null;
  iss?: string | null;
  aud?: string | string[] | null;
  /** Seconds from now; `null` = no exp. */
  exp?: number | null;
  key?: string;
  details?: unknown;
  /** Omit sub, client_id, iat, jti. */
  bare?: boolean;
}

/** An access token as a self-issuing publisher would mint it (RFC 9068 claims unless `bare`). */
async function mint(m: Mint = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {};
  if (m.details !== undefined) claims.authorization_details = m.details;
  if (m.iss !== null) claims.iss = m.iss ?? ISS;
  if (m.aud !== null) claims.aud = m.aud ?? AUD;
  if (m.exp !== null) claims.exp = now + (m.exp ?? 300);
  if (m.bare !== true) {
    claims.sub = "urn:uuid:bb3de268-05b0-4c65-b44e-8f9acefc29d6";
    claims.client_id = ISS;
    claims.iat = now;
    claims.jti = `urn:uuid:${crypto.randomUUID()}`;
  }
  const header: { alg: string; typ?: string } = { alg: "HS256" };
  if (m.typ !== null) header.typ = m.typ ?? "at+jwt";
  return new SignJWT(claims).setProtectedHeader(header).sign(new TextEncoder().encode(m.key ?? ISS_KEY));
}

const grant = (actions: string[], topics: unknown[]) => [{ type: DETAIL, actions, topics }];
const all = (actions: string[]) => grant(actions, [{ match: "*" }]);

let hub: Hub;
let strict: Hub;
before(async () => {
  const oauth = {
    oauthIssuers: [
      { issuer: ISS, key: ISS_KEY },
      { issuer: OTHER_ISS, key: OTHER_KEY },
    ],
    oauthAudience: AUD,
  };
  hub = await startHub({ anonymous: true, ...oauth });
  strict = await startHub({ anonymous: true, oauthStrict: true, ...oauth });
});
after(async () => {
  await hub.close();
  await strict.close();
});

function publish1(h: Hub, jwt: string, topics: string[], opts: { private?: boolean; data?: string } = {}) {
  const fields: [string, string][] = topics.map((t) => ["topic", t]);
  fields.push(["data", opts.data ?? "x"]);
  if (opts.private === true) fields.push(["private", "on"]);
  return publishForm(h.hub, fields, jwt);
}

/** Publishes a public marker and waits for it: everything published before it has been delivered or never will be. */
async function settle(h: Hub, sse: SseConnection): Promise<string[]> {
  const r = await publish1(h, await mint({ details: all(["publish"]) }), [MARKER], { data: "marker" });
  assert.equal(r.status, 200, r.body);
  await waitFor("the marker", () => sse.events.some((e) => e.id === r.body), 5000);
  return sse.events.filter((e) => e.data !== "marker").map((e) => e.data);
}

describe("Mercure 1.0 token validation (draft-08 §Token Validation, §Error Responses)", () => {
  // `classic`: a token that is not at+jwt is not a 1.0 access token; it is judged (and refused) as a classic one.
  const cases: { section: string; mint: Mint; on?: "strict"; ok: boolean; classic?: true }[] = [
    { section: "§Token Validation: typ at+jwt is accepted", mint: {}, ok: true },
    {
      section: "§Token Validation: typ application/at+jwt is equivalent",
      mint: { typ: "application/at+jwt" },
      ok: true,
    },
    { section: "§Token Validation: typ compared case-insensitively", mint: { typ: "AT+JWT" }, ok: true },
    {
      section: "§Token Validation: typ JWT (e.g. an ID token) is refused",
      mint: { typ: "JWT" },
      ok: false,
      classic: true,
    },
    { section: "§Token Validation: a missing typ is refused", mint: { typ: null }, ok: false, classic: true },
    {
      section: "§Token Validation: an untrusted iss is refused",
      mint: { iss: "https://evil.example.com" },
      ok: false,
    },
    { section: "§Token Validation: a missing iss is refused", mint: { iss: null }, ok: false },
    {
      section: "§Token Validation: iss verified only with its own key, never another trusted issuer's",
      mint: { iss: OTHER_ISS, key: ISS_KEY },
      ok: false,
    },
    {
      section: "§Token Validation: a second trusted issuer with its own key",
      mint: { iss: OTHER_ISS, key: OTHER_KEY },
      ok: true,
    },
    {
      section: "§Token Validation: aud without the resource identifier is refused",
      mint: { aud: "https://x.example" },
      ok: false,
    },
    {
      section: "§Token Validation: aud as an array containing it is accepted",
      mint: { aud: ["https://x.example", AUD] },
      ok: true,
    },
    { section: "§Token Validation: a missing aud is refused", mint: { aud: null }, ok: false },
    { section: "§Token Validation: an expired token is refused", mint: { exp: -60 }, ok: false },
    { section: "§Token Validation: a token without exp is refused", mint: { exp: null }, ok: false },
    {
      section: "§Token Validation: a bad signature is refused",
      mint: { key: "wrong-secret-at-least-256-bits-long-0000!!" },
      ok: false,
    },
    {
      section: "§Token Validation: sub, client_id, iat, jti optional by default",
      mint: { bare: true },
      ok: true,
    },
    {
      section: "§Authorization (strict mode): RFC 9068 claims required",
      mint: { bare: true },
      on: "strict",
      ok: false,
    },
    { section: "§Authorization (strict mode): a complete token passes", mint: {}, on: "strict", ok: true },
    {
      section: "§Authorization Details: unknown actions grant nothing but keep the token valid",
      mint: { details: [{ type: DETAIL, actions: ["publish", "frobnicate"], topics: [{ match: "*" }] }] },
      ok: true,
    },
    {
      section: "§Authorization Details: other detail types are ignored",
      mint: { details: [{ type: "https://other.example/type", whatever: 1 }, ...all(["publish"])] },
      ok: true,
    },
    {
      section: "§Authorization Details: actions must be non-empty",
      mint: { details: grant([], [{ match: "*" }]) },
      ok: false,
    },
    {
      section: "§Authorization Details: a non-string action invalidates the token",
      mint: { details: [{ type: DETAIL, actions: ["publish", 1], topics: [{ match: "*" }] }] },
      ok: false,
    },
    {
      section: "§Authorization Details: topics must be non-empty",
      mint: { details: grant(["publish"], []) },
      ok: false,
    },
    {
      section: "§Topic Matcher List: an unsupported match_type invalidates the token",
      mint: { details: grant(["publish"], [{ match: "*" }, { match: "x", match_type: "regex" }]) },
      ok: false,
    },
    {
      section: "§Topic Matcher List: a non-object entry invalidates the token",
      mint: { details: grant(["publish"], [{ match: "*" }, "https://example.com/a"]) },
      ok: false,
    },
    {
      section: "§Topic Matcher List: an invalid URL pattern invalidates the token",
      mint: {
        details: grant(["publish"], [{ match: "*" }, { match: "https://[", match_type: "urlpattern" }]),
      },
      ok: false,
    },
    {
      section:
        "§Authorization Details: limits: URL patterns totalling over 8192 characters invalidate the token",
      mint: {
        details: grant(
          ["publish"],
          [
            { match: "*" },
            ...Array.from({ length: 9 }, (_, i) => ({
              match: `/p${i}/${"a".repeat(1000)}`,
              match_type: "urlpattern",
            })),
          ],
        ),
      },
      ok: false,
    },
    {
      section: "§Authorization Details: limits: more than 64 topics in one detail invalidate the token",
      mint: {
        details: grant(
          ["publish"],
          Array.from({ length: 65 }, (_, i) => ({ match: `t${i}` })),
        ),
      },
      ok: false,
    },
    {
      section: "§Authorization Details: authorization_details must be an array",
      mint: { details: { type: DETAIL } },
      ok: false,
    },
  ];
  for (const c of cases) {
    it(c.section, async () => {
      const h = c.on === "strict" ? strict : hub;
      const details = c.mint.details ?? all(["publish"]);
      const r = await publish1(h, await mint({ ...c.mint, details }), ["https://example.com/books/1"]);
      if (c.ok) {
        assert.equal(r.status, 200, r.body);
      } else {
        assert.equal(r.status, 401, r.body);
        if (c.classic === true) {
          assert.equal(errorCode(r), "SSEB_ERR_AUTH_TOKEN_INVALID");
        } else {
          assert.equal(errorCode(r), "SSEB_ERR_MERCURE_TOKEN_INVALID");
          assert.match(String(r.headers["www-authenticate"]), /^Bearer .*error="invalid_token"/);
        }
      }
    });
  }
});

describe("Mercure 1.0 publish scope (draft-08 §Publishers)", () => {
  const books = grant(["publish"], [{ match: "https://example.com/books/:id", match_type: "urlpattern" }]);
  const cases: { section: string; details: unknown; topics: string[]; ok: boolean }[] = [
    {
      section: "§Publishers: a urlpattern grant covers its topic",
      details: books,
      topics: ["https://example.com/books/1"],
      ok: true,
    },
    {
      section: "§Publishers: a topic outside the grant is refused",
      details: books,
      topics: ["https://example.com/authors/1"],
      ok: false,
    },
    {
      section: "§Publishers: every topic must be covered, alternates included",
      details: books,
      topics: ["https://example.com/books/1", "https://example.com/authors/1"],
      ok: false,
    },
    {
      section: "§Topic Matcher List: match_type defaults to exact (no template or pattern meaning)",
      details: grant(["publish"], [{ match: "https://example.com/books/:id" }]),
      topics: ["https://example.com/books/1"],
      ok: false,
    },
    {
      section: "§Exact Matching: an exact grant covers the identical topic",
      details: grant(["publish"], [{ match: "https://example.com/books/1", match_type: "exact" }]),
      topics: ["https://example.com/books/1"],
      ok: true,
    },
    {
      section: "§Authorization Details: a subscribe-only token may not publish",
      details: all(["subscribe"]),
      topics: ["a"],
      ok: false,
    },
    {
      section: "§Authorization Details: no Mercure detail grants nothing",
      details: undefined,
      topics: ["a"],
      ok: false,
    },
  ];
  for (const c of cases) {
    it(c.section, async () => {
      const r = await publish1(hub, await mint({ details: c.details }), c.topics);
      if (c.ok) {
        assert.equal(r.status, 200, r.body);
      } else {
        assert.equal(r.status, 403, r.body);
        assert.equal(errorCode(r), "SSEB_ERR_MERCURE_TOKEN_SCOPE");
        assert.match(String(r.headers["www-authenticate"]), /^Bearer .*error="insufficient_scope"/);
      }
    });
  }

  it("§Presenting the Access Token: a token in the URL is refused with invalid_request", async () => {
    const jwt = await mint({ details: all(["publish"]) });
    const r = await publishForm(`${hub.hub}?authorization=${jwt}`, [["topic", "a"]], jwt);
    assert.equal(r.status, 400, r.body);
    assert.equal(errorCode(r), "SSEB_ERR_MERCURE_TOKEN_REQUEST");
    assert.match(String(r.headers["www-authenticate"]), /error="invalid_request"/);
  });
});

describe("Mercure 1.0 private updates (draft-08 §Subscribers, §Presenting the Access Token)", () => {
  const books = grant(["subscribe"], [{ match: "https://example.com/books/:id", match_type: "urlpattern" }]);
  let sub1: string;
  before(() => {
    sub1 = `${hub.hub}?${new URLSearchParams([
      ["match_urlpattern", "https://example.com/*"],
      ["match", MARKER],
    ])}`;
  });

  it("delivers private updates only to tokens whose subscribe matchers match a topic (§Subscribers)", async () => {
    const withToken = await connectSse(sub1, {
      headers: { Authorization: `Bearer ${await mint({ details: books })}` },
    });
    const viaCookie = await connectSse(sub1, {
      headers: { Cookie: `__Secure-mercure_access_token=${await mint({ details: books })}` },
    });
    const anonymous = await connectSse(sub1);
    const otherScope = await connectSse(sub1, {
      headers: {
        Authorization: `Bearer ${await mint({ details: grant(["subscribe"], [{ match: "https://example.com/authors/1" }]) })}`,
      },
    });
    const publishOnly = await connectSse(sub1, {
      headers: { Authorization: `Bearer ${await mint({ details: all(["publish"]) })}` },
    });
    for (const s of [withToken, viaCookie, anonymous, otherScope, publishOnly])
      assert.equal(s.status, 200, s.raw);
    const pub = await mint({ details: all(["publish"]) });
    assert.equal(
      (await publish1(hub, pub, ["https://example.com/books/1"], { private: true, data: "p-book" })).status,
      200,
    );
    // Authorized through an alternate topic: one topic of the update is enough.
    const alt = ["https://example.com/other/9", "https://example.com/books/2"];
    assert.equal((await publish1(hub, pub, alt, { private: true, data: "p-alt" })).status, 200);
    assert.equal(
      (await publish1(hub, pub, ["https://example.com/other/1"], { private: true, data: "p-other" })).status,
      200,
    );
    assert.equal((await publish1(hub, pub, ["https://example.com/other/2"], { data: "public" })).status, 200);
    assert.deepEqual(await settle(hub, withToken), ["p-book", "p-alt", "public"], "header token");
    assert.deepEqual(await settle(hub, viaCookie), ["p-book", "p-alt", "public"], "cookie token");
    assert.deepEqual(await settle(hub, anonymous), ["public"], "no token");
    assert.deepEqual(await settle(hub, otherScope), ["public"], "token for other topics");
    assert.deepEqual(await settle(hub, publishOnly), ["public"], "publish-only token");
    for (const s of [withToken, viaCookie, anonymous, otherScope, publishOnly]) s.close();
  });

  it("§Presenting the Access Token: the header wins over the cookie", async () => {
    const s = await connectSse(sub1, {
      headers: {
        Authorization: `Bearer ${await mint({ details: books })}`,
        Cookie: `__Secure-mercure_access_token=${await mint({ exp: -60 })}`,
      },
    });
    assert.equal(s.status, 200, s.raw);
    s.close();
  });

  it("§Cookie: an at+jwt token in the classic cookie is used as a 1.0 token, never dropped to anonymous", async () => {
    const s = await connectSse(sub1, {
      headers: { Cookie: `mercureAuthorization=${await mint({ details: books })}` },
    });
    assert.equal(s.status, 200, s.raw);
    const pub = await mint({ details: all(["publish"]) });
    const r = await publish1(hub, pub, ["https://example.com/books/1"], { private: true, data: "p-cookie" });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(await settle(hub, s), ["p-cookie"]);
    s.close();
    const expired = await httpRequest(sub1, {
      headers: { Cookie: `mercureAuthorization=${await mint({ details: books, exp: -60 })}` },
    });
    assert.equal(expired.status, 401, expired.body);
  });

  it("§Presenting the Access Token: a token in the URL of a 1.0 subscription is refused (400)", async () => {
    const jwt = await mint({ details: books });
    const r = await httpRequest(`${sub1}&authorization=${jwt}`);
    assert.equal(r.status, 400, r.body);
    assert.equal(errorCode(r), "SSEB_ERR_MERCURE_TOKEN_REQUEST");
  });

  it("§Error Responses: an expired token on subscribe is a 401 invalid_token", async () => {
    const r = await httpRequest(sub1, {
      headers: { Authorization: `Bearer ${await mint({ details: books, exp: -60 })}` },
    });
    assert.equal(r.status, 401, r.body);
    assert.match(String(r.headers["www-authenticate"]), /error="invalid_token"/);
  });

  it("a classic publisher's private update reaches a 1.0 token subscriber", async () => {
    const s = await connectSse(sub1, {
      headers: { Authorization: `Bearer ${await mint({ details: books })}` },
    });
    assert.equal(s.status, 200, s.raw);
    const r = await publishForm(
      hub.hub,
      [
        ["topic", "https://example.com/books/7"],
        ["data", "classic-private"],
        ["private", "on"],
      ],
      await publisherToken(),
    );
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(await settle(hub, s), ["classic-private"]);
    s.close();
  });

  it("a 1.0 publisher's private update reaches a classic token subscriber", async () => {
    const s = await connectSse(subscribeUrl(hub.hub, ["https://example.com/books/{id}", MARKER]), {
      headers: { Authorization: `Bearer ${await subscriberToken(["https://example.com/books/{id}"])}` },
    });
    assert.equal(s.status, 200, s.raw);
    const pub = await mint({ details: all(["publish"]) });
    assert.equal(
      (await publish1(hub, pub, ["https://example.com/books/8"], { private: true, data: "v1-private" }))
        .status,
      200,
    );
    assert.deepEqual(await settle(hub, s), ["v1-private"]);
    s.close();
  });
});

describe("Mercure 1.0 access token options (draft-08 §Token Validation: configuration)", () => {
  const bad = (o: MercureOptions, re: RegExp): void => {
    assert.throws(
      () => resolveMercureOptions(o),
      (e: unknown) =>
        e instanceof SseBrokerError && e.code === "SSEB_ERR_OPTIONS_INVALID" && re.test(e.message),
    );
  };
  it("refuses issuers without the hub's resource identifier, keys or names, and duplicates", () => {
    bad({ oauthIssuers: [{ issuer: ISS, key: ISS_KEY }] }, /need oauthAudience/);
    bad({ oauthIssuers: [{ issuer: ISS }], oauthAudience: AUD }, /needs a key, a key file or a JWKS URL/);
    bad({ oauthIssuers: [{ issuer: "", key: ISS_KEY }], oauthAudience: AUD }, /non-empty issuer/);
    bad(
      {
        oauthIssuers: [
          { issuer: ISS, key: ISS_KEY },
          { issuer: ISS, key: OTHER_KEY },
        ],
        oauthAudience: AUD,
      },
      /twice/,
    );
    bad(
      { oauthIssuers: [{ issuer: ISS, key: "-----BEGIN PUBLIC KEY-----" }], oauthAudience: AUD },
      /shared secret/,
    );
  });
  it("starts a hub with trusted issuers only (no classic key)", () => {
    const o = resolveMercureOptions({ oauthIssuers: [{ issuer: ISS, key: ISS_KEY }], oauthAudience: AUD });
    assert.equal(o.oauthIssuers.size, 1);
    assert.equal(o.publisherKey, null);
  });
});

describe("Mercure 1.0 access token matchers are compiled once per token", () => {
  it("reuses the compiled matchers of a token seen before, and not across different grants", async () => {
    const o = resolveMercureOptions({ oauthIssuers: [{ issuer: ISS, key: ISS_KEY }], oauthAudience: AUD });
    const details = grant(
      ["subscribe"],
      [{ match: "https://example.com/books/:id", match_type: "urlpattern" }],
    );
    const jwt = await mint({ details });
    const a = await verifyAccessToken(jwt, o, AUD);
    const b = await verifyAccessToken(jwt, o, AUD);
    assert.equal(a.subscribe.selectors[0], b.subscribe.selectors[0], "same compiled selector");
    assert.equal(a.subscribe, b.subscribe, "same set: fan-out checks it once per update for both");
    assert.ok(a.subscribe.selectors[0]?.matches("https://example.com/books/1"));
    const other = await verifyAccessToken(
      await mint({
        details: grant(
          ["subscribe"],
          [{ match: "https://example.com/authors/:id", match_type: "urlpattern" }],
        ),
      }),
      o,
      AUD,
    );
    assert.notEqual(other.subscribe.selectors[0], a.subscribe.selectors[0]);
    assert.equal(other.subscribe.selectors[0]?.matches("https://example.com/books/1"), false);
  });
});

describe("Mercure 1.0 hub requiring subscriber tokens (draft-08 §Error Responses)", () => {
  let closed: Hub;
  before(async () => {
    closed = await startHub({ oauthIssuers: [{ issuer: ISS, key: ISS_KEY }], oauthAudience: AUD });
  });
  after(() => closed.close());

  it("answers a 1.0 subscription without a token with a 401 Bearer challenge carrying no error code", async () => {
    const r = await httpRequest(`${closed.hub}?${new URLSearchParams({ match: "https://example.com/a" })}`);
    assert.equal(r.status, 401, r.body);
    const challenge = String(r.headers["www-authenticate"]);
    assert.match(challenge, /^Bearer /);
    assert.doesNotMatch(challenge, /error=/);
  });

  it("opens it with a valid access token", async () => {
    const s = await connectSse(`${closed.hub}?${new URLSearchParams({ match: "https://example.com/a" })}`, {
      headers: { Authorization: `Bearer ${await mint({ details: all(["subscribe"]) })}` },
    });
    assert.equal(s.status, 200, s.raw);
    s.close();
  });
});
