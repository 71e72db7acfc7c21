/**
 * Mercure 1.0 active subscriptions are cluster-wide with `--redis` (draft-08 §Active Subscriptions): a 1.0
 * subscription held by node A is announced to a watcher on node B (`event: mercure`) and listed by B's
 * subscription API (collection, per-matcher collection, single document) for an `at+jwt` token; the classic
 * API on B still lists only classic subscriptions; the subscription leaves B's list when it closes on A.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import { type OpenStream, openStream } from "../cli/helpers.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { AUD, DETAIL, ISS } from "../mercure/oauth-fixture.js";
import { call, type Node, startNodes, uniquePrefix, waitUntil } from "./helpers.js";

const CLASSIC_KEY = "cluster-mercure-secret-at-least-256-bits!!";
const ISS_KEY = "cluster-issuer-secret-at-least-256-bits-0!";
const API = "/.well-known/mercure/subscriptions";
const PATTERN = "https://example.com/books/:id";
const PATTERN_ENCODED = "https%3A%2F%2Fexample.com%2Fbooks%2F%3Aid";

interface Doc {
  id: string;
  type: string;
  match_type: string;
  match: string;
  subscriber: string;
  active: boolean;
  payload?: unknown;
}

function accessToken(details: unknown[]): Promise<string> {
  return new SignJWT({ authorization_details: details })
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
    .setIssuer(ISS)
    .setAudience(AUD)
    .setExpirationTime("10m")
    .sign(new TextEncoder().encode(ISS_KEY));
}

describe("Mercure 1.0 subscriptions across nodes", () => {
  let redis: RedisServer;
  let nodes: Node[] = [];
  const streams: OpenStream[] = [];
  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    for (const s of streams) s.destroy();
    for (const n of nodes) n.kill();
    await redis.dispose();
  });

  it("announces and lists a 1.0 subscription held by the other node", async () => {
    nodes = await startNodes(2, redis.url, uniquePrefix(), [
      "--jwt-key",
      CLASSIC_KEY,
      "--oauth-issuer",
      ISS,
      "--oauth-issuer-key",
      ISS_KEY,
      "--oauth-audience",
      AUD,
      "--subscriptions",
      "--anonymous",
    ]);
    const [a, b] = nodes as [Node, Node];
    const reader = await accessToken([
      {
        type: DETAIL,
        actions: ["subscribe"],
        topics: [{ match: API }, { match: `${API}/*`, match_type: "urlpattern" }],
      },
    ]);
    const auth = { Authorization: `Bearer ${reader}` };
    const open = async (node: Node, path: string, headers: Record<string, string>): Promise<OpenStream> => {
      const s = await openStream(node.port, path, headers);
      assert.equal(s.res.statusCode, 200, path);
      streams.push(s);
      return s;
    };
    const list = async (path = API): Promise<Doc[]> => {
      const r = await call(b.port, "GET", path, auth);
      assert.equal(r.status, 200, r.body);
      assert.equal(r.headers["content-type"], "application/json");
      return (JSON.parse(r.body) as { subscriptions: Doc[] }).subscriptions;
    };

    // A watcher on B subscribes to the subscription events of the whole hub.
    const watcher = await open(
      b,
      `/.well-known/mercure?match_urlpattern=${encodeURIComponent(`${API}/*`)}`,
      auth,
    );
    const subscriberToken = await accessToken([
      { type: DETAIL, actions: ["subscribe"], topics: [{ match: "*" }], payload: { tenant: "t1" } },
    ]);
    const onA = await open(a, `/.well-known/mercure?match_urlpattern=${encodeURIComponent(PATTERN)}`, {
      Authorization: `Bearer ${subscriberToken}`,
    });

    // ---- B lists A's subscription, with its payload ----
    await waitUntil("A's 1.0 subscription listed on B", async () =>
      (await list()).some((d) => d.match === PATTERN),
    );
    const doc = (await list()).find((d) => d.match === PATTERN) as Doc;
    assert.equal(doc.type, "subscription");
    assert.equal(doc.match_type, "urlpattern");
    assert.equal(doc.active, true);
    assert.deepEqual(doc.payload, { tenant: "t1" });
    assert.equal(doc.id, `${API}/urlpattern/${PATTERN_ENCODED}/${encodeURIComponent(doc.subscriber)}`);
    assert.deepEqual(
      (await list(`${API}/urlpattern/${PATTERN_ENCODED}`)).map((d) => d.id),
      [doc.id],
      "the per-matcher collection on B",
    );
    const one = await call(b.port, "GET", doc.id, auth);
    assert.equal(one.status, 200, one.body);
    assert.deepEqual(JSON.parse(one.body), doc, "the single document on B");
    const unknown = await call(
      b.port,
      "GET",
      `${API}/urlpattern/${PATTERN_ENCODED}/urn%3Auuid%3Anobody`,
      auth,
    );
    assert.equal(unknown.status, 404, "an unknown subscriber of a known matcher");

    // ---- B's watcher got A's subscription event through the backplane ----
    const eventOf = (active: boolean) =>
      watcher.events.find(
        (e) =>
          /^event: ?mercure$/m.test(e.block) &&
          e.block.includes(`"active":${active}`) &&
          e.block.includes(JSON.stringify(PATTERN)),
      );
    await waitUntil("the start event on B", async () => eventOf(true) !== undefined);

    // ---- the classic API on B is classic: no 1.0 subscription in it ----
    const classicToken = await new SignJWT({ mercure: { subscribe: ["*"] } })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("10m")
      .sign(new TextEncoder().encode(CLASSIC_KEY));
    const classic = await call(b.port, "GET", API, { Authorization: `Bearer ${classicToken}` });
    assert.equal(classic.status, 200, classic.body);
    assert.equal(classic.headers["content-type"], "application/ld+json");
    assert.deepEqual((JSON.parse(classic.body) as { subscriptions: unknown[] }).subscriptions, []);

    // ---- closed on A: the end event reaches B, and B's list forgets it ----
    onA.destroy();
    await waitUntil("the end event on B", async () => eventOf(false) !== undefined);
    await waitUntil("A's closed subscription gone from B's list", async () =>
      (await list()).every((d) => d.match !== PATTERN),
    );
  });
});
