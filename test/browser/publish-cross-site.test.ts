/**
 * A web page open in a browser on the broker's machine must not publish through the token-less mode
 * (issue 8, defect 3): Chromium on a page of another origin sends a `text/plain` POST without a preflight
 * (no-cors) and a JSON POST after a preflight. Before, the first published and the preflight got `*`.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { chromiumSkipReason, type LaunchedBrowser, launchChromium } from "../helpers/browser.js";
import { publish, startServer, type TestServer } from "../helpers/server.js";
import { connectSse } from "../helpers/sse-client.js";

const skip = chromiumSkipReason();

let srv: TestServer;
let page: { server: Server; origin: string };
let browser: LaunchedBrowser | undefined;

before(async () => {
  if (skip !== false) return;
  srv = await startServer(); // defaults: no publish token, streams' CORS `*`
  const server = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end("<!doctype html><title>some site</title><p>some site</p>");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  page = { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (skip !== false) return;
  await srv.close();
  page.server.closeAllConnections();
  page.server.close();
});

describe("token-less publishing from another origin's page in Chromium", { skip }, () => {
  it("is refused, with and without a preflight, and publishes nothing", async () => {
    const sse = await connectSse(`${srv.url}/events?topic=t`);
    const tab = await (browser as LaunchedBrowser).newPage();
    try {
      await tab.goto(`${page.origin}/`);
      const result = await tab.evaluate(async (broker: string) => {
        // A "simple" request: the browser sends it without asking; the page cannot read the answer.
        const simple = await fetch(`${broker}/publish?topic=t`, {
          method: "POST",
          mode: "no-cors",
          headers: { "Content-Type": "text/plain" },
          body: "forged text",
        }).then(
          (r) => r.type,
          (e: Error) => `error: ${e.message}`,
        );
        // A JSON POST needs a preflight; without Access-Control-Allow-Origin it is never sent.
        const preflighted = await fetch(`${broker}/publish`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ topic: "t", data: "forged json" }),
        }).then(
          (r) => `status ${r.status}`,
          () => "blocked",
        );
        return { simple, preflighted };
      }, srv.url);
      assert.equal(result.simple, "opaque", "the no-cors POST reached the broker");
      assert.equal(result.preflighted, "blocked");
      assert.equal(srv.broker.stats.eventsPublished, 0, "nothing published");
      // The next event the subscriber sees is a legitimate one: the forged ones never came.
      assert.equal((await publish(srv.url, { topic: "t", data: "legit" })).status, 200);
      const [first] = await sse.waitForEvents(1);
      assert.equal(first?.data, "legit");
    } finally {
      await tab.close();
      sse.close();
    }
  });
});
