/**
 * Mercure 1.0 subscriptions with their parameters in a form body (draft-08 §Subscription, 2nd and 3rd
 * paragraphs), over real HTTP against a real hub: `QUERY` and `POST` + `Accept: text/event-stream`, the
 * union of query and body, `last_event_id` precedence, the same value rules and limits as the query, the
 * body bound, and publishing by `POST` left as it was. Each case names the draft section it comes from.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { resolveMercureOptions } from "../../src/mercure/options.js";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";
import {
  errorCode,
  type Hub,
  httpRequest,
  MARKER,
  publishData,
  publisherToken,
  publishForm,
  settle,
  startHub,
  subscriberToken,
} from "./hub-fixture.js";
import { grantToken, OAUTH } from "./oauth-fixture.js";

const FORM = { "Content-Type": "application/x-www-form-urlencoded" };
const LIMIT = 2048;

let hub: Hub;
/** No anonymous subscribers, one stream slot in all. */
let closed: Hub;
before(async () => {
  hub = await startHub({
    anonymous: true,
    corsOrigins: "*",
    maxMatchersPerSubscription: 4,
    maxSubscribeBodyBytes: LIMIT,
    ...OAUTH,
  });
  closed = await startHub({ anonymous: false, maxSubscribeBodyBytes: LIMIT }, { maxConnections: 1 });
});
after(async () => {
  await hub.close();
  await closed.close();
});

const form = (pairs: [string, string][]): string => new URLSearchParams(pairs).toString();

/** A subscription with a form body: `QUERY` by default. */
function subscribeWithBody(
  query: [string, string][],
  body: [string, string][] | null,
  opts: { method?: string; headers?: Record<string, string>; h?: Hub } = {},
): Promise<SseConnection> {
  const h = opts.h ?? hub;
  const qs = query.length === 0 ? "" : `?${form(query)}`;
  return connectSse(`${h.hub}${qs}`, {
    method: opts.method ?? "QUERY",
    headers: { ...(body === null ? {} : FORM), ...opts.headers },
    ...(body === null ? {} : { body: form(body) }),
  });
}

