/**
 * Defects found by an external-style conformance audit of the Mercure 1.0 hub (draft-dunglas-mercure-08),
 * reproduced over real HTTP against a real hub configured as the CLI is for a conformance suite: one trusted
 * issuer with an HS256 key, an audience, anonymous subscribers, no classic keys. Each case names its section.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { base64url, exportJWK, generateKeyPair, SignJWT } from "jose";
import { connectSse } from "../helpers/sse-client.js";
import { type HttpResult, type Hub, httpRequest, publishForm, startHub } from "./hub-fixture.js";
import { AUD, accessToken, grantAll, ISS, ISS_KEY, OAUTH } from "./oauth-fixture.js";

let hub: Hub;
before(async () => {
  // As `--anonymous --oauth-issuer … --oauth-issuer-key … --oauth-audience …`: no classic JWT key at all.
  hub = await startHub({
    ...OAUTH,
    anonymous: true,
    publisherJwtKey: undefined,
    subscriberJwtKey: undefined,
  });
});
after(async () => {
  await hub.close();
});

const TOPIC = "https://example.com/books/1";

/**
 * A token of the trusted issuer for the hub's audience, valid 5 minutes (or until `exp`), with this protected
 * header; signed with the issuer's HS256 secret unless `key` is given.
 */
function issuerToken(
  header: Record<string, unknown>,
  opts: { key?: Parameters<SignJWT["sign"]>[0]; exp?: number; nbf?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ authorization_details: grantAll(["publish", "subscribe"]) })
    .setProtectedHeader({ alg: "HS256", ...header })
    .setIssuer(ISS)
    .setAudience(AUD)
    .setSubject("urn:example:subscriber")
    .setIssuedAt(now)
    .setExpirationTime(opts.exp ?? now + 300)
    .setJti(crypto.randomUUID());
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  return jwt.sign(opts.key ?? new TextEncoder().encode(ISS_KEY));
}

/** An unsecured JWS (`alg: none`) with otherwise valid claims and this header. */
function unsecuredToken(header: Record<string, unknown>): string {
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: ISS, aud: AUD, exp: now + 300, authorization_details: grantAll(["publish"]) };
  return `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(claims))}.`;
}

