import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { UnsecuredJWT } from "jose";
import { connectSse } from "../helpers/sse-client.js";
import {
  errorCode,
  type Hub,
  httpRequest,
  PUBLISHER_SECRET,
  publisherToken,
  publishForm,
  SUBSCRIBER_SECRET,
  startHub,
  subscribeUrl,
  token,
} from "./hub-fixture.js";

let hub: Hub;
before(async () => {
  hub = await startHub({ anonymous: true }, { maxBodyBytes: 4096 });
});
after(() => hub.close());

const now = (): number => Math.floor(Date.now() / 1000);

describe("Mercure publish", () => {
  it("answers 200 text/plain with a generated urn:uuid id, delivered to a subscriber", async () => {
    const sse = await connectSse(subscribeUrl(hub.hub, ["https://example.com/books/1"]));
    const r = await publishForm(
      hub.hub,
      [
        ["topic", "https://example.com/books/1"],
        ["data", '{"title":"x"}'],
      ],
      await publisherToken(),
    );
    assert.equal(r.status, 200);
    assert.match(r.headers["content-type"] ?? "", /^text\/plain/);
    assert.match(r.body, /^urn:uuid:[0-9a-f-]{36}$/);
    const [ev] = await sse.waitForEvents(1);
    assert.deepEqual(ev, { id: r.body, event: undefined, data: '{"title":"x"}' });
    sse.close();
  });

  it("relays id, type, retry and multi-line data, and accepts a charset suffix", async () => {
    const sse = await connectSse(subscribeUrl(hub.hub, ["t/framing"]));
    const r = await publishForm(
      hub.hub,
      [
        ["topic", "t/framing"],
        ["data", "line1\n\nline3"],
        ["id", "https://example.com/events/1"],
        ["type", "update"],
        ["retry", "1500"],
      ],
      await publisherToken(),
      { "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8" },
    );
    assert.equal(r.status, 200);
    assert.equal(r.body, "https://example.com/events/1");
    const [ev] = await sse.waitForEvents(1);
    assert.deepEqual(ev, { id: "https://example.com/events/1", event: "update", data: "line1\n\nline3" });
    assert.match(sse.raw, /retry:1500\n/);
    assert.match(sse.raw, /data:line1\ndata:\ndata:line3\n\n/);
    sse.close();
  });

  it("delivers to subscribers of an alternate topic (first topic canonical)", async () => {
    const sse = await connectSse(subscribeUrl(hub.hub, ["t/alternate"]));
    const r = await publishForm(
      hub.hub,
      [
        ["topic", "t/canonical"],
        ["topic", "t/alternate"],
        ["data", "alt"],
      ],
      await publisherToken(),
    );
    assert.equal(r.status, 200);
    assert.equal((await sse.waitForEvents(1))[0]?.data, "alt");
    sse.close();
  });

  describe("bad input → 400/413", () => {
    const cases: [string, string, number][] = [
      ["missing topic", "data=x", 400],
      ["empty topic", "topic=&data=x", 400],
      ["non-integer retry", "topic=a&data=x&retry=soon", 400],
      ["negative retry", "topic=a&data=x&retry=-1", 400],
      ["id starting with #", "topic=a&data=x&id=%23frag", 400],
      ["id 'earliest'", "topic=a&data=x&id=earliest", 400],
      ["id with a newline", "topic=a&data=x&id=a%0Ab", 400],
      ["type with a newline", "topic=a&data=x&type=a%0Db", 400],
      ["malformed percent-escape", "topic=a&data=%zz", 400],
      ["truncated percent-escape", "topic=a&data=%E2%82", 400],
      ["invalid UTF-8 escape", "topic=a&data=%FF", 400],
    ];
    for (const [what, body, status] of cases) {
      it(`refuses ${what} with ${status}`, async () => {
        const r = await httpRequest(hub.hub, {
          method: "POST",
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            Authorization: `Bearer ${await publisherToken()}`,
          },
          body,
        });
        assert.equal(r.status, status, r.body);
      });
    }

    it("refuses a body that is not UTF-8 with 400", async () => {
      const r = await httpRequest(hub.hub, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          Authorization: `Bearer ${await publisherToken()}`,
        },
        body: Buffer.from([0x74, 0x6f, 0x70, 0x69, 0x63, 0x3d, 0xff]),
      });
      assert.equal(r.status, 400);
    });

    it("refuses a JSON body and a non-UTF-8 charset with 400, as the reference hub", async () => {
      const jwt = await publisherToken();
      for (const ct of ["application/json", "application/x-www-form-urlencoded; charset=ISO-8859-1"]) {
        const r = await publishForm(hub.hub, [["topic", "a"]], jwt, { "Content-Type": ct });
        assert.equal(r.status, 400, ct);
        assert.equal(errorCode(r), "SSEB_ERR_REQUEST_INVALID");
      }
    });

    it("refuses a body over maxBodyBytes with 413", async () => {
      const r = await publishForm(
        hub.hub,
        [
          ["topic", "a"],
          ["data", "x".repeat(5000)],
        ],
        await publisherToken(),
      );
      assert.equal(r.status, 413);
    });
  });

  describe("authorization failures", () => {
    const fields: [string, string][] = [
      ["topic", "https://example.com/books/1"],
      ["data", "x"],
    ];
    const refuse = async (jwt: string | null, status: number, code?: string): Promise<void> => {
      const r = await publishForm(hub.hub, fields, jwt);
      assert.equal(r.status, status, r.body);
      if (code !== undefined) assert.equal(errorCode(r), code);
      if (status === 401) assert.match(r.headers["www-authenticate"] ?? "", /^Bearer/);
    };

    it("401 without any token", () => refuse(null, 401, "SSEB_ERR_AUTH_REQUIRED"));
    it("401 for an unsigned (alg: none) token", async () => {
      const jwt = new UnsecuredJWT({ mercure: { publish: ["*"] } }).encode();
      await refuse(jwt, 401, "SSEB_ERR_AUTH_TOKEN_INVALID");
    });
    it("401 for an expired token", async () => {
      await refuse(await publisherToken(["*"], { exp: now() - 10 }), 401, "SSEB_ERR_AUTH_TOKEN_EXPIRED");
    });
    it("401 for a token not valid yet (nbf)", async () => {
      await refuse(await publisherToken(["*"], { nbf: now() + 3600 }), 401, "SSEB_ERR_AUTH_TOKEN_INVALID");
    });
    it("401 for a token signed with the wrong key (the subscriber's)", async () => {
      await refuse(await token({ publish: ["*"] }, SUBSCRIBER_SECRET), 401, "SSEB_ERR_AUTH_TOKEN_INVALID");
    });
    it("401 for a token with the right secret but another algorithm (HS512)", async () => {
      await refuse(await token({ publish: ["*"] }, PUBLISHER_SECRET, { alg: "HS512" }), 401);
    });
    it("401 for an RS256 token when the hub expects HS256", async () => {
      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      await refuse(await token({ publish: ["*"] }, privateKey, { alg: "RS256" }), 401);
    });
    it("401 for a token without mercure.publish, or with an empty one", async () => {
      await refuse(await token({ subscribe: ["*"] }), 401, "SSEB_ERR_AUTH_REQUIRED");
      await refuse(await token(undefined), 401, "SSEB_ERR_AUTH_REQUIRED");
      await refuse(await publisherToken([]), 401, "SSEB_ERR_AUTH_REQUIRED");
      await refuse(await token({ publish: "*" }), 401, "SSEB_ERR_AUTH_REQUIRED");
    });
    it("401 for garbage and for a non-Bearer Authorization header", async () => {
      await refuse("not.a.jwt", 401, "SSEB_ERR_AUTH_TOKEN_INVALID");
      const r = await publishForm(hub.hub, fields, null, { Authorization: "Basic dXNlcjpwYXNz" });
      assert.equal(r.status, 401);
    });
    it("403 when the topic is not in mercure.publish", async () => {
      await refuse(await publisherToken(["https://example.com/other/{id}"]), 403, "SSEB_ERR_AUTH_FORBIDDEN");
    });
    it("lets a template selector in mercure.publish match the identical template string", async () => {
      const r = await publishForm(
        hub.hub,
        [["topic", "https://example.com/books/{id}"]],
        await publisherToken(["https://example.com/books/{id}"]),
      );
      assert.equal(r.status, 200);
    });

    it("403 when an alternate topic is not allowed, and nothing is published", async () => {
      const sse = await connectSse(subscribeUrl(hub.hub, ["https://example.com/books/1"]));
      const r = await publishForm(
        hub.hub,
        [
          ["topic", "https://example.com/books/1"],
          ["topic", "https://example.com/secret"],
          ["data", "x"],
        ],
        await publisherToken(["https://example.com/books/{id}"]),
      );
      assert.equal(r.status, 403);
      const ok = await publishForm(hub.hub, fields, await publisherToken(["https://example.com/books/{id}"]));
      assert.equal(ok.status, 200);
      const [ev] = await sse.waitForEvents(1);
      assert.equal(ev?.id, ok.body, "the refused update was never delivered");
      sse.close();
    });
  });

  describe("token sources and CSRF", () => {
    it("accepts the token from the authorization query parameter", async () => {
      const jwt = await publisherToken();
      const r = await publishForm(`${hub.hub}?authorization=${jwt}`, [["topic", "a"]], null);
      assert.equal(r.status, 200);
    });

    it("ignores the query parameter and cookie when an Authorization header is present", async () => {
      const good = await publisherToken();
      const bad = await token({ publish: ["*"] }, SUBSCRIBER_SECRET);
      const r1 = await publishForm(`${hub.hub}?authorization=${good}`, [["topic", "a"]], bad);
      assert.equal(r1.status, 401, "header wins over query");
      const r2 = await publishForm(`${hub.hub}?authorization=${bad}`, [["topic", "a"]], null, {
        Cookie: `mercureAuthorization=${good}`,
      });
      assert.equal(r2.status, 401, "query wins over cookie");
    });

    it("refuses a cookie-authenticated publish without Origin/Referer or from an unlisted origin (403)", async () => {
      const jwt = await publisherToken();
      const cookie = { Cookie: `mercureAuthorization=${jwt}` };
      const none = await publishForm(hub.hub, [["topic", "a"]], null, cookie);
      assert.equal(none.status, 403);
      const evil = await publishForm(hub.hub, [["topic", "a"]], null, {
        ...cookie,
        Origin: "https://evil.test",
      });
      assert.equal(evil.status, 403);
    });

    it("accepts a cookie-authenticated publish from a listed origin (Origin or Referer)", async () => {
      const h = await startHub({ publishOrigins: ["https://app.test"] });
      try {
        const cookie = { Cookie: `mercureAuthorization=${await publisherToken()}` };
        const byOrigin = await publishForm(h.hub, [["topic", "a"]], null, {
          ...cookie,
          Origin: "https://app.test",
        });
        assert.equal(byOrigin.status, 200);
        assert.equal(byOrigin.headers["access-control-allow-origin"], "https://app.test");
        assert.equal(byOrigin.headers["access-control-allow-credentials"], "true");
        const byReferer = await publishForm(h.hub, [["topic", "a"]], null, {
          ...cookie,
          Referer: "https://app.test/page?x=1",
        });
        assert.equal(byReferer.status, 200);
      } finally {
        await h.close();
      }
    });

    it("uses a configured cookie name", async () => {
      const h = await startHub({ cookieName: "hubToken", publishOrigins: "*" });
      try {
        const jwt = await publisherToken();
        const r = await publishForm(h.hub, [["topic", "a"]], null, {
          Cookie: `a=b; hubToken=${jwt}`,
          Origin: "https://x.test",
        });
        assert.equal(r.status, 200);
      } finally {
        await h.close();
      }
    });
  });
});
