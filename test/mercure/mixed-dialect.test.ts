/**
 * One hub, two dialects (issue 10): classic (`topic=`, the `mercure` claim) and Mercure 1.0 (`match…`,
 * `at+jwt` access tokens) publishers and subscribers on the same history, over real HTTP. An update
 * published in either dialect reaches matching subscribers of both; an id seen in one dialect resumes the
 * other; private updates follow the subscriber's token whatever dialect published them; and a replay is
 * re-authorized against the token presented at reconnection (draft-08 §Authorization on Event Replay,
 * §Reconciliation).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";
import {
  type Hub,
  publisherToken,
  publishForm,
  startHub,
  subscriberToken,
  subscribeUrl,
} from "./hub-fixture.js";
import { grantToken, OAUTH } from "./oauth-fixture.js";

let hub: Hub;
before(async () => {
  hub = await startHub({ anonymous: true, ...OAUTH });
});
after(async () => {
  await hub.close();
});

type Dialect = "classic" | "1.0";
const MARKER = "https://example.com/mixed/marker";

/** A publish token of `dialect` allowed to publish anywhere. */
const publishToken = (d: Dialect): Promise<string> =>
  d === "classic" ? publisherToken(["*"]) : grantToken({ publish: [{ match: "*" }] });

/** A subscribe token of `dialect` whose private-update rights are exactly `topic` (or none). */
function subscribeToken(d: Dialect, topic: string | null): Promise<string> {
  const topics = topic === null ? ["https://example.com/mixed/nothing-here"] : [topic];
  return d === "classic"
    ? subscriberToken(topics)
    : grantToken({ subscribe: topics.map((match) => ({ match })) });
}

async function publish(
  d: Dialect,
  topic: string,
  data: string,
  opts: { private?: boolean } = {},
): Promise<string> {
  const fields: [string, string][] = [
    ["topic", topic],
    ["data", data],
  ];
  if (opts.private === true) fields.push(["private", "on"]);
  const r = await publishForm(hub.hub, fields, await publishToken(d));
  assert.equal(r.status, 200, r.body);
  return r.body;
}

/** A subscription in `dialect` to `topics` (and the marker), optionally with a token and a resume point. */
function subscribe(
  d: Dialect,
  topics: string[],
  opts: { token?: string; lastEventId?: string } = {},
): Promise<SseConnection> {
  const all = [...topics, MARKER];
  const url =
    d === "classic"
      ? subscribeUrl(hub.hub, all)
      : `${hub.hub}?${new URLSearchParams(all.map((t): [string, string] => ["match", t]))}`;
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers.Authorization = `Bearer ${opts.token}`;
  if (opts.lastEventId !== undefined) headers["Last-Event-ID"] = opts.lastEventId;
  return connectSse(url, { headers });
}

/** Publishes a public end marker and waits for it: whatever came before it was delivered, or never will be. */
async function untilMarker(sse: SseConnection): Promise<string[]> {
  const id = await publish("classic", MARKER, "marker");
  await waitFor("the end marker", () => sse.events.some((e) => e.id === id), 5000);
  return sse.events.filter((e) => e.data !== "marker").map((e) => e.data);
}

const pairs: [publisher: Dialect, subscriber: Dialect][] = [
  ["1.0", "classic"],
  ["classic", "1.0"],
  ["classic", "classic"],
  ["1.0", "1.0"],
];

describe("updates cross dialects (issue 10: one hub, two dialects)", () => {
  for (const [pub, sub] of pairs) {
    it(`a ${sub} subscriber receives an update published with a ${pub} token`, async () => {
      const topic = `https://example.com/mixed/public/${pub}-${sub}`;
      const sse = await subscribe(sub, [topic]);
      assert.equal(sse.status, 200, sse.raw);
      await publish(pub, topic, `${pub}→${sub}`);
      assert.deepEqual(await untilMarker(sse), [`${pub}→${sub}`]);
      sse.close();
    });
  }
});

