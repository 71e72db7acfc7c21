/**
 * Disconnect notifications over real HTTP: streams end (client gone, shutdown), a real backend receives
 * the batches. Waits for calls received and counters, never for time.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { hooksOf } from "../../src/hooks/index.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";
import { allow, type Backend, json, startBackend } from "./backend.js";

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

interface Entry {
  id: string;
  client: string;
  selectors: string[];
  openedAt: number;
  closedAt: number;
  reason: string;
}

async function setup(
  options: Parameters<typeof startServer>[0] = {},
  answer = json({}),
): Promise<{ backend: Backend; broker: TestServer }> {
  const backend = await startBackend(answer);
  open.push(backend);
  const broker = await startServer({
    disconnectHookUrl: backend.url,
    disconnectHookIntervalMs: 60_000,
    ...options,
  });
  open.push(broker);
  return { backend, broker };
}

async function stream(b: TestServer, query: string): Promise<SseConnection> {
  const sse = await connectSse(`${b.url}/events?${query}`);
  assert.equal(sse.status, 200);
  open.push(sse);
  return sse;
}

const entries = (b: Backend): Entry[] => b.calls.flatMap((c) => c.body as Entry[]);
const stats = (b: TestServer) => {
  const d = hooksOf(b.broker).disconnects;
  assert.ok(d !== null);
  return d;
};

describe("disconnect hook", () => {
  it("sends a full batch at once, each entry with its stream's fields and reason", async () => {
    const { backend, broker } = await setup({ disconnectHookBatch: 3 });
    const streams = [
      await stream(broker, "topic=a"),
      await stream(broker, "topic=b&topic=c"),
      await stream(broker, "topic=d"),
    ];
    for (const s of streams) s.close();
    await waitFor("one batch", () => backend.calls.length === 1);
    const got = backend.calls[0]?.body as Entry[];
    assert.equal(got.length, 3);
    assert.deepEqual(got.map((e) => e.selectors).sort(), [["a"], ["b", "c"], ["d"]]);
    for (const e of got) {
      assert.match(e.id, /^urn:uuid:/);
      assert.equal(e.client, "127.0.0.1");
      assert.equal(e.reason, "client");
      assert.ok(typeof e.openedAt === "number" && e.openedAt <= e.closedAt);
    }
    assert.equal(new Set(got.map((e) => e.id)).size, 3);
  });

  it("sends a partial batch after the interval", async () => {
    const { backend, broker } = await setup({ disconnectHookIntervalMs: 20 });
    (await stream(broker, "topic=a")).close();
    await waitFor("the batch", () => backend.calls.length === 1);
    assert.equal(entries(backend).length, 1);
  });

  it("gives the stream the id the subscribe hook was asked with", async () => {
    const hookApp = await startBackend(allow);
    open.push(hookApp);
    const { backend, broker } = await setup({ subscribeHookUrl: hookApp.url, disconnectHookIntervalMs: 20 });
    (await stream(broker, "topic=a")).close();
    await waitFor("the batch", () => backend.calls.length === 1);
    assert.equal(entries(backend)[0]?.id, (hookApp.calls[0]?.body as { id?: string } | undefined)?.id);
  });

  it("reports the narrowed selectors", async () => {
    const hookApp = await startBackend(json({ allow: true, topics: ["granted"] }));
    open.push(hookApp);
    const { backend, broker } = await setup({ subscribeHookUrl: hookApp.url, disconnectHookIntervalMs: 20 });
    (await stream(broker, "topic=asked")).close();
    await waitFor("the batch", () => backend.calls.length === 1);
    assert.deepEqual(entries(backend)[0]?.selectors, ["granted"]);
  });

  it("flushes the queue when the broker shuts down, with reason shutdown", async () => {
    const { backend, broker } = await setup();
    await stream(broker, "topic=a");
    await stream(broker, "topic=b");
    await broker.broker.close();
    assert.equal(backend.calls.length, 1);
    assert.deepEqual(
      entries(backend).map((e) => e.reason),
      ["shutdown", "shutdown"],
    );
  });

  it("keeps at most disconnectHookQueue entries, dropping the oldest, counted in /metrics", async () => {
    const { backend, broker } = await setup({ disconnectHookQueue: 2 });
    const streams: SseConnection[] = [];
    for (const t of ["t1", "t2", "t3", "t4", "t5"]) streams.push(await stream(broker, `topic=${t}`));
    for (const [i, s] of streams.entries()) {
      s.close();
      await waitFor("the stream gone", () => broker.broker.size === streams.length - i - 1);
    }
    await waitFor("three dropped", () => stats(broker).stats.dropped === 3);
    assert.equal(stats(broker).queued, 2);
    const metrics = await (await fetch(`${broker.url}/metrics`)).text();
    assert.match(metrics, /^sse_broker_disconnect_hook_dropped_total 3$/m);
    assert.match(metrics, /^sse_broker_disconnect_hook_queued 2$/m);
    await broker.broker.close();
    assert.deepEqual(
      entries(backend).map((e) => e.selectors[0]),
      ["t4", "t5"],
    );
  });

  it("retries a failed POST with the same batch", async () => {
    let n = 0;
    const { backend, broker } = await setup({ disconnectHookIntervalMs: 10 }, (call, res) => {
      n++;
      (n === 1 ? json({}, 500) : json({}))(call, res);
    });
    (await stream(broker, "topic=a")).close();
    await waitFor("acknowledged", () => stats(broker).stats.sent === 1);
    assert.equal(backend.calls.length, 2);
    assert.deepEqual(backend.calls[0]?.body, backend.calls[1]?.body);
  });

  it("gives up after disconnectHookRetries retries and counts the entries", async () => {
    const { backend, broker } = await setup(
      { disconnectHookIntervalMs: 10, disconnectHookRetries: 2 },
      json({}, 503),
    );
    (await stream(broker, "topic=a")).close();
    await waitFor("given up", () => stats(broker).stats.failed === 1);
    assert.equal(backend.calls.length, 3);
  });

  it("never holds up the broker while the application does not answer", async () => {
    const { backend, broker } = await setup({
      disconnectHookIntervalMs: 10,
      disconnectHookTimeoutMs: 60_000,
    });
    backend.hold();
    (await stream(broker, "topic=a")).close();
    await waitFor("the POST at the backend", () => backend.calls.length === 1);
    const next = await stream(broker, "topic=b");
    assert.equal(next.status, 200);
    next.close();
    backend.release();
    await waitFor("both sent", () => stats(broker).stats.sent === 2);
  });
});
