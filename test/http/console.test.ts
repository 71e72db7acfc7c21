/**
 * The live console at `/ui/` over real HTTP: who may open it (local requests by default; remote ones only
 * with `consoleMode: "on"` and the token; a reverse proxy on this machine never opens it to others), and
 * its data endpoint (`GET /ui/api/stats`: counts only, bounded). A remote client is simulated honestly:
 * the broker trusts loopback as a proxy, and the request names another client in `X-Forwarded-For`.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { connect, type Socket } from "node:net";
import { describe, it } from "node:test";
import { createBroker } from "../../src/index.js";
import { send } from "../helpers/http.js";
import { publish, startServer, type TestServer } from "../helpers/server.js";
import { connectSse } from "../helpers/sse-client.js";

const REMOTE = { "X-Forwarded-For": "203.0.113.7" };
const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** The console page, recognised by its title (a refusal is a small JSON error). */
const isPage = (body: string): boolean => body.includes("<title>sse-broker · console</title>");

async function withServer(
  options: Parameters<typeof startServer>[0],
  run: (s: TestServer) => Promise<void>,
): Promise<void> {
  const s = await startServer(options);
  try {
    await run(s);
  } finally {
    await s.close();
  }
}

interface Stats {
  node: string;
  time: number;
  connections: number;
  clients: number;
  totals: Record<string, number>;
  selectors: number;
  top: { selector: string; count: number }[];
  history: { events: number; bytes: number; topics: number };
}

