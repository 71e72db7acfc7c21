/**
 * Issue 11, feature 3: a resume that history cannot cover starts, when asked for, with the
 * `sse-broker.missed` control event (no `id:` line) before any replayed event.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { createParser } from "eventsource-parser";
import { Broker } from "../../src/core/broker.js";
import { MISSED_EVENT } from "../../src/core/missed-notice.js";
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

/** The events of a wire text, parsed by an independent SSE parser. */
function parse(text: string): Parsed[] {
  const out: Parsed[] = [];
  const p = createParser({ onEvent: (e) => out.push({ id: e.id, event: e.event, data: e.data }) });
  p.feed(text);
  return out;
}

async function publishMany(b: Broker, topic: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await b.publish({ topic, data: `${topic}${i}` }));
  return ids;
}

describe("missed-events control event", () => {
  it("starts an evicted resume with the notice, then replays what history holds, then goes live", async () => {
    const b = broker({ historyLimit: 3 });
    const ids = await publishMany(b, "a", 5); // ids[0] and ids[1] are evicted
    const r = reader();
    const pending = b.subscribe({ selectors: ["a"], lastEventId: ids[0], signalMissed: true });
    assert.equal(pending.resume?.complete, false);
    pending.open(r.sink);
    const end = await b.publish({ topic: "a", data: "end" });
    await waitFor("the end marker", () => r.text().includes("data:end\n"));
    const got = parse(r.text());
    assert.deepEqual(got[0], {
      id: undefined,
      event: MISSED_EVENT,
      data: JSON.stringify({ requested: ids[0], earliest: ids[2] }),
    });
    assert.deepEqual(
      got.slice(1).map((e) => e.id),
      [...ids.slice(2), end],
    );
    // The notice's bytes: event and data lines only, no id line.
    assert.ok(r.text().startsWith(`event:${MISSED_EVENT}\ndata:{`), r.text().slice(0, 80));
    assert.equal(r.text().match(/^id:/gm)?.length, 4, "an id line for each of the 4 events only");
  });

  it("says earliest: null when history holds nothing for an unknown id", async () => {
    const b = broker();
    await publishMany(b, "other", 2);
    const r = reader();
    b.subscribe({ selectors: ["a"], lastEventId: "gone", signalMissed: true }).open(r.sink);
    await b.publish({ topic: "a", data: "end" });
    await waitFor("the end marker", () => r.text().includes("data:end\n"));
    const got = parse(r.text());
    assert.equal(got.length, 2);
    assert.deepEqual(got[0], {
      id: undefined,
      event: MISSED_EVENT,
      data: '{"requested":"gone","earliest":null}',
    });
  });

  it("reports a pattern subscriber's evicted resume, the notice first", async () => {
    const b = broker({ historyLimit: 2 });
    const a = await publishMany(b, "https://x.example/a", 3);
    const c = await publishMany(b, "https://x.example/c", 1);
    const r = reader();
    const pending = b.subscribe({
      selectors: ["https://x.example/{name}"],
      lastEventId: a[0],
      signalMissed: true,
    });
    pending.open(r.sink);
    await b.publish({ topic: "https://x.example/a", data: "end" });
    await waitFor("the end marker", () => r.text().includes("data:end\n"));
    const got = parse(r.text());
    assert.equal(got[0]?.event, MISSED_EVENT);
    assert.deepEqual(JSON.parse(got[0]?.data as string), { requested: a[0], earliest: a[1] });
    assert.deepEqual(
      got.slice(1, 4).map((e) => e.id),
      [a[1], a[2], c[0]],
    );
  });

  it("sends no notice on a complete resume, nor on an incomplete one that did not ask for it", async () => {
    const b = broker({ historyLimit: 3 });
    const ids = await publishMany(b, "a", 5);
    const complete = reader();
    const p1 = b.subscribe({ selectors: ["a"], lastEventId: ids[3], signalMissed: true });
    assert.equal(p1.resume?.complete, true);
    p1.open(complete.sink);
    const quiet = reader();
    b.subscribe({ selectors: ["a"], lastEventId: ids[0] }).open(quiet.sink);
    const everything = reader();
    // `earliest` with nothing evicted on the topic is complete: no notice either.
    b.subscribe({ selectors: ["fresh"], lastEventId: "earliest", signalMissed: true }).open(everything.sink);
    await b.publish({ topic: ["a", "fresh"], data: "end" });
    for (const r of [complete, quiet, everything]) {
      await waitFor("the end marker", () => r.text().includes("data:end\n"));
      assert.equal(r.count(MISSED_EVENT), 0, r.text());
    }
    assert.equal(parse(complete.text()).length, 2);
    assert.equal(parse(quiet.text()).length, 4);
  });

  it("holds live events published while the notice and the replay are written behind them", async () => {
    const b = broker({ historyLimit: 1000 });
    const big = "x".repeat(1000);
    // Enough history that the replay spans several chunks, and an unknown id: the whole of it is replayed.
    for (let i = 0; i < 300; i++) await b.publish({ topic: "a", data: `${i}${big}` });
    const r = reader();
    const s = b.subscribe({ selectors: ["a"], lastEventId: "unknown", signalMissed: true }).open(r.sink);
    assert.ok(s.replaying);
    const live = await b.publish({ topic: "a", data: "live" });
    await waitFor("the live event", () => r.text().includes("data:live\n"));
    const got = parse(r.text());
    assert.equal(got[0]?.event, MISSED_EVENT);
    assert.equal(got.length, 302);
    assert.equal(got.filter((e) => e.event === MISSED_EVENT).length, 1);
    assert.equal(got[301]?.id, live);
  });
});
