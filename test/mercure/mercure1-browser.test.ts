/**
 * Mercure 1.0 in Debian's chromium (playwright-core): a page on another origin subscribes with a plain
 * `EventSource` (GET, `match` and `match_urlpattern`) and with `fetch(…, { method: "QUERY", body })`, read
 * as a stream; Node publishes with `at+jwt` access tokens (HS256, a trusted issuer, the hub's audience).
 * Skips only when chromium is not installed.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { chromiumSkipReason, type LaunchedBrowser, launchChromium } from "../helpers/browser.js";
import { type Hub, publishForm, startHub } from "./hub-fixture.js";
import { grantToken, OAUTH } from "./oauth-fixture.js";

const skip = chromiumSkipReason();

const BOOK = "https://example.com/books/1";
const AUTHOR_PATTERN = "https://example.com/authors/:id";

let hub: Hub;
let app: { server: Server; origin: string };
let browser: LaunchedBrowser | undefined;

before(async () => {
  if (skip !== false) return;
  // The page's own origin (another port): the hub must answer CORS, and the QUERY preflight.
  const server = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end("<!doctype html><title>app</title><p>app</p>");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  app = { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  hub = await startHub({ anonymous: true, corsOrigins: [app.origin], ...OAUTH });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (skip !== false) return;
  await hub.close();
  app.server.closeAllConnections();
  app.server.close();
});

/** Publishes with a 1.0 access token allowed to publish anywhere; returns the update's id. */
async function publish1(topic: string, data: string, opts: { private?: boolean } = {}): Promise<string> {
  const fields: [string, string][] = [
    ["topic", topic],
    ["data", data],
  ];
  if (opts.private === true) fields.push(["private", "on"]);
  const r = await publishForm(hub.hub, fields, await grantToken({ publish: [{ match: "*" }] }));
  assert.equal(r.status, 200, r.body);
  return r.body;
}

interface PageState {
  open: boolean;
  errors: number;
  messages: string[];
}

async function openPage(): Promise<Page> {
  const page = await (browser as LaunchedBrowser).newPage();
  await page.goto(`${app.origin}/`);
  return page;
}

describe("Mercure 1.0 in Chromium (draft-08 §Subscription, §Matcher Types)", { skip }, () => {
  it("an EventSource with match and match_urlpattern gets the exact and the pattern-matched update", async () => {
    const page = await openPage();
    try {
      const url = new URL(hub.hub);
      url.searchParams.append("match", BOOK);
      url.searchParams.append("match_urlpattern", AUTHOR_PATTERN);
      await page.evaluate((u: string) => {
        const w = globalThis as unknown as { __sse: PageState };
        w.__sse = { open: false, errors: 0, messages: [] };
        const es = new EventSource(u);
        es.onopen = () => {
          w.__sse.open = true;
        };
        es.onerror = () => {
          w.__sse.errors++;
        };
        es.onmessage = (e) => w.__sse.messages.push(e.data);
      }, url.href);
      await page.waitForFunction(() => (globalThis as unknown as { __sse: PageState }).__sse.open);
      await publish1(BOOK, "exact");
      await publish1("https://example.com/books/2", "not-subscribed");
      await publish1("https://example.com/authors/42", "pattern");
      await page.waitForFunction(
        () => (globalThis as unknown as { __sse: PageState }).__sse.messages.length >= 2,
      );
      const state = await page.evaluate(() => (globalThis as unknown as { __sse: PageState }).__sse);
      assert.deepEqual(state.messages, ["exact", "pattern"]);
      assert.equal(state.errors, 0);
    } finally {
      await page.close();
    }
  });

  it("fetch with method QUERY and a URLSearchParams body streams updates, private ones by its at+jwt token", async () => {
    const page = await openPage();
    try {
      const subscribe = await grantToken({
        subscribe: [{ match: "https://example.com/secret/:id", match_type: "urlpattern" }],
      });
      // Starts the stream and returns at once (the read loop goes on in the page).
      await page.evaluate(
        ([hubUrl, jwt, pattern]) => {
          const w = globalThis as unknown as { __q: { status: number; text: string; error: string } };
          w.__q = { status: 0, text: "", error: "" };
          void (async () => {
            try {
              const r = await fetch(hubUrl as string, {
                method: "QUERY",
                headers: { Accept: "text/event-stream", Authorization: `Bearer ${jwt}` },
                body: new URLSearchParams([
                  ["match", "https://example.com/q/1"],
                  ["match_urlpattern", pattern as string],
                ]),
              });
              w.__q.status = r.status;
              const reader = (r.body as ReadableStream<Uint8Array>).getReader();
              const decoder = new TextDecoder();
              for (;;) {
                const { done, value } = await reader.read();
                if (done) break;
                w.__q.text += decoder.decode(value, { stream: true });
              }
            } catch (e) {
              w.__q.error = String(e);
            }
          })();
        },
        [hub.hub, subscribe, "https://example.com/secret/:id"],
      );
      await page.waitForFunction(() => {
        const q = (globalThis as unknown as { __q: { status: number; error: string } }).__q;
        return q.status !== 0 || q.error !== "";
      });
      const head = await page.evaluate(() => (globalThis as unknown as { __q: object }).__q);
      assert.deepEqual(head, { status: 200, text: "", error: "" }, "QUERY accepted, after its preflight");
      await publish1("https://example.com/q/1", "via-query");
      await publish1("https://example.com/secret/7", "private-via-query", { private: true });
      await page.waitForFunction(() =>
        (globalThis as unknown as { __q: { text: string } }).__q.text.includes("private-via-query"),
      );
      const text = await page.evaluate(() => (globalThis as unknown as { __q: { text: string } }).__q.text);
      // The hub writes `data:` without the optional space.
      assert.match(text, /^data: ?via-query$[\s\S]*^data: ?private-via-query$/m);
    } finally {
      await page.close();
    }
  });
});
