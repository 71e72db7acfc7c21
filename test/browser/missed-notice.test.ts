/**
 * Issue 11, feature 3 in Debian's Chromium: a plain `EventSource` that reconnects by itself with an id
 * history has evicted gets the `sse-broker.missed` control event through `addEventListener`, `onmessage`
 * never sees it, and it leaves the last event id as it was (no `id:` line).
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { createBroker, type SseBroker } from "../../src/index.js";
import { chromiumSkipReason, type LaunchedBrowser, launchChromium } from "../helpers/browser.js";
import { publish } from "../helpers/server.js";
import { waitFor } from "../helpers/wait.js";

const skip = chromiumSkipReason();

let broker: SseBroker;
let server: Server;
let base: string;
let browser: LaunchedBrowser | undefined;
/** Reconnections (requests carrying Last-Event-ID) wait here until the test lets them through. */
const held: { req: IncomingMessage; release: () => void }[] = [];
let holding = true;

before(async () => {
  if (skip !== false) return;
  broker = createBroker({ heartbeatMs: null, metrics: false, historyLimit: 3, retryMs: 100 });
  server = createServer((req, res) => {
    if (holding && req.headers["last-event-id"] !== undefined) {
      held.push({ req, release: () => broker.handler(req, res) });
      return;
    }
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

interface Seen {
  kind: "message" | "missed";
  data: string;
  /** The MessageEvent's lastEventId: the EventSource's last event id when it was dispatched. */
  lastEventId: string;
}

/** In the page: a plain EventSource, its messages and its `sse-broker.missed` events on `window.__seen`. */
const OPEN = (url: string) => {
  const w = globalThis as unknown as { __seen: Seen[]; __opens: number };
  w.__seen = [];
  w.__opens = 0;
  const es = new EventSource(url);
  es.onopen = () => {
    w.__opens++;
  };
  es.onmessage = (e) => w.__seen.push({ kind: "message", data: e.data, lastEventId: e.lastEventId });
  es.addEventListener("sse-broker.missed", (e) => {
    const m = e as unknown as { data: string; lastEventId: string };
    w.__seen.push({ kind: "missed", data: m.data, lastEventId: m.lastEventId });
  });
};

async function post(data: string): Promise<string> {
  const r = await publish(base, { topic: "orders", data });
  assert.equal(r.status, 200);
  return (r.body as { id: string }).id;
}

describe("sse-broker.missed in Chromium", { skip }, () => {
  it("reaches a reconnecting EventSource's listener, not onmessage, and keeps its last event id", async () => {
    const page = await (browser as LaunchedBrowser).newPage();
    try {
      await page.goto(`${base}/healthz`);
      await page.evaluate(OPEN, "/events?topic=orders");
      await page.waitForFunction(() => (globalThis as unknown as { __opens: number }).__opens === 1);
      const first = await post("first");
      await page.waitForFunction(() => (globalThis as unknown as { __seen: unknown[] }).__seen.length === 1);

      // The broker ends the stream; the browser reconnects by itself with Last-Event-ID: <first>, and
      // that request is held while history evicts <first> (3 events per topic).
      for (const s of broker.sessions) s.close("closed");
      await waitFor("the browser's reconnection", () => held.length === 1);
      assert.equal(held[0]?.req.headers["last-event-id"], first, "the browser resumes from the id it saw");
      const kept: string[] = [];
      for (let i = 0; i < 4; i++) kept.push(await post(`missed ${i}`));
      holding = false;
      held[0]?.release();
      await page.waitForFunction(() => (globalThis as unknown as { __opens: number }).__opens === 2);
      const end = await post("end");
      await page.waitForFunction(() =>
        (globalThis as unknown as { __seen: { data: string }[] }).__seen.some((s) => s.data === "end"),
      );

      const seen = (await page.evaluate(
        () => (globalThis as unknown as { __seen: Seen[] }).__seen,
      )) as Seen[];
      assert.deepEqual(seen, [
        { kind: "message", data: "first", lastEventId: first },
        // The notice leaves the last event id as it was: still <first>, the id the browser resumed from.
        {
          kind: "missed",
          data: JSON.stringify({ requested: first, earliest: kept[1] }),
          lastEventId: first,
        },
        { kind: "message", data: "missed 1", lastEventId: kept[1] },
        { kind: "message", data: "missed 2", lastEventId: kept[2] },
        { kind: "message", data: "missed 3", lastEventId: kept[3] },
        { kind: "message", data: "end", lastEventId: end },
      ]);
    } finally {
      await page.close();
    }
  });
});
