import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { subscriptionId } from "../../src/mercure/index.js";
import { connectSse } from "../helpers/sse-client.js";
import {
  errorCode,
  type Hub,
  httpRequest,
  publisherToken,
  publishForm,
  SUBSCRIBER_SECRET,
  startHub,
  subscriberToken,
  subscribeUrl,
  token,
} from "./hub-fixture.js";

const API = "/.well-known/mercure/subscriptions";
const EVENTS_TEMPLATE = "/.well-known/mercure/subscriptions/{topic}/{subscriber}";
const API_TEMPLATE = "/.well-known/mercure/subscriptions{/topic}{/subscriber}";

let hub: Hub;
before(async () => {
  hub = await startHub({ anonymous: true, subscriptions: true });
});
after(() => hub.close());

// biome-ignore lint/suspicious/noExplicitAny: JSON documents under test
type Doc = Record<string, any>;

const bearer = (jwt: string): { headers: Record<string, string> } => ({
  headers: { Authorization: `Bearer ${jwt}` },
});

async function getJson(
  path: string,
  jwt: string | null,
): Promise<{ status: number; type: string; body: Doc }> {
  const r = await httpRequest(`${hub.base}${path}`, {
    headers: jwt === null ? {} : { Authorization: `Bearer ${jwt}` },
  });
  return {
    status: r.status,
    type: r.headers["content-type"] ?? "",
    body: r.body === "" ? null : JSON.parse(r.body),
  };
}

