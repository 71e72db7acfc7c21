/**
 * `POST /subscribers/{id}/selectors` across two nodes on a real redis-server (issue 11, feature 1): the
 * change is asked on B for a stream held by A and takes effect there; 404 when no node holds the id; the
 * holder checks the credential (403); a node that never answers makes it a 504.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, afterEach, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { createBroker, type SseBroker } from "../../src/index.js";
import { createRedisSubscriberRouter } from "../../src/subscribers/redis.js";
import { createRedisTransport } from "../../src/transport/redis.js";
import { openStream } from "../cli/helpers.js";
import { send } from "../helpers/http.js";
import { freePort } from "../helpers/net.js";
import { type RedisServer, startRedisServer, uniquePrefix } from "../helpers/redis-server.js";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import { call, eventsOf, type Node, startNodes, waitUntil } from "./helpers.js";

interface HttpNode {
  readonly broker: SseBroker;
  readonly url: string;
}

describe("Selector changes across nodes", () => {
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

  async function node(prefix: string, opts: { publishToken?: string; timeoutMs?: number } = {}) {
    const transport = createRedisTransport({ url: redis.url, keyPrefix: prefix, logger: null });
    const broker = createBroker({
      heartbeatMs: null,
      logger: null,
      demoRoutes: false,
      transport,
      ...(opts.publishToken === undefined ? {} : { publishToken: opts.publishToken }),
    });
    const router = createRedisSubscriberRouter({
      url: redis.url,
      keyPrefix: prefix,
      logger: null,
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    });
    router.attach(broker);
    await router.ready();
    await broker.ready();
    const server = createServer(broker.handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanup.push(async () => {
      await broker.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    return { broker, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } as HttpNode;
  }

  const change = (n: HttpNode, id: string, body: unknown, headers: Record<string, string> = {}) =>
    send(`${n.url}/subscribers/${encodeURIComponent(id)}/selectors`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const publish = async (n: HttpNode, topic: string, data: string, token?: string) => {
    const r = await send(`${n.url}/publish`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify({ topic, data }),
    });
    assert.equal(r.status, 200, r.body);
  };
  const open = async (n: HttpNode, topic: string, headers: Record<string, string> = {}) => {
    const c = await connectSse(`${n.url}/events?topic=${encodeURIComponent(topic)}`, { headers });
    cleanup.push(async () => c.close());
    assert.equal(c.status, 200);
    return c;
  };
  const idOf = (c: SseConnection) => c.headers["sse-broker-subscriber"] as string;

  it("applies a change asked on B to A's stream, on the open connection", async () => {
    const prefix = uniquePrefix();
    const a = await node(prefix);
    const b = await node(prefix);
    const c = await open(a, "old");
    const r = await change(b, idOf(c), { add: ["new"], remove: ["old"] });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json, { subscriber: idOf(c), selectors: ["new"] });
    await publish(b, "old", "removed");
    await publish(b, "new", "added");
    const events = await c.waitForEvents(1);
    assert.equal(events[0]?.data, "added");
    await publish(a, "new", "end");
    await c.waitForEvents(2);
    assert.deepEqual(
      c.events.map((e) => e.data),
      ["added", "end"],
    );
    assert.equal(c.ended, false);
  });

  it("answers 404 when no node holds the id, and the holder's 403 for a wrong token", async () => {
    const prefix = uniquePrefix();
    const a = await node(prefix, { publishToken: "pub" });
    const b = await node(prefix, { publishToken: "pub" });
    const c = await open(a, "t", { Authorization: "Bearer own" });
    let r = await change(
      b,
      "urn:uuid:00000000-0000-0000-0000-000000000000",
      { add: ["x"] },
      {
        Authorization: "Bearer pub",
      },
    );
    assert.equal(r.status, 404, r.body);
    assert.equal(r.json?.error?.code, "SSEB_ERR_SUBSCRIBER_NOT_FOUND");
    r = await change(b, idOf(c), { add: ["x"] }, { Authorization: "Bearer wrong" });
    assert.equal(r.status, 403, r.body);
    assert.equal(r.json?.error?.code, "SSEB_ERR_SUBSCRIBER_FORBIDDEN");
    r = await change(b, idOf(c), { add: ["x"] }, { Authorization: "Bearer own" });
    assert.equal(r.status, 200, r.body);
    // A selector the holder refuses comes back with the holder's code.
    r = await change(b, idOf(c), { remove: ["t", "x"] }, { Authorization: "Bearer pub" });
    assert.equal(r.status, 400, r.body);
    assert.equal(r.json?.error?.code, "SSEB_ERR_TOPIC_INVALID");
  });

  it("answers 504 when a listener on the channel never answers", async () => {
    const prefix = uniquePrefix();
    const a = await node(prefix, { timeoutMs: 300 });
    const silent = new Redis(redis.url);
    cleanup.push(async () => silent.disconnect());
    await silent.subscribe(`${prefix}subscribers`);
    const r = await change(a, "urn:uuid:00000000-0000-0000-0000-000000000001", { add: ["x"] });
    assert.equal(r.status, 504, r.body);
    assert.equal(r.json?.error?.code, "SSEB_ERR_SUBSCRIBER_TIMEOUT");
  });

  it("works between two CLI processes started with --redis", async () => {
    const prefix = uniquePrefix();
    const nodes: Node[] = await startNodes(2, redis.url, prefix);
    cleanup.push(async () => {
      for (const n of nodes) n.kill();
    });
    const [a, b] = nodes as [Node, Node];
    const stream = await openStream(a.port, "/events?topic=old");
    cleanup.push(async () => stream.destroy());
    const id = stream.res.headers["sse-broker-subscriber"] as string;
    assert.match(id, /^urn:uuid:/);
    const path = `/subscribers/${encodeURIComponent(id)}/selectors`;
    const body = JSON.stringify({ add: ["new"], remove: ["old"] });
    // Each node listens on Redis once its router connected, just after it starts listening on HTTP.
    await waitUntil(
      "B forwards the change to A",
      async () =>
        (await call(b.port, "POST", path, { "Content-Type": "application/json" }, body)).status === 200,
    );
    await call(
      b.port,
      "POST",
      "/publish",
      { "Content-Type": "application/json" },
      '{"topic":"old","data":"x"}',
    );
    await call(
      b.port,
      "POST",
      "/publish",
      { "Content-Type": "application/json" },
      '{"topic":"new","data":"y"}',
    );
    await stream.waitForEvents(1);
    assert.deepEqual(
      eventsOf(stream).map((e) => e.data),
      ["y"],
    );
  });

  it("refuses with 503 while Redis is unreachable, instead of waiting", async () => {
    const port = await freePort();
    const router = createRedisSubscriberRouter({ url: `redis://127.0.0.1:${port}`, logger: null });
    cleanup.push(() => router.close());
    const change = { id: "urn:uuid:x", add: ["a"], remove: [], publisher: true, credentialHash: null };
    await assert.rejects(router.forward(change), { code: "SSEB_ERR_BACKPLANE_UNAVAILABLE", statusCode: 503 });
  });
});
