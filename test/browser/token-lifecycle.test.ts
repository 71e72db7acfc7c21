/**
 * Issue 11, feature 2 in Debian's Chromium: a plain `EventSource` on the Mercure hub, its short-lived
 * token in the classic `mercureAuthorization` cookie, with `sse_broker_lifecycle=1`. It gets
 * `sse-broker.token-expiring` through `addEventListener` (never `onmessage`, its last event id unchanged);
 * the application's backend (here the test, from Node) posts a new token for the subscriber id and the
 * same connection keeps receiving updates past the old expiry (`open` fired once); when the new token
 * expires the page gets `sse-broker.closed` with the reason, and the browser's own reconnection with the
 * expired cookie is refused (401), so the EventSource stops instead of going on anonymously.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chromiumSkipReason, type LaunchedBrowser, launchChromium } from "../helpers/browser.js";
import { waitFor } from "../helpers/wait.js";
import { type Hub, httpRequest, publishData, startHub, subscriberToken } from "../mercure/hub-fixture.js";

const skip = chromiumSkipReason();
const A = "https://example.com/a";
const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;

let hub: Hub;
let browser: LaunchedBrowser | undefined;

before(async () => {
  if (skip !== false) return;
  // Anonymous subscribers allowed: a stream that lost its token could silently go on without it here.
  hub = await startHub({ anonymous: true }, { tokenExpiryNoticeMs: 1500, retryMs: 100 });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (skip !== false) return;
  await hub.close();
});

interface Seen {
  kind: "message" | "token-expiring" | "closed";
  data: string;
  /** The MessageEvent's lastEventId: the EventSource's last event id when it was dispatched. */
  lastEventId: string;
}

interface PageState {
  __seen: Seen[];
  __opens: number;
  __es: EventSource;
}

/** In the page: a plain EventSource; what it dispatches and its `open` count on `window`. */
const OPEN = (url: string) => {
  const w = globalThis as unknown as PageState;
  w.__seen = [];
  w.__opens = 0;
  const es = new EventSource(url);
  w.__es = es;
  es.onopen = () => {
    w.__opens++;
  };
  es.onmessage = (e) => w.__seen.push({ kind: "message", data: e.data, lastEventId: e.lastEventId });
  for (const kind of ["token-expiring", "closed"] as const) {
    es.addEventListener(`sse-broker.${kind}`, (e) => {
      const m = e as unknown as { data: string; lastEventId: string };
      w.__seen.push({ kind, data: m.data, lastEventId: m.lastEventId });
    });
  }
};

/** In the page: true once `n` events of `kind` were dispatched (one argument: playwright passes one). */
const SEEN = ([kind, n]: [string, number]) =>
  (globalThis as unknown as PageState).__seen.filter((s) => s.kind === kind).length >= n;

describe("Mercure token lifecycle in Chromium", { skip }, () => {
  it("notifies a plain EventSource, is refreshed on the same connection, then closes it with the reason", async () => {
    const b = browser as LaunchedBrowser;
    // A private update the stream replays from its start (`lastEventID`), so a real event always comes
    // before the first notice, however long the page took to open.
    const zero = await publishData(hub, A, "zero");
    const before = await publishData(hub, A, "private before", { private: true });
    const jwt = await subscriberToken([A], {}, { exp: inSeconds(3) });
    await b.context.addCookies([{ name: "mercureAuthorization", value: jwt, url: hub.base }]);
    const page = await b.newPage();
    try {
      await page.goto(`${hub.base}/healthz`);
      const q = new URLSearchParams([
        ["topic", A],
        ["lastEventID", zero],
        ["sse_broker_lifecycle", "1"],
      ]);
      await page.evaluate(OPEN, `/.well-known/mercure?${q}`);
      await page.waitForFunction(() => (globalThis as unknown as PageState).__opens === 1);

      // The notice, while the first token is still valid.
      await page.waitForFunction(SEEN, ["token-expiring", 1] as [string, number], { timeout: 15_000 });
      const first = (await page.evaluate(() => (globalThis as unknown as PageState).__seen)) as Seen[];
      assert.deepEqual(
        first.map((e) => e.kind),
        ["message", "token-expiring"],
      );
      const notice = first[1] as Seen;
      assert.equal(notice.lastEventId, before, "the notice leaves the last event id as it was");
      const { subscriber, expiresAt } = JSON.parse(notice.data) as { subscriber: string; expiresAt: string };
      const oldEnd = Date.parse(expiresAt);

      // The application's backend posts a new token for that subscriber id.
      const fresh = await subscriberToken([A], {}, { exp: inSeconds(7) });
      const r = await httpRequest(`${hub.hub}/subscribers/${encodeURIComponent(subscriber)}/token`, {
        method: "POST",
        headers: { Authorization: `Bearer ${fresh}` },
      });
      assert.equal(r.status, 200, r.body);
      const newEnd = Date.parse(JSON.parse(r.body).expiresAt);
      assert.ok(newEnd > oldEnd);

      // Past the old expiry the same connection still gets private updates.
      await waitFor("the old expiry passed", () => Date.now() > oldEnd + 200, 10_000);
      const afterRefresh = await publishData(hub, A, "private after", { private: true });
      await page.waitForFunction(SEEN, ["message", 2] as [string, number]);

      // The new token's notice, then the final event, then the browser's reconnection is refused.
      await page.waitForFunction(SEEN, ["closed", 1] as [string, number], { timeout: 20_000 });
      await page.waitForFunction(
        () => (globalThis as unknown as PageState).__es.readyState === 2,
        undefined,
        {
          timeout: 10_000,
        },
      );
      const seen = (await page.evaluate(() => (globalThis as unknown as PageState).__seen)) as Seen[];
      const expiring = (at: number) => JSON.stringify({ expiresAt: new Date(at).toISOString(), subscriber });
      assert.deepEqual(
        seen.filter((e) => e.kind === "message"),
        [
          { kind: "message", data: "private before", lastEventId: before },
          { kind: "message", data: "private after", lastEventId: afterRefresh },
        ],
      );
      assert.deepEqual(
        seen.filter((e) => e.kind !== "message").map((e) => [e.kind, e.data]),
        [
          ["token-expiring", expiring(oldEnd)],
          ["token-expiring", expiring(newEnd)],
          ["closed", JSON.stringify({ reason: "token-expired" })],
        ],
      );
      assert.equal(seen.at(-1)?.kind, "closed", "the final event is the last one");
      // No control event moves the last event id: each sees the id of the last update before it.
      let last = "";
      for (const e of seen) {
        if (e.kind === "message") last = e.lastEventId;
        else assert.equal(e.lastEventId, last, `${e.kind} kept the last event id`);
      }
      const opens = await page.evaluate(() => (globalThis as unknown as PageState).__opens);
      assert.equal(opens, 1, "one connection from the first event to the final one, none after");
      assert.equal(hub.broker.stats.connectionsOpened, 1);
    } finally {
      await page.close();
    }
  });
});