describe("Mercure active subscriptions", () => {
  it("publishes a private subscription event when a subscription starts and when it ends", async () => {
    const watcher = await connectSse(
      subscribeUrl(hub.hub, [EVENTS_TEMPLATE]),
      bearer(await subscriberToken([EVENTS_TEMPLATE])),
    );
    const anonymousWatcher = await connectSse(subscribeUrl(hub.hub, [EVENTS_TEMPLATE, "marker"]));
    const topic = "https://example.com/books/{id}";
    const sub = await connectSse(
      subscribeUrl(hub.hub, [topic]),
      bearer(await subscriberToken(["https://example.com/books/1"], { payload: { user: "alice" } })),
    );
    // The watcher first sees its own subscription start; then the one of interest.
    const aboutTopic = async (n: number): Promise<Record<string, unknown>[]> => {
      for (let k = 1; ; k++) {
        const docs = (await watcher.waitForEvents(k)).map(
          (e) => JSON.parse(e.data) as Record<string, unknown>,
        );
        const mine = docs.filter((d) => d.topic === topic);
        if (mine.length >= n) return mine;
      }
    };
    const [doc = {}] = (await aboutTopic(1)) as Doc[];
    assert.equal(doc["@context"], "https://mercure.rocks/");
    assert.equal(doc.type, "Subscription");
    assert.equal(doc.topic, topic);
    assert.match(doc.subscriber, /^urn:uuid:/);
    assert.equal(doc.active, true);
    assert.deepEqual(doc.payload, { user: "alice" });
    assert.equal(doc.id, subscriptionId(topic, doc.subscriber));
    assert.equal(
      doc.id,
      `/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2Fbooks%2F%7Bid%7D/${encodeURIComponent(doc.subscriber)}`,
    );
    sub.close();
    const [, closedDoc = {}] = (await aboutTopic(2)) as Doc[];
    assert.equal(closedDoc.active, false);
    assert.equal(closedDoc.subscriber, doc.subscriber);
    // The anonymous watcher got none of it (events are private).
    const r = await publishForm(
      hub.hub,
      [
        ["topic", "marker"],
        ["data", "m"],
      ],
      await publisherToken(),
    );
    const [first] = await anonymousWatcher.waitForEvents(1);
    assert.equal(first?.id, r.body);
    watcher.close();
    anonymousWatcher.close();
  });

  it("lists subscriptions as JSON-LD: all, by topic, and one by topic and subscriber", async () => {
    const jwt = await subscriberToken([API_TEMPLATE]);
    const a = await connectSse(
      subscribeUrl(hub.hub, ["t/a", "t/b"]),
      bearer(await subscriberToken([], { payload: 42 })),
    );
    const b = await connectSse(subscribeUrl(hub.hub, ["t/a"]));
    await publishForm(
      hub.hub,
      [
        ["topic", "t/a"],
        ["data", "x"],
      ],
      await publisherToken(),
    );
    const all = await getJson(API, jwt);
    assert.equal(all.status, 200);
    assert.equal(all.type, "application/ld+json");
    assert.equal(all.body["@context"], "https://mercure.rocks/");
    assert.equal(all.body.id, API);
    assert.equal(all.body.type, "Subscriptions");
    assert.equal(all.body.lastEventID, hub.broker.lastEventId);
    const mine = all.body.subscriptions.filter((s: { topic: string }) => s.topic.startsWith("t/"));
    assert.equal(mine.length, 3);

    const ofA = mine.filter((s: Doc) => s.payload === 42);
    assert.equal(ofA.length, 2, "t/a and t/b of the first subscriber");
    assert.equal(ofA[0].subscriber, ofA[1].subscriber, "one subscriber id for all its subscriptions");
    assert.deepEqual(ofA.map((s: Doc) => s.topic).sort(), ["t/a", "t/b"]);

    const byTopic = await getJson(`${API}/${encodeURIComponent("t/a")}`, jwt);
    assert.equal(byTopic.status, 200);
    assert.equal(byTopic.body.id, `${API}/t%2Fa`);
    assert.equal(byTopic.body.subscriptions.length, 2);
    const withPayload = byTopic.body.subscriptions.find((s: { payload?: unknown }) => s.payload === 42);
    assert.ok(withPayload, "payload is echoed");

    const one = await getJson(withPayload.id, jwt);
    assert.equal(one.status, 200);
    assert.deepEqual(one.body, { ...withPayload, lastEventID: hub.broker.lastEventId });

    const missing = await getJson(
      `${API}/${encodeURIComponent("t/a")}/${encodeURIComponent("urn:uuid:nope")}`,
      jwt,
    );
    assert.equal(missing.status, 404);
    a.close();
    b.close();
  });

  it("answers lastEventID: earliest before anything was published", async () => {
    const h = await startHub({ subscriptions: true });
    try {
      const r = await httpRequest(`${h.base}${API}`, {
        headers: { Authorization: `Bearer ${await subscriberToken([API_TEMPLATE])}` },
      });
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).lastEventID, "earliest");
      assert.match(String(r.headers.link), /rel="mercure"/);
    } finally {
      await h.close();
    }
  });

  it("needs a token whose mercure.subscribe matches the requested URL", async () => {
    const none = await getJson(API, null);
    assert.equal(none.status, 401);
    const wrong = await getJson(API, await subscriberToken(["https://example.com/{x}"]));
    assert.equal(wrong.status, 403);
    const noClaim = await getJson(API, await token({ payload: 1 }, SUBSCRIBER_SECRET));
    assert.equal(noClaim.status, 403);
    const exactOnly = await subscriberToken([API]);
    assert.equal((await getJson(API, exactOnly)).status, 200);
    assert.equal((await getJson(`${API}/t%2Fa`, exactOnly)).status, 403);
    const star = await subscriberToken(["*"]);
    assert.equal((await getJson(`${API}/t%2Fa`, star)).status, 200);
    const publisherKey = await publisherToken(["*"]);
    const r = await httpRequest(`${hub.base}${API}`, {
      headers: { Authorization: `Bearer ${publisherKey}` },
    });
    assert.equal(r.status, 401, "checked with the subscriber key");
    assert.equal(errorCode(r), "SSEB_ERR_AUTH_TOKEN_INVALID");
  });

  it("answers 404 for deeper paths and 405 for other methods", async () => {
    const jwt = await subscriberToken(["*"]);
    assert.equal((await getJson(`${API}/a/b/c`, jwt)).status, 404);
    const post = await httpRequest(`${hub.base}${API}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${jwt}` },
    });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, "GET, OPTIONS");
  });

  it("has no subscriptions API and publishes no subscription events when the option is off", async () => {
    const h = await startHub({ anonymous: true });
    try {
      const r = await httpRequest(`${h.base}${API}`, {
        headers: { Authorization: `Bearer ${await subscriberToken(["*"])}` },
      });
      assert.equal(r.status, 404);
      const watcher = await connectSse(subscribeUrl(h.hub, ["*"]), bearer(await subscriberToken(["*"])));
      const other = await connectSse(subscribeUrl(h.hub, ["x"]));
      other.close();
      const id = (
        await publishForm(
          h.hub,
          [
            ["topic", "y"],
            ["data", "d"],
          ],
          await publisherToken(),
        )
      ).body;
      const [first] = await watcher.waitForEvents(1);
      assert.equal(first?.id, id, "no subscription event came before the update");
      watcher.close();
    } finally {
      await h.close();
    }
  });
});
