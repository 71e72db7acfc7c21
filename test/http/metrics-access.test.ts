/**
 * `/metrics` (issue 8, defect 9): not public, and bounded labels. With `metricsToken` it needs the bearer
 * token; without, it answers only requests from this machine. Subscriptions are counted per selector
 * kind: a client-chosen topic never appears in the output.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { REFUSAL_REASONS } from "../../src/metrics/refusals.js";
import { send } from "../helpers/http.js";
import { startServer } from "../helpers/server.js";
import { connectSse } from "../helpers/sse-client.js";

describe("/metrics access", () => {
  it("without a metrics token, answers local requests only", async () => {
    const s = await startServer();
    try {
      assert.equal((await send(`${s.url}/metrics`)).status, 200);
      const proxied = await send(`${s.url}/metrics`, { headers: { "X-Forwarded-For": "203.0.113.9" } });
      assert.equal(proxied.status, 403);
      assert.equal(proxied.json?.error?.code, "SSEB_ERR_AUTH_PROXY_UNTRUSTED");
      const rebound = await send(`${s.url}/metrics`, { headers: { Host: "metrics.evil.example" } });
      assert.equal(rebound.status, 403);
      assert.equal(rebound.json?.error?.code, "SSEB_ERR_AUTH_HOST_NOT_LOOPBACK");
      const text = (await send(`${s.url}/metrics`)).body;
      assert.match(text, /^sse_broker_refused_total\{reason="not_local"\} 2$/m);
    } finally {
      await s.close();
    }
  });

  it("with a metrics token, needs Authorization: Bearer <token> (401 otherwise)", async () => {
    const s = await startServer({ metricsToken: "m3trics", trustProxy: ["loopback"] });
    try {
      const none = await send(`${s.url}/metrics`);
      assert.equal(none.status, 401);
      assert.equal(none.json?.error?.code, "SSEB_ERR_AUTH_REQUIRED");
      assert.equal(none.headers["www-authenticate"], "Bearer");
      assert.equal(
        (await send(`${s.url}/metrics`, { headers: { Authorization: "Bearer nope" } })).status,
        401,
      );
      // The token works from anywhere, e.g. a scraper behind the trusted proxy.
      const ok = await send(`${s.url}/metrics`, {
        headers: { Authorization: "Bearer m3trics", "X-Forwarded-For": "203.0.113.9", Host: "hub.example" },
      });
      assert.equal(ok.status, 200);
      assert.match(ok.body, /^sse_broker_refused_total\{reason="metrics_token"\} 2$/m);
    } finally {
      await s.close();
    }
  });
});

describe("/metrics labels", () => {
  it("counts subscriptions per selector kind and never shows a client-chosen topic", async () => {
    const s = await startServer();
    const streams = await Promise.all([
      connectSse(`${s.url}/events?topic=private-topic-4f2a`),
      connectSse(`${s.url}/events?topic=${encodeURIComponent("https://example.com/secret/{id}")}`),
      connectSse(`${s.url}/`, { headers: { Accept: "*/*" } }), // the seed stream: `*`
    ]);
    try {
      const text = (await send(`${s.url}/metrics`)).body;
      assert.ok(!text.includes("private-topic-4f2a"), "an exact topic leaked into /metrics");
      assert.ok(!text.includes("example.com/secret"), "a template selector leaked into /metrics");
      assert.match(text, /^sse_broker_subscriptions\{kind="exact"\} 1$/m);
      assert.match(text, /^sse_broker_subscriptions\{kind="template"\} 1$/m);
      assert.match(text, /^sse_broker_subscriptions\{kind="wildcard"\} 1$/m);
      const labels = [...text.matchAll(/^sse_broker_refused_total\{reason="([a-z_]+)"\}/gm)].map((m) => m[1]);
      assert.deepEqual(labels, [...REFUSAL_REASONS], "a fixed set of reasons, each present");
    } finally {
      for (const st of streams) st.close();
      await s.close();
    }
  });
});