const publishWith = (authorization: string) =>
  httpRequest(hub.hub, {
    method: "POST",
    headers: { Authorization: authorization, "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams([["topic", TOPIC]]).toString(),
  });

// A subscription refused before its stream opens is an ordinary response.
const subscribeWith = (authorization: string) =>
  httpRequest(`${hub.hub}?${new URLSearchParams([["match", TOPIC]])}`, {
    headers: { Authorization: authorization },
  });

function assertChallenge(r: HttpResult, status: number, error: string | null): void {
  assert.equal(r.status, status, r.body);
  const challenge = String(r.headers["www-authenticate"]);
  assert.match(challenge, /^Bearer /);
  if (error === null) assert.doesNotMatch(challenge, /error=/);
  else assert.match(challenge, new RegExp(`error="${error}"`));
}

describe("presented tokens that fail validation answer 401 invalid_token (draft-08 §Error Responses)", () => {
  const cases: { section: string; send: () => Promise<HttpResult> }[] = [
    {
      section: "§Token Validation: typ JWT (an ID token's) on a publish",
      send: async () => publishWith(`Bearer ${await issuerToken({ typ: "JWT" })}`),
    },
    {
      section: "§Token Validation: typ JWT on a match= subscription",
      send: async () => subscribeWith(`Bearer ${await issuerToken({ typ: "JWT" })}`),
    },
    {
      section: "§Token Validation: no typ at all",
      send: async () => publishWith(`Bearer ${await issuerToken({})}`),
    },
    {
      section: "§Token Validation: alg none without typ",
      send: async () => publishWith(`Bearer ${unsecuredToken({ alg: "none" })}`),
    },
    {
      section: "§Token Validation: alg none with typ at+jwt",
      send: async () => publishWith(`Bearer ${unsecuredToken({ alg: "none", typ: "at+jwt" })}`),
    },
    {
      section: "§Token Validation: an alg off the issuer's allowlist (HS384 with the HS256 secret)",
      send: async () => publishWith(`Bearer ${await issuerToken({ typ: "at+jwt", alg: "HS384" })}`),
    },
    {
      section: "§Token Validation: key material from the token itself (ES256 with its own jwk header)",
      send: async () => {
        const attacker = await generateKeyPair("ES256");
        const jwk = await exportJWK(attacker.publicKey);
        const t = await issuerToken({ typ: "at+jwt", alg: "ES256", jwk }, { key: attacker.privateKey });
        return publishWith(`Bearer ${t}`);
      },
    },
    {
      section: "§Token Validation: nbf in the future",
      send: async () =>
        publishWith(
          `Bearer ${await issuerToken({ typ: "at+jwt" }, { nbf: Math.floor(Date.now() / 1000) + 600 })}`,
        ),
    },
    {
      section: "§Error Responses: a bearer value that is no JWS",
      send: async () => publishWith("Bearer not-a-jwt"),
    },
    {
      section: "§Error Responses: a bearer value that is no JWS, on a subscription",
      send: async () => subscribeWith("Bearer xx.yy.zz"),
    },
  ];
  for (const c of cases) {
    it(c.section, async () => {
      assertChallenge(await c.send(), 401, "invalid_token");
    });
  }
});

describe("requests without a bearer token carry no error code (draft-08 §Error Responses, RFC 6750 §3.1)", () => {
  it("§Error Responses: a publish without a token: 401, a challenge without error", async () => {
    assertChallenge(await publishForm(hub.hub, [["topic", TOPIC]], null), 401, null);
  });

  it("§Error Responses: another authentication scheme is no bearer token: a challenge without error", async () => {
    assertChallenge(await publishWith("Basic Zm9vOmJhcg=="), 401, null);
  });
});

describe("access tokens are never taken from the URL (draft-08 §Presenting the Access Token)", () => {
  for (const name of ["authorization", "access_token"]) {
    it(`§Presenting the Access Token: ${name}= on a match= subscription is a 400 invalid_request`, async () => {
      const token = await issuerToken({ typ: "at+jwt" });
      const r = await httpRequest(
        `${hub.hub}?${new URLSearchParams([
          ["match", TOPIC],
          [name, token],
        ])}`,
      );
      assertChallenge(r, 400, "invalid_request");
    });
  }
});

describe("what reaches a Mercure 1.0 subscriber", () => {
  it("§Server-Sent Events Field Injection: data with LF, CR and CRLF is one data: line per line", async () => {
    const topic = "https://example.com/injection";
    const sub = await connectSse(`${hub.hub}?${new URLSearchParams([["match", topic]])}`);
    try {
      const data = "a\nid: forged\revent: mercure\r\nretry: 1\n\ndata: x";
      const r = await publishForm(
        hub.hub,
        [
          ["topic", topic],
          ["data", data],
        ],
        await accessToken(),
      );
      assert.equal(r.status, 200, r.body);
      const [event] = await sub.waitForEvents(1);
      assert.equal(event?.id, r.body);
      assert.equal(event?.event, undefined);
      assert.equal(event?.data, "a\nid: forged\nevent: mercure\nretry: 1\n\ndata: x");
      assert.ok(
        sub.raw.includes(
          "data:a\ndata:id: forged\ndata:event: mercure\ndata:retry: 1\ndata:\ndata:data: x\n\n",
        ),
        sub.raw,
      );
      assert.deepEqual(sub.retries, []);
    } finally {
      sub.close();
    }
  });

  it("§Subscribers: the stream of an access token's bearer ends no later than the token's exp", async () => {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const sub = await connectSse(`${hub.hub}?${new URLSearchParams([["match", TOPIC]])}`, {
      headers: { Authorization: `Bearer ${await issuerToken({ typ: "at+jwt" }, { exp })}` },
    });
    try {
      assert.equal(sub.status, 200);
      await sub.waitForEnd(10_000);
      assert.ok(sub.ended);
    } finally {
      sub.close();
    }
  });
});

describe("matching and token presentation details", () => {
  it("§URL Pattern: no ignoreCase: the path is compared case-sensitively; §Publication: private=off is private", async () => {
    const base = "https://example.com/audit-case";
    const url = `${hub.hub}?${new URLSearchParams([
      ["match_urlpattern", `${base}/Books/:id`],
      ["match", `${base}/end`],
    ])}`;
    const sub = await connectSse(url);
    try {
      const token = await accessToken();
      for (const [topic, data, priv] of [
        [`${base}/books/1`, "lower", false],
        [`${base}/Books/1`, "private-off", true],
        [`${base}/Books/2`, "upper", false],
        [`${base}/end`, "END", false],
      ] as const) {
        const fields: [string, string][] = [
          ["topic", topic],
          ["data", data],
        ];
        if (priv) fields.push(["private", "off"]);
        const r = await publishForm(hub.hub, fields, token);
        assert.equal(r.status, 200, r.body);
      }
      const events = await sub.waitForEvents(2);
      // The anonymous subscriber never gets the private update, whatever its `private` value says.
      assert.deepEqual(
        events.map((e) => e.data),
        ["upper", "END"],
      );
    } finally {
      sub.close();
    }
  });

  it("§Authorization HTTP Header: the Bearer scheme name is matched case-insensitively", async () => {
    const r = await publishWith(`bEaReR ${await accessToken()}`);
    assert.equal(r.status, 200, r.body);
  });
});

describe("relative topics and patterns resolve against the hub's URL (draft-08 §URL Pattern)", () => {
  it("§URL Pattern: with a relative hubUrl, the hub URL is on the origin of the audience (its resource identifier)", async () => {
    // AUD is https://hub.example.com/.well-known/mercure: a relative pattern covers that origin's topics only.
    const sse = await connectSse(`${hub.hub}?match_urlpattern=${encodeURIComponent("/books/:id")}&match=end`);
    assert.equal(sse.status, 200, sse.raw);
    const pub = await accessToken(grantAll(["publish"]));
    for (const topic of [
      "https://hub.example.com/books/1",
      "https://example.com/books/2",
      "/books/3",
      "end",
    ]) {
      const r = await publishForm(
        hub.hub,
        [
          ["topic", topic],
          ["data", topic],
        ],
        pub,
      );
      assert.equal(r.status, 200, r.body);
    }
    const events = await sse.waitForEvents(3);
    assert.deepEqual(
      events.map((e) => e.data),
      ["https://hub.example.com/books/1", "/books/3", "end"],
    );
    sse.close();
  });
});

describe("publication rules come before the token's scope (draft-08 §Publication)", () => {
  it("§Publication: a reserved topic is a 400 even for a token that grants no publish at all; other topics 403", async () => {
    const subscribeOnly = await accessToken(grantAll(["subscribe"]));
    const reserved = await publishForm(
      hub.hub,
      [["topic", "/.well-known/mercure/subscriptions/x"]],
      subscribeOnly,
    );
    assert.equal(reserved.status, 400, reserved.body);
    const star = await publishForm(hub.hub, [["topic", "*"]], subscribeOnly);
    assert.equal(star.status, 400, star.body);
    const plain = await publishForm(hub.hub, [["topic", TOPIC]], subscribeOnly);
    assert.equal(plain.status, 403, plain.body);
    assert.match(String(plain.headers["www-authenticate"]), /error="insufficient_scope"/);
  });
});
