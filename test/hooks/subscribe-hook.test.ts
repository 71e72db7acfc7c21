/**
 * The subscribe hook over real HTTP: a broker on 127.0.0.1 asks a real backend (test/hooks/backend.ts)
 * before each /events stream opens. Waits for conditions (calls received, counters), never for time.
 */
import assert from "node:assert/strict";
import { after, afterEach, describe, it } from "node:test";
import { hooksOf } from "../../src/hooks/index.js";
import { limitsOf } from "../../src/http/limits.js";
import { publish, startServer, type TestServer } from "../helpers/server.js";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";
import { allow, type Backend, json, startBackend } from "./backend.js";

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});
after(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

async function setup(
  answer = allow,
  options: Parameters<typeof startServer>[0] = {},
): Promise<{ backend: Backend; broker: TestServer }> {
  const backend = await startBackend(answer);
  open.push(backend);
  const broker = await startServer({ subscribeHookUrl: backend.url, ...options });
  open.push(broker);
  return { backend, broker };
}

async function connect(
  base: string,
  query: string,
  headers: Record<string, string> = {},
): Promise<SseConnection> {
  const sse = await connectSse(`${base}/events?${query}`, { headers });
  open.push(sse);
  return sse;
}

async function errorOf(sse: SseConnection): Promise<{ code: string; message: string }> {
  await sse.waitForEnd();
  return (JSON.parse(sse.raw) as { error: { code: string; message: string } }).error;
}

const hook = (b: TestServer) => {
  const h = hooksOf(b.broker).subscribe;
  assert.ok(h !== null);
  return h;
};

describe("subscribe hook: allow and deny", () => {
  it("opens the stream when the application allows, with the request and credentials forwarded", async () => {
    const { backend, broker } = await setup();
    const sse = await connect(broker.url, "topic=a&topic=b", {
      Authorization: "Bearer secret-token",
      Cookie: "session=s1",
      "Last-Event-ID": "earliest",
    });
    assert.equal(sse.status, 200);
    assert.equal(backend.calls.length, 1);
    const call = backend.calls[0];
    assert.equal(call?.headers.authorization, "Bearer secret-token");
    assert.equal(call?.headers.cookie, "session=s1");
    const body = call?.body as Record<string, unknown>;
    assert.equal(body.type, "subscribe");
    assert.equal(body.route, "events");
    assert.deepEqual(body.topics, ["a", "b"]);
    assert.equal(body.client, "127.0.0.1");
    assert.equal(body.lastEventId, "earliest");
    assert.match(String(body.id), /^urn:uuid:[0-9a-f-]{36}$/);
    await publish(broker.url, { topic: "b", data: "hello" });
    const [e] = await sse.waitForEvents(1);
    assert.equal(e?.data, "hello");
  });

  for (const status of [401, 403] as const) {
    it(`answers ${status} SSEB_ERR_HOOK_DENIED with the reason when the application denies with ${status}`, async () => {
      const { broker } = await setup(json({ allow: false, status, reason: "no\nway" }));
      const sse = await connect(broker.url, "topic=a");
      assert.equal(sse.status, status);
      const err = await errorOf(sse);
      assert.equal(err.code, "SSEB_ERR_HOOK_DENIED");
      assert.equal(err.message, "no way");
      if (status === 401) assert.equal(sse.headers["www-authenticate"], "Bearer");
      assert.equal(broker.broker.size, 0);
      await waitFor("the denied stream's slot released", () => limitsOf(broker.broker).admission.open === 0);
    });
  }

  it("denies with 403 when the answer has no status", async () => {
    const { broker } = await setup(json({ allow: false }));
    const sse = await connect(broker.url, "topic=a");
    assert.equal(sse.status, 403);
    assert.equal((await errorOf(sse)).code, "SSEB_ERR_HOOK_DENIED");
  });

  it("answers the client's own 400 without asking the application", async () => {
    const { backend, broker } = await setup();
    const sse = await connect(broker.url, `topic=${"x".repeat(2000)}`);
    assert.equal(sse.status, 400);
    assert.equal(backend.calls.length, 0);
  });
});

describe("subscribe hook: narrowing", () => {
  it("subscribes to the topics answered instead of those asked", async () => {
    const { broker } = await setup(json({ allow: true, topics: ["b"] }));
    const sse = await connect(broker.url, "topic=a&topic=b");
    assert.equal(sse.status, 200);
    await publish(broker.url, { topic: "a", data: "not for you" });
    await publish(broker.url, { topic: "b", data: "yours" });
    const [first] = await sse.waitForEvents(1);
    assert.equal(first?.data, "yours"); // a was published first: it would have come first
  });

  it("may grant a topic that was not asked for", async () => {
    const { broker } = await setup(json({ allow: true, topics: ["user/42"] }));
    const sse = await connect(broker.url, "topic=me");
    await publish(broker.url, { topic: "me", data: "not delivered" });
    await publish(broker.url, { topic: "user/42", data: "granted" });
    const [first] = await sse.waitForEvents(1);
    assert.equal(first?.data, "granted");
  });

  it("denies with 403 when the answer narrows to no topic at all", async () => {
    const { broker } = await setup(json({ allow: true, topics: [] }));
    const sse = await connect(broker.url, "topic=a");
    assert.equal(sse.status, 403);
    assert.equal((await errorOf(sse)).code, "SSEB_ERR_HOOK_DENIED");
  });
});

describe("subscribe hook: failures", () => {
  it("answers 503 SSEB_ERR_HOOK_UNAVAILABLE with Retry-After on a timeout under the deny policy", async () => {
    const { backend, broker } = await setup(allow, { subscribeHookTimeoutMs: 200 });
    backend.hold();
    const sse = await connect(broker.url, "topic=a");
    assert.equal(sse.status, 503);
    assert.match(String(sse.headers["retry-after"]), /^\d+$/);
    assert.equal((await errorOf(sse)).code, "SSEB_ERR_HOOK_UNAVAILABLE");
    assert.equal(hook(broker).stats.failures, 1);
    backend.release();
  });

  it("opens the stream with the topics asked for on a timeout under the allow policy", async () => {
    const { backend, broker } = await setup(allow, {
      subscribeHookTimeoutMs: 200,
      subscribeHookFailure: "allow",
    });
    backend.hold();
    const sse = await connect(broker.url, "topic=a");
    assert.equal(sse.status, 200);
    await publish(broker.url, { topic: "a", data: "x" });
    assert.equal((await sse.waitForEvents(1))[0]?.data, "x");
    backend.release();
  });

  const invalid: [string, Parameters<typeof startBackend>[0]][] = [
    ["a 500", json({ allow: true }, 500)],
    ["a 204", (_c, res) => res.writeHead(204).end()],
    ["a body that is not JSON", (_c, res) => res.writeHead(200).end("allow")],
    ["a JSON array", json([{ allow: true }])],
    ['"allow": "yes"', json({ allow: "yes" })],
    ["a deny with status 500", json({ allow: false, status: 500 })],
    ["a deny with a non-string reason", json({ allow: false, reason: 42 })],
    ["topics that are not strings", json({ allow: true, topics: [1] })],
    ["a topic the broker refuses", json({ allow: true, topics: ["x".repeat(3000)] })],
    [
      "a body over the bound",
      (_c, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.write('{"allow":true,"topics":["a"');
        for (let i = 0; i < 20; i++) res.write(`,"${"y".repeat(8 * 1024)}"`);
        res.end("]}");
      },
    ],
  ];
  for (const [what, answer] of invalid) {
    it(`treats ${what} as a failure (503 under deny)`, async () => {
      const { backend, broker } = await setup(answer);
      const sse = await connect(broker.url, "topic=a");
      assert.equal(sse.status, 503);
      assert.equal((await errorOf(sse)).code, "SSEB_ERR_HOOK_UNAVAILABLE");
      assert.equal(backend.calls.length, 1);
      assert.equal(hook(broker).stats.failures, 1);
      // Still serving.
      assert.equal((await fetch(`${broker.url}/healthz`)).status, 200);
    });
  }

  it("treats a connection reset in the middle of the answer as a failure", async () => {
    const { broker } = await setup((_c, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
      res.write('{"allow":');
      res.socket?.destroy();
    });
    const sse = await connect(broker.url, "topic=a");
    assert.equal(sse.status, 503);
    assert.equal((await errorOf(sse)).code, "SSEB_ERR_HOOK_UNAVAILABLE");
  });

  it("times out an answer whose body never ends", async () => {
    const { broker } = await setup(
      (_c, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.write('{"allow":true');
      },
      { subscribeHookTimeoutMs: 300 },
    );
    const sse = await connect(broker.url, "topic=a");
    assert.equal(sse.status, 503);
    assert.equal((await errorOf(sse)).code, "SSEB_ERR_HOOK_UNAVAILABLE");
  });

  it("does not follow a redirect", async () => {
    const target = await startBackend(allow);
    open.push(target);
    const { broker } = await setup((_c, res) => res.writeHead(307, { location: target.url }).end());
    const sse = await connect(broker.url, "topic=a");
    assert.equal(sse.status, 503);
    // Followed, the redirect would have reached the target before the broker answered.
    assert.equal(target.calls.length, 0);
  });
});

describe("subscribe hook: cache", () => {
  it("reuses an answer for the same credentials and topics, and asks again for others", async () => {
    const { backend, broker } = await setup();
    const auth = { Authorization: "Bearer one" };
    for (let i = 0; i < 3; i++) assert.equal((await connect(broker.url, "topic=a", auth)).status, 200);
    assert.equal(backend.calls.length, 1);
    assert.equal(hook(broker).stats.cacheHits, 2);
    assert.equal((await connect(broker.url, "topic=a", { Authorization: "Bearer two" })).status, 200);
    assert.equal((await connect(broker.url, "topic=b", auth)).status, 200);
    assert.equal(backend.calls.length, 3);
  });

  it("caches denials too", async () => {
    const { backend, broker } = await setup(json({ allow: false, status: 401 }));
    for (let i = 0; i < 2; i++) assert.equal((await connect(broker.url, "topic=a")).status, 401);
    assert.equal(backend.calls.length, 1);
  });

  it("does not cache an answer marked no-store or max-age=0", async () => {
    for (const cc of ["no-store", "max-age=0"]) {
      const { backend, broker } = await setup(json({ allow: true }, 200, { "cache-control": cc }));
      for (let i = 0; i < 2; i++) assert.equal((await connect(broker.url, "topic=a")).status, 200);
      assert.equal(backend.calls.length, 2, cc);
    }
  });

  it("does not cache failures", async () => {
    const { backend, broker } = await setup(json({}, 500));
    for (let i = 0; i < 2; i++) assert.equal((await connect(broker.url, "topic=a")).status, 503);
    assert.equal(backend.calls.length, 2);
  });

  it("holds at most subscribeHookCacheSize answers, the least recently used going first", async () => {
    const { backend, broker } = await setup(allow, { subscribeHookCacheSize: 2 });
    for (const who of ["u1", "u2", "u3"]) {
      assert.equal((await connect(broker.url, "topic=a", { Authorization: `Bearer ${who}` })).status, 200);
    }
    assert.equal(hook(broker).cacheSize, 2);
    assert.equal((await connect(broker.url, "topic=a", { Authorization: "Bearer u1" })).status, 200);
    assert.equal(backend.calls.length, 4); // u1 was evicted by u3
    assert.equal((await connect(broker.url, "topic=a", { Authorization: "Bearer u3" })).status, 200);
    assert.equal(backend.calls.length, 4);
  });
});

describe("subscribe hook: concurrency", () => {
  it("shares one call among identical requests in flight", async () => {
    const { backend, broker } = await setup();
    backend.hold();
    const pending = [0, 1, 2].map(() => connect(broker.url, "topic=a", { Cookie: "s=1" }));
    await waitFor("two requests sharing the first call", () => hook(broker).stats.shared === 2);
    assert.equal(backend.calls.length, 1);
    backend.release();
    for (const sse of await Promise.all(pending)) assert.equal(sse.status, 200);
    assert.equal(backend.calls.length, 1);
  });

  it("bounds the calls in flight and refuses past the queue with 503 SSEB_ERR_HOOK_BUSY", async () => {
    const { backend, broker } = await setup(allow, { subscribeHookConcurrency: 1, subscribeHookQueue: 1 });
    backend.hold();
    const a = connect(broker.url, "topic=a", { Cookie: "s=a" });
    await waitFor("the first call at the backend", () => backend.calls.length === 1);
    const b = connect(broker.url, "topic=a", { Cookie: "s=b" });
    await waitFor("the second call queued", () => hook(broker).inFlight === 2);
    const c = await connect(broker.url, "topic=a", { Cookie: "s=c" });
    assert.equal(c.status, 503);
    assert.equal((await errorOf(c)).code, "SSEB_ERR_HOOK_BUSY");
    assert.equal(backend.calls.length, 1); // b waits for a's slot
    backend.release();
    await waitFor("the queued call sent", () => backend.calls.length === 2);
    backend.release();
    assert.equal((await a).status, 200);
    assert.equal((await b).status, 200);
  });

  it("counts a stream waiting for the hook against the per-address cap, and frees it when denied", async () => {
    const { backend, broker } = await setup(json({ allow: false }), {
      maxConnectionsPerIp: 1,
      subscribeHookCacheMs: 0,
    });
    backend.hold();
    const first = connect(broker.url, "topic=a");
    await waitFor("the first call at the backend", () => backend.calls.length === 1);
    const second = await connect(broker.url, "topic=a");
    assert.equal(second.status, 503);
    assert.equal((await errorOf(second)).code, "SSEB_ERR_LIMIT_CONNECTIONS_PER_IP");
    backend.release();
    assert.equal((await first).status, 403);
    await waitFor("the slot released", () => limitsOf(broker.broker).admission.open === 0);
    backend.answer = allow;
    assert.equal((await connect(broker.url, "topic=a")).status, 200);
  });

  it("opens no session for a client that left while the hook was asked", async () => {
    const { backend, broker } = await setup();
    backend.hold();
    const pending = connect(broker.url, "topic=a");
    await waitFor("the call at the backend", () => backend.calls.length === 1);
    // connectSse resolves on the response only: cut the connection from the server's side.
    broker.server.closeAllConnections();
    await pending.then(
      () => {},
      () => {},
    );
    await waitFor("the slot released", () => limitsOf(broker.broker).admission.open === 0);
    backend.release();
    await waitFor("the call settled", () => hook(broker).inFlight === 0);
    assert.equal(broker.broker.size, 0);
  });
});
