/**
 * The Mercure 1.0 (draft-dunglas-mercure-08) subscribe side beside the classic one, over real HTTP against
 * a real hub: `match`/`match_exact`/`match_urlpattern`, the reserved `match…` namespace, value rules,
 * limits, URL-Pattern DoS bounds, `last_event_id` and `Mercure-Last-Event-ID`. Each case names the
 * draft section it comes from.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { refusalsOf } from "../../src/metrics/refusals.js";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";
import {
  errorCode,
  type Hub,
  httpRequest,
  MARKER,
  publishData,
  settle,
  startHub,
  subscriberToken,
  subscribeUrl,
} from "./hub-fixture.js";

let hub: Hub;
/** Small limits, and regexp groups allowed. */
let strict: Hub;
before(async () => {
  hub = await startHub({ anonymous: true });
  strict = await startHub(
    {
      anonymous: true,
      subscriptions: true,
      corsOrigins: "*",
      maxMatchersPerSubscription: 3,
      maxMatcherLength: 64,
      urlPatternRegExpGroups: true,
    },
    { maxPatternSelectorsPerClient: 2 },
  );
});
after(async () => {
  await hub.close();
  await strict.close();
});

/** A 1.0 subscribe URL from `[name, value]` pairs (URLSearchParams encodes as the draft asks). */
function url1(h: Hub, pairs: [string, string][]): string {
  return `${h.hub}?${new URLSearchParams(pairs)}`;
}

