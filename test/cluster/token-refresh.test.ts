/**
 * `POST /.well-known/mercure/subscribers/{id}/token` across two hubs on a real redis-server (issue 11,
 * feature 2): a refresh asked on B for a stream held by A is verified by A with A's keys (B is given a
 * different subscriber key, so only the holder's verification can accept or refuse) and extends A's stream
 * on its open connection; B returns A's refusals as they are; 404 when no node holds the id.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { MercureOptions } from "../../src/mercure/index.js";
import { createRedisSubscriptionRegistry } from "../../src/mercure/redis-registry.js";
import { createRedisSubscriberRouter } from "../../src/subscribers/redis.js";
import { createRedisTransport } from "../../src/transport/redis.js";
import { type RedisServer, startRedisServer, uniquePrefix } from "../helpers/redis-server.js";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";
import {
  errorCode,
  type Hub,
  httpRequest,
  MARKER,
  PUBLISHER_SECRET,
  publishData,
  startHub,
  subscriberToken,
  subscribeUrl,
  token,
} from "../mercure/hub-fixture.js";

const A = "https://example.com/a";
const C = "https://example.com/c";
const API = "/.well-known/mercure/subscriptions";
/** B's own subscriber key: a token B alone would accept, and A refuses. */
const B_SUBSCRIBER_SECRET = "node-b-subscriber-secret-at-least-256-bits!";
const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;

/** Polls an async condition (an HTTP read) until it holds, bounded in time (./helpers.ts needs dist/). */
async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

