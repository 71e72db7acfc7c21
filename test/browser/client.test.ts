/**
 * sse-broker/client in Debian's Chromium: the built client (dist/client) loaded as an ES module from a
 * page on another origin (a static node:http server; eventsource-parser through an import map) receives
 * a Mercure hub's events with `Authorization: Bearer` (an EventSource cannot send it), and two tabs with
 * `shared: true` hold ONE stream on the broker, both getting every event, the follower taking the stream
 * over (resuming, no loss, no duplicate) when the leader's tab closes.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { createBroker, type SseBroker } from "../../src/index.js";
import { chromiumSkipReason, type LaunchedBrowser, launchChromium } from "../helpers/browser.js";
import { publish } from "../helpers/server.js";
import { waitFor } from "../helpers/wait.js";
import {
  PUBLISHER_SECRET,
  publishForm,
  SUBSCRIBER_SECRET,
  subscriberToken,
  token,
} from "../mercure/hub-fixture.js";

const root = new URL("../..", import.meta.url).pathname;
const built = existsSync(join(root, "dist/client/index.js"));
const skip = chromiumSkipReason() || (!built && "dist/client is missing: run npm run build first");

/** The page: an import map for eventsource-parser, and a module that starts a client on request. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<script type="importmap">{"imports":{"eventsource-parser":"/vendor/eventsource-parser.js"}}</script>
<script type="module">
import { createClient, eventsUrl, mercureSubscribeUrl } from "/dist/client/index.js";
window.seen = [];
window.opens = [];
window.errors = [];
window.start = (o) => {
  const url = o.hub ? mercureSubscribeUrl(o.hub, o.topic) : eventsUrl(o.base, o.topic);
  const client = createClient({ url, shared: o.shared, ...(o.token ? { token: () => o.token } : {}) });
  client.on("message", (e) => window.seen.push({ data: e.data, id: e.id }));
  client.on("open", (info) => window.opens.push(info.role));
  client.on("error", (info) => window.errors.push(info.error.code + " " + info.status));
  window.client = client;
};
window.ready = true;
</script>`;

/** Files the static server may serve, by URL path. */
const FILES = new Map<string, string>([
  ["/vendor/eventsource-parser.js", "node_modules/eventsource-parser/dist/index.js"],
]);

let broker: SseBroker;
let brokerServer: Server;
let brokerBase: string;
let pages: Server;
let pageOrigin: string;
let browser: LaunchedBrowser | undefined;
const streamRequests: { url: string; headers: IncomingHttpHeaders }[] = [];

async function listen(server: Server): Promise<string> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

before(async () => {
  if (skip !== false) return;
  pages = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] as string;
    if (path === "/") {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(PAGE);
      return;
    }
    // dist/client/*.js and the error catalogue it imports (../errors.js); nothing else of dist.
    const file =
      FILES.get(path) ??
      (/^\/dist\/client\/[a-z-]+\.js$/.test(path) || path === "/dist/errors.js" ? path.slice(1) : undefined);
    if (file === undefined || !existsSync(join(root, file))) {
      res.writeHead(404).end();
      return;
    }
    res
      .writeHead(200, { "Content-Type": "text/javascript; charset=utf-8" })
      .end(readFileSync(join(root, file)));
  });
  pageOrigin = await listen(pages);
  broker = createBroker({
    heartbeatMs: null,
    metrics: false,
    retryMs: 100,
    // The pages (another origin) may change their streams' selectors without a token.
    publishOrigins: [pageOrigin],
    mercure: {
      publisherJwtKey: PUBLISHER_SECRET,
      subscriberJwtKey: SUBSCRIBER_SECRET,
      anonymous: false,
      corsOrigins: [pageOrigin],
    },
  });
  brokerServer = createServer((req, res) => {
    if (req.method === "GET") streamRequests.push({ url: req.url ?? "", headers: req.headers });
    broker.handler(req, res);
  });
  brokerBase = await listen(brokerServer);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (skip !== false) return;
  await broker.close();
  brokerServer.closeAllConnections();
  brokerServer.close();
  pages.closeAllConnections();
  pages.close();
});

interface PageState {
  seen: { data: string; id: string }[];
  opens: string[];
  errors: string[];
  role: string;
  state: string;
}

async function openPage(): Promise<Page> {
  const page = await (browser as LaunchedBrowser).newPage();
  await page.goto(`${pageOrigin}/`);
  await page.waitForFunction(() => (globalThis as unknown as { ready?: boolean }).ready === true);
  return page;
}

const stateOf = (page: Page): Promise<PageState> =>
  page.evaluate(() => {
    const w = globalThis as unknown as PageState & { client: { role: string; state: string } };
    return { seen: w.seen, opens: w.opens, errors: w.errors, role: w.client.role, state: w.client.state };
  });