describe("Mercure 1.0 subscribe: matching (draft-08 §Matcher Types)", () => {
  const cases: { section: string; matchers: [string, string][]; expect: string[] }[] = [
    {
      section: "§Exact Matching: bare match is exact",
      matchers: [["match", "https://example.com/books/1"]],
      expect: ["b1"],
    },
    {
      section: "§Exact Matching: match_exact compares byte for byte, braces included (no template)",
      matchers: [["match_exact", "https://example.com/books/{id}"]],
      expect: ["literal"],
    },
    {
      section: "§URL Pattern: a named group matches one path segment",
      matchers: [["match_urlpattern", "https://example.com/books/:id"]],
      expect: ["b1", "b2", "literal"],
    },
    {
      section: "§URL Pattern: a relative pattern and relative topics resolve against the hub URL",
      matchers: [["match_urlpattern", "/rel/:id"]],
      expect: ["rel"],
    },
    {
      section: "§URL Pattern: host is case-insensitive by canonicalization",
      matchers: [["match_urlpattern", "https://EXAMPLE.com/authors/*"]],
      expect: ["a1"],
    },
    {
      section: "§Matcher Types: * is the reserved wildcard whatever the type",
      matchers: [["match_exact", "*"]],
      expect: ["b1", "b2", "deep", "a1", "literal", "rel"],
    },
    {
      section: "§Subscription: several matchers of several types, one delivery per update",
      matchers: [
        ["match", "https://example.com/books/1"],
        ["match_urlpattern", "https://example.com/books/:id"],
        ["match_urlpattern", "https://example.com/books/*"],
      ],
      expect: ["b1", "b2", "deep", "literal"],
    },
  ];
  it("delivers classic publishes to 1.0 subscribers by their matchers", async () => {
    const streams = await Promise.all(
      cases.map((c) => connectSse(url1(hub, [...c.matchers, ["match", MARKER]]))),
    );
    for (const [i, s] of streams.entries()) assert.equal(s.status, 200, `${cases[i]?.section}: ${s.raw}`);
    await publishData(hub, "https://example.com/books/1", "b1");
    await publishData(hub, "https://example.com/books/2", "b2");
    await publishData(hub, "https://example.com/books/2/chapters/1", "deep");
    await publishData(hub, "https://example.com/authors/1", "a1");
    await publishData(hub, "https://example.com/books/{id}", "literal");
    await publishData(hub, "/rel/1", "rel");
    for (const [i, c] of cases.entries()) {
      const s = streams[i] as SseConnection;
      assert.deepEqual(await settle(hub, s), c.expect, c.section);
      s.close();
    }
  });

  it("keeps a 1.0 exact matcher and a classic template of the same text apart (§Exact Matching)", async () => {
    const text = "https://example.com/shared/{id}";
    const classic = await connectSse(subscribeUrl(hub.hub, [text, MARKER]));
    const v1 = await connectSse(
      url1(hub, [
        ["match", text],
        ["match", MARKER],
      ]),
    );
    const v1b = await connectSse(
      url1(hub, [
        ["match", text],
        ["match", MARKER],
      ]),
    );
    await publishData(hub, "https://example.com/shared/7", "seven");
    await publishData(hub, text, "literal");
    assert.deepEqual(await settle(hub, classic), ["seven", "literal"]);
    assert.deepEqual(await settle(hub, v1), ["literal"]);
    assert.deepEqual(await settle(hub, v1b), ["literal"]);
    for (const s of [classic, v1, v1b]) s.close();
  });

  it("delivers private updates only to 1.0 subscribers whose classic token allows them (§Subscribers)", async () => {
    const pattern: [string, string] = ["match_urlpattern", "https://example.com/p/:id"];
    const anonymous = await connectSse(url1(hub, [pattern, ["match", MARKER]]));
    const allowed = await connectSse(url1(hub, [pattern, ["match", MARKER]]), {
      headers: { Authorization: `Bearer ${await subscriberToken(["https://example.com/p/1"])}` },
    });
    await publishData(hub, "https://example.com/p/1", "public");
    await publishData(hub, "https://example.com/p/1", "secret1", { private: true });
    await publishData(hub, "https://example.com/p/2", "secret2", { private: true });
    assert.deepEqual(await settle(hub, anonymous), ["public"]);
    assert.deepEqual(await settle(hub, allowed), ["public", "secret1"]);
    anonymous.close();
    allowed.close();
  });

  it("matches the hub's relative subscription-event topics with a relative URL pattern (§URL Pattern)", async () => {
    const events = "/.well-known/mercure/subscriptions/{type}/{match}/{subscriber}";
    const watcher = await connectSse(
      url1(strict, [["match_urlpattern", "/.well-known/mercure/subscriptions/:type/:match/:subscriber"]]),
      { headers: { Authorization: `Bearer ${await subscriberToken([events])}` } },
    );
    assert.equal(watcher.status, 200, watcher.raw);
    const sub = await connectSse(url1(strict, [["match", "https://example.com/watched"]]));
    // The watcher also sees its own subscription's event: wait for the one about the watched topic.
    const about = (match: string) =>
      watcher.events
        .map((e) => JSON.parse(e.data) as { match?: string; active?: boolean })
        .find((d) => d.match === match);
    await waitFor("the subscription event", () => about("https://example.com/watched") !== undefined, 5000);
    assert.equal(about("https://example.com/watched")?.active, true);
    sub.close();
    watcher.close();
  });

  it("matches custom regexp groups when the hub allows them (urlPatternRegExpGroups)", async () => {
    const s = await connectSse(
      url1(strict, [
        ["match_urlpattern", "https://example.com/n/:id(\\d+)"],
        ["match", MARKER],
      ]),
    );
    assert.equal(s.status, 200, s.raw);
    await publishData(strict, "https://example.com/n/12", "digits");
    await publishData(strict, "https://example.com/n/ab", "letters");
    assert.deepEqual(await settle(strict, s), ["digits"]);
    s.close();
  });
});

