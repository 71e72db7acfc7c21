/**
 * `protocol` (`--mercure-protocol`) over real HTTP against real hubs: `1` serves only Mercure 1.0
 * (draft-dunglas-mercure-08), `classic` only the pre-standard protocol, `both` chooses per request. Each case
 * names the draft section (or, for classic, the pre-standard behaviour) it comes from.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SseBrokerError } from "../../src/errors.js";
import { resolveMercureOptions } from "../../src/mercure/options.js";
import { connectSse } from "../helpers/sse-client.js";
import {
  errorCode,
  type HttpResult,
  type Hub,
  httpRequest,
  PUBLISHER_SECRET,
  publisherToken,
  publishForm,
  startHub,
  subscriberToken,
  subscribeUrl,
} from "./hub-fixture.js";
import { accessToken, grantAll, OAUTH } from "./oauth-fixture.js";

const T = "https://example.com/books/1";

/** protocol 1, anonymous subscribers, active subscriptions on. */
let one: Hub;
/** protocol 1, tokens required. */
let oneClosed: Hub;
/** protocol classic, tokens required. */
let classic: Hub;
let both: Hub;
before(async () => {
  one = await startHub({ ...OAUTH, protocol: "1", anonymous: true, subscriptions: true });
  oneClosed = await startHub({ ...OAUTH, protocol: "1" });
  classic = await startHub({ ...OAUTH, protocol: "classic" });
  both = await startHub({ ...OAUTH, anonymous: true });
});
after(async () => {
  for (const h of [one, oneClosed, classic, both]) await h.close();
});

const match = (h: Hub, extra = "") => `${h.hub}?match=${encodeURIComponent(T)}${extra}`;
const bearer = (jwt: string) => ({ Authorization: `Bearer ${jwt}` });

interface Case {
  section: string;
  send: () => Promise<HttpResult>;
  status: number;
  code?: string;
  /** Expected `error=` of the Bearer challenge; `null` = a challenge without one. */
  bearerError?: string | null;
  body?: RegExp;
}

function run(cases: Case[]): void {
  for (const c of cases) {
    it(c.section, async () => {
      const r = await c.send();
      assert.equal(r.status, c.status, r.body);
      if (c.code !== undefined) assert.equal(errorCode(r), c.code);
      if (c.body !== undefined) assert.match(r.body, c.body);
      if (c.bearerError === null) assert.doesNotMatch(String(r.headers["www-authenticate"]), /error=/);
      else if (c.bearerError !== undefined) {
        assert.match(String(r.headers["www-authenticate"]), new RegExp(`error="${c.bearerError}"`));
      }
    });
  }
}

describe('protocol "1": Mercure 1.0 only', () => {
  run([
    {
      section: "§Subscription (draft-08): topic= is the pre-standard protocol: 400 naming match=",
      send: () => httpRequest(subscribeUrl(one.hub, [T])),
      status: 400,
      code: "SSEB_ERR_MERCURE_DIALECT_PINNED",
      body: /Mercure 1\.0.*match=/,
    },
    {
      section: "§Subscription: no matcher at all is a 400",
      send: () => httpRequest(`${one.hub}?last_event_id=x`),
      status: 400,
      code: "SSEB_ERR_REQUEST_INVALID",
    },
    {
      section: "§Token Validation: a classic token (no at+jwt typ) on subscribe is a 401 invalid_token",
      send: async () => httpRequest(match(one), { headers: bearer(await subscriberToken()) }),
      status: 401,
      code: "SSEB_ERR_MERCURE_TOKEN_INVALID",
      bearerError: "invalid_token",
    },
    {
      section: "§Token Validation: a classic token on publish is a 401 invalid_token",
      send: async () => publishForm(one.hub, [["topic", T]], await publisherToken()),
      status: 401,
      code: "SSEB_ERR_MERCURE_TOKEN_INVALID",
      bearerError: "invalid_token",
    },
    {
      section: "§Presenting the Access Token: the classic cookie is not a token source (401, no error code)",
      send: async () =>
        httpRequest(match(oneClosed), {
          headers: { Cookie: `mercureAuthorization=${await subscriberToken()}` },
        }),
      status: 401,
      code: "SSEB_ERR_AUTH_REQUIRED",
      bearerError: null,
    },
    {
      section: "§Presenting the Access Token: a classic cookie on publish is not a token source either",
      send: async () =>
        publishForm(oneClosed.hub, [["topic", T]], null, {
          Cookie: `mercureAuthorization=${await publisherToken()}`,
          Origin: oneClosed.base,
        }),
      status: 401,
      code: "SSEB_ERR_AUTH_REQUIRED",
      bearerError: null,
    },
    {
      section: "§Presenting the Access Token: never the URL: the authorization query parameter is a 400",
      send: async () =>
        httpRequest(match(oneClosed, `&authorization=${await accessToken(grantAll(["subscribe"]))}`)),
      status: 400,
      code: "SSEB_ERR_MERCURE_TOKEN_REQUEST",
      bearerError: "invalid_request",
    },
    {
      section: "§Subscription API: only the 1.0 API is served: a classic token there is a 401 invalid_token",
      send: async () =>
        httpRequest(`${one.hub}/subscriptions`, {
          headers: { Authorization: `Bearer ${await subscriberToken()}` },
        }),
      status: 401,
      code: "SSEB_ERR_MERCURE_TOKEN_INVALID",
      bearerError: "invalid_token",
    },
    {
      section: "§Subscription API: the 1.0 API answers an access token granting subscribe on it",
      send: async () =>
        httpRequest(`${one.hub}/subscriptions`, {
          headers: { Authorization: `Bearer ${await accessToken(grantAll(["subscribe"]))}` },
        }),
      status: 200,
    },
  ]);

  it("§Subscription + §Publication: a match subscription receives an at+jwt publish", async () => {
    const sse = await connectSse(match(one));
    try {
      assert.equal(sse.status, 200);
      const r = await publishForm(
        one.hub,
        [
          ["topic", T],
          ["data", "hello"],
        ],
        await accessToken(),
      );
      assert.equal(r.status, 200, r.body);
      const [e] = await sse.waitForEvents(1);
      assert.deepEqual([e?.id, e?.data], [r.body, "hello"]);
    } finally {
      sse.close();
    }
  });

  it("§Reconciliation: last_event_id resumes; the classic lastEventID is not read", async () => {
    const topic = `${T}/resume`;
    const jwt = await accessToken();
    const first = await publishForm(
      one.hub,
      [
        ["topic", topic],
        ["data", "first"],
      ],
      jwt,
    );
    const second = await publishForm(
      one.hub,
      [
        ["topic", topic],
        ["data", "second"],
      ],
      jwt,
    );
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    const url = `${one.hub}?match=${encodeURIComponent(topic)}`;
    const resumed = await connectSse(`${url}&last_event_id=${encodeURIComponent(first.body)}`);
    const classicParam = await connectSse(`${url}&lastEventID=${encodeURIComponent(first.body)}`);
    try {
      assert.equal((await resumed.waitForEvents(1))[0]?.data, "second");
      assert.equal(resumed.headers["mercure-last-event-id"], first.body);
      // A marker published now is the first thing a subscriber ignoring lastEventID sees.
      const marker = await publishForm(
        one.hub,
        [
          ["topic", topic],
          ["data", "marker"],
        ],
        jwt,
      );
      assert.equal(marker.status, 200);
      assert.deepEqual(
        (await classicParam.waitForEvents(1)).map((e) => e.data),
        ["marker"],
      );
      assert.equal(classicParam.headers["mercure-last-event-id"], undefined);
    } finally {
      resumed.close();
      classicParam.close();
    }
  });
});

