import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import { findToken, mercureClaims, readCookie } from "../../src/auth/index.js";

const req = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;
const url = (q = ""): URL => new URL(`http://h/.well-known/mercure${q}`);

describe("findToken", () => {
  it("prefers the header, then the query parameter, then the cookie", () => {
    const all = req({ authorization: "Bearer H", cookie: "mercureAuthorization=C" });
    assert.deepEqual(findToken(all, url("?authorization=Q"), "mercureAuthorization"), {
      token: "H",
      source: "header",
    });
    const noHeader = req({ cookie: "mercureAuthorization=C" });
    assert.deepEqual(findToken(noHeader, url("?authorization=Q"), "mercureAuthorization"), {
      token: "Q",
      source: "query",
    });
    assert.deepEqual(findToken(noHeader, url(), "mercureAuthorization"), { token: "C", source: "cookie" });
    assert.equal(findToken(req({}), url(), "mercureAuthorization"), null);
  });

  it("refuses a non-Bearer header or a repeated/empty query parameter with 401", () => {
    for (const [r, u] of [
      [req({ authorization: "Basic abc" }), url()],
      [req({ authorization: "Bearer" }), url()],
      [req({}), url("?authorization=a&authorization=b")],
      [req({}), url("?authorization=")],
    ] as const) {
      assert.throws(() => findToken(r, u, "mercureAuthorization"), {
        code: "SSEB_ERR_AUTH_TOKEN_INVALID",
        statusCode: 401,
      });
    }
  });
});

describe("readCookie", () => {
  it("finds one cookie among several, by exact name", () => {
    assert.equal(
      readCookie("a=1; mercureAuthorizationX=2; mercureAuthorization=3", "mercureAuthorization"),
      "3",
    );
    assert.equal(readCookie('x="quoted"', "x"), "quoted");
    assert.equal(readCookie("a=1", "b"), undefined);
    assert.equal(readCookie(undefined, "b"), undefined);
  });
});

describe("mercureClaims", () => {
  it("reads publish, subscribe, payload and exp", () => {
    const g = mercureClaims({
      mercure: { publish: ["a"], subscribe: ["b", "{c}"], payload: { u: 1 } },
      exp: 10,
    });
    assert.deepEqual(g, { publish: ["a"], subscribe: ["b", "{c}"], payload: { u: 1 }, expiresAt: 10_000 });
  });

  it("grants nothing from a missing or malformed claim", () => {
    for (const payload of [
      {},
      { mercure: "x" },
      { mercure: { publish: "*" } },
      { mercure: { publish: [1] } },
    ]) {
      const g = mercureClaims(payload);
      assert.equal(g.publish, null);
      assert.equal(g.subscribe, null);
    }
  });
});
