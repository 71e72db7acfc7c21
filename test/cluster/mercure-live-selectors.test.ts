/**
 * Changing a Mercure stream's topics across two hubs on a real redis-server (issue 11, feature 1): the
 * change is asked on B with a publisher token for a stream held by A; A checks the rights B verified (a
 * change they do not cover is A's 403) and applies it; the subscription events and B's subscriptions API
 * (the Redis registry) show the added subscription and no longer the removed one; at the end of the stream
 * only the current one ends.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createRedisSubscriptionRegistry } from "../../src/mercure/redis-registry.js";
import { createRedisSubscriberRouter } from "../../src/subscribers/redis.js";
import { createRedisTransport } from "../../src/transport/redis.js";
import { type RedisServer, startRedisServer, uniquePrefix } from "../helpers/redis-server.js";
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
  settle,
  startHub,
  subscriberToken,
  subscribeUrl,
} from "../mercure/hub-fixture.js";
import { grantToken, OAUTH } from "../mercure/oauth-fixture.js";

const X = "https://example.com/x";
const Y = "https://example.com/y/{n}";
const BOOK = "https://example.com/books/:id";
const API = "/.well-known/mercure/subscriptions";
const EVENTS_TEMPLATE = "/.well-known/mercure/subscriptions/{topic}/{subscriber}";

// biome-ignore lint/suspicious/noExplicitAny: JSON documents under test
type Doc = Record<string, any>;

/** Polls an async condition (an HTTP read) until it holds, bounded in time (./helpers.ts needs dist/). */
async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

describe("Mercure live selector changes across nodes", () => {
  let redis: RedisServer;
  let a: Hub;
  let b: Hub;
  before(async () => {
    redis = await startRedisServer();
    const prefix = uniquePrefix();
    const node = async (): Promise<Hub> => {
      const registry = createRedisSubscriptionRegistry({ url: redis.url, keyPrefix: prefix });
      const hub = await startHub(
        { anonymous: true, subscriptions: true, registry, ...OAUTH },
        {
          logger: null,
          demoRoutes: false,
          transport: createRedisTransport({ url: redis.url, keyPrefix: prefix, logger: null }),
        },
      );
      const router = createRedisSubscriberRouter({ url: redis.url, keyPrefix: prefix, logger: null });
      router.attach(hub.broker);
      await router.ready();
      await hub.broker.ready();
      return hub;
    };
    a = await node();
    b = await node();
  });
  after(async () => {
    await b?.close();
    await a?.close();
    await redis?.dispose();
  });

  const change = (on: Hub, id: string, body: unknown, jwt: string): Promise<HttpResult> =>
    httpRequest(`${on.hub}/subscribers/${encodeURIComponent(id)}/selectors`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${jwt}` },
      body: JSON.stringify(body),
    });

  /** The subscriptions B's API lists for `subscriber` (classic topics, or 1.0 `type match`). */
  async function listedOnB(subscriber: string, jwt: string, v1: boolean): Promise<string[]> {
    const r = await httpRequest(`${b.base}${API}`, { headers: { Authorization: `Bearer ${jwt}` } });
    assert.equal(r.status, 200, r.body);
    return (JSON.parse(r.body).subscriptions as Doc[])
      .filter((d) => d.subscriber === subscriber)
      .map((d) => (v1 ? `${d.match_type} ${d.match}` : d.topic));
  }

  const idOf = (c: SseConnection): string => c.headers["sse-broker-subscriber"] as string;

  it("classic: a publisher JWT on B changes A's stream; events and B's API follow", async () => {
    const watcher = await connectSse(subscribeUrl(b.hub, [EVENTS_TEMPLATE, MARKER]), {
      headers: { Authorization: `Bearer ${await subscriberToken([EVENTS_TEMPLATE])}` },
    });
    const apiToken = await subscriberToken([`${API}{/topic}{/subscriber}`]);
    const c = await connectSse(subscribeUrl(a.hub, [X, MARKER]));
    const id = idOf(c);
    const about = () =>
      watcher.events
        .filter((e) => e.data !== "marker")
        .map((e) => JSON.parse(e.data) as Doc)
        .filter((d) => d.subscriber === id && d.topic !== MARKER)
        .map((d) => `${d.topic} ${d.active}`);
    try {
      assert.equal(c.status, 200, c.raw);
      assert.equal(a.broker.subscriber(id)?.closed, false); // A holds it, B does not
      assert.equal(b.broker.subscriber(id), undefined);
      await waitUntil("B lists the stream", async () => (await listedOnB(id, apiToken, false)).includes(X));
      const jwt = await publisherToken([X, Y]);
      const narrow = await change(b, id, { add: ["https://example.com/{any}"] }, jwt);
      assert.equal(narrow.status, 403, narrow.body);
      assert.equal(errorCode(narrow), "SSEB_ERR_AUTH_FORBIDDEN");
      const r = await change(b, id, { add: [Y], remove: [X] }, jwt);
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(JSON.parse(r.body).selectors, [MARKER, Y]);
      await waitFor("the change's events on B", () => about().length === 3);
      assert.deepEqual(about(), [`${X} true`, `${X} false`, `${Y} true`]);
      let listed: string[] = [];
      await waitUntil("B's API follows", async () => {
        listed = await listedOnB(id, apiToken, false);
        return !listed.includes(X) && listed.includes(Y);
      });
      assert.deepEqual(listed.sort(), [MARKER, Y]);
      await publishData(b, X, "removed");
      await publishData(b, "https://example.com/y/1", "added");
      assert.deepEqual(await settle(b, c), ["added"]);
    } finally {
      c.close();
    }
    await waitFor("the end event", () => about().length === 4);
    assert.deepEqual(about().slice(3), [`${Y} false`]);
    await waitUntil("B's API forgets it", async () => (await listedOnB(id, apiToken, false)).length === 0);
    watcher.close();
  });

  it("1.0: an access token on B adds a URL pattern to A's stream; B's 1.0 API follows", async () => {
    const watch = await grantToken({
      subscribe: [{ match: API }, { match: `${API}/*`, match_type: "urlpattern" }],
    });
    const c = await connectSse(
      `${a.hub}?${new URLSearchParams([
        ["match", X],
        ["match", MARKER],
      ])}`,
    );
    const id = idOf(c);
    try {
      assert.equal(c.status, 200, c.raw);
      await waitUntil("B lists the stream", async () =>
        (await listedOnB(id, watch, true)).includes(`exact ${X}`),
      );
      const jwt = await grantToken({ publish: [{ match: BOOK, match_type: "urlpattern" }, { match: X }] });
      const wider = await change(b, id, { add: [{ match_urlpattern: "https://example.com/:any" }] }, jwt);
      assert.equal(wider.status, 403, wider.body);
      assert.match(wider.headers["www-authenticate"] ?? "", /error="insufficient_scope"/);
      const r = await change(b, id, { add: [{ match_urlpattern: BOOK }], remove: [X] }, jwt);
      assert.equal(r.status, 200, r.body);
      let listed: string[] = [];
      await waitUntil("B's 1.0 API follows", async () => {
        listed = await listedOnB(id, watch, true);
        return !listed.includes(`exact ${X}`) && listed.includes(`urlpattern ${BOOK}`);
      });
      assert.deepEqual(listed.sort(), [`exact ${MARKER}`, `urlpattern ${BOOK}`]);
      await publishData(b, "https://example.com/books/1", "added");
      assert.deepEqual(await settle(b, c), ["added"]);
    } finally {
      c.close();
    }
    await waitUntil("B's API forgets it", async () => (await listedOnB(id, watch, true)).length === 0);
  });
});
