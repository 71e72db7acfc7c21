/**
 * The subscribe hook on the Mercure hub: asked after the hub's own token check, with the subscriber id,
 * and able to deny or narrow a classic subscription. Real hub, real backend, real HTTP.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import {
  type Hub,
  publisherToken,
  publishForm,
  startHub,
  subscriberToken,
  subscribeUrl,
} from "../mercure/hub-fixture.js";
import { type Backend, json, startBackend } from "./backend.js";

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

async function setup(answer: Parameters<typeof startBackend>[0]): Promise<{ backend: Backend; hub: Hub }> {
  const backend = await startBackend(answer);
  open.push(backend);
  const hub = await startHub({ anonymous: true }, { subscribeHookUrl: backend.url });
  open.push(hub);
  return { backend, hub };
}

async function subscribe(url: string, headers: Record<string, string> = {}): Promise<SseConnection> {
  const sse = await connectSse(url, { headers });
  open.push(sse);
  return sse;
}

async function publish(hub: Hub, topic: string, data: string): Promise<void> {
  const r = await publishForm(
    hub.hub,
    [
      ["topic", topic],
      ["data", data],
    ],
    await publisherToken(),
  );
  assert.equal(r.status, 200, r.body);
}

describe("subscribe hook on the Mercure hub", () => {
  it("asks with the subscriber id and the token, then serves the narrowed topics", async () => {
    const { backend, hub } = await setup(json({ allow: true, topics: ["https://example.com/b"] }));
    const jwt = await subscriberToken();
    const sse = await subscribe(subscribeUrl(hub.hub, ["https://example.com/a", "https://example.com/b"]), {
      Authorization: `Bearer ${jwt}`,
    });
    assert.equal(sse.status, 200);
    const call = backend.calls[0];
    assert.equal(call?.headers.authorization, `Bearer ${jwt}`);
    const body = call?.body as Record<string, unknown>;
    assert.equal(body.route, "mercure");
    assert.match(String(body.id), /^urn:uuid:/);
    assert.deepEqual(body.topics, ["https://example.com/a", "https://example.com/b"]);
    await publish(hub, "https://example.com/a", "not for you");
    await publish(hub, "https://example.com/b", "yours");
    const [first] = await sse.waitForEvents(1);
    assert.equal(first?.data, "yours");
  });

  it("answers the application's denial", async () => {
    const { hub } = await setup(json({ allow: false, status: 403, reason: "banned" }));
    const sse = await subscribe(subscribeUrl(hub.hub, ["https://example.com/a"]));
    assert.equal(sse.status, 403);
    await sse.waitForEnd();
    assert.equal((JSON.parse(sse.raw) as { error: { code: string } }).error.code, "SSEB_ERR_HOOK_DENIED");
  });

  it("refuses an invalid token itself, before asking the application", async () => {
    const { backend, hub } = await setup(json({ allow: true }));
    const sse = await subscribe(subscribeUrl(hub.hub, ["https://example.com/a"]), {
      Authorization: "Bearer not-a-jwt",
    });
    assert.equal(sse.status, 401);
    assert.equal(backend.calls.length, 0);
  });

  it("keeps the Mercure 1.0 matchers whose value the application names", async () => {
    const { backend, hub } = await setup(json({ allow: true, topics: ["https://example.com/b"] }));
    const q = new URLSearchParams([
      ["match", "https://example.com/a"],
      ["match_exact", "https://example.com/b"],
    ]);
    const sse = await subscribe(`${hub.hub}?${q}`);
    assert.equal(sse.status, 200);
    const body = backend.calls[0]?.body as Record<string, unknown>;
    assert.deepEqual(body.topics, ["https://example.com/a", "https://example.com/b"]);
    assert.equal((body.matchers as unknown[]).length, 2);
    await publish(hub, "https://example.com/a", "not for you");
    await publish(hub, "https://example.com/b", "yours");
    const [first] = await sse.waitForEvents(1);
    assert.equal(first?.data, "yours");
  });

  it("treats a Mercure 1.0 answer naming a matcher not asked for as a failure", async () => {
    const { hub } = await setup(json({ allow: true, topics: ["https://example.com/other"] }));
    const sse = await subscribe(`${hub.hub}?${new URLSearchParams([["match", "https://example.com/a"]])}`);
    assert.equal(sse.status, 503);
    await sse.waitForEnd();
    assert.equal(
      (JSON.parse(sse.raw) as { error: { code: string } }).error.code,
      "SSEB_ERR_HOOK_UNAVAILABLE",
    );
  });
});
