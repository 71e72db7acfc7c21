/**
 * Query strings are decoded strictly (as application/x-www-form-urlencoded, `+` = space): a malformed
 * percent-escape or invalid UTF-8 is a coded 400, never a silent U+FFFD or a literal `%`.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startServer, type TestServer } from "../helpers/server.js";
import { connectSse } from "../helpers/sse-client.js";
import { type Hub, startHub, subscriberToken } from "../mercure/hub-fixture.js";

let srv: TestServer;
let hub: Hub;
before(async () => {
  srv = await startServer({ demoRoutes: false });
  hub = await startHub({ anonymous: true });
});
after(async () => {
  await srv.close();
  await hub.close();
});

async function expect400(url: string, init: RequestInit = {}): Promise<void> {
  const ac = new AbortController();
  const res = await fetch(url, { ...init, signal: ac.signal });
  if (res.status !== 400) {
    ac.abort(); // e.g. a stream opened on a mangled topic: do not wait for its end
    assert.fail(`${url}: ${res.status}, not 400`);
  }
  const body = await res.text();
  assert.equal((JSON.parse(body) as { error: { code: string } }).error.code, "SSEB_ERR_REQUEST_INVALID", url);
}

const BAD = ["%FF", "%C3", "%E0%A4", "%ED%A0%80", "%C0%AF", "%zz", "a%", "%2"];

describe("strict query decoding", () => {
  for (const bad of BAD) {
    it(`refuses topic=${bad} on /events, /publish and the Mercure hub with 400`, async () => {
      await expect400(`${srv.url}/events?topic=${bad}`);
      await expect400(`${srv.url}/events?topic=ok&lastEventID=${bad}`);
      await expect400(`${srv.url}/publish?topic=${bad}`, {
        method: "POST",
        headers: { "Content-Type": "text/plain" },
        body: "x",
      });
      await expect400(`${srv.url}/publish?topic=ok&event=${bad}`, {
        method: "POST",
        headers: { "Content-Type": "text/plain" },
        body: "x",
      });
      await expect400(`${hub.hub}?topic=${bad}`);
      await expect400(`${hub.hub}?topic=ok&lastEventID=${bad}`);
    });
  }

  it("refuses a malformed authorization query token on the hub with 400", async () => {
    await expect400(`${hub.hub}?topic=a&authorization=${await subscriberToken()}%FF`);
  });

  it("decodes UTF-8 escapes and + as a space", async () => {
    const sse = await connectSse(`${srv.url}/events?topic=caf%C3%A9+au+lait`);
    assert.equal(sse.status, 200);
    const res = await fetch(`${srv.url}/publish?topic=caf%C3%A9%20au+lait&event=a+b`, {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: "hot",
    });
    assert.equal(res.status, 200);
    const [ev] = await sse.waitForEvents(1);
    assert.equal(ev?.data, "hot");
    assert.equal(ev?.event, "a b");
    sse.close();
    const m = await connectSse(`${hub.hub}?topic=caf%C3%A9`);
    assert.equal(m.status, 200);
    m.close();
  });
});
