/**
 * Issue 11, feature 2: a stream that ends at its token's expiry gets the `sse-broker.token-expiring` notice
 * before it and the final `sse-broker.closed` event at it, from the broker's one expiry timer.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { afterEach, describe, it } from "node:test";
import { createParser } from "eventsource-parser";
import { Broker } from "../../src/core/broker.js";
import { CLOSED_EVENT, TOKEN_EXPIRING_EVENT } from "../../src/core/token-lifecycle.js";
import { reader } from "../helpers/sink.js";
import { waitFor } from "../helpers/wait.js";

const brokers: Broker[] = [];
afterEach(async () => {
  for (const b of brokers.splice(0)) await b.close();
});

function broker(opts: ConstructorParameters<typeof Broker>[0] = {}): Broker {
  const b = new Broker({ heartbeatMs: null, retryMs: null, ...opts });
  brokers.push(b);
  return b;
}

interface Parsed {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

function parse(text: string): Parsed[] {
  const out: Parsed[] = [];
  const p = createParser({ onEvent: (e) => out.push({ id: e.id, event: e.event, data: e.data }) });
  p.feed(text);
  return out;
}

/** Timers alive in this process (the broker's are what a test adds). */
function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
}

describe("token lifecycle events", () => {
  it("sends the notice, then the final closed event, to many streams from one timer", async () => {
    const b = broker({ tokenExpiryNoticeMs: 500 });
    const before = timers();
    const now = Date.now();
    const streams = Array.from({ length: 200 }, (_, i) => {
      const r = reader();
      const expiresAt = now + 1000 + (i % 20) * 50; // 20 distinct expiry times
      const s = b
        .subscribe({ selectors: ["a"], expiresAt, tokenLifecycle: true, subscriberId: `urn:uuid:s${i}` })
        .open(r.sink);
      return { r, s, expiresAt, i };
    });
    // Each stream's notice and end are due at its own time; one timer is armed for all of them.
    assert.ok(timers() - before <= 1, `${timers() - before} timers for 200 streams`);
    await waitFor("every stream ended", () => streams.every((x) => x.s.closed), 10_000);
    for (const { r, s, expiresAt, i } of streams) {
      assert.equal(s.closeReason, "expired");
      const events = parse(r.text());
      assert.deepEqual(
        events.map((e) => e.event),
        [TOKEN_EXPIRING_EVENT, CLOSED_EVENT],
      );
      assert.deepEqual(JSON.parse(events[0]?.data ?? ""), {
        expiresAt: new Date(expiresAt).toISOString(),
        subscriber: `urn:uuid:s${i}`,
      });
      assert.deepEqual(JSON.parse(events[1]?.data ?? ""), { reason: "token-expired" });
      assert.doesNotMatch(r.text(), /^id:/m, "control events carry no id: line");
    }
  });

  it("sends only the final event with tokenExpiryNoticeMs 0, and neither without tokenLifecycle", async () => {
    const b = broker({ tokenExpiryNoticeMs: 0 });
    const expiresAt = Date.now() + 300;
    const on = reader();
    const off = reader();
    const a = b.subscribe({ selectors: ["a"], expiresAt, tokenLifecycle: true }).open(on.sink);
    const c = b.subscribe({ selectors: ["a"], expiresAt }).open(off.sink);
    await waitFor("both ended", () => a.closed && c.closed, 5000);
    assert.deepEqual(
      parse(on.text()).map((e) => e.event),
      [CLOSED_EVENT],
    );
    assert.equal(off.text(), "");
  });

  it("sends neither when maxStreamLifetimeMs ends the stream before its token expires", async () => {
    const b = broker({ maxStreamLifetimeMs: 1000, tokenExpiryNoticeMs: 60_000 });
    const r = reader();
    const s = b
      .subscribe({ selectors: ["a"], expiresAt: Date.now() + 3_600_000, tokenLifecycle: true })
      .open(r.sink);
    await waitFor("the stream ended by its lifetime", () => s.closed, 5000);
    assert.equal(r.text(), "");
  });

  it("refuses to renew a stream's token during a history replay (409), leaving it as it was", async () => {
    const b = broker({ tokenExpiryNoticeMs: 100 });
    const big = "x".repeat(40 * 1024);
    for (let i = 0; i < 3; i++) await b.publish({ topic: "a", data: big, id: `h${i}` });
    // Nobody reads this sink: the replay writes its first chunk, then waits for a 'drain' that never comes.
    const sink = new PassThrough({ highWaterMark: 1024 });
    const end = Date.now() + 60_000;
    const s = b
      .subscribe({ selectors: ["a"], authorized: ["a"], lastEventId: "earliest", expiresAt: end })
      .open(sink);
    assert.equal(s.replaying, true);
    assert.throws(() => b.renewToken(s, end + 60_000, b.matcher.compile(["*"]), "other"), {
      code: "SSEB_ERR_SUBSCRIBER_REPLAYING",
    });
    assert.equal(s.expiresAt, end);
    assert.deepEqual(s.authorized, ["a"]);
    assert.equal(s.credentialHash, undefined);
    s.close("client");
  });

  it("moves a stream's end and notice when its token is renewed, and replaces its rights", async () => {
    const b = broker({ tokenExpiryNoticeMs: 100 });
    const r = reader();
    const s = b
      .subscribe({ selectors: ["a"], authorized: ["a"], expiresAt: Date.now() + 300, tokenLifecycle: true })
      .open(r.sink);
    const later = Date.now() + 60_000;
    b.renewToken(s, later, b.matcher.compile(["a", "b"]), "new-credential-hash");
    assert.equal(s.expiresAt, later);
    assert.equal(s.credentialHash, "new-credential-hash");
    assert.equal(s.noticeAt, later - 100);
    assert.deepEqual(s.authorized, ["a", "b"]);
    // The stream outlives its old end: an event published after it still arrives.
    const old = Date.now() + 300;
    await waitFor("the old end passed", () => Date.now() > old + 100, 5000);
    const id = await b.publish({ topic: "a", data: "after", private: true });
    await waitFor("the event after the old end", () => r.text().includes(id), 5000);
    assert.equal(s.closed, false);
    assert.doesNotMatch(r.text(), /sse-broker\./);
    // Renewed to end soon: the notice (due at once) and the final event follow.
    b.renewToken(s, Date.now() + 50, s.grants, s.credentialHash);
    await waitFor("the stream ended", () => s.closed, 5000);
    assert.deepEqual(
      parse(r.text()).map((e) => e.event),
      [undefined, TOKEN_EXPIRING_EVENT, CLOSED_EVENT],
    );
  });

  it("writes the notice between whole event frames, without an id: line", async () => {
    const b = broker({ tokenExpiryNoticeMs: 200 });
    const r = reader();
    const s = b
      .subscribe({ selectors: ["a"], expiresAt: Date.now() + 400, tokenLifecycle: true })
      .open(r.sink);
    const ids: string[] = [];
    // Events keep coming while the notice is due: it lands between frames, never inside one.
    while (!s.closed) {
      ids.push(await b.publish({ topic: "a", data: "line1\nline2" }));
      await new Promise((res) => setImmediate(res));
    }
    const events = parse(r.text());
    const data = events.filter((e) => e.event === undefined);
    assert.ok(data.every((e) => e.data === "line1\nline2"));
    const notice = events.findIndex((e) => e.event === TOKEN_EXPIRING_EVENT);
    assert.ok(notice >= 0);
    assert.equal(events.at(-1)?.event, CLOSED_EVENT);
    assert.ok(events.filter((e) => e.event !== undefined).every((e) => e.id === undefined));
  });
});
