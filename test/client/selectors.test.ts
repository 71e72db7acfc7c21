/**
 * `client.changeSelectors` against a real broker: the live stream's selectors change without a reconnect
 * (authorized by the stream's own token), and a later reconnect opens with the new selectors.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createClient, eventsUrl, publish } from "../../src/client/index.js";
import { waitFor } from "../helpers/wait.js";
import { count, dataOf, record, startRecordingBroker } from "./helpers.js";

describe("client selector changes", () => {
  it("changes the live stream's topics and keeps them across a reconnect", async () => {
    const b = await startRecordingBroker({ retryMs: 20, publishToken: "publisher-secret" });
    const client = createClient({ url: eventsUrl(b.base, "rooms/1"), token: "my-stream-secret" });
    const seen = record(client);
    const pub = { token: "publisher-secret" };
    try {
      await expectNotConnected(client);
      await waitFor("open", () => client.state === "open");
      const result = await client.changeSelectors({ add: ["rooms/2"], remove: ["rooms/1"] });
      assert.deepEqual(result, { subscriber: client.subscriber, selectors: ["rooms/2"] });
      const change = b.requests.find((r) => r.url.includes("/selectors"));
      assert.equal(change?.headers.authorization, "Bearer my-stream-secret");
      await publish(b.base, { topic: "rooms/1", data: "old room" }, pub);
      await publish(b.base, { topic: "rooms/2", data: "new room" }, pub);
      await waitFor("the new room's event", () => dataOf(seen).length === 1);
      assert.deepEqual(dataOf(seen), ["new room"]);
      assert.equal(b.broker.stats.connectionsOpened, 1);

      for (const s of b.broker.sessions) s.close("closed");
      await waitFor("the reconnect", () => count(seen, "open") === 2);
      const streams = b.requests.filter((r) => r.url.startsWith("/events"));
      assert.equal(streams.at(-1)?.url, "/events?topic=rooms%2F2");
      await publish(b.base, { topic: "rooms/1", data: "old again" }, pub);
      await publish(b.base, { topic: "rooms/2", data: "new again" }, pub);
      await waitFor("the event after the reconnect", () => dataOf(seen).length === 2);
      assert.deepEqual(dataOf(seen), ["new room", "new again"]);
    } finally {
      client.close();
      await b.close();
    }
  });
});

async function expectNotConnected(client: { changeSelectors(c: object): Promise<unknown>; state: string }) {
  if (client.state === "open") return;
  await assert.rejects(client.changeSelectors({ add: ["x"] }), { code: "SSEB_ERR_CLIENT_NOT_CONNECTED" });
}
