/**
 * sse-broker/client reconnecting against a real broker: after the broker drops the stream it comes back
 * with `Last-Event-ID` (the last id seen) and gets what it missed once (no loss, no duplicate), after the
 * server's `retry:` rather than its own (much longer) delay; an incomplete resume reports
 * `sse-broker.missed` as a callback, never as data; answers a retry cannot change stop it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createClient, eventsUrl, type MissedNotice, publish } from "../../src/client/index.js";
import { waitFor } from "../helpers/wait.js";
import { count, dataOf, record, startRecordingBroker } from "./helpers.js";

describe("client reconnect", () => {
  it("resumes with Last-Event-ID after the broker drops the stream: no loss, no duplicate, retry: honoured", async () => {
    // The broker says retry after ~50 ms; the client's own first delay is a minute: reconnecting within
    // the test's wait shows the server's value was used.
    const b = await startRecordingBroker({ retryMs: 50 });
    const client = createClient({
      url: eventsUrl(b.base, "orders"),
      reconnect: { initialDelayMs: 60_000, maxDelayMs: 120_000 },
    });
    const seen = record(client);
    try {
      await waitFor("open", () => client.state === "open");
      const sent: string[] = [];
      for (let i = 0; i < 3; i++) sent.push(await publish(b.base, { topic: "orders", data: `before ${i}` }));
      await waitFor("the first events", () => dataOf(seen).length === 3);
      for (const s of b.broker.sessions) s.close("closed");
      // Published while the client is away (or reconnecting): it must get each exactly once.
      for (let i = 0; i < 3; i++) sent.push(await publish(b.base, { topic: "orders", data: `during ${i}` }));
      await waitFor("the second open", () => count(seen, "open") === 2);
      for (let i = 0; i < 2; i++) sent.push(await publish(b.base, { topic: "orders", data: `after ${i}` }));
      await waitFor("every event", () => dataOf(seen).length >= 8);
      const ids = seen.flatMap((s) => (s.kind === "data" ? [s.message?.id] : []));
      assert.deepEqual(ids, sent);
      assert.deepEqual(dataOf(seen), [
        "before 0",
        "before 1",
        "before 2",
        "during 0",
        "during 1",
        "during 2",
        "after 0",
        "after 1",
      ]);
      const streams = b.requests.filter((r) => r.url.startsWith("/events"));
      assert.equal(streams.length, 2);
      assert.equal(streams[0]?.headers["last-event-id"], undefined);
      assert.equal(streams[1]?.headers["last-event-id"], sent[2], "resumes from the last id seen");
      const reopened = seen.filter((s) => s.kind === "open")[1]?.data as {
        resumedFrom?: string;
        resumeHeader?: string;
      };
      assert.equal(reopened.resumedFrom, sent[2]);
      assert.equal(reopened.resumeHeader, sent[2], "a complete replay");
      const drop = seen.find((s) => s.kind === "error")?.data as {
        error: { code: string };
        closed: boolean;
        delayMs: number;
      };
      assert.equal(drop.error.code, "SSEB_ERR_CLIENT_DISCONNECTED");
      assert.equal(drop.closed, false);
      assert.ok(drop.delayMs < 60_000 * 0.8, "the delay came from the server's retry:");
      assert.equal(client.lastEventId, sent[7]);
    } finally {
      client.close();
      await b.close();
    }
  });

  it("reports an incomplete resume with the sse-broker.missed callback, never as data", async () => {
    const b = await startRecordingBroker({ historyLimit: 3 });
    try {
      for (let i = 1; i <= 5; i++) await publish(b.base, { topic: "orders", id: `o${i}`, data: `${i}` });
      const client = createClient({ url: eventsUrl(b.base, "orders"), lastEventId: "o1" });
      const seen = record(client);
      const missed: MissedNotice[] = [];
      client.on("sse-broker.missed", (n) => missed.push(n));
      try {
        await waitFor("the replay", () => dataOf(seen).length === 3);
        assert.deepEqual(missed, [{ requested: "o1", earliest: "o3" }]);
        assert.deepEqual(dataOf(seen), ["3", "4", "5"]);
        assert.deepEqual(
          seen.map((s) => s.kind),
          ["open", "sse-broker.missed", "data", "data", "data"],
        );
        const open = seen[0]?.data as { resumeHeader?: string };
        assert.equal(open.resumeHeader, "earliest");
        assert.equal(b.requests.find((r) => r.url.startsWith("/events"))?.headers["last-event-id"], "o1");
      } finally {
        client.close();
      }
    } finally {
      await b.close();
    }
  });

  it("stops on a 404 without reconnecting", async () => {
    const b = await startRecordingBroker();
    try {
      const client = createClient({ url: `${b.base}/nowhere`, token: "t" });
      const seen = record(client);
      await waitFor("closed", () => client.state === "closed");
      const err = seen.find((s) => s.kind === "error")?.data as {
        status: number;
        closed: boolean;
        error: { code: string; message: string };
      };
      assert.equal(err.status, 404);
      assert.equal(err.closed, true);
      assert.equal(err.error.code, "SSEB_ERR_CLIENT_HTTP");
      assert.match(err.error.message, /SSEB_ERR_NOT_FOUND/);
      assert.equal(b.requests.length, 1);
    } finally {
      await b.close();
    }
  });
});

describe("client resume with ids that are not ASCII", () => {
  it("resumes after an id that a fetch header cannot carry (no loss, no duplicate)", async () => {
    const b = await startRecordingBroker({ retryMs: 20 });
    const client = createClient({ url: eventsUrl(b.base, "orders") });
    const seen = record(client);
    try {
      await waitFor("open", () => client.state === "open");
      await publish(b.base, { topic: "orders", id: "commande-é-☃-1", data: "one" });
      await waitFor("the first event", () => dataOf(seen).length === 1);
      for (const s of b.broker.sessions) s.close("closed");
      await publish(b.base, { topic: "orders", id: "commande-é-☃-2", data: "two" });
      await waitFor("the second open", () => count(seen, "open") === 2);
      await publish(b.base, { topic: "orders", id: "commande-é-☃-3", data: "three" });
      await waitFor("every event", () => dataOf(seen).length >= 3);
      assert.deepEqual(dataOf(seen), ["one", "two", "three"]);
      // A complete resume: no missed notice (the response header cannot carry such an id: it says earliest).
      assert.equal(count(seen, "sse-broker.missed"), 0);
      const resumed = b.requests.filter((r) => r.url.startsWith("/events")).at(-1);
      assert.match(resumed?.url ?? "", /lastEventID=commande-%C3%A9-%E2%98%83-1/);
    } finally {
      client.close();
      await b.close();
    }
  });
});

describe("client idle timeout", () => {
  it("reconnects, resuming, when the stream goes silent for idleTimeoutMs", async () => {
    // No heartbeats: an open stream with no events is silent, as a connection a proxy killed would be.
    const b = await startRecordingBroker({ heartbeatMs: null, retryMs: 20 });
    const client = createClient({ url: eventsUrl(b.base, "quiet"), idleTimeoutMs: 200 });
    const seen = record(client);
    try {
      await waitFor("open", () => client.state === "open");
      const id = await publish(b.base, { topic: "quiet", data: "one" });
      await waitFor("the reconnect", () => count(seen, "open") === 2);
      const err = seen.find((s) => s.kind === "error")?.data as { error: { code: string; message: string } };
      assert.equal(err.error.code, "SSEB_ERR_CLIENT_DISCONNECTED");
      assert.match(err.error.message, /silent/);
      const streams = b.requests.filter((r) => r.url.startsWith("/events"));
      assert.equal(streams[1]?.headers["last-event-id"], id);
    } finally {
      client.close();
      await b.close();
    }
  });
});
