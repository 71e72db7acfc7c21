import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { publish, startServer, type TestServer } from "../helpers/server.js";
import { connectSse } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";

let srv: TestServer;
before(async () => {
  srv = await startServer({ heartbeatMs: 50, retryMs: 3000 });
});
after(() => srv.close());

describe("event stream responses", () => {
  it("send the SSE headers, a retry hint and heartbeat comments", async () => {
    const sse = await connectSse(`${srv.url}/events?topic=h`);
    assert.equal(sse.status, 200);
    assert.equal(sse.headers["content-type"], "text/event-stream; charset=utf-8");
    assert.equal(sse.headers["cache-control"], "no-cache, no-transform");
    assert.equal(sse.headers["x-accel-buffering"], "no");
    assert.equal(sse.headers["access-control-allow-origin"], "*");
    assert.equal(sse.headers["content-encoding"], undefined);
    await waitFor("two heartbeats", () => sse.comments.length >= 2);
    assert.equal(sse.retries.length, 1);
    const [retry = 0] = sse.retries;
    assert.ok(retry >= 3000 && retry <= 4500, `retry ${retry}: 3000 plus a jitter of up to 50 %`);
    sse.close();
  });

  it("answer HEAD with the stream headers and no body", async () => {
    const res = await fetch(`${srv.url}/events?topic=h`, { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(await res.text(), "");
  });

  it("answer HEAD with the same 400s as GET: no topic, a bad selector, a bad lastEventID", async () => {
    for (const query of ["", "?topic=", "?topic=%2Fa%2F%7Bb", "?topic=a&lastEventID=x%0Ay", "?topic=%FF"]) {
      const get = await fetch(`${srv.url}/events${query}`);
      assert.equal(get.status, 400, `GET ${query}`);
      await get.body?.cancel();
      const head = await fetch(`${srv.url}/events${query}`, { method: "HEAD" });
      assert.equal(head.status, 400, `HEAD ${query}`);
      assert.equal(await head.text(), "");
    }
    assert.equal(srv.broker.size, 0, "no stream was opened");
  });
});

describe("GET / content negotiation", () => {
  it("gives browsers the demo page", async () => {
    const res = await fetch(`${srv.url}/`, {
      headers: { Accept: "text/html,application/xhtml+xml,*/*;q=0.8" },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(await res.text(), /EventSource/);
  });

  it("gives curl (*/*) and EventSource the bare demo stream", async () => {
    for (const accept of ["*/*", "text/event-stream"]) {
      const sse = await connectSse(`${srv.url}/`, { headers: { Accept: accept } });
      assert.equal(sse.headers["content-type"], "text/event-stream; charset=utf-8");
      const res = await publish(srv.url, { topic: "time", data: { timestamp: 1, message: "m" } });
      assert.equal(res.status, 200);
      const [ev] = await sse.waitForEvents(1);
      assert.equal(ev?.id, undefined, "the seed demo stream carries no ids");
      assert.ok(sse.raw.includes('data:{"timestamp":1,"message":"m"}\n\n'));
      sse.close();
    }
  });
});

describe("operations endpoints", () => {
  it("/healthz reports status and open connections", async () => {
    const sse = await connectSse(`${srv.url}/events?topic=x`);
    const body = (await (await fetch(`${srv.url}/healthz`)).json()) as {
      status: string;
      connections: number;
    };
    assert.equal(body.status, "ok");
    assert.ok(body.connections >= 1);
    sse.close();
  });

  it("/metrics exposes the broker's counters in Prometheus format", async () => {
    const sse = await connectSse(`${srv.url}/events?topic=metered`);
    await publish(srv.url, { topic: "metered", data: "x" });
    await sse.waitForEvents(1);
    const res = await fetch(`${srv.url}/metrics`);
    // prom-client's exposition format, version parameter included.
    assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const text = await res.text();
    for (const name of [
      "sse_broker_open_connections",
      "sse_broker_events_published_total",
      "sse_broker_events_delivered_total",
      "sse_broker_bytes_delivered_total",
      "sse_broker_clients_dropped_slow_total",
      "sse_broker_history_events",
    ]) {
      assert.match(text, new RegExp(`^${name} \\d+`, "m"));
    }
    assert.match(text, /^sse_broker_subscriptions\{kind="exact"\} 1$/m);
    assert.doesNotMatch(text, /metered/, "client-chosen topics never become labels");
    sse.close();
  });

  it("answers CORS preflight for publishing from a listed publish origin", async () => {
    const listed = await startServer({ publishOrigins: ["http://app.example"] });
    try {
      const res = await fetch(`${listed.url}/publish`, {
        method: "OPTIONS",
        headers: { Origin: "http://app.example", "Access-Control-Request-Method": "POST" },
      });
      assert.equal(res.status, 204);
      assert.equal(res.headers.get("access-control-allow-origin"), "http://app.example");
      assert.match(res.headers.get("access-control-allow-headers") ?? "", /Authorization/);
    } finally {
      await listed.close();
    }
  });

  it("echoes an allowed origin with credentials when origins are listed", async () => {
    const listed = await startServer({ corsOrigins: ["http://app.example"] });
    try {
      const ok = await fetch(`${listed.url}/healthz`, { headers: { Origin: "http://app.example" } });
      assert.equal(ok.headers.get("access-control-allow-origin"), "http://app.example");
      assert.equal(ok.headers.get("access-control-allow-credentials"), "true");
      const other = await fetch(`${listed.url}/healthz`, { headers: { Origin: "http://evil.example" } });
      assert.equal(other.headers.get("access-control-allow-origin"), null);
    } finally {
      await listed.close();
    }
  });
});

describe("shutdown", () => {
  it("ends every stream cleanly when the broker closes", async () => {
    const own = await startServer();
    const streams = await Promise.all(
      Array.from({ length: 5 }, () => connectSse(`${own.url}/events?topic=s`)),
    );
    await own.close();
    await Promise.all(streams.map((s) => s.waitForEnd(2000)));
    // Each was told to come back after its own random delay (1–10 s), not all in the same second.
    for (const s of streams) {
      assert.equal(s.retries.length, 1);
      const [retry = 0] = s.retries;
      assert.ok(retry >= 1000 && retry <= 10_000, `retry ${retry}`);
    }
    assert.ok(new Set(streams.map((s) => s.retries[0])).size > 1, "the delays differ");
  });
});
