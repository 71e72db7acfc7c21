/**
 * Publish rate per publisher (issue 8, "Limits a hub needs"): a burst past the bucket gets 429 with a
 * jittered Retry-After; the key is the bearer token (static or Mercure JWT) or, without one, the client
 * address, so one publisher's flood does not throttle another.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { send } from "../helpers/http.js";
import { startServer } from "../helpers/server.js";
import { errorCode, publisherToken, publishForm, startHub } from "../mercure/hub-fixture.js";

const RATE = 2; // bursts of 4

/**
 * Sends requests one after the other until one is refused (at most `2 * RATE + 20`): the first
 * `2 * RATE` always pass (a full bucket), and 20 more cannot all take a second each to come.
 */
async function untilRefused<T extends { status: number }>(
  one: () => Promise<T>,
): Promise<{ statuses: number[]; refused: T }> {
  const statuses: number[] = [];
  for (let i = 0; i < 2 * RATE + 20; i++) {
    const r = await one();
    statuses.push(r.status);
    if (r.status === 429) return { statuses, refused: r };
  }
  assert.fail(`never refused: ${statuses.join(",")}`);
}

describe("publishRatePerKey", () => {
  it("answers 429 + Retry-After past the burst without a token, per client address", async () => {
    const s = await startServer({ publishRatePerKey: RATE });
    try {
      const post = (localAddress: string) =>
        send(`${s.url}/publish?topic=t`, {
          method: "POST",
          headers: { "Content-Type": "text/plain", Host: "localhost" },
          body: "x",
          localAddress,
        });
      const { statuses, refused } = await untilRefused(() => post("127.0.0.1"));
      assert.deepEqual(statuses.slice(0, 2 * RATE), Array(2 * RATE).fill(200));
      assert.equal(refused.json?.error?.code, "SSEB_ERR_LIMIT_PUBLISH_RATE");
      const retry = Number(refused.headers["retry-after"]);
      assert.ok(retry >= 1 && retry <= 10, `Retry-After ${retry}`);
      assert.equal((await post("127.0.0.2")).status, 200, "another address has its own bucket");
      const text = await (await fetch(`${s.url}/metrics`)).text();
      assert.match(text, /^sse_broker_refused_total\{reason="publish_rate"\} [1-9]\d*$/m);
    } finally {
      await s.close();
    }
  });

  it("keys a static token's publishes by the token, not the address", async () => {
    const s = await startServer({ publishRatePerKey: RATE, publishToken: "s3cret" });
    try {
      const post = (auth: string) =>
        send(`${s.url}/publish`, {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: auth },
          body: '{"topic":"t","data":"x"}',
        });
      const { statuses } = await untilRefused(() => post("Bearer s3cret"));
      assert.deepEqual(statuses.slice(0, 2 * RATE), Array(2 * RATE).fill(200));
      // A wrong token is refused by authorization (401), never counted against the right one.
      assert.equal((await post("Bearer wrong")).status, 401);
    } finally {
      await s.close();
    }
  });

  it("limits the Mercure publish route per JWT", async () => {
    const hub = await startHub({}, { publishRatePerKey: RATE });
    try {
      const a = await publisherToken(["*"]);
      const b = await publisherToken(["*"], { exp: Math.floor(Date.now() / 1000) + 3600 });
      assert.notEqual(a, b);
      const fields: [string, string][] = [
        ["topic", "https://example.com/t"],
        ["data", "x"],
      ];
      const { statuses, refused } = await untilRefused(() => publishForm(hub.hub, fields, a));
      assert.deepEqual(statuses.slice(0, 2 * RATE), Array(2 * RATE).fill(200));
      assert.equal(errorCode(refused), "SSEB_ERR_LIMIT_PUBLISH_RATE");
      assert.ok(Number(refused.headers["retry-after"]) >= 1);
      assert.equal((await publishForm(hub.hub, fields, b)).status, 200, "another token, another bucket");
    } finally {
      await hub.close();
    }
  });
});
