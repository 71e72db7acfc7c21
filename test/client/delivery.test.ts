/**
 * sse-broker/client against a real broker: delivery in order, typed handlers with JSON data, the default
 * `message` type, `close()` and `AbortSignal`.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient, eventsUrl, publish, type SseMessage } from "../../src/client/index.js";
import { waitFor } from "../helpers/wait.js";
import { count, dataOf, type RecordingBroker, record, startRecordingBroker } from "./helpers.js";

let b: RecordingBroker;
before(async () => {
  b = await startRecordingBroker();
});
after(() => b.close());

interface Prices {
  price: { eur: number };
  message: { note: string };
}

describe("client delivery", () => {
  it("delivers typed, JSON-parsed events to the handlers of their type, in order", async () => {
    const client = createClient<Prices>({ url: eventsUrl(b.base, ["prices", "notes"]), parse: "json" });
    const prices: number[] = [];
    const notes: string[] = [];
    const ids: (string | undefined)[] = [];
    client.on<"price">("price", (e) => {
      const eur: number = e.data.eur; // typed from the event map
      prices.push(eur);
      ids.push(e.id);
    });
    client.on<"message">("message", (e: SseMessage<{ note: string }>) => notes.push(e.data.note));
    let opened = 0;
    client.on("open", (info) => {
      opened++;
      assert.equal(info.role, "own");
      assert.match(info.subscriber ?? "", /^urn:uuid:/);
    });
    try {
      await waitFor("open", () => client.state === "open");
      const sent: string[] = [];
      for (let i = 1; i <= 3; i++)
        sent.push(await publish(b.base, { topic: "prices", event: "price", data: { eur: i } }));
      await publish(b.base, { topic: "notes", data: { note: "hi" } });
      await waitFor("all events", () => prices.length === 3 && notes.length === 1);
      assert.deepEqual(prices, [1, 2, 3]);
      assert.deepEqual(ids, sent);
      assert.deepEqual(notes, ["hi"]);
      assert.equal(opened, 1);
      const stream = b.requests.find((r) => r.url.startsWith("/events?topic=prices"));
      assert.equal(stream?.headers.accept, "text/event-stream");
    } finally {
      client.close();
    }
  });

  it("reports data that does not parse as an error and goes on", async () => {
    const client = createClient({ url: eventsUrl(b.base, "raw"), parse: "json" });
    const seen = record(client);
    try {
      await waitFor("open", () => client.state === "open");
      await publish(b.base, { topic: "raw", data: "not json" });
      await publish(b.base, { topic: "raw", data: { ok: true } });
      await waitFor("the good event", () => dataOf(seen).length === 1);
      assert.deepEqual(dataOf(seen), [{ ok: true }]);
      const err = seen.find((s) => s.kind === "error")?.data as { error: { code: string }; closed: boolean };
      assert.equal(err.error.code, "SSEB_ERR_CLIENT_DATA_INVALID");
      assert.equal(err.closed, false);
      assert.equal(client.state, "open");
    } finally {
      client.close();
    }
  });

  it("has its own connection with shared: true where Web Locks are missing (Node)", async () => {
    const client = createClient({ url: eventsUrl(b.base, "solo"), shared: true });
    const got: unknown[] = [];
    client.on("message", (e) => got.push(e.data));
    try {
      await waitFor("open", () => client.state === "open");
      assert.equal(client.role, "own");
      await publish(b.base, { topic: "solo", data: "alone" });
      await waitFor("the event", () => got.length === 1);
    } finally {
      client.close();
    }
  });

  it("rejects a refused publish with SSEB_ERR_CLIENT_HTTP and the broker's code", async () => {
    await assert.rejects(
      publish(b.base, { topic: "", data: "x" }),
      (err: Error & { code?: string; statusCode?: number }) => {
        assert.equal(err.code, "SSEB_ERR_CLIENT_HTTP");
        assert.equal(err.statusCode, 400);
        assert.match(err.message, /SSEB_ERR_TOPIC_INVALID/);
        return true;
      },
    );
  });

  it("ends the stream on close() and on its AbortSignal, without reconnecting", async () => {
    for (const how of ["close", "abort"] as const) {
      const ac = new AbortController();
      const before = b.broker.stats.connectionsOpened;
      const client = createClient({ url: eventsUrl(b.base, `bye-${how}`), signal: ac.signal });
      const seen = record(client);
      await waitFor("open", () => client.state === "open");
      assert.equal(b.broker.sessions.size, 1);
      if (how === "close") client.close();
      else ac.abort();
      assert.equal(client.state, "closed");
      await waitFor("the broker's session closed", () => b.broker.sessions.size === 0);
      assert.equal(b.broker.stats.connectionsOpened, before + 1);
      assert.equal(count(seen, "error"), 0, "a wanted close is not an error");
    }
    // Already aborted: never connects.
    const ac = new AbortController();
    ac.abort();
    const before = b.broker.stats.connectionsOpened;
    const client = createClient({ url: eventsUrl(b.base, "never"), signal: ac.signal });
    assert.equal(client.state, "closed");
    assert.equal(b.broker.stats.connectionsOpened, before);
  });
});

// Compile-time checks (tsc runs over test/): an interface is an event map, handlers get its data types,
// client events get theirs.
export function typeChecks(): void {
  interface Events {
    price: { eur: number };
  }
  const c = createClient<Events>({ url: "http://127.0.0.1:1/events?topic=x", signal: AbortSignal.abort() });
  c.on("price", (e) => {
    const eur: number = e.data.eur;
    void eur;
  });
  c.on("sse-broker.missed", (n) => {
    const earliest: string | null = n.earliest;
    void earliest;
  });
  c.on("open", (info) => {
    const role: "own" | "leader" | "follower" = info.role;
    void role;
  });
  // @ts-expect-error: the data of "price" has no "usd"
  c.on("price", (e) => e.data.usd);
}