async function waitForPage(page: Page, what: string, check: (s: PageState) => boolean): Promise<PageState> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = await stateOf(page);
    if (check(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
    await page.waitForTimeout(20);
  }
}

describe("sse-broker/client in Chromium", { skip }, () => {
  it("loads as an ES module and receives a Mercure hub's events with an Authorization header", async () => {
    const topic = "https://example.com/books/1";
    const page = await openPage();
    try {
      const jwt = await subscriberToken([topic]);
      await page.evaluate((o) => (globalThis as unknown as { start(o: object): void }).start(o), {
        hub: `${brokerBase}/.well-known/mercure`,
        topic,
        token: jwt,
      });
      await waitForPage(page, "open", (s) => s.state === "open");
      const pub = await token({ publish: ["*"] });
      for (const data of ["public", "private"]) {
        const fields: [string, string][] = [
          ["topic", topic],
          ["data", data],
        ];
        if (data === "private") fields.push(["private", "on"]);
        assert.equal((await publishForm(`${brokerBase}/.well-known/mercure`, fields, pub)).status, 200);
      }
      const s = await waitForPage(page, "both updates", (x) => x.seen.length === 2);
      assert.deepEqual(
        s.seen.map((e) => e.data),
        ["public", "private"],
      );
      assert.deepEqual(s.errors, []);
      const stream = streamRequests.find((r) => r.url.startsWith("/.well-known/mercure?"));
      assert.equal(stream?.headers.authorization, `Bearer ${jwt}`);
      assert.equal(stream?.headers.origin, pageOrigin, "a cross-origin page");
    } finally {
      await page.close();
    }
  });

  it("shares one stream between two tabs; the follower takes over when the leader's tab closes", async () => {
    const start = (page: Page) =>
      page.evaluate((o) => (globalThis as unknown as { start(o: object): void }).start(o), {
        base: brokerBase,
        topic: "ticks",
        shared: true,
      });
    const opened = broker.stats.connectionsOpened;
    const leader = await openPage();
    const follower = await openPage();
    try {
      await start(leader);
      await waitForPage(leader, "the leader's stream", (s) => s.role === "leader" && s.state === "open");
      await start(follower);
      await waitForPage(
        follower,
        "the follower's open",
        (s) => s.role === "follower" && s.opens.length === 1,
      );
      assert.equal(broker.sessions.size, 1, "one stream on the broker for two tabs");
      assert.equal(broker.stats.connectionsOpened, opened + 1);

      const ids: string[] = [];
      const post = async (data: string, topic = "ticks") => {
        const r = await publish(brokerBase, { topic, data });
        assert.equal(r.status, 200);
        ids.push((r.body as { id: string }).id);
      };
      for (let i = 0; i < 3; i++) await post(`tick ${i}`);
      for (const page of [leader, follower]) {
        const s = await waitForPage(page, "three ticks", (x) => x.seen.length === 3);
        assert.deepEqual(
          s.seen.map((e) => e.id),
          ids,
        );
      }
      assert.equal(broker.sessions.size, 1);

      // The follower's selector change is made by the leader, on the one shared stream.
      const changed = await follower.evaluate(() =>
        (
          globalThis as unknown as {
            client: { changeSelectors(c: object): Promise<{ selectors: string[] }> };
          }
        ).client.changeSelectors({ add: ["tocks"] }),
      );
      assert.deepEqual(changed.selectors, ["ticks", "tocks"]);
      await post("tock", "tocks");
      for (const page of [leader, follower]) await waitForPage(page, "the tock", (x) => x.seen.length === 4);

      await leader.close();
      await post("while the leader is gone");
      await waitForPage(follower, "the takeover", (s) => s.role === "leader" && s.opens.length === 2);
      await post("after the takeover", "tocks"); // the new leader opened with the changed selectors
      const s = await waitForPage(follower, "every tick", (x) => x.seen.length >= 6);
      assert.deepEqual(
        s.seen.map((e) => e.id),
        ids,
        "no loss, no duplicate",
      );
      assert.deepEqual(s.opens, ["follower", "leader"]);
      await waitFor("the old leader's stream closed", () => broker.sessions.size === 1);
      assert.equal(broker.stats.connectionsOpened, opened + 2);
      const resumed = streamRequests.filter((r) => r.url.startsWith("/events")).at(-1);
      assert.equal(resumed?.headers["last-event-id"], ids[3], "resumed from the last relayed id");
      assert.equal(resumed?.url, "/events?topic=ticks&topic=tocks");
    } finally {
      await leader.close();
      await follower.close();
    }
  });
});
