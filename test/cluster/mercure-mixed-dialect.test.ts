/**
 * Two Mercure hubs (in-process brokers with their HTTP servers) on one real `redis-server`: an update
 * published in one dialect on node A reaches subscribers of both dialects on node B; an id seen on one node
 * in one dialect resumes on the other in the other; a replay on node B is re-authorized with the token
 * presented there (draft-08 §Authorization on Event Replay).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createRedisTransport } from "../../src/transport/redis.js";
import { type RedisServer, startRedisServer, uniquePrefix } from "../helpers/redis-server.js";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";
import {
  type Hub,
  publisherToken,
  publishForm,
  startHub,
  subscriberToken,
  subscribeUrl,
} from "../mercure/hub-fixture.js";
import { grantToken, OAUTH } from "../mercure/oauth-fixture.js";

const TOPIC = "https://example.com/cluster/books/1";
const MARKER = "https://example.com/cluster/marker";

let redis: RedisServer;
let a: Hub;
let b: Hub;
before(async () => {
  redis = await startRedisServer();
  const prefix = uniquePrefix();
  const node = () =>
    startHub(
      { anonymous: true, ...OAUTH },
      { transport: createRedisTransport({ url: redis.url, keyPrefix: prefix, logger: null }) },
    );
  a = await node();
  b = await node();
});
after(async () => {
  await a?.close();
  await b?.close();
  await redis?.dispose();
});

async function publish(
  h: Hub,
  jwt: string,
  topic: string,
  data: string,
  opts: { private?: boolean } = {},
): Promise<string> {
  const fields: [string, string][] = [
    ["topic", topic],
    ["data", data],
  ];
  if (opts.private === true) fields.push(["private", "on"]);
  const r = await publishForm(h.hub, fields, jwt);
  assert.equal(r.status, 200, r.body);
  return r.body;
}

const v1Url = (h: Hub, topics: string[]): string =>
  `${h.hub}?${new URLSearchParams(topics.map((t): [string, string] => ["match", t]))}`;

/** A public marker published on node A and seen on the stream: everything before it arrived or never will. */
async function untilMarker(sse: SseConnection): Promise<string[]> {
  const id = await publish(a, await publisherToken(), MARKER, "marker");
  await waitFor("the end marker", () => sse.events.some((e) => e.id === id), 10_000);
  return sse.events.filter((e) => e.data !== "marker").map((e) => e.data);
}

describe("two dialects across two nodes on Redis", () => {
  it("a 1.0 publish on A reaches classic and 1.0 subscribers on B, and a classic publish too", async () => {
    const classic = await connectSse(subscribeUrl(b.hub, [TOPIC, MARKER]));
    const v1 = await connectSse(v1Url(b, [TOPIC, MARKER]));
    await publish(a, await grantToken({ publish: [{ match: "*" }] }), TOPIC, "from-1.0");
    await publish(a, await publisherToken(), TOPIC, "from-classic");
    assert.deepEqual(await untilMarker(classic), ["from-1.0", "from-classic"]);
    assert.deepEqual(await untilMarker(v1), ["from-1.0", "from-classic"]);
    classic.close();
    v1.close();
  });

  it("an id from a classic stream on A resumes a 1.0 subscription on B", async () => {
    const onA = await connectSse(subscribeUrl(a.hub, [TOPIC]));
    const first = await publish(a, await publisherToken(), TOPIC, "r1");
    await publish(a, await grantToken({ publish: [{ match: "*" }] }), TOPIC, "r2");
    const [seen] = await onA.waitForEvents(1);
    assert.equal(seen?.id, first);
    onA.close();
    const onB = await connectSse(v1Url(b, [TOPIC]), { headers: { "Last-Event-ID": first } });
    assert.equal(onB.headers["mercure-last-event-id"], first);
    assert.deepEqual(
      (await onB.waitForEvents(1)).map((e) => e.data),
      ["r2"],
    );
    onB.close();
  });

  it("a replay on B skips a private update the reconnecting token does not cover, and keeps one it does (§Authorization on Event Replay)", async () => {
    const topic = "https://example.com/cluster/secret/1";
    const before = await publish(a, await publisherToken(), topic, "before");
    await publish(a, await grantToken({ publish: [{ match: "*" }] }), topic, "private", { private: true });
    await publish(a, await publisherToken(), topic, "after");
    const tokens: [string, string, string[]][] = [
      [
        "1.0, not covering",
        await grantToken({ subscribe: [{ match: "https://example.com/other" }] }),
        ["after"],
      ],
      ["classic, not covering", await subscriberToken(["https://example.com/other"]), ["after"]],
      ["1.0, covering", await grantToken({ subscribe: [{ match: topic }] }), ["private", "after"]],
      ["classic, covering", await subscriberToken([topic]), ["private", "after"]],
    ];
    for (const [what, jwt, expected] of tokens) {
      const sse = await connectSse(v1Url(b, [topic, MARKER]), {
        headers: { Authorization: `Bearer ${jwt}`, "Last-Event-ID": before },
      });
      assert.equal(sse.status, 200, `${what}: ${sse.raw}`);
      assert.deepEqual(await untilMarker(sse), expected, what);
      sse.close();
    }
  });
});
