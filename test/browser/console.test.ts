/**
 * The live console in chromium against a real broker: one page publishes a test event from the console's
 * form (with the publish token typed into its token field), a second console page watching the topic
 * shows it arrive; the counts and the chart follow the traffic. Saves a screenshot of the console to
 * os.tmpdir() and, when SSE_BROKER_SCREENSHOT names a path, there too (docs/img/console.png is one).
 */
import assert from "node:assert/strict";
import { copyFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { chromiumSkipReason, type LaunchedBrowser, launchChromium } from "../helpers/browser.js";
import { publish, startServer, type TestServer } from "../helpers/server.js";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";

const skip = chromiumSkipReason();
const PUBLISH_TOKEN = "console-test-publish-token";
const auth = { Authorization: `Bearer ${PUBLISH_TOKEN}` };

/** The page's DOM as far as these predicates use it (the test's TypeScript has no DOM types). */
type Doc = {
  querySelector(s: string): { textContent: string | null; getAttribute(n: string): string | null } | null;
};

/**
 * Waits until the number in `selector`'s text (or its `attribute`) is at least `n`. A function, not a
 * string: the console's Content-Security-Policy forbids evaluating strings in the page.
 */
function atLeast(page: Page, selector: string, n: number, attribute: string | null = null, timeout = 15_000) {
  return page.waitForFunction(
    ([sel, attr, min]) => {
      const el = (globalThis as unknown as { document: Doc }).document.querySelector(sel);
      const text = (attr === null ? el?.textContent : el?.getAttribute(attr)) ?? "";
      return text !== "" && Number(text.replace(/,/g, "")) >= min;
    },
    [selector, attribute, n] as const,
    { timeout },
  );
}

describe("console in chromium", { skip, timeout: 90_000 }, () => {
  let server: TestServer | undefined;
  let browser: LaunchedBrowser | undefined;
  let consolePage: Page;
  let watchPage: Page;
  const streams: SseConnection[] = [];
  let traffic: NodeJS.Timeout | undefined;

  before(async () => {
    server = await startServer({ publishToken: PUBLISH_TOKEN });
    browser = await launchChromium({ timeoutMs: 15_000 });
    consolePage = await browser.newPage();
    await consolePage.setViewportSize({ width: 1200, height: 1000 });
    watchPage = await browser.newPage();
    // Some subscribers and a steady trickle of events, so that there is something to count and chart.
    for (const topic of ["orders", "orders", "orders", "chat", "chat", "https://example.com/books/{id}"]) {
      streams.push(await connectSse(`${server.url}/events?topic=${encodeURIComponent(topic)}`));
    }
    let sent = 0;
    const url = server.url;
    traffic = setInterval(() => {
      // Bounded: at most 600 events (one minute), whatever happens to the test.
      if (++sent > 600) return clearInterval(traffic);
      const topic = sent % 3 === 0 ? "chat" : "orders";
      // Every fifth tick a burst of three, so that the chart has a shape.
      for (let i = sent % 5 === 0 ? 3 : 1; i > 0; i--) {
        publish(url, { topic, data: `{"n":${sent},"i":${i}}` }, { headers: auth }).catch(() => {});
      }
    }, 100);
  });

  after(async () => {
    clearInterval(traffic);
    for (const s of streams) s.close();
    await browser?.close();
    await server?.close();
  });

  it("shows the subscribers, then a second console page watching the topic", async () => {
    assert.ok(server !== undefined);
    await consolePage.goto(`${server.url}/ui`); // redirected to /ui/
    assert.equal(await consolePage.title(), "sse-broker · console");
    await consolePage.waitForSelector('#status[data-state="live"]');
    await atLeast(consolePage, "#connections", 6);
    await consolePage.waitForSelector('#topics td.selector:text-is("orders")');
    const ordersCount = await consolePage.textContent('#topics tr:has(td.selector:text-is("orders")) td.num');
    assert.equal(ordersCount, "3");

    await watchPage.goto(`${server.url}/ui/`);
    await watchPage.fill("#watch-selector", "console-test");
    await watchPage.click('#watch-form button[type="submit"]');
    await watchPage.waitForSelector('#watch-state[data-state="open"]');
    // The watching page's stream shows up in the first page's list.
    await consolePage.waitForSelector(
      '#topics tr:has(td.selector:text-is("console-test")) td.num:text-is("1")',
    );
  });

  it("publishes a test event from the form, with the token field, and the second page sees it", async () => {
    await consolePage.fill("#pub-topic", "console-test");
    await consolePage.fill("#pub-type", "greeting");
    await consolePage.fill("#pub-data", "hello from the console");
    // Without the publish token the broker refuses it, and the page says why.
    await consolePage.click('#publish-form button[type="submit"]');
    await consolePage.waitForSelector('#pub-result.bad:text-matches("SSEB_ERR_AUTH_REQUIRED")');
    await consolePage.fill("#pub-token", PUBLISH_TOKEN);
    await consolePage.click('#publish-form button[type="submit"]');
    await consolePage.waitForSelector('#pub-result:text-matches("^published, id urn:uuid:")');
    const id = (await consolePage.textContent("#pub-result"))?.replace("published, id ", "");

    const item = await watchPage.waitForSelector(
      '#watch-events li:has(.data:text-is("hello from the console"))',
    );
    const meta = (await item.textContent()) ?? "";
    assert.ok(meta.includes("type greeting"), meta);
    assert.ok(meta.includes(`id ${id}`), meta);
    assert.equal(await watchPage.getAttribute("#watch-events", "data-count"), "1", "only the test event");
  });

  it("charts events/s, deliveries/s and connections as the traffic goes on", async () => {
    await atLeast(consolePage, "#chart", 8, "data-samples", 20_000);
    await atLeast(consolePage, "#chart", 1, "data-max-events");
    await atLeast(consolePage, "#chart", 1, "data-max-deliveries");
    await atLeast(consolePage, "#chart", 7, "data-max-connections");
    await atLeast(consolePage, "#events-total", 10);
    assert.match((await consolePage.textContent("#events-rate")) ?? "", /^\d+$/);
    assert.equal(await consolePage.textContent("#dropped-slow"), "0");
    // The first page watches two selectors at once and sees the trickle.
    await consolePage.fill("#watch-selector", "orders chat");
    await consolePage.click('#watch-form button[type="submit"]');
    await atLeast(consolePage, "#watch-events", 4, "data-count");
    const newest = (await consolePage.textContent("#watch-events li:first-child")) ?? "";
    assert.match(newest, /type message.*id urn:uuid:.*\{"n":\d+,"i":\d\}/, newest);
    await consolePage.waitForSelector('#watch-state:text-is("watching orders chat")');

    const shot = join(tmpdir(), "sse-broker-console.png");
    await consolePage.screenshot({ path: shot, fullPage: true });
    const wanted = process.env.SSE_BROKER_SCREENSHOT;
    if (wanted !== undefined && wanted !== "") await copyFile(shot, wanted);
  });

  it("says why the broker refused a watched selector, and stops watching on Stop", async () => {
    await watchPage.fill("#watch-selector", "{bad");
    await watchPage.click('#watch-form button[type="submit"]');
    await watchPage.waitForSelector('#watch-state.bad:text-matches("^refused: SSEB_ERR_")');
    await consolePage.click("#watch-stop");
    await consolePage.waitForSelector('#watch-state:not([data-state]):text-is("not watching")');
    // Its stream is gone: "orders" is back to the three streams of the test.
    await consolePage.waitForSelector('#topics tr:has(td.selector:text-is("orders")) td.num:text-is("3")');
  });
});
