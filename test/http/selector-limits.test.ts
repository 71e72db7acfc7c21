/**
 * Issue 8, defect 1: selectors from anonymous subscribers are compiled once, within bounds. The selectors
 * that froze the event loop for seconds are answered at once (refused with a coded 400 past the bounds,
 * or accepted and matched cheaply), and the hub keeps serving meanwhile.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { publish, startServer, type TestServer } from "../helpers/server.js";
import { connectSse } from "../helpers/sse-client.js";

let srv: TestServer;
before(async () => {
  srv = await startServer();
});
after(() => srv.close());

const events = (selectors: string[]): string =>
  `${srv.url}/events?${selectors.map((s) => `topic=${encodeURIComponent(s)}`).join("&")}`;

async function status(url: string): Promise<{ status: number; code?: string }> {
  const res = await fetch(url, { headers: { Accept: "text/event-stream" } });
  if (res.status === 200) {
    await res.body?.cancel();
    return { status: 200 };
  }
  const body = (await res.json()) as { error?: { code?: string } };
  return { status: res.status, code: body.error?.code };
}

describe("topic selector bounds over HTTP", () => {
  it("answers the selectors that used to freeze the hub, and /healthz meanwhile", async () => {
    const hashes = Array.from({ length: 7 }, (_, i) => `{#v${i}}x`).join(""); // 7.9 s to compile before
    const queries = Array.from({ length: 12 }, (_, i) => `{?a${i}*}`).join(""); // seconds too
    const results = await Promise.all([
      ...Array.from({ length: 20 }, () => status(events([hashes]))),
      ...Array.from({ length: 20 }, () => status(events([queries]))),
      fetch(`${srv.url}/healthz`).then((r) => ({ status: r.status })),
    ]);
    assert.deepEqual(results.slice(0, 20), Array(20).fill({ status: 200 }));
    assert.deepEqual(results.slice(20, 40), Array(20).fill({ status: 400, code: "SSEB_ERR_LIMIT_SELECTOR" }));
    assert.equal(results[40]?.status, 200);
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(metrics, /^sse_broker_refused_total\{reason="selector_bounds"\} 20$/m);
  });

  it("delivers through an accepted template selector", async () => {
    const sse = await connectSse(events(["https://example.com/books/{id}"]));
    await publish(srv.url, { topic: "https://example.com/books/42", data: "hit" });
    const [ev] = await sse.waitForEvents(1);
    assert.equal(ev?.data, "hit");
    sse.close();
  });

  it("refuses too many selectors, too long ones and too complex ones with coded 400s", async () => {
    const many = Array.from({ length: 65 }, (_, i) => `t${i}`);
    assert.deepEqual(await status(events(many)), { status: 400, code: "SSEB_ERR_LIMIT_SELECTORS" });
    assert.deepEqual(await status(events([`/${"x".repeat(1024)}`])), {
      status: 400,
      code: "SSEB_ERR_TOPIC_INVALID",
    });
    assert.deepEqual(await status(events(["{a}{b}{c}{d}{e}{f}"])), {
      status: 400,
      code: "SSEB_ERR_LIMIT_SELECTOR",
    });
    assert.deepEqual(await status(events([`/${"{x}/".repeat(9)}`])), {
      status: 400,
      code: "SSEB_ERR_LIMIT_SELECTOR",
    });
  });
});