describe("Mercure token refresh across nodes", () => {
  let redis: RedisServer;
  const cleanup: (() => Promise<void>)[] = [];
  before(async () => {
    redis = await startRedisServer();
  });
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  after(async () => {
    await redis.dispose();
  });

  async function node(prefix: string, subscriberJwtKey?: string, extra: MercureOptions = {}): Promise<Hub> {
    const hub = await startHub(
      { anonymous: true, ...(subscriberJwtKey === undefined ? {} : { subscriberJwtKey }), ...extra },
      {
        logger: null,
        demoRoutes: false,
        transport: createRedisTransport({ url: redis.url, keyPrefix: prefix, logger: null }),
      },
    );
    cleanup.push(() => hub.close()); // the router closes with the broker
    const router = createRedisSubscriberRouter({ url: redis.url, keyPrefix: prefix, logger: null });
    router.attach(hub.broker);
    await router.ready();
    await hub.broker.ready();
    return hub;
  }

  const refresh = (on: Hub, subscriber: string, jwt: string) =>
    httpRequest(`${on.hub}/subscribers/${encodeURIComponent(subscriber)}/token`, {
      method: "POST",
      headers: { Authorization: `Bearer ${jwt}` },
    });

  /** A stream on `hub` for A and MARKER, with `jwt` (or none); its subscriber id. */
  async function open(hub: Hub, jwt: string | null): Promise<{ sse: SseConnection; subscriber: string }> {
    const before = new Set(hub.broker.sessions);
    const sse = await connectSse(subscribeUrl(hub.hub, [A, MARKER]), {
      headers: jwt === null ? {} : { Authorization: `Bearer ${jwt}` },
    });
    cleanup.push(async () => sse.close());
    assert.equal(sse.status, 200, sse.raw);
    const session = [...hub.broker.sessions].find((s) => !before.has(s));
    assert.ok(session?.subscriberId);
    return { sse, subscriber: session.subscriberId };
  }

  it("extends A's stream past its old exp when the new token is posted on B", async () => {
    const prefix = uniquePrefix();
    const a = await node(prefix);
    const b = await node(prefix, B_SUBSCRIBER_SECRET);
    const { sse, subscriber } = await open(a, await subscriberToken([A, MARKER], {}, { exp: inSeconds(3) }));
    const oldEnd = a.broker.subscriber(subscriber)?.expiresAt as number;
    assert.ok(Number.isFinite(oldEnd));
    const r = await refresh(b, subscriber, await subscriberToken([A, MARKER, C], {}, { exp: inSeconds(60) }));
    assert.equal(r.status, 200, r.body);
    const body = JSON.parse(r.body);
    assert.equal(body.subscriber, subscriber);
    assert.equal(
      body.expiresAt,
      new Date(a.broker.subscriber(subscriber)?.expiresAt as number).toISOString(),
    );
    assert.ok(Date.parse(body.expiresAt) > oldEnd + 30_000);
    // Past the old end the same connection still receives, with the new token's private rights.
    await waitFor("the old exp passed", () => Date.now() > oldEnd + 200, 10_000);
    await publishData(a, A, "private after", { private: true });
    const id = await publishData(a, MARKER, "end");
    await waitFor("the end marker", () => sse.events.some((e) => e.id === id), 5000);
    assert.equal(sse.ended, false);
    assert.deepEqual(
      sse.events.map((e) => e.data),
      ["private after", "end"],
    );
  });

  it("moves the stream's maxStreamsPerToken slot on its holder, and returns its 429 with Retry-After", async () => {
    const prefix = uniquePrefix();
    const a = await node(prefix, undefined, { maxStreamsPerToken: 1 });
    const b = await node(prefix);
    const [t1, t2, t3] = await Promise.all([1, 2, 3].map((n) => subscriberToken(["*", `urn:n:${n}`])));
    const s1 = await open(a, t1 as string);
    const s2 = await open(a, t2 as string);
    const full = await refresh(b, s1.subscriber, t2 as string);
    assert.equal(full.status, 429, full.body);
    assert.equal(errorCode(full), "SSEB_ERR_LIMIT_STREAMS_PER_TOKEN");
    // The holder's own Retry-After (token-streams.ts: 10 s), not the default a bare refusal gets (5 s).
    assert.equal(full.headers["retry-after"], "10", "the holder's Retry-After comes through B");
    // s2 moves to t3 (through B), which frees t2 for s1; then t1 is free on A.
    assert.equal((await refresh(b, s2.subscriber, t3 as string)).status, 200);
    const moved = await refresh(b, s1.subscriber, t2 as string);
    assert.equal(moved.status, 200, moved.body);
    const again = await connectSse(subscribeUrl(a.hub, [A]), { headers: { Authorization: `Bearer ${t1}` } });
    cleanup.push(async () => again.close());
    assert.equal(again.status, 200, "t1's slot on A was freed by the refresh");
  });

  it("B's subscriptions API (Redis registry) lists the payload of the token posted on B", async () => {
    const prefix = uniquePrefix();
    const withRegistry = (): MercureOptions => ({
      subscriptions: true,
      registry: createRedisSubscriptionRegistry({ url: redis.url, keyPrefix: prefix, logger: null }),
    });
    const a = await node(prefix, undefined, withRegistry());
    const b = await node(prefix, undefined, withRegistry());
    const apiToken = await subscriberToken([`${API}{/topic}{/subscriber}`]);
    const payloadsOnB = async (subscriber: string): Promise<string[]> => {
      const r = await httpRequest(`${b.base}${API}`, { headers: { Authorization: `Bearer ${apiToken}` } });
      assert.equal(r.status, 200, r.body);
      return (JSON.parse(r.body).subscriptions as { subscriber: string; topic: string; payload?: unknown }[])
        .filter((d) => d.subscriber === subscriber)
        .map((d) => `${d.topic} ${JSON.stringify(d.payload)}`)
        .sort();
    };
    const { subscriber } = await open(a, await subscriberToken([A, MARKER], { payload: { v: 1 } }));
    await waitUntil("B lists the opening payload", async () =>
      (await payloadsOnB(subscriber)).includes(`${A} {"v":1}`),
    );
    const r = await refresh(b, subscriber, await subscriberToken([A, MARKER], { payload: { v: 2 } }));
    assert.equal(r.status, 200, r.body);
    let listed: string[] = [];
    await waitUntil("B lists the new payload", async () => {
      listed = await payloadsOnB(subscriber);
      return listed.includes(`${A} {"v":2}`);
    });
    assert.deepEqual(listed, [`${A} {"v":2}`, `${MARKER} {"v":2}`]);
  });

  it("returns the holder's refusals through B, and 404 when no node holds the id", async () => {
    const prefix = uniquePrefix();
    const a = await node(prefix);
    const b = await node(prefix, B_SUBSCRIBER_SECRET);
    const { subscriber } = await open(a, await subscriberToken([A, MARKER], {}, { exp: inSeconds(60) }));
    const oldEnd = a.broker.subscriber(subscriber)?.expiresAt;
    const cases: [string, string, number, string][] = [
      [
        "signed with B's key only",
        await token({ subscribe: ["*"] }, B_SUBSCRIBER_SECRET, { exp: inSeconds(120) }),
        401,
        "SSEB_ERR_AUTH_TOKEN_INVALID",
      ],
      [
        "publisher key",
        await token({ subscribe: ["*"] }, PUBLISHER_SECRET, { exp: inSeconds(120) }),
        401,
        "SSEB_ERR_AUTH_TOKEN_INVALID",
      ],
      [
        "narrower rights",
        await subscriberToken([A], {}, { exp: inSeconds(120) }),
        403,
        "SSEB_ERR_AUTH_FORBIDDEN",
      ],
    ];
    for (const [what, jwt, status, code] of cases) {
      const r = await refresh(b, subscriber, jwt);
      assert.equal(r.status, status, `${what}: ${r.body}`);
      assert.equal(errorCode(r), code, what);
    }
    assert.equal(a.broker.subscriber(subscriber)?.expiresAt, oldEnd, "refusals leave the stream as it was");
    const anonymous = await open(a, null);
    const r409 = await refresh(
      b,
      anonymous.subscriber,
      await subscriberToken(["*"], {}, { exp: inSeconds(60) }),
    );
    assert.equal(r409.status, 409, r409.body);
    assert.equal(errorCode(r409), "SSEB_ERR_SUBSCRIBER_NO_TOKEN");
    const unknown = await refresh(
      b,
      "urn:uuid:00000000-0000-0000-0000-000000000000",
      await subscriberToken(["*"], {}, { exp: inSeconds(60) }),
    );
    assert.equal(unknown.status, 404, unknown.body);
    assert.equal(errorCode(unknown), "SSEB_ERR_NOT_FOUND");
  });
});
