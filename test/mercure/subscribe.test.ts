import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { UnsecuredJWT } from "jose";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";
import {
  errorCode,
  type Hub,
  PUBLISHER_SECRET,
  publisherToken,
  publishForm,
  SUBSCRIBER_SECRET,
  startHub,
  subscriberToken,
  subscribeUrl,
  token,
} from "./hub-fixture.js";

let hub: Hub;
before(async () => {
  hub = await startHub({ anonymous: true });
});
after(() => hub.close());

const now = (): number => Math.floor(Date.now() / 1000);
const bearer = (jwt: string): { headers: Record<string, string> } => ({
  headers: { Authorization: `Bearer ${jwt}` },
});

async function publish(
  topic: string | string[],
  data: string,
  opts: { private?: boolean; id?: string } = {},
) {
  const fields: [string, string][] = (Array.isArray(topic) ? topic : [topic]).map((t) => ["topic", t]);
  fields.push(["data", data]);
  if (opts.private === true) fields.push(["private", "on"]);
  if (opts.id !== undefined) fields.push(["id", opts.id]);
  const r = await publishForm(hub.hub, fields, await publisherToken());
  assert.equal(r.status, 200, r.body);
  return r.body;
}

/** Publishes a public marker and waits for it: everything published before it has been delivered. */
async function settle(sse: SseConnection, topic: string): Promise<string[]> {
  const id = await publish(topic, "marker");
  await waitFor("the marker", () => sse.events.some((e) => e.id === id), 5000);
  return sse.events.filter((e) => e.data !== "marker").map((e) => e.data);
}