describe("subscribing with QUERY and a form body (draft-08 §Subscription, 2nd paragraph)", () => {
  it("§Subscription ¶2: QUERY with the matchers in the body only", async () => {
    const sse = await subscribeWithBody(
      [],
      [
        ["match", "https://example.com/q/1"],
        ["match", MARKER],
      ],
    );
    assert.equal(sse.status, 200, sse.raw);
    assert.match(String(sse.headers["content-type"]), /^text\/event-stream/);
    await publishData(hub, "https://example.com/q/1", "one");
    await publishData(hub, "https://example.com/q/2", "two");
    assert.deepEqual(await settle(hub, sse), ["one"]);
    sse.close();
  });

  it("§Subscription ¶2: QUERY without a body is a subscription by its query alone", async () => {
    const sse = await subscribeWithBody(
      [
        ["match", "https://example.com/q/nobody"],
        ["match", MARKER],
      ],
      null,
    );
    assert.equal(sse.status, 200, sse.raw);
    await publishData(hub, "https://example.com/q/nobody", "alone");
    assert.deepEqual(await settle(hub, sse), ["alone"]);
    sse.close();
  });

  it("§Subscription ¶3: a subscription for every matcher of the union of query and body", async () => {
    const sse = await subscribeWithBody(
      [["match", "https://example.com/u/query"]],
      [
        ["match_urlpattern", "https://example.com/u/body/:id"],
        ["match", MARKER],
      ],
    );
    assert.equal(sse.status, 200, sse.raw);
    await publishData(hub, "https://example.com/u/query", "from-query");
    await publishData(hub, "https://example.com/u/body/7", "from-body");
    await publishData(hub, "https://example.com/u/other", "neither");
    assert.deepEqual(await settle(hub, sse), ["from-query", "from-body"]);
    sse.close();
  });

  it("§Subscription limits: the matcher count applies to the union (query + body over 4 → 400)", async () => {
    const r = await httpRequest(
      `${hub.hub}?${form([
        ["match", "a"],
        ["match", "b"],
      ])}`,
      {
        method: "QUERY",
        headers: FORM,
        body: form([
          ["match", "c"],
          ["match", "d"],
          ["match", "e"],
        ]),
      },
    );
    assert.equal(r.status, 400, r.body);
    assert.equal(errorCode(r), "SSEB_ERR_LIMIT_SELECTORS");
  });

  it("dialects: topic= in the query and match in the body do not mix (400)", async () => {
    const r = await httpRequest(`${hub.hub}?topic=a`, {
      method: "QUERY",
      headers: FORM,
      body: "match=a",
    });
    assert.equal(r.status, 400, r.body);
    assert.equal(errorCode(r), "SSEB_ERR_MERCURE_DIALECT_MIXED");
  });

  it("classic topic= subscriptions stay GET-only: a topic-only QUERY is a 400 saying so", async () => {
    const r = await httpRequest(hub.hub, { method: "QUERY", headers: FORM, body: "topic=a" });
    assert.equal(r.status, 400, r.body);
    assert.match(r.body, /classic topic= subscriptions use GET/);
  });

  it("a QUERY without any matcher is a 400", async () => {
    const r = await httpRequest(hub.hub, { method: "QUERY", headers: FORM, body: "last_event_id=earliest" });
    assert.equal(r.status, 400, r.body);
    assert.match(r.body, /needs at least one match… parameter/);
  });

  it("lists QUERY in Allow and answers a QUERY preflight with the subscribers' origins", async () => {
    const r = await httpRequest(hub.hub, {
      method: "OPTIONS",
      headers: {
        Origin: "https://app.example",
        "Access-Control-Request-Method": "QUERY",
        "Access-Control-Request-Headers": "content-type",
      },
    });
    assert.equal(r.status, 204);
    assert.match(String(r.headers.allow), /\bQUERY\b/);
    assert.match(String(r.headers["access-control-allow-methods"]), /\bQUERY\b/);
    assert.equal(r.headers["access-control-allow-origin"], "*");
    const put = await httpRequest(hub.hub, { method: "PUT" });
    assert.equal(put.status, 405);
    assert.match(String(put.headers.allow), /\bQUERY\b/);
  });
});

describe("last_event_id in a body subscription (draft-08 §Subscription ¶3, §Reconciliation)", () => {
  const topic = "https://example.com/lei/1";
  let ids: string[] = [];
  before(async () => {
    ids = [];
    for (const d of ["1", "2", "3"]) ids.push(await publishData(hub, topic, d));
  });
  const at = (i: number) => ids[i] as string;

  const cases: {
    section: string;
    query: () => [string, string][];
    body: () => [string, string][];
    header?: () => string;
    from: () => string;
    replay: string[];
  }[] = [
    {
      section: "§Subscription ¶3: last_event_id in the body is the resume point",
      query: () => [],
      body: () => [["last_event_id", at(0)]],
      from: () => at(0),
      replay: ["2", "3"],
    },
    {
      section: "§Subscription ¶3: in both, the query's last_event_id wins",
      query: () => [["last_event_id", at(1)]],
      body: () => [["last_event_id", at(0)]],
      from: () => at(1),
      replay: ["3"],
    },
    {
      section: "§Subscription ¶3 / §Reconciliation: the Last-Event-ID header wins over query and body",
      query: () => [["last_event_id", at(0)]],
      body: () => [["last_event_id", "earliest"]],
      header: () => at(1),
      from: () => at(1),
      replay: ["3"],
    },
  ];
  for (const c of cases) {
    it(c.section, async () => {
      const sse = await subscribeWithBody(c.query(), [["match", topic], ...c.body()], {
        ...(c.header === undefined ? {} : { headers: { "Last-Event-ID": c.header() } }),
      });
      assert.equal(sse.status, 200, sse.raw);
      assert.equal(sse.headers["mercure-last-event-id"], c.from());
      assert.deepEqual(
        (await sse.waitForEvents(c.replay.length)).map((e) => e.data),
        c.replay,
      );
      sse.close();
    });
  }
});

