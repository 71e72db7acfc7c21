/**
 * Mercure 1.0 (draft-dunglas-mercure-08) discovery over real HTTP against real hubs: the OAuth Protected
 * Resource Metadata document (RFC 9728) and its members, its path derived from the hub URL, and the
 * `resource_metadata` parameter of 401/403 Bearer challenges; nothing of it under `protocol: "classic"`.
 * Each case names the draft section it comes from.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { type Hub, httpRequest, publisherToken, publishForm, startHub, subscribeUrl } from "./hub-fixture.js";
import { AUD, accessToken, DETAIL, grantAll, ISS, ISS_KEY, OAUTH } from "./oauth-fixture.js";

const META = "/.well-known/oauth-protected-resource/.well-known/mercure";
const META_URL = `https://hub.example.com${META}`;
const AS = "https://as.example.com";

/** Key issuer only, no active subscriptions. */
let plain: Hub;
/** A JWKS issuer beside the key one, active subscriptions on. */
let full: Hub;
/** The hub URL and the audience under a prefix on another origin. */
let prefixed: Hub;
/** An audience that is not a URL, the default hub URL: the challenge's URL comes from the request. Small bodies. */
let local: Hub;
let classic: Hub;
/** Classic keys only, no trusted issuer. */
let noIssuer: Hub;
before(async () => {
  plain = await startHub({ ...OAUTH });
  full = await startHub({
    oauthIssuers: [
      { issuer: ISS, key: ISS_KEY },
      { issuer: AS, jwksUrl: `${AS}/jwks.json` },
    ],
    oauthAudience: AUD,
    subscriptions: true,
  });
  const issuers = { oauthIssuers: OAUTH.oauthIssuers };
  prefixed = await startHub({
    ...issuers,
    oauthAudience: "https://hub.example.com/prefix/hub",
    hubUrl: "https://hub.example.com/prefix/hub",
  });
  local = await startHub({ ...issuers, oauthAudience: URN }, { maxBodyBytes: 16 * 1024 });
  noIssuer = await startHub({ anonymous: true });
  classic = await startHub({ ...OAUTH, protocol: "classic" });
});
after(async () => {
  for (const h of [plain, full, prefixed, local, classic, noIssuer]) await h.close();
});

const URN = "urn:example:hub";

const COMMON = {
  authorization_details_types_supported: [DETAIL],
  bearer_methods_supported: ["header"],
  mercure_cookie: "__Secure-mercure_access_token",
  mercure_matcher_types_supported: ["exact", "urlpattern"],
};