describe("Mercure 1.0 subscribe: refused requests (400 unless said)", () => {
  const long = `https://example.com/${"x".repeat(64)}`;
  const cases: { section: string; h?: () => Hub; query: string; status?: number; code: string }[] = [
    {
      section: "dialects: topic= and match… in one request",
      query: "topic=a&match=a",
      code: "SSEB_ERR_MERCURE_DIALECT_MIXED",
    },
    {
      section: "§Subscription: unknown name in the reserved match namespace",
      query: "match_regex=a",
      code: "SSEB_ERR_MERCURE_MATCHER_INVALID",
    },
    {
      section: "§Subscription: the namespace is ASCII case-insensitive (Match)",
      query: "Match=a",
      code: "SSEB_ERR_MERCURE_MATCHER_INVALID",
    },
    {
      section: "§Subscription: names are case-sensitive (match_URLPATTERN)",
      query: "match_URLPATTERN=a",
      code: "SSEB_ERR_MERCURE_MATCHER_INVALID",
    },
    {
      section: "§Subscription: any name starting with match (matches)",
      query: "matches=a",
      code: "SSEB_ERR_MERCURE_MATCHER_INVALID",
    },
    {
      section: "§Subscription: a name without a value is an empty value",
      query: "match",
      code: "SSEB_ERR_MERCURE_MATCHER_INVALID",
    },
    { section: "§Subscription: invalid UTF-8", query: "match=%FF", code: "SSEB_ERR_REQUEST_INVALID" },
    {
      section: "§Subscription: C0 control",
      query: "match=a%01b",
      code: "SSEB_ERR_MERCURE_MATCHER_INVALID",
    },
    { section: "§Subscription: U+007F", query: "match=a%7Fb", code: "SSEB_ERR_MERCURE_MATCHER_INVALID" },
    {
      section: "§Subscription: C1 control (U+0085)",
      query: "match=a%C2%85b",
      code: "SSEB_ERR_MERCURE_MATCHER_INVALID",
    },
    {
      section: "§Subscription: format character (U+200B)",
      query: "match_urlpattern=https://example.com/%E2%80%8B",
      code: "SSEB_ERR_MERCURE_MATCHER_INVALID",
    },
    {
      section: "§Subscription: format character (U+202E)",
      query: "match=a%E2%80%AEb",
      code: "SSEB_ERR_MERCURE_MATCHER_INVALID",
    },
    {
      section: "§Subscription: not a well-formed URL Pattern",
      query: `match_urlpattern=${encodeURIComponent("https://example.com/(")}`,
      code: "SSEB_ERR_MERCURE_MATCHER_INVALID",
    },
    {
      section: "§URL Pattern DoS: regexp groups refused by default",
      query: `match_urlpattern=${encodeURIComponent("https://example.com/:id(\\d+)")}`,
      code: "SSEB_ERR_MERCURE_MATCHER_INVALID",
    },
    {
      section: "§URL Pattern DoS: three wildcards competing for one segment",
      query: `match_urlpattern=${encodeURIComponent("https://example.com/*-*-*-x")}`,
      code: "SSEB_ERR_LIMIT_SELECTOR",
    },
    {
      section: "§URL Pattern DoS: three named groups in one segment",
      query: `match_urlpattern=${encodeURIComponent("https://example.com/:a-:b-:c")}`,
      code: "SSEB_ERR_LIMIT_SELECTOR",
    },
    {
      section: "§URL Pattern DoS: repeated group without a / prefix (exponential)",
      query: `match_urlpattern=${encodeURIComponent("https://example.com/:a+-:b+x")}`,
      code: "SSEB_ERR_LIMIT_SELECTOR",
    },
    {
      section: "§URL Pattern DoS: repeated wildcard",
      query: `match_urlpattern=${encodeURIComponent("https://example.com/*+x")}`,
      code: "SSEB_ERR_LIMIT_SELECTOR",
    },
    {
      section: "§URL Pattern DoS: repeated group holding a wildcard",
      query: `match_urlpattern=${encodeURIComponent("https://example.com/{x*}+")}`,
      code: "SSEB_ERR_LIMIT_SELECTOR",
    },
    {
      section: "§URL Pattern DoS: too many optional parts",
      query: `match_urlpattern=${encodeURIComponent("https://example.com/{a}?{b}?{c}?{d}?{e}?")}`,
      code: "SSEB_ERR_LIMIT_SELECTOR",
    },
    {
      section: "§Subscription limits: more matchers than maxMatchersPerSubscription",
      h: () => strict,
      query: "match=a&match=b&match_urlpattern=/c&match=d",
      code: "SSEB_ERR_LIMIT_SELECTORS",
    },
    {
      section: "§Subscription limits: a pattern longer than maxMatcherLength",
      h: () => strict,
      query: `match_urlpattern=${encodeURIComponent(long)}`,
      code: "SSEB_ERR_LIMIT_SELECTOR",
    },
    {
      section: "§Subscription limits: URL patterns count against maxPatternSelectorsPerClient (429)",
      h: () => strict,
      query: "match_urlpattern=/a/:x&match_urlpattern=/b/:x&match_urlpattern=/c/:x",
      status: 429,
      code: "SSEB_ERR_LIMIT_PATTERNS",
    },
  ];
  for (const c of cases) {
    it(`${c.section} → ${c.status ?? 400} ${c.code}`, async () => {
      const h = c.h?.() ?? hub;
      const r = await httpRequest(`${h.hub}?${c.query}`, { headers: { Accept: "text/event-stream" } });
      assert.equal(r.status, c.status ?? 400, r.body);
      assert.equal(errorCode(r), c.code, r.body);
    });
  }

  it("counts refused limits in the broker's refusal counters (sse_broker_refused_total)", async () => {
    const before = { ...refusalsOf(strict.broker) };
    const tooMany = await httpRequest(`${strict.hub}?match=a&match=b&match=c&match=d`);
    const tooCostly = await httpRequest(
      `${strict.hub}?match_urlpattern=${encodeURIComponent("https://example.com/*-*-*")}`,
    );
    assert.deepEqual([tooMany.status, tooCostly.status], [400, 400]);
    assert.equal(refusalsOf(strict.broker).selectors, before.selectors + 1);
    assert.equal(refusalsOf(strict.broker).selector_bounds, before.selector_bounds + 1);
  });

  it("bounds the URL-pattern characters one subscription compiles (§URL-Pattern Denial of Service)", async () => {
    // 9 patterns of 1000 characters: each within maxMatcherLength, 9000 in all (over 8192).
    const q = new URLSearchParams();
    for (let i = 0; i < 9; i++) q.append("match_urlpattern", `https://example.com/${i}/${"x".repeat(978)}`);
    const r = await httpRequest(`${hub.hub}?${q}`);
    assert.equal(r.status, 400, r.body);
    assert.equal(errorCode(r), "SSEB_ERR_LIMIT_SELECTOR");
    assert.match(r.body, /total at most 8192 characters/);
    q.delete("match_urlpattern");
    for (let i = 0; i < 8; i++) q.append("match_urlpattern", `https://example.com/${i}/${"x".repeat(978)}`);
    const ok = await connectSse(`${hub.hub}?${q}`);
    assert.equal(ok.status, 200, ok.raw);
    ok.close();
  });

  it("says clearly that the two dialects do not mix", async () => {
    const r = await httpRequest(`${hub.hub}?topic=a&match=a`);
    assert.match(r.body, /either classic topic= parameters or Mercure 1\.0 match… parameters, not both/);
  });

  it("accepts exactly the limits (3 matchers, 64 characters)", async () => {
    const s = await connectSse(
      url1(strict, [
        ["match", "a"],
        ["match", `https://example.com/${"x".repeat(44)}`],
        ["match_urlpattern", "/c/:x"],
      ]),
    );
    assert.equal(s.status, 200, s.raw);
    s.close();
  });
});

