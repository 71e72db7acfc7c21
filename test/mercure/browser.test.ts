/**
 * Chromium (Debian's, via playwright-core) against the hub with cookie authorization: same-origin
 * EventSource, cross-origin EventSource with credentials (the hub must echo the origin and allow
 * credentials), and cookie-authenticated publishing guarded by the publish-origin (CSRF) check.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { chromiumSkipReason, type LaunchedBrowser, launchChromium } from "../helpers/browser.js";
import { connectSse } from "../helpers/sse-client.js";
import { type Hub, publishForm, startHub, subscribeUrl, token } from "./hub-fixture.js";

const skip = chromiumSkipReason();
const SECRET = "browser-shared-secret-browser-shared-secret";

/** A page server on another port: another origin, same site (cookies for 127.0.0.1 still apply). */
async function pageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end("<!doctype html><title>app</title><p>app</p>");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let hub: Hub;
let app: { server: Server; origin: string };
let evil: { server: Server; origin: string };
let browser: LaunchedBrowser | undefined;

before(async () => {
  if (skip !== false) return;
  app = await pageServer();
  evil = await pageServer();
  hub = await startHub({
    publisherJwtKey: null,
    subscriberJwtKey: null,
    jwtKey: SECRET,
    anonymous: false,
    corsOrigins: [app.origin],
    publishOrigins: [app.origin],
  });
  browser = await launchChromium();
  const jwt = await token(
    { subscribe: ["https://example.com/private/{id}"], publish: ["https://example.com/from-browser"] },
    SECRET,
  );
  // HttpOnly, as the application would set it: scripts never see the token.
  await browser.context.addCookies([
    { name: "mercureAuthorization", value: jwt, url: hub.base, httpOnly: true, sameSite: "Lax" },
  ]);
});

after(async () => {
  await browser?.close();
  if (skip !== false) return;
  await hub.close();
  for (const s of [app.server, evil.server]) {
    s.closeAllConnections();
    s.close();
  }
});

/** In the page: opens an EventSource and records opens, errors and messages on `window.__sse`. */
const OPEN_SSE = ([url, withCredentials]: [string, boolean]) => {
  const w = globalThis as unknown as { __sse: { open: boolean; errors: number; messages: string[] } };
  w.__sse = { open: false, errors: 0, messages: [] };
  const es = new EventSource(url, { withCredentials });
  es.onopen = () => {
    w.__sse.open = true;
  };
  es.onerror = () => {
    w.__sse.errors++;
  };
  es.onmessage = (e) => w.__sse.messages.push(e.data);
};

async function publishPrivate(data: string): Promise<void> {
  const r = await publishForm(
    hub.hub,
    [
      ["topic", "https://example.com/private/1"],
      ["data", data],
      ["private", "on"],
    ],
    await token({ publish: ["*"] }, SECRET),
  );
  assert.equal(r.status, 200, r.body);
}

describe("Mercure in Chromium with cookie authorization", { skip }, () => {
  it("receives private updates on a same-origin EventSource authorized by the cookie", async () => {
    const page = await (browser as LaunchedBrowser).newPage();
    try {
      await page.goto(`${hub.base}/healthz`);
      await page.evaluate(OPEN_SSE, [
        "/.well-known/mercure?topic=https%3A%2F%2Fexample.com%2Fprivate%2F1",
        false,
      ] as [string, boolean]);
      await page.waitForFunction(() => (globalThis as unknown as { __sse: { open: boolean } }).__sse.open);
      await publishPrivate("same-origin secret");
      await page.waitForFunction(() =>
        (globalThis as unknown as { __sse: { messages: string[] } }).__sse.messages.includes(
          "same-origin secret",
        ),
      );
    } finally {
      await page.close();
    }
  });

  it("receives private updates cross-origin with withCredentials from a listed origin", async () => {
    const page = await (browser as LaunchedBrowser).newPage();
    try {
      await page.goto(`${app.origin}/`);
      await page.evaluate(OPEN_SSE, [subscribeUrl(hub.hub, ["https://example.com/private/1"]), true] as [
        string,
        boolean,
      ]);
      await page.waitForFunction(() => (globalThis as unknown as { __sse: { open: boolean } }).__sse.open);
      await publishPrivate("cross-origin secret");
      await page.waitForFunction(() =>
        (globalThis as unknown as { __sse: { messages: string[] } }).__sse.messages.includes(
          "cross-origin secret",
        ),
      );
    } finally {
      await page.close();
    }
  });

  it("cannot open a credentialed stream from an unlisted origin", async () => {
    const page = await (browser as LaunchedBrowser).newPage();
    try {
      await page.goto(`${evil.origin}/`);
      await page.evaluate(OPEN_SSE, [subscribeUrl(hub.hub, ["https://example.com/private/1"]), true] as [
        string,
        boolean,
      ]);
      await page.waitForFunction(
        () => (globalThis as unknown as { __sse: { errors: number } }).__sse.errors > 0,
      );
      const state = await page.evaluate(
        () => (globalThis as unknown as { __sse: { open: boolean } }).__sse.open,
      );
      assert.equal(state, false);
    } finally {
      await page.close();
    }
  });

  it("publishes with the cookie from a listed origin, and is refused (403) from another", async () => {
    const watch = await connectSse(subscribeUrl(hub.hub, ["https://example.com/from-browser"]), {
      headers: { Authorization: `Bearer ${await token({ subscribe: ["*"] }, SECRET)}` },
    });
    const publishFrom = async (
      origin: string,
      data: string,
    ): Promise<{ status: number; body: string } | string> => {
      const page = await (browser as LaunchedBrowser).newPage();
      try {
        await page.goto(`${origin}/`);
        return await page.evaluate(
          async ([hubUrl, d]) => {
            try {
              const r = await fetch(hubUrl as string, {
                method: "POST",
                credentials: "include",
                body: new URLSearchParams({ topic: "https://example.com/from-browser", data: d as string }),
              });
              return { status: r.status, body: await r.text() };
            } catch (e) {
              return String(e); // a CORS refusal hides the response from the script
            }
          },
          [hub.hub, data],
        );
      } finally {
        await page.close();
      }
    };
    const ok = await publishFrom(app.origin, "allowed");
    assert.equal(typeof ok, "object");
    assert.equal((ok as { status: number }).status, 200);
    assert.match((ok as { body: string }).body, /^urn:uuid:/);
    const refused = await publishFrom(evil.origin, "forged");
    assert.equal(typeof refused, "string", "the evil page cannot read the answer");
    // The server refused it too (CSRF check): the next update the watcher sees after "allowed" is the marker.
    await publishForm(
      hub.hub,
      [
        ["topic", "https://example.com/from-browser"],
        ["data", "marker"],
      ],
      await token({ publish: ["*"] }, SECRET),
    );
    const events = await watch.waitForEvents(2);
    assert.deepEqual(
      events.map((e) => e.data),
      ["allowed", "marker"],
    );
    watch.close();
  });
});