describe("Mercure subscribe", () => {
  it("opens an event stream whose headers arrive before any update exists", async () => {
    const sse = await connectSse(subscribeUrl(hub.hub, ["https://example.com/nothing-yet"]));
    assert.equal(sse.status, 200);
    assert.match(sse.headers["content-type"] ?? "", /^text\/event-stream/);
    assert.match(String(sse.headers.link), /<\/\.well-known\/mercure>; rel="mercure"/);
    assert.equal(sse.headers["last-event-id"], undefined, "no resume point asked, no Last-Event-ID");
    sse.close();
  });

  it("answers 400 without a topic, and for an invalid URI template", async () => {
    const r1 = await connectSse(hub.hub);
    assert.equal(r1.status, 400);
    r1.close();
    const r2 = await connectSse(subscribeUrl(hub.hub, ["https://example.com/{unclosed"]));
    assert.equal(r2.status, 400);
    r2.close();
  });

  it("matches exact topics, URI templates and *, once per update even when several selectors match", async () => {
    const exact = await connectSse(subscribeUrl(hub.hub, ["https://example.com/books/1", "marker"]));
    const template = await connectSse(subscribeUrl(hub.hub, ["https://example.com/books/{id}", "marker"]));
    const all = await connectSse(subscribeUrl(hub.hub, ["*"]));
    const several = await connectSse(
      subscribeUrl(hub.hub, ["https://example.com/books/1", "https://example.com/books/{id}", "*", "marker"]),
    );
    await publish("https://example.com/books/1", "b1");
    await publish("https://example.com/books/2", "b2");
    await publish("https://example.com/books/2/chapters/1", "deep");
    await publish("https://example.com/authors/1", "a1");
    assert.deepEqual(await settle(exact, "marker"), ["b1"]);
    assert.deepEqual(await settle(template, "marker"), ["b1", "b2"]);
    assert.deepEqual(await settle(all, "marker"), ["b1", "b2", "deep", "a1"]);
    assert.deepEqual(await settle(several, "marker"), ["b1", "b2", "deep", "a1"]);
    for (const s of [exact, template, all, several]) s.close();
  });

  it("delivers private updates only to subscribers whose mercure.subscribe matches, never to anonymous ones", async () => {
    const topic = "https://example.com/private/1";
    const anonymous = await connectSse(subscribeUrl(hub.hub, [topic, "marker"]));
    const allowed = await connectSse(
      subscribeUrl(hub.hub, [topic, "marker"]),
      bearer(await subscriberToken(["https://example.com/private/{id}"])),
    );
    const other = await connectSse(
      subscribeUrl(hub.hub, [topic, "marker"]),
      bearer(await subscriberToken(["https://example.com/public/{id}"])),
    );
    const noClaim = await connectSse(
      subscribeUrl(hub.hub, [topic, "marker"]),
      bearer(await token({}, SUBSCRIBER_SECRET)),
    );
    // Authorized through an alternate topic only.
    const viaAlternate = await connectSse(
      subscribeUrl(hub.hub, [topic, "marker"]),
      bearer(await subscriberToken(["https://example.com/alt"])),
    );
    await publish(topic, "public");
    await publish(topic, "secret", { private: true });
    await publish([topic, "https://example.com/alt"], "secret-alt", { private: true });
    assert.deepEqual(await settle(anonymous, "marker"), ["public"]);
    assert.deepEqual(await settle(allowed, "marker"), ["public", "secret", "secret-alt"]);
    assert.deepEqual(await settle(other, "marker"), ["public"]);
    assert.deepEqual(await settle(noClaim, "marker"), ["public"]);
    assert.deepEqual(await settle(viaAlternate, "marker"), ["public", "secret-alt"]);
    for (const s of [anonymous, allowed, other, noClaim, viaAlternate]) s.close();
  });

  it("takes the token from the authorization query parameter and from the cookie", async () => {
    const topic = "https://example.com/private/q";
    const jwt = await subscriberToken([topic]);
    const byQuery = await connectSse(subscribeUrl(hub.hub, [topic, "marker"], { authorization: jwt }));
    const byCookie = await connectSse(subscribeUrl(hub.hub, [topic, "marker"]), {
      headers: { Cookie: `other=1; mercureAuthorization=${jwt}` },
    });
    await publish(topic, "secret", { private: true });
    assert.deepEqual(await settle(byQuery, "marker"), ["secret"]);
    assert.deepEqual(await settle(byCookie, "marker"), ["secret"]);
    byQuery.close();
    byCookie.close();
  });

  it("refuses an invalid token with 401 even when anonymous subscribers are allowed", async () => {
    const cases = [
      new UnsecuredJWT({ mercure: { subscribe: ["*"] } }).encode(),
      await subscriberToken(["*"], {}, { exp: now() - 5 }),
      await subscriberToken(["*"], {}, { nbf: now() + 3600 }),
      await token({ subscribe: ["*"] }, PUBLISHER_SECRET), // the publisher's key is not the subscriber's
      await subscriberToken(["*"], {}, { alg: "HS384" }),
    ];
    for (const jwt of cases) {
      const sse = await connectSse(subscribeUrl(hub.hub, ["a"]), bearer(jwt));
      assert.equal(sse.status, 401);
      assert.match(errorCode({ status: 401, headers: {}, body: sse.raw }) ?? "", /^SSEB_ERR_AUTH_TOKEN_/);
      sse.close();
    }
  });

  it("a lower-priority valid token does not rescue an invalid header token", async () => {
    const good = await subscriberToken();
    const sse = await connectSse(subscribeUrl(hub.hub, ["a"], { authorization: good }), bearer("x.y.z"));
    assert.equal(sse.status, 401);
    sse.close();
  });

  it("closes the stream when the subscriber's token expires", async () => {
    const exp = now() + 2;
    const sse = await connectSse(
      subscribeUrl(hub.hub, ["a"]),
      bearer(await subscriberToken(["*"], {}, { exp })),
    );
    assert.equal(sse.status, 200);
    await sse.waitForEnd(6000);
    assert.ok(Date.now() >= exp * 1000 - 50, "not closed before exp");
  });

  it("keeps idle streams alive with heartbeat comments", async () => {
    const h = await startHub({ anonymous: true }, { heartbeatMs: 50 });
    try {
      const sse = await connectSse(subscribeUrl(h.hub, ["idle"]));
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("no heartbeat within 5 s")), 5000);
        const poll = setInterval(() => {
          if (sse.comments.length >= 2) {
            clearTimeout(t);
            clearInterval(poll);
            resolve();
          }
        }, 10);
      });
      assert.equal(sse.events.length, 0);
      sse.close();
    } finally {
      await h.close();
    }
  });

  it("refuses anonymous subscribers with 401 when anonymous is off", async () => {
    const h = await startHub({ anonymous: false });
    try {
      const anon = await connectSse(subscribeUrl(h.hub, ["a"]));
      assert.equal(anon.status, 401);
      assert.match(String(anon.headers["www-authenticate"]), /^Bearer/);
      anon.close();
      const ok = await connectSse(subscribeUrl(h.hub, ["a"]), bearer(await subscriberToken([])));
      assert.equal(ok.status, 200);
      ok.close();
    } finally {
      await h.close();
    }
  });
});
