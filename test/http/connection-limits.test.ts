/**
 * Stream admission (issue 8, defect 16 and "Limits a hub needs"): the overall cap, the cap per client
 * address and the rate of new streams per address, each hit for real, on every stream route. Refused
 * streams get 503/429 with a jittered Retry-After; established streams keep receiving events; /healthz
 * answers; the per-address map empties when streams close.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { limitsOf } from "../../src/http/limits.js";
import { send } from "../helpers/http.js";
import { publish, startServer, type TestServer } from "../helpers/server.js";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import { startHub, subscriberToken } from "../mercure/hub-fixture.js";

function retryAfter(h: Record<string, string | string[] | undefined>): number {
  const v = Number(h["retry-after"]);
  assert.ok(Number.isInteger(v) && v >= 1 && v <= 10, `Retry-After ${String(h["retry-after"])}`);
  return v;
}

async function metric(s: TestServer, reason: string): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const m = new RegExp(`^sse_broker_refused_total\\{reason="${reason}"\\} (\\d+)$`, "m").exec(text);
  assert.ok(m !== null, `sse_broker_refused_total{reason="${reason}"} missing`);
  return Number(m[1]);
}

describe("maxConnections", () => {
  it("refuses the 4th stream with 503 + Retry-After while /healthz answers and the 3 keep streaming", async () => {
    const s = await startServer({ maxConnections: 3, connectionRatePerIp: null });
    const streams: SseConnection[] = [];
    try {
      streams.push(await connectSse(`${s.url}/events?topic=a`));
      streams.push(await connectSse(`${s.url}/`, { headers: { Accept: "*/*" } })); // the seed stream counts
      streams.push(await connectSse(`${s.url}/events?topic=a`));
      for (const st of streams) assert.equal(st.status, 200);
      const refused = await send(`${s.url}/events?topic=a`);
      assert.equal(refused.status, 503);
      assert.equal(refused.json?.error?.code, "SSEB_ERR_LIMIT_CONNECTIONS");
      assert.equal(refused.headers.connection, "close");
      retryAfter(refused.headers);
      const seed = await send(`${s.url}/`, { headers: { Accept: "*/*" } });
      assert.equal(seed.status, 503, "GET / is a stream route too");

      const health = await send(`${s.url}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(health.json?.connections, 3);
      assert.equal((await publish(s.url, { topic: "time", data: "still here" })).status, 200);
      assert.equal((await publish(s.url, { topic: "a", data: "still here" })).status, 200);
      for (const st of streams) {
        const [ev] = await st.waitForEvents(1);
        assert.equal(ev?.data, "still here");
      }
      assert.equal(await metric(s, "connections"), 2);

      // A slot frees when a stream ends; the next stream is admitted.
      streams.shift()?.close();
      await waitFor(() => limitsOf(s.broker).admission.open === 2);
      const again = await connectSse(`${s.url}/events?topic=a`);
      assert.equal(again.status, 200);
      streams.push(again);
    } finally {
      for (const st of streams) st.close();
      await s.close();
    }
  });

  it("counts Mercure subscriptions in the same cap", async () => {
    const hub = await startHub({ anonymous: true }, { maxConnections: 1, connectionRatePerIp: null });
    try {
      const first = await connectSse(`${hub.hub}?topic=a`);
      assert.equal(first.status, 200);
      const token = await subscriberToken(["*"]);
      const second = await send(`${hub.hub}?topic=a`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(second.status, 503);
      assert.equal(second.json?.error?.code, "SSEB_ERR_LIMIT_CONNECTIONS");
      retryAfter(second.headers);
      const plain = await send(`${hub.base}/events?topic=a`);
      assert.equal(plain.status, 503);
      first.close();
    } finally {
      await hub.close();
    }
  });

  it("releases slots of refused and failed requests (bad selectors, clients gone)", async () => {
    const s = await startServer({ maxConnections: 2, connectionRatePerIp: null });
    try {
      for (let i = 0; i < 5; i++) {
        const bad = await send(`${s.url}/events?topic=`);
        assert.equal(bad.status, 400);
      }
      const streams = await Promise.all([1, 2].map(() => connectSse(`${s.url}/events?topic=a`)));
      assert.deepEqual(
        streams.map((st) => st.status),
        [200, 200],
      );
      for (const st of streams) st.close();
      await waitFor(() => limitsOf(s.broker).admission.open === 0);
      assert.equal(limitsOf(s.broker).admission.addresses, 0, "no entry left per address");
    } finally {
      await s.close();
    }
  });
});

describe("maxConnectionsPerIp", () => {
  it("caps streams per client address, counting 127.0.0.2 apart from 127.0.0.1", async () => {
    const s = await startServer({ maxConnectionsPerIp: 2, connectionRatePerIp: null });
    const open: { close(): void }[] = [];
    try {
      open.push(await connectSse(`${s.url}/events?topic=a`), await connectSse(`${s.url}/events?topic=a`));
      const third = await send(`${s.url}/events?topic=a`);
      assert.equal(third.status, 503);
      assert.equal(third.json?.error?.code, "SSEB_ERR_LIMIT_CONNECTIONS_PER_IP");
      retryAfter(third.headers);
      // Another source address has its own count.
      const other = await openFrom("127.0.0.2", `${s.url}/events?topic=a`);
      open.push(other);
      assert.equal(other.status, 200);
      assert.equal(limitsOf(s.broker).admission.addresses, 2);
      assert.equal(await metric(s, "connections_per_ip"), 1);
    } finally {
      for (const o of open) o.close();
      await s.close();
    }
  });
});

describe("connectionRatePerIp", () => {
  it("answers a burst past the bucket with 429 + Retry-After, per address", async () => {
    const s = await startServer({ connectionRatePerIp: 2, maxConnectionsPerIp: null });
    try {
      // A full bucket admits twice the rate at once; then requests faster than 2/s are refused (20 in a
      // row cannot each take half a second).
      const statuses: number[] = [];
      let refused: Awaited<ReturnType<typeof send>> | undefined;
      while (refused === undefined && statuses.length < 24) {
        const r = await send(`${s.url}/events?topic=`); // admitted then 400: still a new stream attempt
        statuses.push(r.status);
        if (r.status === 429) refused = r;
      }
      assert.deepEqual(statuses.slice(0, 4), [400, 400, 400, 400]);
      assert.equal(statuses.at(-1), 429, statuses.join(","));
      assert.equal(refused?.json?.error?.code, "SSEB_ERR_LIMIT_CONNECTION_RATE");
      retryAfter(refused?.headers ?? {});
      const other = await openFrom("127.0.0.2", `${s.url}/events?topic=a`);
      assert.equal(other.status, 200, "another address has its own bucket");
      other.close();
      assert.ok((await metric(s, "connection_rate")) >= 1);
    } finally {
      await s.close();
    }
  });
});

/** An SSE stream whose client socket is bound to `localAddress`. */
async function openFrom(localAddress: string, url: string): Promise<{ status: number; close(): void }> {
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, localAddress, headers: { Accept: "text/event-stream" } });
    req.once("error", reject);
    req.once("response", (res) => {
      res.on("error", () => {});
      req.on("error", () => {});
      resolve({ status: res.statusCode ?? 0, close: () => req.destroy() });
    });
    req.end();
  });
}

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
