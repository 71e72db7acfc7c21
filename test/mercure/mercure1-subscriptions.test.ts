/**
 * Mercure 1.0 (draft-08) active subscriptions over real HTTP against a real hub: subscription events
 * (topic and document shape, `event: mercure`, encoding, payloads, privacy) and the subscription API
 * (collections, single documents, errors, headers), beside the classic ones. Each case names its section.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import { connectSse, type SseConnection, type SseEventRecord } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";
import {
  errorCode,
  type HttpResult,
  type Hub,
  httpRequest,
  publisherToken,
  publishForm,
  startHub,
  subscriberToken,
  subscribeUrl,
} from "./hub-fixture.js";
import { AUD, DETAIL, ISS, ISS_KEY } from "./oauth-fixture.js";

const API = "/.well-known/mercure/subscriptions";
const MARKER = "https://example.com/marker";
const APP_ORIGIN = "https://app.example";

// biome-ignore lint/suspicious/noExplicitAny: JSON documents under test
type Doc = Record<string, any>;
type Topic = { match: string; match_type?: string };
type Detail = { actions: string[]; topics: Topic[]; payload?: Record<string, unknown> };

/** An RFC 9068 access token of the trusted issuer with these Mercure authorization details. */
function mint(details: Detail[], key = ISS_KEY): Promise<string> {
  return new SignJWT({
    authorization_details: details.map((d) => ({ type: DETAIL, ...d })),
    client_id: ISS,
    sub: "someone",
  })
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
    .setIssuer(ISS)
    .setAudience(AUD)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(new TextEncoder().encode(key));
}

const subscribe = (...topics: Topic[]): Detail => ({ actions: ["subscribe"], topics });
/** Subscribe rights on every subscription event and API URL of the hub. */
const WATCH: Topic[] = [{ match: API }, { match: `${API}/*`, match_type: "urlpattern" }];

let hub: Hub;
/** A hub that has dispatched no event yet. */
let fresh: Hub;
before(async () => {
  const mercure = {
    anonymous: true,
    subscriptions: true,
    corsOrigins: [APP_ORIGIN],
    oauthIssuers: [{ issuer: ISS, key: ISS_KEY }],
    oauthAudience: AUD,
  };
  hub = await startHub({ ...mercure, hubUrl: AUD });
  fresh = await startHub(mercure);
});
after(async () => {
  await hub.close();
  await fresh.close();
});

function url1(h: Hub, pairs: [string, string][]): string {
  return `${h.hub}?${new URLSearchParams(pairs)}`;
}

const bearer = (jwt: string) => ({ headers: { Authorization: `Bearer ${jwt}` } });

function get(h: Hub, path: string, jwt: string | null, headers: Record<string, string> = {}) {
  return httpRequest(`${h.base}${path}`, {
    headers: { ...headers, ...(jwt === null ? {} : { Authorization: `Bearer ${jwt}` }) },
  });
}

const json = (r: HttpResult): Doc => JSON.parse(r.body) as Doc;

/** Publishes a public marker and waits for it on `sse`: everything before it was delivered or never will be. */
async function settle(sse: SseConnection): Promise<SseEventRecord[]> {
  const r = await publishForm(
    hub.hub,
    [
      ["topic", MARKER],
      ["data", "marker"],
    ],
    await publisherToken(),
  );
  assert.equal(r.status, 200, r.body);
  await waitFor("the marker", () => sse.events.some((e) => e.id === r.body), 5000);
  return sse.events.filter((e) => e.data !== "marker");
}

/** The subscription documents received by `sse` about `subscriber`, in order. */
function docsOf(sse: SseConnection, subscriber: string): Doc[] {
  return sse.events
    .filter((e) => e.event === "mercure")
    .map((e) => JSON.parse(e.data) as Doc)
    .filter((d) => d.subscriber === subscriber);
}

// Matcher strings holding `%`, `/`, a space and RFC 6570's extra reserved characters `(` `)`.
const EXACT = "https://example.com/a%2Fb c/(x)";
const EXACT_ENCODED = "https%3A%2F%2Fexample.com%2Fa%252Fb%20c%2F%28x%29";
const PATTERN = "https://example.com/bar/:id";
const PATTERN_ENCODED = "https%3A%2F%2Fexample.com%2Fbar%2F%3Aid";
const OTHER = "https://example.com/other";

