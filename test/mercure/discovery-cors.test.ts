import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { addMercureLink, mercureLinkHeader } from "../../src/mercure/index.js";
import { connectSse } from "../helpers/sse-client.js";
import { type Hub, httpRequest, publisherToken, publishForm, startHub, subscribeUrl } from "./hub-fixture.js";

let hub: Hub;
before(async () => {
  hub = await startHub({
    anonymous: true,
    corsOrigins: ["http://app.test"],
    publishOrigins: ["http://admin.test"],
  });
});
after(() => hub.close());

describe("Mercure discovery", () => {
  it("builds the Link header, with attributes and a self link", () => {
    assert.equal(mercureLinkHeader(), '</.well-known/mercure>; rel="mercure"');
    assert.equal(
      mercureLinkHeader("https://hub.test/.well-known/mercure", {
        lastEventId: "urn:uuid:1",
        contentType: "application/ld+json",
        self: "https://example.com/books/1",
      }),
      '<https://hub.test/.well-known/mercure>; rel="mercure"; last-event-id="urn:uuid:1"; content-type="application/ld+json", <https://example.com/books/1>; rel="self"',
    );
    assert.throws(() => mercureLinkHeader("/hub>; rel=x"), TypeError);
    assert.throws(() => mercureLinkHeader("/hub", { lastEventId: "a\r\nSet-Cookie: x" }), TypeError);
  });

  it("lets an application advertise the hub on its own responses", async () => {
    const app = createServer((_req, res) => {
      res.setHeader("Link", '</books/1>; rel="canonical"');
      addMercureLink(res, "https://hub.test/.well-known/mercure", { self: "https://example.com/books/1" });
      res.end("{}");
    });
    app.listen(0, "127.0.0.1");
    await once(app, "listening");
    try {
      const r = await httpRequest(`http://127.0.0.1:${(app.address() as AddressInfo).port}/books/1`);
      assert.match(String(r.headers.link), /<\/books\/1>; rel="canonical"/);
      assert.match(String(r.headers.link), /<https:\/\/hub\.test\/\.well-known\/mercure>; rel="mercure"/);
      assert.match(String(r.headers.link), /<https:\/\/example\.com\/books\/1>; rel="self"/);
    } finally {
      app.close();
    }
  });

  it("puts the Link header on hub responses, errors included", async () => {
    const ok = await publishForm(hub.hub, [["topic", "d"]], await publisherToken());
    assert.equal(ok.status, 200);
    assert.match(String(ok.headers.link), /rel="mercure"/);
    const err = await publishForm(hub.hub, [["topic", "d"]], null);
    assert.equal(err.status, 401);
    assert.match(String(err.headers.link), /rel="mercure"/);
  });
});

describe("Mercure routing", () => {
  it("answers 405 with Allow for other methods on the hub", async () => {
    for (const method of ["PUT", "DELETE", "PATCH"]) {
      const r = await httpRequest(hub.hub, { method });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, "GET, POST, QUERY, OPTIONS");
    }
  });

  it("answers 404 under /.well-known/mercure/ and leaves other paths to the broker (demo keeps working)", async () => {
    assert.equal((await httpRequest(`${hub.hub}/nothing`)).status, 404);
    assert.equal((await httpRequest(`${hub.base}/healthz`)).status, 200);
    const demo = await connectSse(`${hub.base}/`);
    assert.equal(demo.status, 200);
    assert.match(String(demo.headers["content-type"]), /^text\/event-stream/);
    demo.close();
  });
});

describe("Mercure CORS", () => {
  it("echoes a listed subscriber origin with credentials, never *", async () => {
    const sse = await connectSse(subscribeUrl(hub.hub, ["c"]), { headers: { Origin: "http://app.test" } });
    assert.equal(sse.headers["access-control-allow-origin"], "http://app.test");
    assert.equal(sse.headers["access-control-allow-credentials"], "true");
    assert.match(String(sse.headers.vary), /Origin/);
    sse.close();
    const other = await connectSse(subscribeUrl(hub.hub, ["c"]), { headers: { Origin: "http://evil.test" } });
    assert.equal(other.headers["access-control-allow-origin"], undefined);
    other.close();
    // The publish origin is not a subscriber origin.
    const admin = await connectSse(subscribeUrl(hub.hub, ["c"]), {
      headers: { Origin: "http://admin.test" },
    });
    assert.equal(admin.headers["access-control-allow-origin"], undefined);
    admin.close();
  });

  it("answers preflights: subscriber origins for GET, publish origins for POST", async () => {
    const pre = (origin: string, method: string) =>
      httpRequest(hub.hub, {
        method: "OPTIONS",
        headers: {
          Origin: origin,
          "Access-Control-Request-Method": method,
          "Access-Control-Request-Headers": "authorization, last-event-id",
        },
      });
    const get = await pre("http://app.test", "GET");
    assert.equal(get.status, 204);
    assert.equal(get.headers["access-control-allow-origin"], "http://app.test");
    assert.equal(get.headers["access-control-allow-credentials"], "true");
    assert.match(String(get.headers["access-control-allow-headers"]), /Authorization/);
    assert.match(String(get.headers["access-control-allow-headers"]), /Last-Event-ID/);
    const post = await pre("http://admin.test", "POST");
    assert.equal(post.headers["access-control-allow-origin"], "http://admin.test");
    assert.match(String(post.headers["access-control-allow-methods"]), /POST/);
    assert.equal((await pre("http://app.test", "POST")).headers["access-control-allow-origin"], undefined);
    assert.equal((await pre("http://evil.test", "GET")).headers["access-control-allow-origin"], undefined);
  });

  it("answers * without credentials when any origin may subscribe", async () => {
    const h = await startHub({ anonymous: true, corsOrigins: "*" });
    try {
      const sse = await connectSse(subscribeUrl(h.hub, ["c"]), { headers: { Origin: "http://any.test" } });
      assert.equal(sse.headers["access-control-allow-origin"], "*");
      assert.equal(sse.headers["access-control-allow-credentials"], undefined);
      sse.close();
    } finally {
      await h.close();
    }
  });

  it("exposes Last-Event-ID and Link to cross-origin scripts", async () => {
    const sse = await connectSse(subscribeUrl(hub.hub, ["c"], { lastEventID: "earliest" }), {
      headers: { Origin: "http://app.test" },
    });
    assert.match(String(sse.headers["access-control-expose-headers"]), /Last-Event-ID/);
    assert.equal(sse.headers["last-event-id"], "earliest");
    sse.close();
  });
});
