/**
 * Token-less publishing is for this machine only (issue 8, defect 3). Each way around "loopback only" that
 * worked before is tried with a real request: a cross-site browser POST (text/plain, no preflight), a
 * `*` CORS answer, a DNS-rebinding Host, a reverse proxy on the same host. Curl-like requests still work.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { send } from "../helpers/http.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { connectSse } from "../helpers/sse-client.js";

let srv: TestServer;
before(async () => {
  srv = await startServer(); // defaults: no publish token, corsOrigins "*"
});
after(() => srv.close());

const text = { "Content-Type": "text/plain" };
const publishUrl = (s: TestServer) => `${s.url}/publish?topic=t`;

async function publishedCount(s: TestServer): Promise<number> {
  return s.broker.stats.eventsPublished;
}

describe("publishing without a token", () => {
  it("refuses a browser's cross-site text/plain POST (Origin of another site)", async () => {
    const before = await publishedCount(srv);
    const res = await send(publishUrl(srv), {
      method: "POST",
      headers: { ...text, Origin: "http://evil.example", "Sec-Fetch-Site": "cross-site" },
      body: "forged",
    });
    assert.equal(res.status, 403);
    assert.equal(res.json?.error?.code, "SSEB_ERR_AUTH_ORIGIN_REFUSED");
    assert.equal(res.headers["access-control-allow-origin"], undefined, "no CORS on /publish by default");
    assert.equal(await publishedCount(srv), before, "nothing published");
  });

  it("refuses a cross-site request whose Origin is hidden, by Sec-Fetch-Site", async () => {
    const res = await send(publishUrl(srv), {
      method: "POST",
      headers: { ...text, "Sec-Fetch-Site": "cross-site" },
      body: "forged",
    });
    assert.equal(res.status, 403);
    assert.equal(res.json?.error?.code, "SSEB_ERR_AUTH_CROSS_SITE");
  });

  it("refuses a DNS-rebinding Host", async () => {
    const res = await send(publishUrl(srv), {
      method: "POST",
      headers: { ...text, Host: "evil.example" },
      body: "rebound",
    });
    assert.equal(res.status, 403);
    assert.equal(res.json?.error?.code, "SSEB_ERR_AUTH_HOST_NOT_LOOPBACK");
    for (const host of ["127.0.0.1.evil.example", "localhost.evil.example:80", "[::2]:80", "0.0.0.0"]) {
      const r = await send(publishUrl(srv), { method: "POST", headers: { ...text, Host: host }, body: "x" });
      assert.equal(r.status, 403, `Host ${host}`);
      assert.equal(r.json?.error?.code, "SSEB_ERR_AUTH_HOST_NOT_LOOPBACK", `Host ${host}`);
    }
  });

  it("refuses proxy headers from a peer that is not a trusted proxy", async () => {
    for (const [name, value] of [
      ["X-Forwarded-For", "8.8.8.8"],
      ["Forwarded", "for=8.8.8.8"],
      ["X-Real-IP", "8.8.8.8"],
      ["X-Forwarded-Host", "example.com"],
      ["X-Forwarded-Proto", "https"],
    ] as const) {
      const res = await send(publishUrl(srv), {
        method: "POST",
        headers: { ...text, [name]: value },
        body: "x",
      });
      assert.equal(res.status, 403, name);
      assert.equal(res.json?.error?.code, "SSEB_ERR_AUTH_PROXY_UNTRUSTED", name);
      assert.match(res.json?.error?.message ?? "", new RegExp(name.toLowerCase()));
    }
  });

  it("still accepts curl-like requests: loopback Host names, no Origin", async () => {
    const sse = await connectSse(`${srv.url}/events?topic=t`);
    const port = new URL(srv.url).port;
    const hosts = [`127.0.0.1:${port}`, `localhost:${port}`, "app.localhost", "127.1.2.3", "[::1]:8080"];
    for (const host of hosts) {
      const res = await send(publishUrl(srv), {
        method: "POST",
        headers: { ...text, Host: host },
        body: host,
      });
      assert.equal(res.status, 200, `Host ${host}: ${res.body}`);
    }
    const json = await send(`${srv.url}/publish`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Sec-Fetch-Site": "none" },
      body: '{"topic":"t","data":"json"}',
    });
    assert.equal(json.status, 200);
    const events = await sse.waitForEvents(hosts.length + 1);
    assert.deepEqual(
      events.map((e) => e.data),
      [...hosts, "json"],
    );
    sse.close();
  });

  it("accepts the broker's own page (same origin), as the demo page publishes", async () => {
    const host = new URL(srv.url).host;
    const res = await send(`${srv.url}/publish`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Origin: `http://${host}`,
        "Sec-Fetch-Site": "same-origin",
      },
      body: '{"topic":"t","data":"from the page"}',
    });
    assert.equal(res.status, 200);
  });

  it("answers a preflight from an unlisted origin without Access-Control-Allow-Origin", async () => {
    const res = await send(`${srv.url}/publish`, {
      method: "OPTIONS",
      headers: { Origin: "http://evil.example", "Access-Control-Request-Method": "POST" },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers["access-control-allow-origin"], undefined);
    assert.equal(res.headers["access-control-allow-methods"], undefined);
    // Streams keep their own (default `*`) CORS.
    const stream = await send(`${srv.url}/events?topic=t`, { method: "HEAD" });
    assert.equal(stream.headers["access-control-allow-origin"], "*");
  });
});

describe("publishOrigins", () => {
  it("lets a listed origin publish and get CORS, without a token and with one", async () => {
    for (const publishToken of [null, "s3cret"]) {
      const s = await startServer({ publishOrigins: ["http://app.example"], publishToken });
      try {
        const auth: Record<string, string> =
          publishToken === null ? {} : { Authorization: `Bearer ${publishToken}` };
        const pre = await send(`${s.url}/publish`, {
          method: "OPTIONS",
          headers: { Origin: "http://app.example", "Access-Control-Request-Method": "POST" },
        });
        assert.equal(pre.headers["access-control-allow-origin"], "http://app.example");
        const ok = await send(publishUrl(s), {
          method: "POST",
          headers: { ...text, ...auth, Origin: "http://app.example", "Sec-Fetch-Site": "cross-site" },
          body: "x",
        });
        assert.equal(ok.status, 200, ok.body);
        assert.equal(ok.headers["access-control-allow-origin"], "http://app.example");
        const other = await send(publishUrl(s), {
          method: "POST",
          headers: { ...text, ...auth, Origin: "http://evil.example" },
          body: "x",
        });
        // With a token the token decides; no CORS answer for an unlisted origin either way.
        assert.equal(other.status, publishToken === null ? 403 : 200);
        assert.equal(other.headers["access-control-allow-origin"], undefined);
      } finally {
        await s.close();
      }
    }
  });
});

describe("behind a trusted reverse proxy (trustProxy)", () => {
  let proxied: TestServer;
  before(async () => {
    proxied = await startServer({ trustProxy: ["loopback"] });
  });
  after(() => proxied.close());

  it("lets the forwarded client decide: an internet client is refused", async () => {
    const res = await send(publishUrl(proxied), {
      method: "POST",
      headers: { ...text, "X-Forwarded-For": "8.8.8.8" },
      body: "x",
    });
    assert.equal(res.status, 403);
    assert.equal(res.json?.error?.code, "SSEB_ERR_AUTH_NOT_LOOPBACK");
  });

  it("takes the right-most untrusted address: a spoofed left-most entry does not help", async () => {
    const res = await send(publishUrl(proxied), {
      method: "POST",
      headers: { ...text, "X-Forwarded-For": "127.0.0.1, 8.8.8.8" },
      body: "x",
    });
    assert.equal(res.status, 403);
    assert.equal(res.json?.error?.code, "SSEB_ERR_AUTH_NOT_LOOPBACK");
  });

  it("accepts a local client forwarded by the proxy, with X-Forwarded-For or Forwarded", async () => {
    for (const headers of <Record<string, string>[]>[
      { "X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http" },
      { Forwarded: 'for="[::1]:5000";proto=http' },
    ]) {
      const res = await send(publishUrl(proxied), {
        method: "POST",
        headers: { ...text, ...headers },
        body: "x",
      });
      assert.equal(res.status, 200, `${JSON.stringify(headers)}: ${res.body}`);
    }
  });

  it("answers 400 to malformed or disagreeing forwarding headers", async () => {
    for (const headers of <Record<string, string>[]>[
      { "X-Forwarded-For": "not-an-ip" },
      { "X-Forwarded-For": "8.8.8.8,," },
      { Forwarded: "for=" },
      { Forwarded: 'for="_hidden"' },
      { "X-Forwarded-For": "8.8.8.8", "X-Real-IP": "127.0.0.1" },
    ]) {
      const res = await send(publishUrl(proxied), {
        method: "POST",
        headers: { ...text, ...headers },
        body: "x",
      });
      assert.equal(res.status, 400, JSON.stringify(headers));
      assert.equal(res.json?.error?.code, "SSEB_ERR_REQUEST_FORWARDED_INVALID");
    }
  });
});