describe("the protected resource metadata document (draft-08 §Protected Resource Metadata, RFC 9728)", () => {
  const cases: { section: string; hub: () => Hub; path: string; doc: () => Record<string, unknown> }[] = [
    {
      section:
        "§Protected Resource Metadata: resource = the audience; self-issued tokens: no authorization_servers",
      hub: () => plain,
      path: META,
      doc: () => ({ resource: AUD, ...COMMON }),
    },
    {
      section:
        "§Protected Resource Metadata: authorization_servers lists JWKS issuers; mercure_subscriptions when on",
      hub: () => full,
      path: META,
      doc: () => ({ resource: AUD, authorization_servers: [AS], ...COMMON, mercure_subscriptions: true }),
    },
    {
      section: "§Hub Discovery: the metadata path is derived from the hub URL's path",
      hub: () => prefixed,
      path: "/.well-known/oauth-protected-resource/prefix/hub",
      doc: () => ({ resource: "https://hub.example.com/prefix/hub", ...COMMON }),
    },
    {
      section: "§Protected Resource Metadata: resource = the audience also when it is not a URL (a URN)",
      hub: () => local,
      path: META,
      doc: () => ({ resource: URN, ...COMMON }),
    },
  ];
  for (const c of cases) {
    it(c.section, async () => {
      const r = await httpRequest(`${c.hub().base}${c.path}`, { headers: { Origin: "https://app.example" } });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.headers["content-type"], "application/json");
      assert.equal(r.headers["access-control-allow-origin"], "*");
      assert.equal(r.headers["access-control-allow-credentials"], undefined);
      assert.deepEqual(JSON.parse(r.body), c.doc());
    });
  }

  it("§Protected Resource Metadata: HEAD answers the headers without a body", async () => {
    const r = await httpRequest(`${plain.base}${META}`, { method: "HEAD" });
    assert.equal(r.status, 200);
    assert.equal(r.headers["content-type"], "application/json");
    assert.equal(r.body, "");
  });

  it("§Protected Resource Metadata: an open CORS preflight (no credentials)", async () => {
    const r = await httpRequest(`${plain.base}${META}`, {
      method: "OPTIONS",
      headers: { Origin: "https://app.example", "Access-Control-Request-Method": "GET" },
    });
    assert.equal(r.status, 204);
    assert.equal(r.headers["access-control-allow-origin"], "*");
    assert.equal(r.headers["access-control-allow-credentials"], undefined);
  });

  it("§Protected Resource Metadata: other methods are a 405 with Allow", async () => {
    const r = await httpRequest(`${plain.base}${META}`, { method: "POST", body: "x" });
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, "GET, HEAD, OPTIONS");
  });

  for (const [what, path] of [
    ["a path below the document", `${META}/x`],
    ["the bare well-known prefix", "/.well-known/oauth-protected-resource"],
  ] as const) {
    it(`§Protected Resource Metadata: only the exact path is the document, not ${what} (404)`, async () => {
      assert.equal((await httpRequest(`${plain.base}${path}`)).status, 404);
    });
  }

  it("§Hub Discovery: with another hub URL path, the default metadata path is not served (404)", async () => {
    assert.equal((await httpRequest(`${prefixed.base}${META}`)).status, 404);
  });

  it("§Protected Resource Metadata: a pre-standard (classic) hub publishes none (404)", async () => {
    assert.equal((await httpRequest(`${classic.base}${META}`)).status, 404);
  });
});

