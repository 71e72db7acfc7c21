/**
 * Live selector changes on the Mercure hub (issue 11, feature 1): the `SSE-Broker-Subscriber` header is
 * the Mercure subscriber id; the subscriber's own JWT may change its stream; private updates still follow
 * the token's rights, not the added selectors.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { send } from "../helpers/http.js";
import { connectSse } from "../helpers/sse-client.js";
import {
  type Hub,
  MARKER,
  publishData,
  settle,
  startHub,
  subscriberToken,
  subscribeUrl,
} from "./hub-fixture.js";

let hub: Hub;
before(async () => {
  hub = await startHub({ anonymous: true });
});
after(() => hub.close());

describe("Mercure: changing an open subscription's topics", () => {
  it("uses the Mercure subscriber id and lets the subscriber's token change its own stream", async () => {
    const jwt = await subscriberToken(["https://example.com/a"]);
    const c = await connectSse(subscribeUrl(hub.hub, ["https://example.com/a", MARKER]), {
      headers: { Authorization: `Bearer ${jwt}` },
    });
    try {
      assert.equal(c.status, 200);
      const id = c.headers["sse-broker-subscriber"] as string;
      const session = [...hub.broker.sessions][0];
      assert.equal((session?.meta.mercure as { subscriber?: string } | undefined)?.subscriber, id);
      const change = (auth: string) =>
        send(`${hub.base}/subscribers/${encodeURIComponent(id)}/selectors`, {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: `Bearer ${auth}` },
          body: JSON.stringify({ add: ["https://example.com/b/{n}"], remove: ["https://example.com/a"] }),
        });
      const other = await subscriberToken(["https://example.com/a"], { other: 1 });
      assert.equal((await change(other)).status, 403);
      const r = await change(jwt);
      assert.equal(r.status, 200, r.body);
      await publishData(hub, "https://example.com/a", "removed");
      await publishData(hub, "https://example.com/b/1", "added");
      // Not authorized by the token: an added selector gives no private rights.
      await publishData(hub, "https://example.com/b/2", "private", { private: true });
      assert.deepEqual(await settle(hub, c), ["added"]);
    } finally {
      c.close();
    }
  });
});
