/**
 * The Mercure subscriptions API is cluster-wide with `--redis`: node B lists node A's subscribers; a
 * closed subscription leaves the list; a SIGKILLed node's entries leave it within the TTL; during a Redis
 * outage the list is a 503 while subscribing still works, and after it the nodes rewrite their entries;
 * a node stopping cleanly removes its keys.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { SignJWT } from "jose";
import { type OpenStream, openStream } from "../cli/helpers.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { call, type Node, sigkill, startNodes, uniquePrefix, waitUntil } from "./helpers.js";

const KEY = "cluster-mercure-secret-at-least-256-bits!!";
const TTL_MS = 1_500;
const API = "/.well-known/mercure/subscriptions";
const API_TEMPLATE = "/.well-known/mercure/subscriptions{/topic}{/subscriber}";
const BOOK = "https://example.com/books/1";
const REVIEW = "https://example.com/reviews/{id}";

interface Doc {
  id: string;
  topic: string;
  subscriber: string;
  active: boolean;
  payload?: unknown;
}

async function jwt(mercure: Record<string, unknown>): Promise<string> {
  return new SignJWT({ mercure })
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime("10m")
    .sign(new TextEncoder().encode(KEY));
}

describe("Mercure subscriptions API across nodes", () => {
  let redis: RedisServer;
  let nodes: Node[] = [];
  let reader: Redis | undefined;
  const streams: OpenStream[] = [];
  let apiToken: string;
  before(async () => {
    redis = await startRedisServer({ persistent: true });
    apiToken = await jwt({ subscribe: [API_TEMPLATE] });
  });
  after(async () => {
    for (const s of streams) s.destroy();
    for (const n of nodes) n.kill();
    reader?.disconnect();
    await redis.dispose();
  });

  /** GET the subscriptions list on `node`; the documents, or the status when it is not a 200. */
  async function list(node: Node): Promise<Doc[] | number> {
    const r = await call(node.port, "GET", API, { Authorization: `Bearer ${apiToken}` });
    if (r.status !== 200) return r.status;
    return (JSON.parse(r.body) as { subscriptions: Doc[] }).subscriptions;
  }
  const topicsOn = async (node: Node): Promise<string[] | number> => {
    const l = await list(node);
    return typeof l === "number" ? l : l.map((d) => d.topic).sort();
  };
  const subscribe = async (node: Node, topic: string, bearer?: string): Promise<OpenStream> => {
    const s = await openStream(
      node.port,
      `/.well-known/mercure?topic=${encodeURIComponent(topic)}`,
      bearer === undefined ? {} : { Authorization: `Bearer ${bearer}` },
    );
    assert.equal(s.res.statusCode, 200, `subscribed to ${topic}`);
    streams.push(s);
    return s;
  };

  it("lists, forgets and expires subscriptions cluster-wide", async (t) => {
    const prefix = uniquePrefix();
    nodes = await startNodes(2, redis.url, prefix, [
      "--jwt-key",
      KEY,
      "--subscriptions",
      "--anonymous",
      "--subscriptions-ttl-ms",
      String(TTL_MS),
      "--heartbeat-ms",
      "500",
    ]);
    const [a, b] = nodes as [Node, Node];
    const nodeId = (n: Node): string =>
      n.logs.find((l) => l.msg.startsWith("Listening on "))?.subscriptionsNode as string;
    assert.match(nodeId(a), /:\d+:/, "A logs its node id in the subscriptions registry");
    assert.deepEqual(await list(b), [], "nothing listed at first");

    // ---- a subscriber on A is listed on B, with its payload ----
    const onA = await subscribe(a, BOOK, await jwt({ subscribe: [BOOK], payload: { user: "alice" } }));
    await waitUntil("A's subscriber listed on B", async () => (await topicsOn(b)).toString() === BOOK);
    const [doc] = (await list(b)) as Doc[];
    assert.equal(doc?.active, true, "active");
    assert.deepEqual(doc?.payload, { user: "alice" }, "with the token's payload");
    assert.match(doc?.subscriber ?? "", /^urn:uuid:/, "subscriber IRI");
    const one = await call(
      b.port,
      "GET",
      `${API}/${encodeURIComponent(BOOK)}/${encodeURIComponent(doc?.subscriber ?? "")}`,
      { Authorization: `Bearer ${apiToken}` },
    );
    assert.equal(one.status, 200, "one subscription of A, asked on B");
    assert.equal((JSON.parse(one.body) as Doc).id, doc?.id, "the same document");

    // ---- it leaves the list when it disconnects ----
    onA.destroy();
    await waitUntil("the closed subscription gone from B's list", async () => {
      const l = await list(b);
      return Array.isArray(l) && l.length === 0;
    });

    // ---- SIGKILL: A's entries expire within the TTL, B's stay ----
    await subscribe(a, REVIEW);
    const bookOnB = await subscribe(b, BOOK);
    await waitUntil(
      "both subscribers listed on B",
      async () => (await topicsOn(b)).toString() === [BOOK, REVIEW].sort().toString(),
    );
    const killedAt = performance.now();
    await sigkill(a);
    await waitUntil(
      "the SIGKILLed node's subscription gone",
      async () => (await topicsOn(b)).toString() === BOOK,
      TTL_MS + 3_000,
    );
    const expiredIn = performance.now() - killedAt;
    assert.ok(expiredIn <= TTL_MS + 500, `gone within the TTL (${Math.round(expiredIn)} ms, TTL ${TTL_MS})`);
    t.diagnostic(
      `SIGKILLed node's subscriptions left the list after ${Math.round(expiredIn)} ms (TTL ${TTL_MS} ms)`,
    );

    // ---- Redis outage: list → 503, subscribing still works; entries rewritten after ----
    await redis.stop(); // AOF: Redis comes back with B's entries as they were before the outage
    const during = await call(b.port, "GET", API, { Authorization: `Bearer ${apiToken}` });
    assert.equal(during.status, 503, `list during the outage is a 503 (got ${during.status})`);
    assert.ok(during.headers["retry-after"] !== undefined, "with Retry-After");
    assert.match(during.body, /SSEB_ERR_BACKPLANE_UNAVAILABLE/, "coded error");
    await subscribe(b, REVIEW); // must not wait for Redis
    const from = b.logs.length;
    bookOnB.destroy(); // closed during the outage: must not come back from the AOF
    await b.waitForLog((l) => l.msg.startsWith("Removed client."), 5_000, from);
    await redis.start();
    const backAt = performance.now();
    await waitUntil(
      "B's entries as they are now (the new one, not the one closed meanwhile) after the restart",
      async () => (await topicsOn(b)).toString() === REVIEW,
      TTL_MS + 5_000,
    );
    t.diagnostic(`entries rewritten ${Math.round(performance.now() - backAt)} ms after Redis came back`);
    const warnings = b.logs.filter((l) => l.msg.startsWith("Subscription registry: Redis unavailable"));
    assert.equal(warnings.length, 1, `the outage logged once by the registry (${warnings.length})`);

    // ---- clean stop: B removes its keys ----
    reader = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await reader.connect();
    const bKey = `${prefix}subscriptions:${nodeId(b)}`;
    assert.equal(await reader.exists(bKey), 1, "B's hash exists while B runs");
    const ttl = await reader.pttl(bKey);
    assert.ok(ttl > 0 && ttl <= TTL_MS, `B's hash has a TTL (${ttl} ms)`);
    process.kill(b.pid, "SIGTERM");
    const exit = await b.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, "B stopped cleanly");
    assert.equal(await reader.exists(bKey), 0, "B's hash deleted on a clean stop");
    assert.equal(await reader.zscore(`${prefix}subscriptions`, nodeId(b)), null, "B left the node set");
  });
});
