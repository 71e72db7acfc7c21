/**
 * `GET /presence` (issue 11, feature 5): subscriber counts by selector over real HTTP, following streams
 * as they open and close; a template counts under itself; the top list is bounded; the /metrics access
 * rule; never who subscribes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { MAX_PRESENCE_TOP, topCounts } from "../../src/presence/counter.js";
import { send } from "../helpers/http.js";
import { startServer } from "../helpers/server.js";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";

type Body = { counts?: Record<string, number>; top?: { selector: string; count: number }[] };

/** Polls `GET path` until `check` holds for its JSON body (a condition, not a delay); returns the body. */
async function until(url: string, check: (b: Body) => boolean, headers: Record<string, string> = {}) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await send(url, { headers });
    assert.equal(r.status, 200, r.body);
    const body = r.json as Body;
    if (check(body)) return body;
    if (Date.now() > deadline) throw new Error(`timed out; last answer ${r.body}`);
    await sleep(20);
  }
}

const q = (s: string) => encodeURIComponent(s);

describe("GET /presence", () => {
  it("counts open streams per selector as they open and close, 0 for none", async () => {
    const s = await startServer({ demoRoutes: false });
    const open: SseConnection[] = [];
    try {
      const tpl = "https://example.com/books/{id}";
      open.push(await connectSse(`${s.url}/events?topic=a`));
      open.push(await connectSse(`${s.url}/events?topic=a&topic=b`));
      open.push(await connectSse(`${s.url}/events?topic=${q(tpl)}`));
      open.push(await connectSse(`${s.url}/events?topic=*`));
      const url = `${s.url}/presence?topic=a&topic=b&topic=${q(tpl)}&topic=*&topic=nobody&topic=${q("https://example.com/books/1")}`;
      const body = await until(url, (b) => b.counts?.a === 2);
      // A template subscriber counts under its template, not under the topics it matches.
      assert.deepEqual(body, {
        counts: { a: 2, b: 1, [tpl]: 1, "*": 1, nobody: 0, "https://example.com/books/1": 0 },
        nodes: 1,
      });
      open[1]?.close();
      const after = await until(url, (b) => b.counts?.b === 0);
      assert.equal(after.counts?.a, 1);
      for (const c of open) c.close();
      await until(url, (b) => Object.values(b.counts ?? {}).every((n) => n === 0));
      assert.equal(s.broker.size, 0);
      // Nothing stays for selectors nobody subscribes to any more.
      assert.deepEqual((await until(`${s.url}/presence`, (b) => b.top?.length === 0)).top, []);
    } finally {
      for (const c of open) c.close();
      await s.close();
    }
  });

  it("lists the selectors with most subscribers first, at most ?limit= (≤ 100), and never who", async () => {
    const s = await startServer({ demoRoutes: false });
    const open: SseConnection[] = [];
    try {
      for (const [topic, n] of [
        ["x", 3],
        ["y", 1],
        ["z", 2],
      ] as const) {
        for (let i = 0; i < n; i++) open.push(await connectSse(`${s.url}/events?topic=${topic}`));
      }
      const body = await until(`${s.url}/presence`, (b) => b.top?.[0]?.count === 3 && b.top.length === 3);
      assert.deepEqual(body, {
        top: [
          { selector: "x", count: 3 },
          { selector: "z", count: 2 },
          { selector: "y", count: 1 },
        ],
        selectors: 3,
        nodes: 1,
      });
      const two = await send(`${s.url}/presence?limit=2`);
      assert.deepEqual(
        (two.json as Body).top?.map((t) => t.selector),
        ["x", "z"],
      );
      assert.doesNotMatch(two.body, /127\.0\.0\.1|session|client/);
      for (const bad of ["0", "101", "-1", "abc", "1e2"]) {
        const r = await send(`${s.url}/presence?limit=${bad}`);
        assert.equal(r.status, 400, bad);
        assert.equal(r.json?.error?.code, "SSEB_ERR_REQUEST_INVALID");
      }
      const many = Array.from({ length: 101 }, (_, i) => `topic=t${i}`).join("&");
      const tooMany = await send(`${s.url}/presence?${many}`);
      assert.equal(tooMany.status, 400);
      assert.equal(tooMany.json?.error?.code, "SSEB_ERR_LIMIT_SELECTORS");
      assert.equal((await send(`${s.url}/presence`, { method: "POST" })).status, 405);
    } finally {
      for (const c of open) c.close();
      await s.close();
    }
  });

  it("keeps the top list bounded however many selectors are subscribed", async () => {
    // The window function on its own: 1000 selectors, the 100 largest in order.
    const entries: [string, number][] = Array.from({ length: 1000 }, (_, i) => [`t${i}`, (i * 7919) % 1000]);
    const top = topCounts(entries, MAX_PRESENCE_TOP);
    assert.equal(top.length, MAX_PRESENCE_TOP);
    const expected = [...entries]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, MAX_PRESENCE_TOP);
    assert.deepEqual(top, expected);
    // Over HTTP: 120 selectors on one stream each (two streams of 60), the answer lists 100.
    const s = await startServer({ demoRoutes: false });
    const open: SseConnection[] = [];
    try {
      for (let k = 0; k < 2; k++) {
        const qs = Array.from({ length: 60 }, (_, i) => `topic=s${k}-${i}`).join("&");
        open.push(await connectSse(`${s.url}/events?${qs}`));
      }
      const body = await until(`${s.url}/presence`, (b) => (b as { selectors?: number }).selectors === 120);
      assert.equal(body.top?.length, MAX_PRESENCE_TOP);
    } finally {
      for (const c of open) c.close();
      await s.close();
    }
  });

  it("follows the /metrics rule: local requests only without a metrics token", async () => {
    const s = await startServer({ demoRoutes: false });
    try {
      assert.equal((await send(`${s.url}/presence`)).status, 200);
      const proxied = await send(`${s.url}/presence`, { headers: { "X-Forwarded-For": "203.0.113.9" } });
      assert.equal(proxied.status, 403);
      assert.equal(proxied.json?.error?.code, "SSEB_ERR_AUTH_PROXY_UNTRUSTED");
      const rebound = await send(`${s.url}/presence`, { headers: { Host: "evil.example" } });
      assert.equal(rebound.status, 403);
      assert.equal(rebound.json?.error?.code, "SSEB_ERR_AUTH_HOST_NOT_LOOPBACK");
    } finally {
      await s.close();
    }
  });

  it("with a metrics token, needs it as a bearer token (401 otherwise), from anywhere", async () => {
    const s = await startServer({ demoRoutes: false, metricsToken: "m3trics", trustProxy: ["loopback"] });
    try {
      const none = await send(`${s.url}/presence?topic=a`);
      assert.equal(none.status, 401);
      assert.equal(none.json?.error?.code, "SSEB_ERR_AUTH_REQUIRED");
      assert.equal(none.headers["www-authenticate"], "Bearer");
      const wrong = await send(`${s.url}/presence`, { headers: { Authorization: "Bearer nope" } });
      assert.equal(wrong.status, 401);
      const ok = await send(`${s.url}/presence?topic=a`, {
        headers: { Authorization: "Bearer m3trics", "X-Forwarded-For": "203.0.113.9", Host: "hub.example" },
      });
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.json, { counts: { a: 0 }, nodes: 1 });
    } finally {
      await s.close();
    }
  });
});