describe('protocol "classic": the hub before Mercure 1.0', () => {
  run([
    {
      section: "pre-standard: match= is not special, so a request with only match= lacks a topic (400)",
      send: () => httpRequest(match(classic)),
      status: 400,
      code: "SSEB_ERR_REQUEST_INVALID",
      body: /topic/,
    },
    {
      section: "pre-standard: an at+jwt token is verified as a classic token, and fails (401)",
      send: async () => publishForm(classic.hub, [["topic", T]], await accessToken()),
      status: 401,
      code: "SSEB_ERR_AUTH_TOKEN_INVALID",
      bearerError: null,
    },
    {
      section: "pre-standard: the 1.0 cookie is not read (401 without a token)",
      send: async () =>
        httpRequest(subscribeUrl(classic.hub, [T]), {
          headers: { Cookie: `__Secure-mercure_access_token=${await accessToken()}` },
        }),
      status: 401,
      code: "SSEB_ERR_AUTH_REQUIRED",
    },
    {
      section: "pre-standard: a classic publish works as before",
      send: async () => publishForm(classic.hub, [["topic", T]], await publisherToken()),
      status: 200,
    },
  ]);
});

describe('protocol "both" (default): per request', () => {
  run([
    {
      section:
        "pre-standard: a classic token on topic= is judged as a classic one (a bad one: the classic 401)",
      send: async () =>
        httpRequest(subscribeUrl(both.hub, [T]), { headers: bearer((await subscriberToken()).slice(0, -2)) }),
      status: 401,
      code: "SSEB_ERR_AUTH_TOKEN_INVALID",
    },
    {
      section: "§Publication: an at+jwt publish is a 1.0 publish",
      send: async () => publishForm(both.hub, [["topic", "*"]], await accessToken()),
      status: 400,
      code: "SSEB_ERR_MERCURE_TOPIC_RESERVED",
    },
    {
      section: "a classic publish keeps classic rules (a * topic is not refused)",
      send: async () => publishForm(both.hub, [["topic", "*"]], await publisherToken()),
      status: 200,
    },
  ]);
});

describe("protocol option validation", () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      "an unknown value",
      { jwtKey: PUBLISHER_SECRET, protocol: "2" },
      /protocol must be "classic", "1" or "both"/,
    ],
    [
      '"1" without oauthIssuers',
      { jwtKey: PUBLISHER_SECRET, protocol: "1" },
      /protocol "1".*needs oauthIssuers/,
    ],
  ];
  for (const [what, options, message] of cases) {
    it(`refuses ${what} with SSEB_ERR_OPTIONS_INVALID`, () => {
      assert.throws(
        () => resolveMercureOptions(options),
        (err) =>
          err instanceof SseBrokerError &&
          err.code === "SSEB_ERR_OPTIONS_INVALID" &&
          message.test(err.message),
      );
    });
  }
  it("defaults to both", () => {
    assert.equal(resolveMercureOptions({ jwtKey: PUBLISHER_SECRET }).protocol, "both");
  });
});
