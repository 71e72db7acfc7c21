/**
 * Issue 11, feature 2 with active subscriptions, over real HTTP: after a token refresh the stream's
 * subscriptions carry the new token's payload (classic `mercure.payload`; Mercure 1.0 the payload of the
 * first matching subscribe detail, draft-08 Payloads) in the subscriptions APIs, a subscription whose
 * payload changed is announced again (`active: true`, new payload) and one whose payload did not is not,
 * and a matcher added later (a live selector change) takes its payload from the current token.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";
import { type Hub, httpRequest, startHub, subscriberToken, subscribeUrl } from "./hub-fixture.js";
import { DETAIL, ISS, ISS_KEY, OAUTH } from "./oauth-fixture.js";

const A = "https://example.com/a";
const X = "https://example.com/x";
const Y = "https://example.com/y";
const API = "/.well-known/mercure/subscriptions";
const EVENTS_TEMPLATE = `${API}/{topic}/{subscriber}`;
const API_TEMPLATE = `${API}{/topic}{/subscriber}`;

// biome-ignore lint/suspicious/noExplicitAny: JSON documents under test
type Doc = Record<string, any>;
type Detail = { topics: { match: string; match_type?: string }[]; payload?: Record<string, unknown> };

/** An access token of the trusted issuer with these subscribe details, valid 5 minutes. */
function mint(details: Detail[]): Promise<string> {
  return new SignJWT({
    authorization_details: details.map((d) => ({ type: DETAIL, actions: ["subscribe"], ...d })),
    client_id: ISS,
    sub: "someone",
  })
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
    .setIssuer(ISS)
    .setAudience(OAUTH.oauthAudience as string)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(new TextEncoder().encode(ISS_KEY));
}

const bearer = (jwt: string) => ({ headers: { Authorization: `Bearer ${jwt}` } });
const idOf = (c: SseConnection): string => c.headers["sse-broker-subscriber"] as string;

let hub: Hub;
before(async () => {
  hub = await startHub({ anonymous: true, subscriptions: true, ...OAUTH });
});
after(() => hub.close());

const refresh = (subscriber: string, jwt: string) =>
  httpRequest(`${hub.hub}/subscribers/${encodeURIComponent(subscriber)}/token`, {
    method: "POST",
    ...bearer(jwt),
  });

async function listed(jwt: string): Promise<Doc[]> {
  const r = await httpRequest(`${hub.base}${API}`, bearer(jwt));
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body).subscriptions as Doc[];
}

describe("Mercure token refresh and subscription payloads", () => {
  it("classic: the API lists the new payload, and only a changed payload is announced again", async () => {
    const watcher = await connectSse(
      subscribeUrl(hub.hub, [EVENTS_TEMPLATE]),
      bearer(await subscriberToken([EVENTS_TEMPLATE])),
    );
    const apiToken = await subscriberToken([API_TEMPLATE]);
    const c = await connectSse(
      subscribeUrl(hub.hub, [A]),
      bearer(await subscriberToken([A], { payload: { v: 1 } })),
    );
    const id = idOf(c);
    const about = () =>
      watcher.events
        .map((e) => JSON.parse(e.data) as Doc)
        .filter((d) => d.subscriber === id)
        .map((d) => `${d.topic} ${d.active} ${JSON.stringify(d.payload)}`);
    try {
      assert.equal(c.status, 200, c.raw);
      await waitFor("the opening event", () => about().length === 1);
      const v2 = await refresh(id, await subscriberToken([A], { payload: { v: 2 } }));
      assert.equal(v2.status, 200, v2.body);
      await waitFor("the event of the new payload", () => about().length === 2);
      const mine = (await listed(apiToken)).filter((d) => d.subscriber === id);
      assert.deepEqual(
        mine.map((d) => d.payload),
        [{ v: 2 }],
      );
      // The same payload again (another token): nothing to announce; the next change comes right after.
      const same = await refresh(id, await subscriberToken([A], { payload: { v: 2 } }, { exp: 4102444800 }));
      assert.equal(same.status, 200, same.body);
      const v3 = await refresh(id, await subscriberToken([A], { payload: { v: 3 } }));
      assert.equal(v3.status, 200, v3.body);
      await waitFor("the event of the third payload", () => about().length === 3);
      assert.deepEqual(about(), [`${A} true {"v":1}`, `${A} true {"v":2}`, `${A} true {"v":3}`]);
    } finally {
      c.close();
    }
    await waitFor("the end event", () => about().length === 4);
    assert.equal(about()[3], `${A} false {"v":3}`);
    watcher.close();
  });

  it("1.0: the API lists the new detail's payload, and a matcher added later takes the current token's", async () => {
    const watch = await mint([{ topics: [{ match: API }, { match: `${API}/*`, match_type: "urlpattern" }] }]);
    const watcher = await connectSse(
      `${hub.hub}?${new URLSearchParams([
        ["match", API],
        ["match_urlpattern", `${API}/*`],
      ])}`,
      bearer(watch),
    );
    const first = await mint([
      { topics: [{ match: X }], payload: { x: 1 } },
      { topics: [{ match: Y }], payload: { y: 1 } },
    ]);
    const c = await connectSse(`${hub.hub}?${new URLSearchParams([["match", X]])}`, bearer(first));
    const id = idOf(c);
    const about = () =>
      watcher.events
        .filter((e) => e.event === "mercure")
        .map((e) => JSON.parse(e.data) as Doc)
        .filter((d) => d.subscriber === id)
        .map((d) => `${d.match} ${d.active} ${JSON.stringify(d.payload)}`);
    try {
      assert.equal(c.status, 200, c.raw);
      await waitFor("the opening event", () => about().length === 1);
      const second = await mint([
        { topics: [{ match: X }], payload: { x: 2 } },
        { topics: [{ match: Y }], payload: { y: 2 } },
      ]);
      const r = await refresh(id, second);
      assert.equal(r.status, 200, r.body);
      await waitFor("the event of the new payload", () => about().length === 2);
      // The stream's own (new) token adds Y: its payload is the new token's.
      const added = await httpRequest(`${hub.hub}/subscribers/${encodeURIComponent(id)}/selectors`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${second}` },
        body: JSON.stringify({ add: [Y] }),
      });
      assert.equal(added.status, 200, added.body);
      await waitFor("the added subscription's event", () => about().length === 3);
      assert.deepEqual(about(), [`${X} true {"x":1}`, `${X} true {"x":2}`, `${Y} true {"y":2}`]);
      const mine = (await listed(watch)).filter((d) => d.subscriber === id);
      assert.deepEqual(mine.map((d) => `${d.match} ${JSON.stringify(d.payload)}`).sort(), [
        `${X} {"x":2}`,
        `${Y} {"y":2}`,
      ]);
    } finally {
      c.close();
    }
    watcher.close();
  });
});
