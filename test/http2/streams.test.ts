/**
 * HTTP/2 over TLS (--tls-cert/--tls-key): many event streams on one session, the HTTP/1.1 fallback,
 * publishing, heartbeats, per-address limits counted per stream, and a slow stream dropped alone.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createSecureServer } from "node:http2";
import { get } from "node:https";
import { type AddressInfo, createServer as createNetServer, connect as netConnect, Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import type { RunningServer } from "../../src/cli/server.js";
import { createBroker } from "../../src/index.js";
import {
  h2connect,
  h2publish,
  h2request,
  makeCert,
  noOpenssl,
  startTlsServer,
  type TestCert,
} from "./helpers.js";

const warnings: Error[] = [];
const onWarning = (w: Error): void => void warnings.push(w);

describe("HTTP/2 over TLS", { skip: noOpenssl }, () => {
  let cert: TestCert;
  const servers: RunningServer[] = [];
  before(() => {
    cert = makeCert();
    process.on("warning", onWarning);
  });
  after(async () => {
    process.off("warning", onWarning);
    for (const s of servers) await s.close();
    cert?.remove();
  });
  const start = async (args: readonly string[] = []): Promise<RunningServer> => {
    const s = await startTlsServer(cert, args);
    servers.push(s);
    return s;
  };

  it("delivers every event to each of 20 streams multiplexed on one session, publishing on it too", async () => {
    const s = await start();
    assert.match(s.url, /^https:/);
    const session = await h2connect(s.port, cert);
    try {
      const streams = Array.from({ length: 20 }, (_, i) => h2request(session, `/events?topic=t${i % 2}`));
      for (const st of streams) {
        const h = await st.headers;
        assert.equal(h[":status"], 200);
        assert.equal(h["content-type"], "text/event-stream; charset=utf-8");
        // Connection-specific headers do not exist on HTTP/2 (Node would refuse or drop them).
        for (const name of ["connection", "keep-alive", "transfer-encoding"])
          assert.equal(h[name], undefined);
      }
      await waitUntil(() => s.broker.stats.connectionsOpened >= 20);
      for (let n = 1; n <= 3; n++) {
        const r = await h2publish(session, { topic: ["t0", "t1"], data: `event ${n}` });
        assert.equal(r.status, 200, r.body);
        assert.equal(r.headers.connection, undefined);
      }
      for (const st of streams) {
        assert.deepEqual(await st.waitForData(3), ["event 1", "event 2", "event 3"]);
      }
      assert.equal(s.broker.stats.connectionsOpened, 20);
    } finally {
      session.destroy();
    }
  });

  it("serves HTTP/1.1 clients (ALPN http/1.1) on the same port", async () => {
    const s = await start();
    const res = await new Promise<import("node:http").IncomingMessage>((resolve, reject) => {
      get(
        `https://127.0.0.1:${s.port}/events?topic=h1`,
        // A client offering only http/1.1 in ALPN (the typings omit the TLS option).
        { ca: cert.cert, ALPNProtocols: ["http/1.1"] } as import("node:https").RequestOptions,
        resolve,
      ).on("error", reject);
    });
    try {
      assert.equal(res.httpVersion, "1.1");
      assert.equal((res.socket as TLSSocket).alpnProtocol, "http/1.1");
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers["content-type"], "text/event-stream; charset=utf-8");
      let text = "";
      res.setEncoding("utf8").on("data", (c: string) => {
        text += c;
      });
      await waitUntil(() => s.broker.stats.connectionsOpened >= 1);
      const session = await h2connect(s.port, cert);
      assert.equal((await h2publish(session, { topic: "h1", data: "over http/1.1" })).status, 200);
      session.destroy();
      await waitUntil(() => text.includes("data:over http/1.1\n"));
    } finally {
      res.destroy();
    }
  });

  it("sends heartbeat comments on idle HTTP/2 streams", async () => {
    const s = await start(["--heartbeat-ms", "100"]);
    const session = await h2connect(s.port, cert);
    try {
      const a = h2request(session, "/events?topic=quiet");
      const b = h2request(session, "/events?topic=quiet");
      await a.waitForText("\n:\n");
      await b.waitForText("\n:\n");
      assert.match(a.text(), /^(retry: \d+\n\n)?:/m);
    } finally {
      session.destroy();
    }
  });

  it("counts per-address stream limits per stream: multiplexing does not get past them", async () => {
    const s = await start(["--max-connections-per-ip", "3"]);
    const session = await h2connect(s.port, cert);
    try {
      const open = [1, 2, 3].map(() => h2request(session, "/events?topic=cap"));
      for (const st of open) assert.equal((await st.headers)[":status"], 200);
      const refused = h2request(session, "/events?topic=cap");
      const h = await refused.headers;
      assert.equal(h[":status"], 503);
      assert.equal(h.connection, undefined);
      assert.match(String(h["retry-after"]), /^\d+$/);
      assert.equal(await refused.ended, "end");
      // Only that stream was refused: the session and its streams go on.
      assert.equal((await h2publish(session, { topic: "cap", data: "still here" })).status, 200);
      for (const st of open) await st.waitForData(1);
    } finally {
      session.destroy();
    }
    // Node drops a Connection header on HTTP/2 with a process warning: none may have been set.
    assert.deepEqual(
      warnings.filter((w) => /connection header/i.test(w.message)).map((w) => w.message),
      [],
    );
  });

  it("drops a stream that stops reading while the other streams on its session keep receiving", async () => {
    const cap = 64 * 1024;
    const s = await start(["--max-buffered-bytes", String(cap)]);
    const session = await h2connect(s.port, cert);
    try {
      const slow = h2request(session, "/events?topic=big");
      const live = h2request(session, "/events?topic=big");
      await slow.headers;
      await live.headers;
      await waitUntil(() => s.broker.stats.connectionsOpened >= 2);
      // The slow client reads nothing more: its stream window (64 KiB) fills, then the broker's buffer.
      slow.stream.pause();
      const chunk = "x".repeat(8 * 1024);
      let sent = 0;
      // Bounded: well past window + cap, the drop must have come long before.
      while (s.broker.stats.droppedSlow === 0 && sent < 200) {
        sent++;
        assert.equal((await h2publish(session, { topic: "big", id: `e${sent}`, data: chunk })).status, 200);
        await live.waitForData(sent);
      }
      assert.equal(s.broker.stats.droppedSlow, 1, `slow stream still open after ${sent} events`);
      assert.equal(s.broker.sessions.size, 1);
      // Reading again, the client finds the reset after what it had (it resumes with Last-Event-ID).
      slow.stream.resume();
      assert.match(await slow.ended, /^reset /);
      assert.ok(slow.data().length < sent);
      // The session and the reading stream are untouched.
      const r = await h2publish(session, { topic: "big", data: "after the drop" });
      assert.equal(r.status, 200);
      await live.waitForText("data:after the drop\n");
      assert.equal(session.destroyed, false);
    } finally {
      session.destroy();
    }
  });

  it("closes a connection that stops reading altogether once its streams are dropped", async () => {
    const s = await start(["--max-buffered-bytes", String(64 * 1024)]);
    // A TCP relay that can stop reading from the broker: the whole connection stalls.
    let upstream: Socket | undefined;
    const relay = createNetServer((down) => {
      const up = netConnect(s.port, "127.0.0.1");
      upstream = up;
      down.pipe(up);
      up.pipe(down);
      down.on("error", () => {});
      up.on("error", () => {});
    });
    relay.listen(0, "127.0.0.1");
    await once(relay, "listening");
    const stalled = await h2connect((relay.address() as AddressInfo).port, cert);
    stalled.on("error", () => {});
    const publisher = await h2connect(s.port, cert);
    try {
      const streams = [1, 2, 3].map(() => h2request(stalled, "/events?topic=stall"));
      for (const st of streams) await st.headers;
      await waitUntil(() => s.broker.sessions.size === 3);
      const connections = (): Promise<number> =>
        new Promise((resolve, reject) =>
          (s.server as import("node:net").Server).getConnections((e, n) => (e ? reject(e) : resolve(n))),
        );
      assert.equal(await connections(), 2);
      upstream?.unpipe();
      upstream?.pause();
      const chunk = "x".repeat(8 * 1024);
      for (let sent = 1; s.broker.sessions.size > 0 && sent <= 200; sent++) {
        assert.equal((await h2publish(publisher, { topic: "stall", data: chunk })).status, 200);
      }
      // The first one over the cap is dropped as slow; the others go with their connection.
      assert.equal(s.broker.sessions.size, 0);
      assert.ok(s.broker.stats.droppedSlow >= 1);
      // Its socket is cut, as a stalled HTTP/1.1 socket is: only the publisher's connection is left.
      await waitUntilAsync(async () => (await connections()) === 1);
      assert.equal(publisher.destroyed, false);
    } finally {
      stalled.destroy();
      publisher.destroy();
      upstream?.destroy();
      relay.close();
    }
  });

  it("resets only the stream whose client left; the broker forgets it", async () => {
    const s = await start();
    const session = await h2connect(s.port, cert);
    try {
      const gone = h2request(session, "/events?topic=bye");
      const stay = h2request(session, "/events?topic=bye");
      await gone.headers;
      await stay.headers;
      await waitUntil(() => s.broker.sessions.size === 2);
      gone.stream.close();
      await waitUntil(() => s.broker.sessions.size === 1);
      assert.equal((await h2publish(session, { topic: "bye", data: "one left" })).status, 200);
      await stay.waitForText("data:one left\n");
    } finally {
      session.destroy();
    }
  });

  it("replays history to a stream resuming with Last-Event-ID", async () => {
    const s = await start();
    const session = await h2connect(s.port, cert);
    try {
      for (let n = 1; n <= 5; n++) {
        assert.equal((await h2publish(session, { topic: "r", id: `r${n}`, data: `e${n}` })).status, 200);
      }
      const st = h2request(session, "/events?topic=r", { "last-event-id": "r2" });
      assert.equal((await st.headers)["last-event-id"], "r2");
      assert.deepEqual(await st.waitForData(3), ["e3", "e4", "e5"]);
    } finally {
      session.destroy();
    }
  });

  it("answers 408 to a request whose body does not arrive in time; the session goes on", async () => {
    const s = await start(["--request-timeout-ms", "300", "--headers-timeout-ms", "300"]);
    const session = await h2connect(s.port, cert);
    try {
      const slow = h2request(session, "/publish", { ":method": "POST", "content-type": "application/json" });
      slow.stream.write('{"topic":"t","da'); // and nothing more
      const h = await slow.headers;
      assert.equal(h[":status"], 408);
      await slow.ended;
      assert.match(slow.text(), /SSEB_ERR_REQUEST_TIMEOUT/);
      assert.equal((await h2publish(session, { topic: "t", data: "fine" })).status, 200);
    } finally {
      session.destroy();
    }
  });

  it("answers 413 to an oversized body and stops its upload, the session goes on", async () => {
    const s = await start(["--max-body-bytes", "1024"]);
    const session = await h2connect(s.port, cert);
    try {
      const big = h2request(session, "/publish", { ":method": "POST", "content-type": "application/json" });
      big.stream.write(`{"topic":"t","data":"${"x".repeat(4096)}`); // and never ends
      assert.equal((await big.headers)[":status"], 413);
      assert.match(await big.ended, /^(end|reset 0)$/);
      assert.match(big.text(), /SSEB_ERR_BODY_TOO_LARGE/);
      assert.equal((await h2publish(session, { topic: "t", data: "fine" })).status, 200);
    } finally {
      session.destroy();
    }
  });

  it("closes a session that opens no stream within the header timeout", async () => {
    const s = await start(["--request-timeout-ms", "300", "--headers-timeout-ms", "300"]);
    const session = await h2connect(s.port, cert);
    let goaway = false;
    session.on("goaway", () => {
      goaway = true;
    });
    session.on("error", () => {});
    await once(session, "close");
    assert.ok(goaway, "told with a GOAWAY");
  });

  it("cuts a silent connection whose peer never closes its side after the GOAWAY", async () => {
    const s = await start(["--request-timeout-ms", "300", "--headers-timeout-ms", "300"]);
    // The HTTP/2 preface and an empty SETTINGS frame, then nothing; half-open: it never ends its side.
    const raw = new Socket({ allowHalfOpen: true });
    raw.on("error", () => {});
    raw.connect(s.port, "127.0.0.1");
    const socket = tlsConnect({ socket: raw, ca: cert.cert, ALPNProtocols: ["h2"], servername: "localhost" });
    socket.on("error", () => {});
    try {
      await once(socket, "secureConnect");
      const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
      socket.write(Buffer.concat([preface, Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
      socket.resume();
      await once(socket, "end"); // the GOAWAY came, then the broker's end of the connection
      const connections = (): Promise<number> =>
        new Promise((resolve, reject) =>
          (s.server as import("node:net").Server).getConnections((e, n) => (e ? reject(e) : resolve(n))),
        );
      // The broker does not keep the connection waiting for a peer that never closes.
      await waitUntilAsync(async () => (await connections()) === 0);
    } finally {
      socket.destroy();
    }
  });

  it("mounts broker.handler on node:http2's createSecureServer (library use)", async () => {
    const broker = createBroker({ heartbeatMs: null, demoRoutes: false });
    const server = createSecureServer(
      {
        allowHTTP1: true,
        cert: cert.cert,
        key: await import("node:fs").then((f) => f.readFileSync(cert.keyFile)),
      },
      broker.handler,
    );
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const session = await h2connect((server.address() as AddressInfo).port, cert);
    try {
      const st = h2request(session, "/events?topic=lib");
      assert.equal((await st.headers)[":status"], 200);
      await waitUntil(() => broker.sessions.size === 1);
      await broker.publish({ topic: "lib", data: "mounted" });
      await st.waitForText("data:mounted\n");
    } finally {
      session.destroy();
      await broker.close();
      await new Promise((r) => server.close(r));
    }
  });
});

async function waitUntilAsync(ok: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!(await ok())) {
    if (Date.now() - t0 > timeoutMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitUntil(ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > timeoutMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
