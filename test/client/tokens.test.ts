/**
 * sse-broker/client and tokens on the Mercure hub: the provider is asked on connect, once more after a
 * 401 (then the client stops), and on `sse-broker.token-expiring`, whose new token the client posts to
 * `/.well-known/mercure/subscribers/{id}/token` so that the same stream goes on past the old expiry.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  createClient,
  mercure1SubscribeUrl,
  mercureSubscribeUrl,
  publishMercure,
  type TokenReason,
} from "../../src/client/index.js";
import { waitFor } from "../helpers/wait.js";
import { type Hub, publisherToken, startHub, subscriberToken } from "../mercure/hub-fixture.js";
import { count, dataOf, record } from "./helpers.js";

const A = "https://example.com/books/1";
const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;

let hub: Hub;
let pub: string;
before(async () => {
  hub = await startHub({ anonymous: false }, { tokenExpiryNoticeMs: 1500 });
  pub = await publisherToken();
});
after(() => hub.close());

describe("client tokens (Mercure hub)", () => {
  it("refreshes an expiring token on the live stream: provider asked, refresh posted, same stream goes on", async () => {
    const reasons: TokenReason[] = [];
    const client = createClient({
      url: mercureSubscribeUrl(hub.hub, A, { lifecycle: true }),
      token: async ({ reason }) => {
        reasons.push(reason);
        // The first token ends the stream in ~3 s; the refreshed one in a minute.
        return subscriberToken([A], {}, { exp: inSeconds(reason === "connect" ? 3 : 60) });
      },
    });
    const seen = record(client);
    try {
      await waitFor("open", () => client.state === "open");
      const opened = hub.broker.stats.connectionsOpened;
      await waitFor("the refresh", () => count(seen, "token-refreshed") === 1, 10_000);
      assert.deepEqual(reasons, ["connect", "expiring"]);
      const notice = seen.find((s) => s.kind === "sse-broker.token-expiring")?.data as {
        expiresAt: string;
        subscriber: string;
      };
      assert.equal(notice.subscriber, client.subscriber);
      const refreshed = seen.find((s) => s.kind === "token-refreshed")?.data as { expiresAt: string };
      assert.ok(Date.parse(refreshed.expiresAt) > Date.parse(notice.expiresAt) + 30_000);
      // Past the old end, the same connection still delivers.
      await waitFor("the old expiry passed", () => Date.now() > Date.parse(notice.expiresAt) + 200, 10_000);
      await publishMercure(hub.hub, { topic: A, data: "after the old exp", private: true }, { token: pub });
      await waitFor("the update", () => dataOf(seen).length === 1);
      assert.deepEqual(dataOf(seen), ["after the old exp"]);
      assert.equal(hub.broker.stats.connectionsOpened, opened, "no new connection");
      assert.equal(count(seen, "open"), 1);
      assert.equal(count(seen, "sse-broker.closed"), 0);
      assert.equal(count(seen, "error"), 0);
    } finally {
      client.close();
    }
  });

  it("reconnects with a fresh token after sse-broker.closed when no refresh was possible", async () => {
    const reasons: TokenReason[] = [];
    const client = createClient({
      url: mercureSubscribeUrl(hub.hub, A, { lifecycle: true }),
      // The refresh is refused (an already expired token): the stream ends, and the next connect's token is good.
      token: async ({ reason }) => {
        reasons.push(reason);
        const exp = reason === "expiring" ? inSeconds(-60) : inSeconds(reasons.length === 1 ? 2 : 60);
        return subscriberToken([A], {}, { exp });
      },
      reconnect: { initialDelayMs: 50 },
    });
    const seen = record(client);
    try {
      await waitFor("the second open", () => count(seen, "open") === 2, 15_000);
      const closed = seen.find((s) => s.kind === "sse-broker.closed")?.data;
      assert.deepEqual(closed, { reason: "token-expired" });
      const refusal = seen.find((s) => s.kind === "error")?.data as { phase: string; status: number };
      assert.equal(refusal.phase, "refresh");
      assert.equal(refusal.status, 401);
      assert.deepEqual(reasons, ["connect", "expiring", "connect"]);
      await publishMercure(hub.hub, { topic: A, data: "on the new stream", private: true }, { token: pub });
      await waitFor("the update", () => dataOf(seen).length === 1);
    } finally {
      client.close();
    }
  });

  it("asks the provider once more after a 401, then connects", async () => {
    const reasons: TokenReason[] = [];
    const client = createClient({
      url: mercureSubscribeUrl(hub.hub, A),
      token: async ({ reason }) => {
        reasons.push(reason);
        return reason === "connect" ? "stale.token.value" : subscriberToken([A], {}, { exp: inSeconds(60) });
      },
    });
    const seen = record(client);
    try {
      await waitFor("open", () => client.state === "open");
      assert.deepEqual(reasons, ["connect", "unauthorized"]);
      const err = seen.find((s) => s.kind === "error")?.data as {
        status: number;
        closed: boolean;
        delayMs: number;
      };
      assert.equal(err.status, 401);
      assert.equal(err.closed, false);
      assert.equal(err.delayMs, 0);
    } finally {
      client.close();
    }
  });

  it("stops after a second 401 (and at once on a 401 with a fixed token)", async () => {
    const reasons: TokenReason[] = [];
    const before = hub.broker.stats.connectionsOpened;
    const client = createClient({
      url: mercureSubscribeUrl(hub.hub, A),
      token: ({ reason }) => {
        reasons.push(reason);
        return "never.a.token";
      },
    });
    const seen = record(client);
    await waitFor("closed", () => client.state === "closed");
    assert.deepEqual(reasons, ["connect", "unauthorized"]);
    const errors = seen
      .filter((s) => s.kind === "error")
      .map((s) => s.data as { status: number; closed: boolean });
    assert.deepEqual(
      errors.map((e) => [e.status, e.closed]),
      [
        [401, false],
        [401, true],
      ],
    );
    assert.equal(hub.broker.stats.connectionsOpened, before);

    const fixed = createClient({ url: mercureSubscribeUrl(hub.hub, A), token: "never.a.token" });
    const seenFixed = record(fixed);
    await waitFor("closed", () => fixed.state === "closed");
    assert.equal(count(seenFixed, "error"), 1);
  });

  it("subscribes in the Mercure 1.0 dialect (match_urlpattern) with a classic-published update", async () => {
    const open = await startHub({ anonymous: true });
    try {
      const client = createClient({
        url: mercure1SubscribeUrl(open.hub, { matchUrlPattern: "https://example.com/books/:id" }),
      });
      const seen = record(client);
      try {
        const books: string[] = [];
        client.on("book", (e) => books.push(e.data as string));
        await waitFor("open", () => client.state === "open");
        const token = await publisherToken();
        const id = await publishMercure(open.hub, { topic: A, data: "dune", type: "book" }, { token });
        await waitFor("the update", () => books.length === 1);
        assert.deepEqual(books, ["dune"]);
        assert.equal(client.lastEventId, id);
        assert.match(client.url, /match_urlpattern=/);
        assert.equal(count(seen, "error"), 0);
      } finally {
        client.close();
      }
    } finally {
      await open.close();
    }
  });
});