describe("resource_metadata in Bearer challenges (draft-08 §Error Responses, RFC 9728 §5.1)", () => {
  const challenge = (meta: string, error?: string) =>
    `Bearer realm="mercure"${error === undefined ? "" : `, error="${error}"`}, resource_metadata="${meta}"`;

  const cases: {
    section: string;
    send: () => Promise<import("./hub-fixture.js").HttpResult>;
    status: number;
    expect: () => string;
  }[] = [
    {
      section: "§Error Responses: 401 without a token: resource_metadata and no error code",
      send: async () => httpRequest(`${plain.hub}?match=https://example.com/a`),
      status: 401,
      expect: () => challenge(META_URL),
    },
    {
      section: "§Error Responses: 401 for a publish without a token: no error code",
      send: async () => publishForm(plain.hub, [["topic", "https://example.com/a"]], null),
      status: 401,
      expect: () => challenge(META_URL),
    },
    {
      section: "§Error Responses: 401 invalid_token carries resource_metadata",
      send: async () =>
        httpRequest(`${plain.hub}?match=https://example.com/a`, {
          headers: { Authorization: `Bearer ${(await accessToken()).slice(0, -4)}AAAA` },
        }),
      status: 401,
      expect: () => challenge(META_URL, "invalid_token"),
    },
    {
      section: "§Error Responses: 403 insufficient_scope carries resource_metadata",
      send: async () =>
        publishForm(
          plain.hub,
          [["topic", "https://example.com/a"]],
          await accessToken(grantAll(["subscribe"])),
        ),
      status: 403,
      expect: () => challenge(META_URL, "insufficient_scope"),
    },
    {
      section:
        "§Error Responses: a classic 401 on a hub serving 1.0 carries it too (a presented token: invalid_token)",
      send: async () => publishForm(plain.hub, [["topic", "https://example.com/a"]], "not-a-jwt"),
      status: 401,
      expect: () => challenge(META_URL, "invalid_token"),
    },
    {
      section: "§Protected Resource Metadata: derived from the request's hub URL when the audience is no URL",
      send: async () => httpRequest(subscribeUrl(local.hub, ["https://example.com/a"])),
      status: 401,
      expect: () => challenge(`${local.base}${META}`),
    },
    {
      section: "§Hub Discovery: derived from a prefixed hub URL",
      send: async () => httpRequest(subscribeUrl(prefixed.hub, ["https://example.com/a"])),
      status: 401,
      expect: () => challenge("https://hub.example.com/.well-known/oauth-protected-resource/prefix/hub"),
    },
  ];
  for (const c of cases) {
    it(c.section, async () => {
      const r = await c.send();
      assert.equal(r.status, c.status, r.body);
      assert.equal(r.headers["www-authenticate"], c.expect());
      assert.match(String(r.headers.link), /rel="mercure"/);
    });
  }

  it("§Protected Resource Metadata: a Host header that is no valid origin falls back to localhost (no 500)", async () => {
    for (const host of ["h:99999", "a b", "x@y"]) {
      const r = await httpRequest(subscribeUrl(local.hub, ["https://example.com/a"]), {
        headers: { Host: host },
      });
      assert.equal(r.status, 401, `${host}: ${r.body}`);
      assert.equal(r.headers["www-authenticate"], challenge(`http://localhost${META}`));
      const doc = await httpRequest(`${local.base}${META}`, { headers: { Host: host } });
      assert.equal(doc.status, 200, doc.body);
    }
  });

  // The hub answers 413 and closes while the body still streams in: by the time the error is answered the
  // request may have lost its socket, and the challenge (derived from the request's origin) must not need it.
  it("§Protected Resource Metadata: an error after the socket is gone is still answered (413, not 500)", async () => {
    const chunks = "1\r\nx\r\n".repeat(70 * 1024);
    const status = await rawStatus(
      local,
      `POST /.well-known/mercure HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${await publisherToken()}\r\n` +
        `Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`,
    );
    assert.equal(status, "HTTP/1.1 413 Payload Too Large");
  });

  it("§Protected Resource Metadata: a classic hub's challenges carry no resource_metadata", async () => {
    const r = await publishForm(classic.hub, [["topic", "https://example.com/a"]], null);
    assert.equal(r.status, 401);
    assert.equal(r.headers["www-authenticate"], 'Bearer realm="mercure"');
    const ok = await publishForm(classic.hub, [["topic", "https://example.com/a"]], await publisherToken());
    assert.equal(ok.status, 200, ok.body);
  });
});

/** Raw HTTP/1.1 over one socket: the status line of the answer (the server may close the socket early). */
function rawStatus(h: Hub, request: string): Promise<string> {
  const { port } = new URL(h.base);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), "127.0.0.1");
    let data = "";
    s.setTimeout(5000, () => s.destroy(new Error("no answer within 5000 ms")));
    s.on("data", (d: Buffer) => {
      data += d.toString("latin1");
    });
    s.on("close", () => resolve(data.split("\r\n")[0] ?? ""));
    s.on("error", (err) => (data === "" ? reject(err) : resolve(data.split("\r\n")[0] ?? "")));
    s.write(request);
  });
}

describe("a hub that trusts no issuer of access tokens (classic keys only)", () => {
  it("§Protected Resource Metadata: publishes no metadata (it accepts no 1.0 token) and no resource_metadata", async () => {
    assert.equal((await httpRequest(`${noIssuer.base}${META}`)).status, 404);
    const r = await publishForm(noIssuer.hub, [["topic", "https://example.com/a"]], null);
    assert.equal(r.status, 401);
    assert.equal(r.headers["www-authenticate"], 'Bearer realm="mercure"');
  });
});
