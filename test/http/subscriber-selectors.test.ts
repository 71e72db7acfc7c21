/**
 * `POST /subscribers/{id}/selectors` (issue 11, feature 1) over real HTTP: the stream's id header, a change
 * taking effect on the open connection, who may make it (publisher or the stream's own token), validation
 * and limits, unknown ids.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { send } from "../helpers/http.js";
import { publish, startServer } from "../helpers/server.js";
import { connectSse } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";
import { allow, startBackend } from "../hooks/backend.js";

function change(
  url: string,
  id: string,
  body: unknown,
  headers: Record<string, string> = {},
): ReturnType<typeof send> {
  return send(`${url}/subscribers/${encodeURIComponent(id)}/selectors`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

describe("POST /subscribers/{id}/selectors", () => {
  it("sends the id in a header and changes the open stream's topics in place", async () => {
    const s = await startServer({ demoRoutes: false, corsOrigins: "*" });
    const c = await connectSse(`${s.url}/events?topic=a`);
    try {
      const id = c.headers["sse-broker-subscriber"] as string;
      assert.match(id, /^urn:uuid:[0-9a-f-]{36}$/);
      assert.match(String(c.headers["access-control-expose-headers"]), /SSE-Broker-Subscriber/);
      await publish(s.url, { topic: "a", data: "a1" });
      await publish(s.url, { topic: "b", data: "b-before" });
      await c.waitForEvents(1);
      const r = await change(s.url, id, { add: ["b", "c/{x}"], remove: ["a"] });
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(r.json, { subscriber: id, selectors: ["b", "c/{x}"] });
      await publish(s.url, { topic: "a", data: "a-removed" });
      await publish(s.url, { topic: ["b", "c/1"], data: "both" });
      await publish(s.url, { topic: "c/2", data: "end" });
      const events = await c.waitForEvents(3);
      assert.deepEqual(
        events.map((e) => e.data),
        ["a1", "both", "end"],
      );
      assert.equal(c.ended, false);
    } finally {
      c.close();
      await s.close();
    }
  });

  it("authorizes the publish token or the stream's own bearer token, nothing else", async () => {
    const s = await startServer({ demoRoutes: false, publishToken: "pub-secret" });
    const mine = await connectSse(`${s.url}/events?topic=a`, { headers: { Authorization: "Bearer mine" } });
    const anon = await connectSse(`${s.url}/events?topic=a`);
    try {
      const id = mine.headers["sse-broker-subscriber"] as string;
      const anonId = anon.headers["sse-broker-subscriber"] as string;
      let r = await change(s.url, id, { add: ["b"] });
      assert.equal(r.status, 401);
      assert.equal(r.json?.error?.code, "SSEB_ERR_AUTH_REQUIRED");
      assert.equal(r.headers["www-authenticate"], "Bearer");
      r = await change(s.url, id, { add: ["b"] }, { Authorization: "Bearer other" });
      assert.equal(r.status, 403);
      assert.equal(r.json?.error?.code, "SSEB_ERR_SUBSCRIBER_FORBIDDEN");
      r = await change(s.url, id, { add: ["b"] }, { Authorization: "Bearer mine" });
      assert.equal(r.status, 200, r.body);
      // Its own token does not open another stream, even an anonymous one.
      r = await change(s.url, anonId, { add: ["b"] }, { Authorization: "Bearer mine" });
      assert.equal(r.status, 403);
      r = await change(s.url, anonId, { add: ["c"] }, { Authorization: "Bearer pub-secret" });
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(r.json?.selectors, ["a", "c"]);
    } finally {
      mine.close();
      anon.close();
      await s.close();
    }
  });

  it("without a publish token: local requests only, never a cross-site page", async () => {
    const s = await startServer({ demoRoutes: false });
    const c = await connectSse(`${s.url}/events?topic=a`);
    try {
      const id = c.headers["sse-broker-subscriber"] as string;
      const r = await change(s.url, id, { add: ["b"] }, { Origin: "https://evil.example" });
      assert.equal(r.status, 403);
      assert.match(String(r.json?.error?.code), /^SSEB_ERR_AUTH_/);
      assert.equal((await change(s.url, id, { add: ["b"] })).status, 200);
    } finally {
      c.close();
      await s.close();
    }
  });

  it("answers 404 for an unknown or malformed id, and after the stream closed", async () => {
    const s = await startServer({ demoRoutes: false });
    try {
      let r = await change(s.url, "urn:uuid:00000000-0000-0000-0000-000000000000", { add: ["b"] });
      assert.equal(r.status, 404);
      assert.equal(r.json?.error?.code, "SSEB_ERR_SUBSCRIBER_NOT_FOUND");
      r = await send(`${s.url}/subscribers/%E0%A4%A/selectors`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: '{"add":["b"]}',
      });
      assert.equal(r.status, 404);
      const c = await connectSse(`${s.url}/events?topic=a`);
      const id = c.headers["sse-broker-subscriber"] as string;
      c.close();
      const deadline = Date.now() + 10_000;
      do r = await change(s.url, id, { add: ["b"] });
      while (r.status === 200 && Date.now() < deadline);
      assert.equal(r.status, 404);
      r = await send(`${s.url}/subscribers/${encodeURIComponent(id)}/selectors`);
      assert.equal(r.status, 405);
    } finally {
      await s.close();
    }
  });

  it("validates the body and the selectors like a subscribe, with the same limits", async () => {
    const s = await startServer({ demoRoutes: false, maxSelectorsPerSubscription: 3 });
    const c = await connectSse(`${s.url}/events?topic=a`);
    try {
      const id = c.headers["sse-broker-subscriber"] as string;
      const cases: [unknown, number, string][] = [
        ["{", 400, "SSEB_ERR_REQUEST_INVALID"],
        [[], 400, "SSEB_ERR_REQUEST_INVALID"],
        [{}, 400, "SSEB_ERR_REQUEST_INVALID"],
        [{ add: "b" }, 400, "SSEB_ERR_REQUEST_INVALID"],
        [{ add: [1] }, 400, "SSEB_ERR_REQUEST_INVALID"],
        [{ add: ["b"], other: 1 }, 400, "SSEB_ERR_REQUEST_INVALID"],
        [{ add: ["b", "c", "d"] }, 400, "SSEB_ERR_LIMIT_SELECTORS"],
        [{ add: ["a", "b", "c", "d"] }, 400, "SSEB_ERR_LIMIT_SELECTORS"],
        [{ remove: ["a"] }, 400, "SSEB_ERR_TOPIC_INVALID"],
        [{ add: ["x\u0001"] }, 400, "SSEB_ERR_TOPIC_INVALID"],
        [{ add: ["{".repeat(5000)] }, 400, "SSEB_ERR_TOPIC_INVALID"],
      ];
      for (const [body, status, code] of cases) {
        const r = await change(s.url, id, body);
        assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.body}`);
        assert.equal(r.json?.error?.code, code, JSON.stringify(body));
      }
      const r = await send(`${s.url}/subscribers/${encodeURIComponent(id)}/selectors`, {
        method: "POST",
        headers: { "Content-Type": "text/plain" },
        body: '{"add":["b"]}',
      });
      assert.equal(r.status, 415);
      // Nothing above changed the stream.
      const ok = await change(s.url, id, { add: ["b"] });
      assert.deepEqual(ok.json?.selectors, ["a", "b"]);
    } finally {
      c.close();
      await s.close();
    }
  });

  it("gives the subscribe hook the id the stream then has", async () => {
    const backend = await startBackend(allow);
    const s = await startServer({ demoRoutes: false, subscribeHookUrl: backend.url });
    const c = await connectSse(`${s.url}/events?topic=a`);
    try {
      assert.equal(c.status, 200);
      const id = c.headers["sse-broker-subscriber"] as string;
      assert.equal((backend.calls[0]?.body as { id?: string } | undefined)?.id, id);
      const session = [...s.broker.sessions][0];
      assert.equal(session?.subscriberId, id);
    } finally {
      c.close();
      await s.close();
      await backend.close();
    }
  });

  it("switches between two events while publishes keep coming: no gap, no duplicate", async () => {
    const s = await startServer({ demoRoutes: false });
    const c = await connectSse(`${s.url}/events?topic=a`);
    try {
      const id = c.headers["sse-broker-subscriber"] as string;
      const kinds = [["a"], ["b"], ["a", "b"]];
      const sent: string[][] = [];
      let stop = false;
      // One publisher, in order, concurrent with the change below.
      const publisher = (async () => {
        for (let i = 0; !stop || i < 30; i++) {
          const topic = kinds[i % 3] as string[];
          sent.push(topic);
          const r = await publish(s.url, { topic, data: String(i), id: `e${i}` });
          assert.equal(r.status, 200);
          if (i > 2000) throw new Error("the change never completed");
        }
      })();
      while (sent.length < 10) await new Promise((r) => setImmediate(r));
      const r = await change(s.url, id, { add: ["b"], remove: ["a"] });
      assert.equal(r.status, 200, r.body);
      const answeredAt = sent.length; // events from this index on were published after the answer
      stop = true;
      await publisher;
      await publish(s.url, { topic: "b", data: "end" });
      await waitFor("end marker", () => c.events.some((e) => e.data === "end"));
      const got = c.events.map((e) => e.data).filter((d) => d !== "end");
      // Some cut k exists: events up to k as the old selectors want them, after k as the new ones do.
      const expected = (k: number) =>
        sent.flatMap((t, i) => ((i <= k ? t.includes("a") : t.includes("b")) ? [String(i)] : []));
      const cut = sent.findIndex((_t, k) => JSON.stringify(expected(k)) === JSON.stringify(got));
      assert.ok(cut >= 0, `no cut explains what arrived: ${got.join(",")}`);
      assert.ok(cut < answeredAt, `an event published after the answer followed the old selectors (${cut})`);
      assert.ok(answeredAt < sent.length, "publishes continued after the answer");
    } finally {
      c.close();
      await s.close();
    }
  });
});