describe("body names and values follow the query's rules (draft-08 §Subscription ¶2: 'apply identically')", () => {
  const cases: { section: string; body: string | Buffer; code: string }[] = [
    {
      section: "§Subscription: unknown name in the reserved match namespace",
      body: "match_regex=a",
      code: "SSEB_ERR_MERCURE_MATCHER_INVALID",
    },
    {
      section: "§Subscription: the namespace is ASCII case-insensitive (MATCH)",
      body: "MATCH=a",
      code: "SSEB_ERR_MERCURE_MATCHER_INVALID",
    },
    {
      section: "§Subscription: a name without a value is an empty value",
      body: "match",
      code: "SSEB_ERR_MERCURE_MATCHER_INVALID",
    },
    { section: "§Subscription: C0 control", body: "match=a%01b", code: "SSEB_ERR_MERCURE_MATCHER_INVALID" },
    {
      section: "§Subscription: C1 control (U+0085)",
      body: "match=a%C2%85b",
      code: "SSEB_ERR_MERCURE_MATCHER_INVALID",
    },
    {
      section: "§Subscription: format character (U+200B)",
      body: "match=a%E2%80%8Bb",
      code: "SSEB_ERR_MERCURE_MATCHER_INVALID",
    },
    {
      section: "§Subscription: a raw format character (U+202E) in the body bytes",
      body: "match=a\u202eb",
      code: "SSEB_ERR_MERCURE_MATCHER_INVALID",
    },
    {
      section: "§Subscription: invalid UTF-8 in a percent-escape",
      body: "match=%FF",
      code: "SSEB_ERR_REQUEST_INVALID",
    },
    {
      section: "§Subscription: invalid UTF-8 in the body bytes",
      body: Buffer.from([0x6d, 0x61, 0x74, 0x63, 0x68, 0x3d, 0xc3, 0x28]),
      code: "SSEB_ERR_REQUEST_INVALID",
    },
    {
      section: "§Subscription: not a well-formed URL Pattern",
      body: `match_urlpattern=${encodeURIComponent("https://example.com/(")}`,
      code: "SSEB_ERR_MERCURE_MATCHER_INVALID",
    },
    {
      section: "§URL-Pattern Denial of Service: a pattern too costly to match",
      body: `match_urlpattern=${encodeURIComponent("https://example.com/*-*-*-x")}`,
      code: "SSEB_ERR_LIMIT_SELECTOR",
    },
    {
      section: "§Subscription limits: a value longer than maxMatcherLength",
      body: `match=${"x".repeat(1025)}`,
      code: "SSEB_ERR_LIMIT_SELECTOR",
    },
  ];
  for (const c of cases) {
    it(`${c.section} → 400 ${c.code}`, async () => {
      const r = await httpRequest(`${hub.hub}?match=${encodeURIComponent(MARKER)}`, {
        method: "QUERY",
        headers: { ...FORM, Accept: "text/event-stream" },
        body: c.body,
      });
      assert.equal(r.status, 400, r.body);
      assert.equal(errorCode(r), c.code, r.body);
    });
  }
});