/** Opens a subscriber with three 1.0 subscriptions and a token with specific payloads before `*`. */
async function threeSubscriptions(): Promise<SseConnection> {
  const jwt = await mint([
    { ...subscribe({ match: EXACT }), payload: { p: "exact" } },
    { ...subscribe({ match: PATTERN, match_type: "urlpattern" }), payload: { p: "pattern" } },
    { ...subscribe({ match: "*" }), payload: { p: "default" } },
  ]);
  const s = await connectSse(
    url1(hub, [
      ["match", EXACT],
      ["match_urlpattern", PATTERN],
      ["match_exact", OTHER],
      ["subscriber", "urn:uuid:forged"], // never taken from the client (§Subscriber Identifier Assignment)
    ]),
    bearer(jwt),
  );
  assert.equal(s.status, 200, s.raw);
  return s;
}

/** A watcher of subscription events, with a marker matcher to settle on. */
async function watcher(jwt: string): Promise<SseConnection> {
  const w = await connectSse(
    url1(hub, [
      ["match_urlpattern", `${API}/*`],
      ["match", MARKER],
    ]),
    bearer(jwt),
  );
  assert.equal(w.status, 200, w.raw);
  return w;
}

describe("Mercure 1.0 subscription events (draft-08 §Subscription Events)", () => {
  it("publishes one private `event: mercure` update per subscription on start and end, to authorized subscribers only", async (t) => {
    const allowed = await watcher(await mint([subscribe(...WATCH)]));
    const denied = await watcher(
      await mint([subscribe({ match: "https://example.com/*", match_type: "urlpattern" })]),
    );
    const s = await threeSubscriptions();
    // Closed even when an assertion fails, so later cases see only their own subscribers.
    t.after(() => {
      for (const c of [s, allowed, denied]) c.close();
    });
    const subscriberOf = (): string | undefined =>
      allowed.events
        .filter((e) => e.event === "mercure")
        .map((e) => JSON.parse(e.data) as Doc)
        .find((d) => d.match === EXACT)?.subscriber;
    await waitFor("the exact subscription's event", () => subscriberOf() !== undefined, 5000);
    const subscriber = subscriberOf() as string;
    await waitFor("three start events", () => docsOf(allowed, subscriber).length === 3, 5000);

    // §Subscriber Identifier Assignment: a hub-made random IRI, the same for all subscriptions of a connection.
    assert.match(
      subscriber,
      /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.notEqual(subscriber, "urn:uuid:forged");
    const encodedSubscriber = `urn%3Auuid%3A${subscriber.slice("urn:uuid:".length)}`;
    const byMatch = new Map(docsOf(allowed, subscriber).map((d) => [d.match, d]));
    // §Subscription Events: topic/id shape, canonical match_type, each variable encoded exactly once;
    // §Payloads: the first subscribe detail matching the matcher string (specific ones before `*`).
    assert.deepEqual(byMatch.get(EXACT), {
      id: `${API}/exact/${EXACT_ENCODED}/${encodedSubscriber}`,
      type: "subscription",
      match_type: "exact",
      match: EXACT,
      subscriber,
      active: true,
      payload: { p: "exact" },
    });
    assert.deepEqual(byMatch.get(PATTERN), {
      id: `${API}/urlpattern/${PATTERN_ENCODED}/${encodedSubscriber}`,
      type: "subscription",
      match_type: "urlpattern",
      match: PATTERN,
      subscriber,
      active: true,
      payload: { p: "pattern" },
    });
    assert.equal(byMatch.get(OTHER)?.match_type, "exact", "match_exact is the exact type");
    assert.deepEqual(byMatch.get(OTHER)?.payload, { p: "default" }, "`*` as the default payload");
    // The SSE `event` field is the reserved `mercure` (the wire itself, not only the parser's view).
    const id = byMatch.get(EXACT)?.id as string;
    const block = allowed.raw.split("\n\n").find((b) => b.includes(JSON.stringify(id).slice(1, -1)));
    assert.match(block ?? "", /^event: ?mercure$/m, `an event: mercure line in ${block}`);
    const exactEvent = allowed.events.find((e) => e.data.includes(JSON.stringify(id)));
    assert.equal(exactEvent?.event, "mercure");
    assert.equal(JSON.parse(exactEvent?.data ?? "{}").id, id, "the document's id is the update's topic");

    // Terminated: one `active: false` event per subscription, same documents otherwise.
    s.close();
    await waitFor("three end events", () => docsOf(allowed, subscriber).length === 6, 5000);
    const ended = docsOf(allowed, subscriber).slice(3);
    assert.deepEqual(
      ended.map((d) => [d.match, d.active]).sort(),
      [
        [EXACT, false],
        [OTHER, false],
        [PATTERN, false],
      ].sort(),
    );
    assert.deepEqual(
      ended.find((d) => d.match === EXACT),
      { ...byMatch.get(EXACT), active: false },
    );

    // §Private Update Audience: a watcher whose token does not grant the event topics gets none of them.
    assert.deepEqual(
      (await settle(denied)).map((e) => e.event),
      [],
      "no subscription event for a subscriber without the grant",
    );
    allowed.close();
    denied.close();
  });

  it("keeps classic subscriptions in the classic event shape (no `event: mercure`)", async () => {
    const classicTopics = "/.well-known/mercure/subscriptions/{topic}/{subscriber}";
    const w = await connectSse(
      subscribeUrl(hub.hub, [classicTopics, MARKER]),
      bearer(await subscriberToken([classicTopics])),
    );
    const s = await connectSse(subscribeUrl(hub.hub, ["https://example.com/classic"]));
    await waitFor(
      "the classic event",
      () => w.events.some((e) => JSON.parse(e.data).topic === "https://example.com/classic"),
      5000,
    );
    const e = w.events.find((x) => JSON.parse(x.data).topic === "https://example.com/classic");
    assert.equal(e?.event, undefined, "classic events keep the default event type");
    assert.equal(JSON.parse(e?.data ?? "{}").type, "Subscription");
    s.close();
    w.close();
  });

  it("refuses a matcher whose subscription event topic would be over the topic length limit (§Resource Limits)", async () => {
    const s = await connectSse(url1(hub, [["match", `https://example.com/${"é".repeat(400)}`]]));
    assert.equal(s.status, 400);
    await s.waitForEnd();
    assert.match(s.raw, /SSEB_ERR_LIMIT_SELECTOR/);
  });
});

describe("Mercure 1.0 subscription API (draft-08 §Subscription API)", () => {
  let s: SseConnection;
  let classic: SseConnection;
  let events: SseConnection;
  let subscriber: string;
  let readAll: string;
  before(async () => {
    readAll = await mint([subscribe(...WATCH)]);
    events = await watcher(readAll);
    s = await threeSubscriptions();
    classic = await connectSse(subscribeUrl(hub.hub, ["https://example.com/classic-listed"]));
    await waitFor(
      "the 1.0 subscriptions' events",
      () => {
        const d = events.events.filter((e) => e.event === "mercure").map((e) => JSON.parse(e.data) as Doc);
        subscriber = d.find((x) => x.match === EXACT && x.active)?.subscriber;
        return subscriber !== undefined && docsOf(events, subscriber).length === 3;
      },
      5000,
    );
  });
  after(() => {
    s.close();
    classic.close();
    events.close();
  });

  it("lists the 1.0 subscriptions as a `subscriptions` collection with the cursor on Link and ETag", async () => {
    const r = await get(hub, API, readAll);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers["content-type"], "application/json");
    const body = json(r);
    assert.deepEqual(Object.keys(body).sort(), ["id", "subscriptions", "type"]);
    assert.equal(body.id, API);
    assert.equal(body.type, "subscriptions");
    const mine = body.subscriptions.filter((d: Doc) => d.subscriber === subscriber);
    assert.deepEqual(
      mine.sort((a: Doc, b: Doc) => a.id.localeCompare(b.id)),
      docsOf(events, subscriber).sort((a, b) => a.id.localeCompare(b.id)),
      "the same documents as the subscription events",
    );
    assert.ok(
      body.subscriptions.every((d: Doc) => d.type === "subscription"),
      "1.0 subscriptions only: the classic subscriber is not listed",
    );
    // §Subscription API: last-event-id, type and content-type on the rel="mercure" Link; ETag; revalidation.
    const cursor = hub.broker.lastEventId as string;
    assert.ok(cursor !== undefined && cursor !== "earliest");
    assert.equal(
      r.headers.link,
      `<${AUD}>; rel="mercure"; last-event-id="${cursor}"; type="mercure"; content-type="application/json"`,
    );
    assert.equal(r.headers.etag, `"${cursor}"`);
    assert.equal(r.headers["cache-control"], "must-revalidate");
  });

  it("answers last-event-id=earliest on a hub that dispatched nothing yet", async () => {
    const r = await get(fresh, API, readAll);
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(json(r), { id: API, type: "subscriptions", subscriptions: [] });
    assert.match(String(r.headers.link), /; last-event-id="earliest"; /);
    assert.equal(r.headers.etag, '"earliest"');
  });

  it("quotes a cursor holding quotes on Link and tags it by digest in ETag (RFC 8288, RFC 9110)", async () => {
    const id = 'urn:x:"quoted" id';
    const p = await publishForm(
      fresh.hub,
      [
        ["topic", MARKER],
        ["data", "x"],
        ["id", id],
      ],
      await publisherToken(),
    );
    assert.equal(p.status, 200, p.body);
    const r = await get(fresh, API, readAll);
    assert.equal(r.status, 200, r.body);
    assert.ok(
      String(r.headers.link).includes('; last-event-id="urn:x:\\"quoted\\" id"; '),
      String(r.headers.link),
    );
    assert.match(String(r.headers.etag), /^"sha256-[A-Za-z0-9_-]{43}"$/);
  });

  it("exposes Link to cross-origin subscribers (Access-Control-Expose-Headers)", async () => {
    const r = await get(hub, API, readAll, { Origin: APP_ORIGIN });
    assert.equal(r.status, 200);
    assert.equal(r.headers["access-control-allow-origin"], APP_ORIGIN);
    assert.ok(
      String(r.headers["access-control-expose-headers"])
        .split(/\s*,\s*/)
        .includes("Link"),
      String(r.headers["access-control-expose-headers"]),
    );
  });

  it("lists one matcher's subscriptions at /{match_type}/{match}", async () => {
    const path = `${API}/urlpattern/${PATTERN_ENCODED}`;
    const r = await get(hub, path, readAll);
    assert.equal(r.status, 200, r.body);
    const body = json(r);
    assert.equal(body.id, path);
    assert.equal(body.type, "subscriptions");
    assert.deepEqual(
      body.subscriptions.map((d: Doc) => [d.match_type, d.match, d.subscriber]),
      [["urlpattern", PATTERN, subscriber]],
    );
    // Same matcher string, other type: another collection.
    const exact = json(await get(hub, `${API}/exact/${PATTERN_ENCODED}`, readAll));
    assert.deepEqual(exact.subscriptions, []);
  });

  it("serves one subscription as the subscription event document, unchanged", async () => {
    const doc = docsOf(events, subscriber).find((d) => d.match === EXACT) as Doc;
    const r = await get(hub, doc.id, readAll);
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(json(r), doc);
    assert.equal(r.headers["content-type"], "application/json");
    assert.match(String(r.headers.link), /; type="mercure"; content-type="application\/json"$/);
    assert.equal(r.headers["cache-control"], "must-revalidate");
  });

  it("authorizes the path without the query (the topic is the relative path)", async () => {
    const jwt = await mint([subscribe({ match: API })]);
    const r = await get(hub, `${API}?x=${encodeURIComponent(API)}/y`, jwt);
    assert.equal(r.status, 200, r.body);
    assert.equal(json(r).id, API, "the collection's id is the path");
  });

  it("compares exact matchers byte for byte against the relative path (§Authorization)", async () => {
    const path = `${API}/urlpattern/${PATTERN_ENCODED}`;
    const jwt = await mint([subscribe({ match: path })]);
    assert.equal((await get(hub, path, jwt)).status, 200, "the exact path");
    const other = await get(hub, `${path}/${encodeURIComponent(subscriber)}`, jwt);
    assert.equal(other.status, 403, "a path below it is another topic");
    const absolute = await mint([subscribe({ match: `${AUD}/subscriptions/urlpattern/${PATTERN_ENCODED}` })]);
    assert.equal(
      (await get(hub, path, absolute)).status,
      403,
      "an absolute exact matcher is not the relative form",
    );
  });

  it("evaluates absolute URL patterns against the path resolved on the hub URL (§URL Pattern)", async () => {
    const jwt = await mint([subscribe({ match: `${AUD}/subscriptions/exact/*`, match_type: "urlpattern" })]);
    const doc = docsOf(events, subscriber).find((d) => d.match === EXACT) as Doc;
    assert.equal((await get(hub, doc.id, jwt)).status, 200);
    assert.equal((await get(hub, `${API}/urlpattern/${PATTERN_ENCODED}`, jwt)).status, 403);
    const otherHost = await mint([
      subscribe({ match: `https://other.example${API}/*`, match_type: "urlpattern" }),
    ]);
    assert.equal((await get(hub, doc.id, otherHost)).status, 403, "another origin's pattern");
  });

  const errors: {
    section: string;
    path: () => string;
    jwt: () => Promise<string | null>;
    status: number;
    code: string;
    challenge?: RegExp;
  }[] = [
    {
      section: "§Subscription API: an unknown subscription is a 404",
      path: () =>
        `${API}/exact/${EXACT_ENCODED}/${encodeURIComponent("urn:uuid:00000000-0000-4000-8000-000000000000")}`,
      jwt: () => mint([subscribe(...WATCH)]),
      status: 404,
      code: "SSEB_ERR_NOT_FOUND",
    },
    {
      section: "§Subscription API: an unknown match_type segment is a 404",
      path: () => `${API}/regex/${EXACT_ENCODED}`,
      jwt: () => mint([subscribe(...WATCH)]),
      status: 404,
      code: "SSEB_ERR_NOT_FOUND",
    },
    {
      section: "§Subscription API: match_type is case-sensitive",
      path: () => `${API}/Exact/${EXACT_ENCODED}`,
      jwt: () => mint([subscribe(...WATCH)]),
      status: 404,
      code: "SSEB_ERR_NOT_FOUND",
    },
    {
      section: "§Subscription API: no other path shape (a type alone, or deeper)",
      path: () => `${API}/exact`,
      jwt: () => mint([subscribe(...WATCH)]),
      status: 404,
      code: "SSEB_ERR_NOT_FOUND",
    },
    {
      section: "§Subscription API: bad percent-encoding is a 400",
      path: () => `${API}/exact/%E0%A4%A`,
      jwt: () => mint([subscribe(...WATCH)]),
      status: 400,
      code: "SSEB_ERR_REQUEST_INVALID",
    },
    {
      section:
        "§Subscription API / §Error Responses: a token without subscribe on the URL is a 403 insufficient_scope",
      path: () => API,
      jwt: () =>
        mint([
          subscribe({ match: "https://example.com/*", match_type: "urlpattern" }),
          { actions: ["publish"], topics: [{ match: "*" }] },
        ]),
      status: 403,
      code: "SSEB_ERR_MERCURE_TOKEN_SCOPE",
      challenge: /error="insufficient_scope"/,
    },
    {
      section: "§Subscription API: grants on one matcher's subscriptions do not open the collection",
      path: () => API,
      jwt: () => mint([subscribe({ match: `${API}/exact/*`, match_type: "urlpattern" })]),
      status: 403,
      code: "SSEB_ERR_MERCURE_TOKEN_SCOPE",
      challenge: /error="insufficient_scope"/,
    },
    {
      section: "§Error Responses: an invalid access token is a 401 invalid_token",
      path: () => API,
      jwt: () => mint([subscribe(...WATCH)], "wrong-secret-at-least-256-bits-long-0000!!"),
      status: 401,
      code: "SSEB_ERR_MERCURE_TOKEN_INVALID",
      challenge: /error="invalid_token"/,
    },
    {
      section: "§Authorization: no token is a 401",
      path: () => API,
      jwt: async () => null,
      status: 401,
      code: "SSEB_ERR_AUTH_REQUIRED",
      challenge: /^Bearer /,
    },
  ];
  for (const c of errors) {
    it(c.section, async () => {
      const r = await get(hub, c.path(), await c.jwt());
      assert.equal(r.status, c.status, r.body);
      assert.equal(errorCode(r), c.code);
      if (c.challenge !== undefined) assert.match(String(r.headers["www-authenticate"]), c.challenge);
    });
  }

  it("orders payloads by detail: a `*` detail first masks the specific one (§Payloads)", async () => {
    const jwt = await mint([
      { ...subscribe({ match: "*" }), payload: { p: "broad" } },
      { ...subscribe({ match: EXACT }), payload: { p: "exact" } },
    ]);
    const masked = await connectSse(url1(hub, [["match", EXACT]]), bearer(jwt));
    const about = () =>
      events.events
        .filter((e) => e.event === "mercure")
        .map((e) => JSON.parse(e.data) as Doc)
        .find((d) => d.match === EXACT && d.subscriber !== subscriber && d.active);
    await waitFor("the masked subscription's event", () => about() !== undefined, 5000);
    assert.deepEqual(about()?.payload, { p: "broad" }, "in the event");
    const r = await get(hub, about()?.id, readAll);
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(json(r).payload, { p: "broad" }, "in the API");
    masked.close();
  });

  it("keeps the classic API for a classic token: classic subscriptions only, as JSON-LD", async () => {
    const r = await get(
      hub,
      API,
      await subscriberToken(["/.well-known/mercure/subscriptions{/topic}{/subscriber}"]),
    );
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers["content-type"], "application/ld+json");
    const body = json(r);
    assert.equal(body.type, "Subscriptions");
    const topics = (body.subscriptions as Doc[]).map((d) => d.topic);
    assert.ok(topics.includes("https://example.com/classic-listed"), topics.join());
    assert.ok(
      (body.subscriptions as Doc[]).every((d) => d.type === "Subscription" && d.subscriber !== subscriber),
      "no 1.0 subscription in the classic list",
    );
  });
});
