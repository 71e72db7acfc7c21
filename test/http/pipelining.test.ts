/**
 * HTTP/1.1 pipelining over raw sockets: requests queued behind an event stream on the same connection are
 * never processed (they used to become sessions that never closed), and pipelined ordinary requests are
 * still answered in order.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { startServer, type TestServer } from "../helpers/server.js";

let srv: TestServer;
let port: number;
before(async () => {
  // Hundreds of streams from 127.0.0.1: the per-address limits (tested elsewhere) would refuse them.
  srv = await startServer({ demoRoutes: false, connectionRatePerIp: null, maxConnectionsPerIp: null });
  port = Number(new URL(srv.url).port);
});
after(() => srv.close());

const streamRequest = (topic: string): string =>
  `GET /events?topic=${topic} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`;

interface RawConnection {
  readonly socket: Socket;
  /** Everything received so far. */
  text(): string;
  /** Resolves once the received text satisfies `test`; rejects if the socket closes first or after 10 s. */
  until(test: (text: string) => boolean): Promise<void>;
  readonly closed: Promise<void>;
}

async function rawConnect(): Promise<RawConnection> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  let received = "";
  const waiters = new Set<() => void>();
  socket.setEncoding("utf8");
  socket.on("data", (d: string) => {
    received += d;
    for (const w of [...waiters]) w();
  });
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.once("close", () => {
    for (const w of [...waiters]) w();
  });
  return {
    socket,
    text: () => received,
    closed,
    until(test) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => done(new Error(`timed out; received: ${received.slice(0, 300)}`)),
          10_000,
        );
        const check = (): void => {
          if (test(received)) done();
          else if (socket.destroyed) done(new Error(`socket closed; received: ${received.slice(0, 300)}`));
        };
        const done = (err?: Error): void => {
          clearTimeout(timer);
          waiters.delete(check);
          if (err === undefined) resolve();
          else reject(err);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("HTTP/1.1 pipelining", () => {
  it("leaves no session behind when 20 /events requests are pipelined behind a stream on each of 200 connections", async () => {
    const conns = await Promise.all(Array.from({ length: 200 }, () => rawConnect()));
    for (const c of conns) c.socket.write(streamRequest("p").repeat(21));
    // Every connection either carries its stream or was refused for pipelining too much; then it goes.
    await Promise.all(
      conns.map((c) => c.until((t) => t.startsWith("HTTP/1.1 ") || c.socket.destroyed).catch(() => {})),
    );
    for (const c of conns) c.socket.destroy();
    await Promise.all(conns.map((c) => c.closed));
    await waitFor(() => srv.broker.size === 0, `broker.size to reach 0 (it is ${srv.broker.size})`);
  });

  it("never processes requests queued behind a stream: one session per connection, which ends with it", async () => {
    const conns = await Promise.all(Array.from({ length: 20 }, () => rawConnect()));
    // Under the per-connection queue bound: the connection stays and carries only its first stream.
    for (const c of conns) c.socket.write(streamRequest("q").repeat(11));
    await Promise.all(conns.map((c) => c.until((t) => t.includes("\r\n\r\n"))));
    for (const c of conns) assert.match(c.text(), /^HTTP\/1\.1 200 /);
    const res = await fetch(`${srv.url}/publish`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ topic: "q", data: "end-marker" }),
    });
    assert.equal(res.status, 200);
    await Promise.all(conns.map((c) => c.until((t) => t.includes("data:end-marker"))));
    assert.equal(srv.broker.size, 20, "one session per connection, none for the queued requests");
    for (const c of conns) {
      assert.equal(c.text().split("HTTP/1.1 ").length - 1, 1, "a single response per connection");
      assert.equal(c.text().split("data:end-marker").length - 1, 1, "the event arrived once");
    }
    for (const c of conns) c.socket.end();
    await Promise.all(conns.map((c) => c.closed));
    await waitFor(() => srv.broker.size === 0, `broker.size to reach 0 (it is ${srv.broker.size})`);
  });

  it("closes a connection that queues more than 16 requests behind a stream", async () => {
    const c = await rawConnect();
    c.socket.write(streamRequest("r").repeat(30));
    await c.closed;
    await waitFor(() => srv.broker.size === 0, `broker.size to reach 0 (it is ${srv.broker.size})`);
  });

  it("notices the client leaving a stream whose request, or one queued behind it, carried an unread body", async () => {
    // A body nobody reads makes Node pause the socket; a paused stream connection would never see EOF.
    const body = "b".repeat(20_000);
    const withBody = `GET /events?topic=u HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const queuedBody = `${streamRequest("u")}PATCH /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    for (const bytes of [withBody, queuedBody]) {
      const c = await rawConnect();
      c.socket.write(bytes);
      await c.until((t) => /text\/event-stream/.test(t));
      await waitFor(() => srv.broker.size === 1, "the stream to open");
      c.socket.destroy();
      await c.closed;
      await waitFor(() => srv.broker.size === 0, `the stream to close (broker.size ${srv.broker.size})`);
    }
  });

  it("still answers pipelined ordinary requests, in order", async () => {
    const c = await rawConnect();
    c.socket.write(
      "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" +
        "GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" +
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    await c.closed;
    const statuses = [...c.text().matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    assert.deepEqual(statuses, ["200", "404", "200"]);
  });

  it("opens a stream pipelined behind an ordinary request once that one is answered", async () => {
    const c = await rawConnect();
    c.socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n${streamRequest("s")}`);
    await c.until((t) => /text\/event-stream/.test(t));
    await waitFor(() => srv.broker.size === 1, "the stream to open");
    const statuses = [...c.text().matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    assert.deepEqual(statuses, ["200", "200"]);
    c.socket.destroy();
    await c.closed;
    await waitFor(() => srv.broker.size === 0, "the stream to close");
  });
});