describe("the body's size and type (draft-08 §Subscription ¶2, §Resource Limits)", () => {
  it(`§Resource Limits: a body over maxSubscribeBodyBytes (${LIMIT}) → 413, by Content-Length`, async () => {
    const r = await httpRequest(hub.hub, {
      method: "QUERY",
      headers: FORM,
      body: `match=${"x".repeat(LIMIT)}`,
    });
    assert.equal(r.status, 413, r.body);
    assert.equal(errorCode(r), "SSEB_ERR_BODY_TOO_LARGE");
  });

  it("§Resource Limits: a chunked body over the limit → 413 as it arrives", async () => {
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        hub.hub,
        { method: "QUERY", headers: { ...FORM, "Transfer-Encoding": "chunked" }, agent: false },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            body += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.write("match=");
      for (let i = 0; i < 4; i++) req.write("x".repeat(LIMIT / 2));
      req.end();
    });
    assert.equal(r.status, 413, r.body);
    assert.match(r.body, /SSEB_ERR_BODY_TOO_LARGE/);
  });

  it("§Resource Limits: a body of exactly the limit is accepted", async () => {
    const head = `match=${encodeURIComponent(MARKER)}&x=`;
    const sse = await connectSse(hub.hub, {
      method: "QUERY",
      headers: FORM,
      body: head + "y".repeat(LIMIT - head.length),
    });
    assert.equal(sse.status, 200, sse.raw);
    sse.close();
  });

  const types: { section: string; type: string | null }[] = [
    { section: "§Subscription ¶2: MUST be form-urlencoded: text/plain → 415", type: "text/plain" },
    { section: "§Subscription ¶2: MUST be form-urlencoded: JSON → 415", type: "application/json" },
    {
      section: "§Subscription ¶2: form-urlencoded but not UTF-8 → 415",
      type: "application/x-www-form-urlencoded; charset=iso-8859-1",
    },
    { section: "§Subscription ¶2: a body without a Content-Type → 415", type: null },
  ];
  for (const c of types) {
    it(c.section, async () => {
      const r = await httpRequest(hub.hub, {
        method: "QUERY",
        headers: c.type === null ? {} : { "Content-Type": c.type },
        body: "match=a",
      });
      assert.equal(r.status, 415, r.body);
      assert.equal(errorCode(r), "SSEB_ERR_MEDIA_TYPE_UNSUPPORTED");
      assert.match(r.body, /application\/x-www-form-urlencoded/);
    });
  }

  it("a slow body never holds a stream slot: it is read before the stream is admitted", async () => {
    const slow = request(closed.hub, {
      method: "QUERY",
      headers: { ...FORM, "Content-Length": "100", Authorization: `Bearer ${await subscriberToken()}` },
      agent: false,
    });
    slow.on("error", () => {});
    slow.flushHeaders();
    slow.write("match=");
    await waitFor(
      "the slow request to reach the hub",
      () => slow.socket !== null && slow.socket.bytesWritten > 0,
    );
    // The hub has one slot in all: the slow upload must not have taken it.
    const sse = await connectSse(`${closed.hub}?match=a`, {
      headers: { Authorization: `Bearer ${await subscriberToken()}` },
    });
    assert.equal(sse.status, 200, sse.raw);
    sse.close();
    slow.destroy();
  });

  it("a hub without anonymous subscribers answers 401 before reading the body of a request without credentials", async () => {
    // Only part of the announced body is ever sent: the answer must not wait for the rest.
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        closed.hub,
        { method: "QUERY", headers: { ...FORM, "Content-Length": "100" }, agent: false },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            body += c;
          });
          res.on("end", () => {
            resolve({ status: res.statusCode ?? 0, body });
            req.destroy();
          });
        },
      );
      req.on("error", reject);
      req.setTimeout(5000, () => req.destroy(new Error("no answer within 5 s: the hub waited for the body")));
      req.write("match=a");
    });
    assert.equal(r.status, 401, r.body);
    assert.match(r.body, /SSEB_ERR_AUTH_REQUIRED/);
  });
});

describe("POST: a subscription when it asks for text/event-stream, else a publish (draft-08 §Subscription, §Publication)", () => {
  it("§Subscription ¶2: POST + Accept: text/event-stream with match… in the body subscribes", async () => {
    const sse = await subscribeWithBody(
      [],
      [
        ["match", "https://example.com/post/1"],
        ["match", MARKER],
      ],
      { method: "POST", headers: { Accept: "text/html;q=0.5, text/event-stream" } },
    );
    assert.equal(sse.status, 200, sse.raw);
    assert.match(String(sse.headers["content-type"]), /^text\/event-stream/);
    await publishData(hub, "https://example.com/post/1", "posted");
    assert.deepEqual(await settle(hub, sse), ["posted"]);
    sse.close();
  });

  it("§Publication: a POST without Accept: text/event-stream still publishes (also with Accept: */*)", async () => {
    const sse = await connectSse(`${hub.hub}?match=${encodeURIComponent("https://example.com/post/pub")}`);
    const jwt = await publisherToken();
    const fields: [string, string][] = [
      ["topic", "https://example.com/post/pub"],
      ["data", "a"],
    ];
    const plain = await publishForm(hub.hub, fields, jwt);
    const star = await publishForm(hub.hub, [fields[0] as [string, string], ["data", "b"]], jwt, {
      Accept: "*/*",
    });
    const refused = await publishForm(hub.hub, [fields[0] as [string, string], ["data", "c"]], jwt, {
      Accept: "text/event-stream;q=0",
    });
    for (const r of [plain, star, refused]) {
      assert.equal(r.status, 200, r.body);
      assert.match(String(r.headers["content-type"]), /^text\/plain/);
    }
    assert.deepEqual(
      (await sse.waitForEvents(3)).map((e) => e.data),
      ["a", "b", "c"],
    );
    sse.close();
  });

  it("a POST asking for text/event-stream with a topic field is a 400 that says how to publish", async () => {
    const r = await publishForm(
      hub.hub,
      [
        ["topic", "https://example.com/post/x"],
        ["data", "x"],
      ],
      await publisherToken(),
      { Accept: "text/event-stream" },
    );
    assert.equal(r.status, 400, r.body);
    assert.match(r.body, /classic topic= subscriptions use GET; a POST subscription takes/);
  });
});

