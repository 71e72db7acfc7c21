/**
 * `POST /publish` names the event's type `type`, as the library's `broker.publish({ type })` does; `event`,
 * the API's first name for it, keeps working. Both at once must agree.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { publish, startServer, type TestServer } from "../helpers/server.js";
import { connectSse } from "../helpers/sse-client.js";

let srv: TestServer;
before(async () => {
  srv = await startServer();
});
after(() => srv.close());

describe("publish: the event's type", () => {
  it("is taken from type and from event, in JSON, batches and the query of a text body", async () => {
    const sse = await connectSse(`${srv.url}/events?topic=typed`);
    const sent = [
      await publish(srv.url, { topic: "typed", data: "a", type: "created" }),
      await publish(srv.url, { topic: "typed", data: "b", event: "updated" }),
      await publish(srv.url, { topic: "typed", data: "c", type: "same", event: "same" }),
      await publish(srv.url, [{ topic: "typed", data: "d", type: "in-batch" }]),
      await publish(srv.url, "e", { contentType: "text/plain", query: "?topic=typed&type=from-query" }),
      await publish(srv.url, "f", { contentType: "text/plain", query: "?topic=typed&event=old-query" }),
    ];
    for (const r of sent) assert.equal(r.status, 200);
    const got = await sse.waitForEvents(6);
    assert.deepEqual(
      got.map((e) => [e.data, e.event]),
      [
        ["a", "created"],
        ["b", "updated"],
        ["c", "same"],
        ["d", "in-batch"],
        ["e", "from-query"],
        ["f", "old-query"],
      ],
    );
    sse.close();
  });

  it("refuses type and event that disagree with a 400 naming both", async () => {
    for (const r of [
      await publish(srv.url, { topic: "typed", data: "x", type: "a", event: "b" }),
      await publish(srv.url, "x", { contentType: "text/plain", query: "?topic=typed&type=a&event=b" }),
    ]) {
      assert.equal(r.status, 400);
      const body = r.body as { error: { code: string; message: string } };
      assert.equal(body.error.code, "SSEB_ERR_REQUEST_INVALID");
      assert.match(body.error.message, /type and event/);
    }
  });

  it("refuses a type that would inject a field, like event", async () => {
    const r = await publish(srv.url, { topic: "typed", data: "x", type: "a\nid: forged" });
    assert.equal(r.status, 400);
  });
});