describe("Mercure 1.0 subscribe: last_event_id and Mercure-Last-Event-ID (draft-08 §Reconciliation)", () => {
  const topic = "https://example.com/resume/1";
  let ids: string[] = [];
  before(async () => {
    ids = [];
    for (const d of ["1", "2", "3"]) ids.push(await publishData(hub, topic, d));
  });

  const cases: {
    section: string;
    query: (ids: string[]) => [string, string][];
    header?: (ids: string[]) => string;
    field: (ids: string[]) => string;
    replay: string[];
  }[] = [
    {
      section: "last_event_id query parameter is the resume point",
      query: (i) => [["last_event_id", i[0] as string]],
      field: (i) => i[0] as string,
      replay: ["2", "3"],
    },
    {
      section: "the Last-Event-ID header wins over last_event_id",
      query: (i) => [["last_event_id", i[0] as string]],
      header: (i) => i[1] as string,
      field: (i) => i[1] as string,
      replay: ["3"],
    },
    {
      section: "earliest replays all history and answers earliest",
      query: () => [["last_event_id", "earliest"]],
      field: () => "earliest",
      replay: ["1", "2", "3"],
    },
    {
      section: "an unknown id answers earliest (loss may have occurred)",
      query: () => [["last_event_id", "urn:uuid:00000000-0000-4000-8000-000000000000"]],
      field: () => "earliest",
      replay: ["1", "2", "3"],
    },
  ];
  for (const c of cases) {
    it(c.section, async () => {
      const sse = await connectSse(url1(hub, [["match", topic], ...c.query(ids)]), {
        ...(c.header === undefined ? {} : { headers: { "Last-Event-ID": c.header(ids) } }),
      });
      assert.equal(sse.status, 200, sse.raw);
      assert.equal(sse.headers["mercure-last-event-id"], c.field(ids));
      assert.equal(sse.headers["last-event-id"], undefined, "1.0 answers Mercure-Last-Event-ID only");
      assert.deepEqual(
        (await sse.waitForEvents(c.replay.length)).map((e) => e.data),
        c.replay,
      );
      sse.close();
    });
  }

  it("lets cross-origin readers see Mercure-Last-Event-ID (CORS expose)", async () => {
    const sse = await connectSse(
      url1(strict, [
        ["match", "a"],
        ["last_event_id", "earliest"],
      ]),
      {
        headers: { Origin: "https://app.example" },
      },
    );
    assert.equal(sse.headers["mercure-last-event-id"], "earliest");
    assert.match(String(sse.headers["access-control-expose-headers"]), /\bMercure-Last-Event-ID\b/);
    sse.close();
  });

  it("sends no Mercure-Last-Event-ID without a resume point, and ignores the classic lastEventID", async () => {
    const sse = await connectSse(
      url1(hub, [
        ["match", topic],
        ["match", MARKER],
        ["lastEventID", ids[0] as string],
      ]),
    );
    assert.equal(sse.headers["mercure-last-event-id"], undefined);
    assert.deepEqual(await settle(hub, sse), [], "nothing replayed");
    sse.close();
  });
});