/** Polls the data endpoint until `check` holds (the snapshot is reused for a quarter second). */
async function statsWhen(url: string, check: (s: Stats) => boolean, what: string): Promise<Stats> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await send(`${url}/ui/api/stats`);
    assert.equal(res.status, 200, res.body);
    const s = res.json as unknown as Stats;
    if (check(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${res.body}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("console access (default: local requests only)", () => {
  it("serves the page, its assets and its data to a loopback client", async () => {
    await withServer({}, async (s) => {
      const page = await send(`${s.url}/ui/`);
      assert.equal(page.status, 200);
      assert.ok(isPage(page.body));
      assert.equal(page.headers["content-type"], "text/html; charset=utf-8");
      // Only the page's own origin: no CDN, no inline script, never framed by another site.
      assert.match(String(page.headers["content-security-policy"]), /script-src 'self'/);
      assert.match(String(page.headers["content-security-policy"]), /frame-ancestors 'none'/);
      assert.equal(page.headers["cache-control"], "no-store");
      for (const asset of ["console.js", "console.css"]) {
        assert.equal((await send(`${s.url}/ui/${asset}`)).status, 200, asset);
      }
      const bare = await send(`${s.url}/ui`);
      assert.equal(bare.status, 308);
      assert.equal(bare.headers.location, "ui/");
      assert.equal((await send(`${s.url}/ui/api/stats`)).status, 200);
      assert.equal((await send(`${s.url}/ui/nothing-here.js`)).status, 404);
    });
  });

  it("answers a remote client 404, never the page, even with a token", async () => {
    await withServer({ trustProxy: ["loopback"] }, async (s) => {
      for (const path of ["/ui/", "/ui", "/ui/console.js", "/ui/api/stats"]) {
        const res = await send(`${s.url}${path}`, { headers: { ...REMOTE, Authorization: "Bearer x" } });
        assert.equal(res.status, 404, path);
        assert.equal(res.json?.error?.code, "SSEB_ERR_NOT_FOUND");
        assert.ok(!isPage(res.body));
      }
    });
  });

  it("refuses proxy headers from a peer that is not a trusted proxy: a local reverse proxy opens nothing", async () => {
    await withServer({}, async (s) => {
      // What nginx on this machine sends for an internet client (the TCP peer is loopback).
      for (const headers of <Record<string, string>[]>[
        { "X-Forwarded-For": "203.0.113.7" },
        { "X-Forwarded-For": "127.0.0.1" }, // a lie is no better
        { Forwarded: "for=127.0.0.1" },
        { "X-Real-IP": "127.0.0.1" },
      ]) {
        const res = await send(`${s.url}/ui/`, { headers });
        assert.equal(res.status, 404, JSON.stringify(headers));
        assert.ok(!isPage(res.body));
      }
    });
  });

  it("accepts a trusted proxy that says the client is loopback, and refuses a non-loopback Host", async () => {
    await withServer({ trustProxy: ["loopback"] }, async (s) => {
      const viaProxy = await send(`${s.url}/ui/`, { headers: { "X-Forwarded-For": "127.0.0.1" } });
      assert.equal(viaProxy.status, 200);
      assert.ok(isPage(viaProxy.body));
      // A DNS-rebinding page reaches 127.0.0.1 under its own name.
      const rebound = await send(`${s.url}/ui/`, { headers: { Host: "console.evil.example" } });
      assert.equal(rebound.status, 404);
    });
  });

  it("is not served at all with consoleMode off, nor its files by the demo routes", async () => {
    await withServer({ consoleMode: "off" }, async (s) => {
      assert.equal((await send(`${s.url}/ui/`)).status, 404);
      assert.equal((await send(`${s.url}/ui/api/stats`)).status, 404);
    });
    await withServer({}, async (s) => {
      // The demo serves the web root's folders; the console's is not one of them.
      const res = await send(`${s.url}/console/index.html`);
      assert.equal(res.status, 404);
      assert.ok(!isPage(res.body));
    });
  });
});

describe("console access with consoleMode on", () => {
  const options = { consoleMode: "on", consoleToken: "c0nsole-t0ken", trustProxy: ["loopback"] } as const;

  it("asks a remote client for the token with a Basic challenge, and refuses a wrong one", async () => {
    await withServer(options, async (s) => {
      const none = await send(`${s.url}/ui/`, { headers: REMOTE });
      assert.equal(none.status, 401);
      assert.equal(none.json?.error?.code, "SSEB_ERR_AUTH_REQUIRED");
      assert.match(String(none.headers["www-authenticate"]), /^Basic realm="sse-broker console"/);
      assert.ok(!isPage(none.body));
      for (const auth of [
        "Bearer wrong",
        basic("admin", "wrong"),
        basic("c0nsole-t0ken", ""),
        "Bearer c0nsole-t0ken-and-more",
      ]) {
        const res = await send(`${s.url}/ui/`, { headers: { ...REMOTE, Authorization: auth } });
        assert.equal(res.status, 401, auth);
        assert.ok(!isPage(res.body));
      }
      const wrong = await send(`${s.url}/ui/api/stats`, {
        headers: { ...REMOTE, Authorization: "Bearer wrong" },
      });
      assert.equal(wrong.json?.error?.code, "SSEB_ERR_AUTH_TOKEN_INVALID");
      const metrics = await send(`${s.url}/metrics`);
      assert.match(metrics.body, /^sse_broker_refused_total\{reason="console_token"\} 6$/m);
    });
  });

  it("opens the page and the data to the right token (Basic password with any user, or Bearer)", async () => {
    await withServer(options, async (s) => {
      const page = await send(`${s.url}/ui/`, {
        headers: { ...REMOTE, Host: "broker.example", Authorization: basic("anyone", "c0nsole-t0ken") },
      });
      assert.equal(page.status, 200);
      assert.ok(isPage(page.body));
      const data = await send(`${s.url}/ui/api/stats`, {
        headers: { ...REMOTE, Authorization: "Bearer c0nsole-t0ken" },
      });
      assert.equal(data.status, 200);
      // Local requests still need no token.
      assert.equal((await send(`${s.url}/ui/`)).status, 200);
    });
  });

  it("refuses to start without a token, or with a token and no remote access", () => {
    assert.throws(() => createBroker({ consoleMode: "on" }), { code: "SSEB_ERR_OPTIONS_INVALID" });
    assert.throws(() => createBroker({ consoleToken: "t" }), { code: "SSEB_ERR_OPTIONS_INVALID" });
    assert.throws(() => createBroker({ consoleMode: "public" as "on" }), {
      code: "SSEB_ERR_OPTIONS_INVALID",
    });
  });
});

describe("console data endpoint", () => {
  it("counts streams, clients, selectors and events, and never shows an address, a token or a cookie", async () => {
    await withServer({ publishToken: "pub-s3cret" }, async (s) => {
      const streams = await Promise.all([
        connectSse(`${s.url}/events?topic=orders`, { headers: { Cookie: "session=c00kie-value" } }),
        connectSse(`${s.url}/events?topic=orders`),
        connectSse(`${s.url}/events?topic=chat`, { headers: { Authorization: "Bearer sub-t0ken" } }),
      ]);
      try {
        for (let i = 0; i < 3; i++) {
          const r = await publish(
            s.url,
            { topic: "orders", data: `o${i}` },
            {
              headers: { Authorization: "Bearer pub-s3cret" },
            },
          );
          assert.equal(r.status, 200);
        }
        await Promise.all(streams.slice(0, 2).map((c) => c.waitForEvents(3)));
        const stats = await statsWhen(
          s.url,
          (x) => x.connections === 3 && x.totals.eventsDelivered === 6,
          "3 streams and 6 deliveries",
        );
        assert.equal(stats.clients, 1, "three streams from one address");
        assert.equal(stats.selectors, 2);
        assert.deepEqual(stats.top, [
          { selector: "orders", count: 2 },
          { selector: "chat", count: 1 },
        ]);
        assert.equal(stats.totals.eventsPublished, 3);
        assert.equal(stats.totals.connectionsOpened, 3);
        assert.equal(stats.history.events, 3);
        assert.match(stats.node, /^[0-9a-f]{8}$/);
        assert.deepEqual(Object.keys(stats).sort(), [
          "clients",
          "connections",
          "history",
          "node",
          "selectors",
          "time",
          "top",
          "totals",
          "uptimeSeconds",
        ]);
        const text = (await send(`${s.url}/ui/api/stats`)).body;
        for (const secret of ["127.0.0.1", "pub-s3cret", "sub-t0ken", "c00kie-value"]) {
          assert.ok(!text.includes(secret), secret);
        }
      } finally {
        for (const c of streams) c.close();
      }
      await statsWhen(s.url, (x) => x.connections === 0 && x.top.length === 0, "the streams gone");
    });
  });

  it("lists at most 25 selectors, most subscribed first, and says how many there are", async () => {
    await withServer({}, async (s) => {
      const streams = await Promise.all(
        Array.from({ length: 30 }, (_, i) => connectSse(`${s.url}/events?topic=t${i}&topic=all`)),
      );
      try {
        const stats = await statsWhen(s.url, (x) => x.connections === 30, "30 streams");
        assert.equal(stats.selectors, 31);
        assert.equal(stats.top.length, 25);
        assert.deepEqual(stats.top[0], { selector: "all", count: 30 });
      } finally {
        for (const c of streams) c.close();
      }
    });
  });

  it("counts a slow client dropped past its cap", async () => {
    await withServer({ maxBufferedBytes: 64 * 1024 }, async (s) => {
      const { hostname, port } = new URL(s.url);
      const stalled: Socket = connect(Number(port), hostname);
      await new Promise((resolve) => stalled.once("connect", resolve));
      stalled.on("error", () => {});
      stalled.write(
        `GET /events?topic=load HTTP/1.1\r\nHost: ${hostname}\r\nAccept: text/event-stream\r\n\r\n`,
      );
      stalled.pause(); // reads nothing: the kernel's buffers fill, then the broker's cap
      try {
        await statsWhen(s.url, (x) => x.connections === 1, "the stalled stream");
        const data = "x".repeat(512 * 1024);
        let dropped = 0;
        // Bounded: the loopback socket buffers hold a few MB; 200 events are 100 MB.
        for (let i = 0; i < 200 && dropped === 0; i++) {
          assert.equal((await publish(s.url, { topic: "load", data })).status, 200);
          const res = await send(`${s.url}/ui/api/stats`);
          dropped = (res.json as unknown as Stats).totals.droppedSlow ?? 0;
        }
        assert.equal(dropped, 1);
        await statsWhen(s.url, (x) => x.connections === 0, "the slow stream closed");
      } finally {
        stalled.destroy();
      }
    });
  });

  it("answers GET only, and refuses a cross-site browser request", async () => {
    await withServer({}, async (s) => {
      const post = await send(`${s.url}/ui/api/stats`, { method: "POST" });
      assert.equal(post.status, 405);
      const cross = await send(`${s.url}/ui/api/stats`, { headers: { "Sec-Fetch-Site": "cross-site" } });
      assert.equal(cross.status, 403);
      assert.equal(cross.json?.error?.code, "SSEB_ERR_AUTH_CROSS_SITE");
      const foreign = await send(`${s.url}/ui/api/stats`, { headers: { Origin: "https://evil.example" } });
      assert.equal(foreign.status, 403);
    });
  });
});

describe("console under a mount prefix", () => {
  it('works below app.use("/ops", broker.handler): every URL the page uses is relative', async () => {
    const broker = createBroker({ heartbeatMs: null });
    const server = createServer((req, res) => {
      // What Express does for app.use("/ops", …): the handler sees the path below the prefix.
      if (!(req.url ?? "").startsWith("/ops/") && req.url !== "/ops") {
        res.writeHead(404).end();
        return;
      }
      req.url = (req.url as string).slice("/ops".length) || "/";
      broker.handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ops`;
    try {
      const bare = await send(`${base}/ui`);
      assert.equal(new URL(String(bare.headers.location), `${base}/ui`).href, `${base}/ui/`);
      const page = await send(`${base}/ui/`);
      assert.ok(isPage(page.body));
      const js = await send(`${base}/ui/console.js`);
      assert.equal(js.status, 200);
      // The page reaches its data, /events and /publish relative to itself, never from the origin's root.
      const source = readFileSync(new URL("../../web/console/console.js", import.meta.url), "utf8");
      const fetched = [...source.matchAll(/fetch\(\s*[`"]([^`"?$]*)/g)].map((m) => m[1]);
      assert.deepEqual(fetched.sort(), ["../events", "../publish", "api/stats"]);
      assert.doesNotMatch(page.body, /(?:src|href)="\//, "no root-relative asset in the page");
      assert.equal((await send(`${base}/ui/api/stats`)).status, 200);
    } finally {
      await broker.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
