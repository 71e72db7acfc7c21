/**
 * A third-party client against the hub: the `eventsource` npm package (v4), adding the Authorization
 * header through its `fetch` option, as Node applications do.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { EventSource, type FetchLike } from "eventsource";
import {
  type Hub,
  publisherToken,
  publishForm,
  startHub,
  subscriberToken,
  subscribeUrl,
} from "./hub-fixture.js";

let hub: Hub;
before(async () => {
  hub = await startHub({ anonymous: false }, { retryMs: 200 });
});
after(() => hub.close());

/** Resolves with the next `n` messages of `es` (rejecting after 5 s). */
function nextMessages(es: EventSource, n: number): Promise<MessageEvent[]> {
  return new Promise((resolve, reject) => {
    const got: MessageEvent[] = [];
    const t = setTimeout(() => reject(new Error(`got ${got.length} of ${n} messages`)), 5000);
    const on = (e: MessageEvent): void => {
      got.push(e);
      if (got.length < n) return;
      clearTimeout(t);
      es.removeEventListener("message", on);
      resolve(got);
    };
    es.addEventListener("message", on);
  });
}

async function publish(topic: string, data: string, priv = false): Promise<string> {
  const fields: [string, string][] = [
    ["topic", topic],
    ["data", data],
  ];
  if (priv) fields.push(["private", "1"]);
  const r = await publishForm(hub.hub, fields, await publisherToken());
  assert.equal(r.status, 200, r.body);
  return r.body;
}

describe("eventsource (npm) client", () => {
  it("subscribes with a bearer token, opens before any update, and receives private updates", async () => {
    const jwt = await subscriberToken(["https://example.com/es/{id}"]);
    const authFetch: FetchLike = (url, init) =>
      fetch(url, { ...init, headers: { ...init.headers, Authorization: `Bearer ${jwt}` } });
    const es = new EventSource(subscribeUrl(hub.hub, ["https://example.com/es/1"]), { fetch: authFetch });
    try {
      await new Promise<void>((resolve, reject) => {
        es.onopen = () => resolve();
        es.onerror = (e) => reject(new Error(`error before open: ${e.message ?? e.code}`));
      });
      const got = nextMessages(es, 2);
      const id1 = await publish("https://example.com/es/1", "public");
      const id2 = await publish("https://example.com/es/1", "private", true);
      const [m1, m2] = await got;
      assert.deepEqual([m1?.data, m1?.lastEventId], ["public", id1]);
      assert.deepEqual([m2?.data, m2?.lastEventId], ["private", id2]);
    } finally {
      es.close();
    }
  });

  it("gets a 401 it does not retry without a token", async () => {
    const es = new EventSource(subscribeUrl(hub.hub, ["a"]));
    try {
      const err = await new Promise<{ code?: number | undefined }>((resolve) => {
        es.onerror = (e) => resolve(e);
      });
      assert.equal(err.code, 401);
      assert.equal(es.readyState, EventSource.CLOSED);
    } finally {
      es.close();
    }
  });

  it("reconnects after its token expired, with a fresh token, and resumes from Last-Event-ID", async () => {
    const sent: (string | undefined)[] = [];
    // Each connection gets a new short-lived token, so the hub ends each stream within 2–3 s (not sooner:
    // a slow connect under load must not find it expired).
    const authFetch: FetchLike = async (url, init) => {
      const headers: Record<string, string> = { ...init.headers };
      sent.push(headers["Last-Event-ID"] ?? headers["last-event-id"]);
      const jwt = await subscriberToken(["*"], {}, { exp: Math.floor(Date.now() / 1000) + 3 });
      return fetch(url, { ...init, headers: { ...headers, Authorization: `Bearer ${jwt}` } });
    };
    const es = new EventSource(subscribeUrl(hub.hub, ["es/resume"]), { fetch: authFetch });
    try {
      await new Promise<void>((resolve) => {
        es.onopen = () => resolve();
      });
      const first = nextMessages(es, 1);
      const seen = await publish("es/resume", "before");
      await first;
      // The stream ends at exp; publish while the client is away, then expect it after the reconnect.
      await new Promise<void>((resolve) => {
        es.onerror = () => resolve();
      });
      const missed = nextMessages(es, 1);
      await publish("es/resume", "while away");
      const [m] = await missed;
      assert.equal(m?.data, "while away");
      assert.ok(sent.length >= 2);
      assert.equal(sent[0], undefined);
      assert.equal(sent[1], seen, "the reconnect carried Last-Event-ID");
    } finally {
      es.close();
    }
  });
});