describe("one history for both dialects (draft-08 §Reconciliation; classic Last-Event-ID)", () => {
  it("an id delivered in one dialect resumes the other, both ways", async () => {
    const topic = "https://example.com/mixed/history";
    const classic = await subscribe("classic", [topic]);
    const v1 = await subscribe("1.0", [topic]);
    await publish("classic", topic, "h1");
    await publish("1.0", topic, "h2");
    await publish("classic", topic, "h3");
    const fromClassic = await classic.waitForEvents(3);
    const fromV1 = await v1.waitForEvents(3);
    assert.deepEqual(
      fromV1.map((e) => e.id),
      fromClassic.map((e) => e.id),
      "one id per update, whoever receives it",
    );
    classic.close();
    v1.close();

    // A 1.0 subscriber resumes from an id it got as a classic subscriber…
    const resumed1 = await subscribe("1.0", [topic], { lastEventId: fromClassic[0]?.id as string });
    assert.equal(resumed1.headers["mercure-last-event-id"], fromClassic[0]?.id);
    assert.deepEqual(
      (await resumed1.waitForEvents(2)).map((e) => e.data),
      ["h2", "h3"],
    );
    resumed1.close();
    // …and a classic subscriber from an id it got as a 1.0 subscriber.
    const resumedC = await subscribe("classic", [topic], { lastEventId: fromV1[1]?.id as string });
    assert.equal(resumedC.headers["last-event-id"], fromV1[1]?.id);
    assert.deepEqual(
      (await resumedC.waitForEvents(1)).map((e) => e.data),
      ["h3"],
    );
    resumedC.close();
  });
});

describe("private updates across dialects (draft-08 §Subscribers; classic mercure.subscribe)", () => {
  for (const [pub, sub] of pairs) {
    it(`a ${sub}-token subscriber with the grant gets a private update from a ${pub} publisher; one without it does not`, async () => {
      const topic = `https://example.com/mixed/private/${pub}-${sub}`;
      const granted = await subscribe("classic", [topic], { token: await subscribeToken(sub, topic) });
      const grantedV1 = await subscribe("1.0", [topic], { token: await subscribeToken(sub, topic) });
      const denied = await subscribe("1.0", [topic], { token: await subscribeToken(sub, null) });
      for (const s of [granted, grantedV1, denied]) assert.equal(s.status, 200, s.raw);
      await publish(pub, topic, "secret", { private: true });
      assert.deepEqual(await untilMarker(granted), ["secret"], "classic subscription, granted");
      assert.deepEqual(await untilMarker(grantedV1), ["secret"], "1.0 subscription, granted");
      assert.deepEqual(await untilMarker(denied), [], "no grant: not delivered");
      for (const s of [granted, grantedV1, denied]) s.close();
    });
  }
});

describe("replay is re-authorized with the reconnecting token (draft-08 §Authorization on Event Replay)", () => {
  const cases: { sub: Dialect; token: Dialect; covered: boolean }[] = [];
  for (const sub of ["classic", "1.0"] as const) {
    for (const token of ["classic", "1.0"] as const) {
      for (const covered of [false, true]) cases.push({ sub, token, covered });
    }
  }
  for (const c of cases) {
    it(`a ${c.sub} subscription resuming with a ${c.token} token ${c.covered ? "covering" : "not covering"} a private update ${c.covered ? "replays" : "skips"} it`, async () => {
      const topic = `https://example.com/mixed/replay/${c.sub}-${c.token}-${c.covered}`;
      // Published while the subscriber is away: a public update to resume after, then the private one, in
      // the other dialect than the token.
      const before = await publish("classic", topic, "before");
      await publish(c.token === "classic" ? "1.0" : "classic", topic, "private", { private: true });
      await publish("1.0", topic, "after");
      const sse = await subscribe(c.sub, [topic], {
        token: await subscribeToken(c.token, c.covered ? topic : null),
        lastEventId: before,
      });
      assert.equal(sse.status, 200, sse.raw);
      // The end marker is published after the replay was planned: once it arrived, the replay is complete.
      assert.deepEqual(await untilMarker(sse), c.covered ? ["private", "after"] : ["after"]);
      sse.close();
    });
  }
});
