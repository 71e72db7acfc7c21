/**
 * `maxStreamsPerToken`: open streams one subscriber token may hold (draft-08 §Authorization Details: a hub
 * MAY limit concurrent subscriptions under a single token and answer 429; §Resource Limits), for 1.0
 * access tokens and classic tokens alike, over real HTTP.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { resolveMercureOptions } from "../../src/mercure/options.js";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import { errorCode, type Hub, httpRequest, startHub, subscriberToken, subscribeUrl } from "./hub-fixture.js";
import { accessToken, DETAIL, OAUTH } from "./oauth-fixture.js";

let hub: Hub;
before(async () => {
  hub = await startHub({ ...OAUTH, maxStreamsPerToken: 2 });
});
after(() => hub.close());

const match = (topic: string) => `${hub.hub}?match=${encodeURIComponent(topic)}`;

describe("open streams per token (draft-08 §Authorization Details, §Resource Limits)", () => {
  // Each `mint(n)` is a distinct token (tokens minted in the same second would otherwise be identical).
  const details = (n: number) => [
    { type: DETAIL, actions: ["subscribe"], topics: [{ match: "*" }, { match: `urn:n:${n}` }] },
  ];
  for (const [dialect, mint, url] of [
    ["a 1.0 access token", (n: number) => accessToken(details(n)), () => match("https://example.com/t")],
    [
      "a classic token",
      (n: number) => subscriberToken(["*", `urn:n:${n}`]),
      () => subscribeUrl(hub.hub, ["https://example.com/t"]),
    ],
  ] as const) {
    it(`${dialect}: the stream past the limit is a 429; another token is not affected; a close frees a slot`, async () => {
      const headers = { Authorization: `Bearer ${await mint(1)}` };
      const open: SseConnection[] = [];
      for (let i = 0; i < 2; i++) {
        const s = await connectSse(url(), { headers });
        assert.equal(s.status, 200, s.raw);
        open.push(s);
      }
      const refused = await httpRequest(url(), { headers });
      assert.equal(refused.status, 429, refused.body);
      assert.equal(errorCode(refused), "SSEB_ERR_LIMIT_STREAMS_PER_TOKEN");
      assert.ok(Number(refused.headers["retry-after"]) > 0, "Retry-After");
      const other = await connectSse(url(), { headers: { Authorization: `Bearer ${await mint(2)}` } });
      assert.equal(other.status, 200, "another token has its own count");
      other.close();
      open.shift()?.close();
      // The hub sees the close a moment later: ask again until the freed slot is given out.
      const again = await openWhenFree(url(), headers);
      again.close();
      for (const s of open) s.close();
    });
  }

  it("refuses a limit that is not an integer >= 1 (SSEB_ERR_OPTIONS_INVALID)", () => {
    assert.equal(resolveMercureOptions({ jwtKey: "k" }).maxStreamsPerToken, null);
    for (const bad of [0, -1, 1.5, "2"]) {
      assert.throws(() => resolveMercureOptions({ jwtKey: "k", maxStreamsPerToken: bad as number }), {
        code: "SSEB_ERR_OPTIONS_INVALID",
      });
    }
  });
});

/** Connects until the hub answers 200 (only 429s before), within 10 s. */
async function openWhenFree(url: string, headers: Record<string, string>): Promise<SseConnection> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = await connectSse(url, { headers });
    if (s.status === 200) return s;
    assert.equal(s.status, 429, s.raw);
    if (Date.now() > deadline) throw new Error("no stream slot freed within 10 s");
    await sleep(20);
  }
}