describe("private updates to a body subscription (draft-08 §Subscribers, §Authorization)", () => {
  it("delivers a private update to a QUERY subscriber whose at+jwt token covers it, and not to others", async () => {
    const pattern: [string, string] = ["match_urlpattern", "https://example.com/secret/:id"];
    const allowed = await subscribeWithBody([], [pattern, ["match", MARKER]], {
      headers: {
        Authorization: `Bearer ${await grantToken({ subscribe: [{ match: "https://example.com/secret/1" }] })}`,
      },
    });
    const anonymous = await subscribeWithBody([], [pattern, ["match", MARKER]]);
    assert.equal(allowed.status, 200, allowed.raw);
    const pub = await grantToken({ publish: [{ match: "*" }] });
    for (const [topic, data] of [
      ["https://example.com/secret/1", "s1"],
      ["https://example.com/secret/2", "s2"],
    ]) {
      const r = await publishForm(
        hub.hub,
        [
          ["topic", topic as string],
          ["data", data as string],
          ["private", "on"],
        ],
        pub,
      );
      assert.equal(r.status, 200, r.body);
    }
    await publishData(hub, "https://example.com/secret/3", "public");
    assert.deepEqual(await settle(hub, allowed), ["s1", "public"]);
    assert.deepEqual(await settle(hub, anonymous), ["public"]);
    allowed.close();
    anonymous.close();
  });

  it("a cookie-authenticated POST subscription needs no publisher origin (it only reads); a cookie publish does", async () => {
    const sub = await grantToken({ subscribe: [{ match: "https://example.com/cookie/1" }] });
    const sse = await subscribeWithBody(
      [],
      [
        ["match", "https://example.com/cookie/1"],
        ["match", MARKER],
      ],
      {
        method: "POST",
        headers: { Accept: "text/event-stream", Cookie: `__Secure-mercure_access_token=${sub}` },
      },
    );
    assert.equal(sse.status, 200, sse.raw);
    const pub = await grantToken({ publish: [{ match: "*" }] });
    const fields: [string, string][] = [
      ["topic", "https://example.com/cookie/1"],
      ["data", "c1"],
      ["private", "on"],
    ];
    const viaCookie = await publishForm(hub.hub, fields, null, {
      Cookie: `__Secure-mercure_access_token=${pub}`,
    });
    assert.equal(viaCookie.status, 403, "a cookie publish without an allowed Origin is still refused");
    assert.equal((await publishForm(hub.hub, fields, pub)).status, 200);
    assert.deepEqual(await settle(hub, sse), ["c1"]);
    sse.close();
  });
});

describe("the maxSubscribeBodyBytes option", () => {
  it("defaults to 65536 and refuses anything but an integer >= 1 (SSEB_ERR_OPTIONS_INVALID)", () => {
    assert.equal(resolveMercureOptions({ jwtKey: "k" }).maxSubscribeBodyBytes, 65_536);
    for (const bad of [0, -1, 1.5, "1024"]) {
      assert.throws(
        () => resolveMercureOptions({ jwtKey: "k", maxSubscribeBodyBytes: bad as number }),
        { code: "SSEB_ERR_OPTIONS_INVALID", message: /maxSubscribeBodyBytes/ },
        String(bad),
      );
    }
  });
});
