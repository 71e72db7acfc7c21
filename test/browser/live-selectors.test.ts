/**
 * Issue 11, feature 1 in Debian's Chromium: a plain `EventSource` whose stream's selectors are changed by
 * `POST /subscribers/{id}/selectors` starts receiving the added topic and stops receiving the removed one
 * on the same connection: `open` fired once, the server saw one stream request.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { createBroker, type SseBroker } from "../../src/index.js";
import { chromiumSkipReason, type LaunchedBrowser, launchChromium } from "../helpers/browser.js";
import { send } from "../helpers/http.js";
import { publish } from "../helpers/server.js";
import { waitFor } from "../helpers/wait.js";

const skip = chromiumSkipReason();

let broker: SseBroker;
let server: Server;
let base: string;
let browser: LaunchedBrowser | undefined;
let streamRequests = 0;

before(async () => {
  if (skip !== false) return;
  broker = createBroker({ heartbeatMs: null, metrics: false, retryMs: 100 });
  server = createServer((req, res) => {
    if ((req.url ?? "").startsWith("/events")) streamRequests++;
    broker.handler(req, res);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (skip !== false) return;
  await broker.close();
  server.closeAllConnections();
  server.close();
});

/** In the page: a plain EventSource; its messages and `open` count on `window`. */
const OPEN = (url: string) => {
  const w = globalThis as unknown as { __seen: string[]; __opens: number };
  w.__seen = [];
  w.__opens = 0;
  const es = new EventSource(url);
  es.onopen = () => {
    w.__opens++;
  };
  es.onmessage = (e) => w.__seen.push(e.data);
};

async function post(topic: string, data: string): Promise<void> {
  const r = await publish(base, { topic, data });
  assert.equal(r.status, 200);
}

describe("Changing an EventSource's topics in Chromium", { skip }, () => {
  it("receives an added topic and no removed one without reconnecting", async () => {
    const page = await (browser as LaunchedBrowser).newPage();
    try {
      await page.goto(`${base}/healthz`);
      await page.evaluate(OPEN, "/events?topic=news");
      await page.waitForFunction(() => (globalThis as unknown as { __opens: number }).__opens === 1);
      await post("news", "n1");
      await post("sport", "s-before");
      await page.waitForFunction(() => (globalThis as unknown as { __seen: string[] }).__seen.length === 1);

      await waitFor("the stream", () => broker.size === 1);
      const id = [...broker.sessions][0]?.subscriberId as string;
      // The application's backend (a local publisher here) moves the page from news to sport.
      const r = await send(`${base}/subscribers/${encodeURIComponent(id)}/selectors`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ add: ["sport"], remove: ["news"] }),
      });
      assert.equal(r.status, 200, r.body);
      await post("news", "n-removed");
      await post("sport", "s1");
      await post("sport", "end");
      await page.waitForFunction(() =>
        (globalThis as unknown as { __seen: string[] }).__seen.includes("end"),
      );
      const seen = await page.evaluate(() => (globalThis as unknown as { __seen: string[] }).__seen);
      assert.deepEqual(seen, ["n1", "s1", "end"]);
      const opens = await page.evaluate(() => (globalThis as unknown as { __opens: number }).__opens);
      assert.equal(opens, 1, "the EventSource never reconnected");
      assert.equal(streamRequests, 1);
      assert.equal(broker.stats.connectionsOpened, 1);
    } finally {
      await page.close();
    }
  });
});
