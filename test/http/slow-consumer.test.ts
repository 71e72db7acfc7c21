import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { type BrokerProcess, startBrokerProcess } from "../helpers/broker-process.js";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";

const MiB = 1024 * 1024;
const EVENT_BYTES = 10 * 1024;
const EVENTS = 2000; // 20 MB of events
const READERS = 50;
const BATCH = 20;

let broker: BrokerProcess;
before(async () => {
  broker = await startBrokerProcess({ heartbeatMs: null, maxBufferedBytes: MiB, historyLimit: 100 });
});
after(() => broker.stop());

/** A raw subscriber that sends its request and then never reads a byte. */
async function stalledSubscriber(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(`GET /events?topic=load HTTP/1.1\r\nHost: ${hostname}\r\nAccept: text/event-stream\r\n\r\n`);
  socket.pause();
  return socket;
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${broker.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return Number(line?.split(" ")[1]);
}

describe("a stalled subscriber", () => {
  it("is dropped past its cap while 50 readers get all 20 MB, and server memory stays bounded", async () => {
    const stalled = await stalledSubscriber(broker.url);
    const readers: SseConnection[] = [];
    for (let i = 0; i < READERS; i++) readers.push(await connectSse(`${broker.url}/events?topic=load`));
    const rssBefore = broker.rss();
    let rssPeak = rssBefore;
    const data = "d".repeat(EVENT_BYTES);
    // Batches keep each reader well under its own cap; the stalled socket reads nothing at all.
    for (let sent = 0; sent < EVENTS; sent += BATCH) {
      await Promise.all(
        Array.from({ length: BATCH }, (_, i) =>
          fetch(`${broker.url}/publish?topic=load&id=ev-${sent + i}`, {
            method: "POST",
            headers: { "Content-Type": "text/plain" },
            body: data,
          }).then((r) => assert.equal(r.status, 200)),
        ),
      );
      await Promise.all(readers.map((r) => r.waitForEvents(sent + BATCH, 20_000)));
      rssPeak = Math.max(rssPeak, broker.rss());
    }
    for (const r of readers) {
      assert.equal(r.events.length, EVENTS);
      assert.equal(new Set(r.events.map((e) => e.id)).size, EVENTS, "no duplicates");
      assert.ok(r.events.every((e) => e.data.length === EVENT_BYTES));
    }
    assert.equal(await metric("sse_broker_clients_dropped_slow_total"), 1);
    assert.equal(await metric("sse_broker_open_connections"), READERS);
    // What the stalled socket can still read is what the kernel buffered plus at most its cap: far from 20 MB.
    stalled.resume();
    let received = 0;
    stalled.on("data", (c: Buffer) => {
      received += c.length;
    });
    await new Promise((resolve) => stalled.once("close", resolve));
    assert.ok(received < (EVENTS * EVENT_BYTES) / 2, `stalled socket got ${received} bytes`);
    const growth = rssPeak - rssBefore;
    assert.ok(growth < 64 * MiB, `broker RSS grew by ${Math.round(growth / MiB)} MiB`);
    for (const r of readers) r.close();
  });
});