describe("classic subscriptions are unchanged", () => {
  it("answers Last-Event-ID (not Mercure-Last-Event-ID), resumes from lastEventID, ignores last_event_id", async () => {
    const topic = "https://example.com/classic/1";
    const first = await publishData(hub, topic, "c1");
    await publishData(hub, topic, "c2");
    const q = await connectSse(subscribeUrl(hub.hub, [topic], { lastEventID: first }));
    assert.equal(q.headers["last-event-id"], first);
    assert.equal(q.headers["mercure-last-event-id"], undefined);
    assert.deepEqual(
      (await q.waitForEvents(1)).map((e) => e.data),
      ["c2"],
    );
    q.close();
    const stray = await connectSse(subscribeUrl(hub.hub, [topic, MARKER], { last_event_id: first }));
    assert.equal(stray.status, 200);
    assert.equal(stray.headers["last-event-id"], undefined, "last_event_id is not a classic parameter");
    assert.deepEqual(await settle(hub, stray), []);
    stray.close();
  });

  it("still treats {…} in topic= as a URI template and * as the wildcard", async () => {
    const t = await connectSse(subscribeUrl(hub.hub, ["https://example.com/ct/{id}", MARKER]));
    await publishData(hub, "https://example.com/ct/5", "five");
    assert.deepEqual(await settle(hub, t), ["five"]);
    t.close();
  });
});
