/**
 * Streams advertise the broker's heartbeat interval in `SSE-Broker-Heartbeat` (what the doctor and any
 * client expects between two writes), on /events and on the Mercure hub; absent when heartbeats are off.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { describe, it } from "node:test";
import { startServer } from "../helpers/server.js";

function streamHeaders(url: string): Promise<Record<string, string | string[] | undefined>> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      resolve(res.headers);
      req.destroy();
    });
    req.once("error", reject);
    req.end();
  });
}

describe("SSE-Broker-Heartbeat", () => {
  it("gives the heartbeat interval on a topic stream and on the Mercure hub", async () => {
    const s = await startServer({ heartbeatMs: 1234, mercure: { anonymous: true, jwtKey: "k".repeat(32) } });
    try {
      assert.equal((await streamHeaders(`${s.url}/events?topic=a`))["sse-broker-heartbeat"], "1234");
      const hub = await streamHeaders(`${s.url}/.well-known/mercure?topic=a`);
      assert.equal(hub["sse-broker-heartbeat"], "1234");
    } finally {
      await s.close();
    }
  });

  it("is absent when heartbeats are off", async () => {
    const s = await startServer({ heartbeatMs: null });
    try {
      assert.equal((await streamHeaders(`${s.url}/events?topic=a`))["sse-broker-heartbeat"], undefined);
    } finally {
      await s.close();
    }
  });
});
