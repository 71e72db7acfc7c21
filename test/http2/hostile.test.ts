/**
 * The TLS / HTTP/2 listener against hostile clients (issue 8 for --tls-cert): rapid reset, stream and
 * session floods from one address, connections that never finish the TLS handshake, the HTTP/2 preface or
 * a header block, control-frame floods, and the HTTP/1.1 fallback's slow clients. Each waits for the
 * server to cut the client or for counts to come back to zero, within bounded time.
 * In-process CLI server (src/cli/server.ts), raw node:net / node:tls / node:http2 clients on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { type ClientHttp2Session, connect as h2connectRaw } from "node:http2";
import type { Server } from "node:net";
import { connect as netConnect, Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import type { RunningServer } from "../../src/cli/server.js";
import { SOCKET_SPARE_PER_IP } from "../../src/http/admission.js";
import { MAX_HEADER_LIST_BYTES, MAX_HEADER_LIST_PAIRS } from "../../src/http/secure-server.js";
import { waitFor } from "../helpers/wait.js";
import { h2connect, h2request, makeCert, noOpenssl, startTlsServer, type TestCert } from "./helpers.js";

const HOST = "127.0.0.1";

/** An HTTP/2 frame: 9-byte header (length, type, flags, stream id) and payload. */
function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head.writeUInt8(type, 3);
  head.writeUInt8(flags, 4);
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const SETTINGS = 0x4;
const HEADERS = 0x1;
const CONTINUATION = 0x9;
const PING = 0x6;
const RST_STREAM = 0x3;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;

/** HPACK literal header field without indexing, new name (RFC 7541, 6.2.2); short strings only. */
function literal(name: string, value: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x00, name.length]),
    Buffer.from(name),
    Buffer.from([value.length]),
    Buffer.from(value),
  ]);
}

/** A TLS connection that negotiated `alpn`, resolving `closed` when the server ends or cuts it. */
async function tlsSocket(
  port: number,
  cert: TestCert,
  alpn: string[],
): Promise<{ socket: TLSSocket; closed: Promise<string> }> {
  const socket = tlsConnect({
    host: HOST,
    port,
    ca: cert.cert,
    ALPNProtocols: alpn,
    servername: "localhost",
  });
  socket.on("error", () => {});
  let received = "";
  socket.on("data", (d: Buffer) => {
    received += d.toString("latin1");
  });
  const closed = new Promise<string>((resolve) => socket.once("close", () => resolve(received)));
  await once(socket, "secureConnect");
  return { socket, closed };
}

function connections(server: RunningServer["server"]): Promise<number> {
  return new Promise((resolve, reject) =>
    (server as unknown as Server).getConnections((e, n) => (e ? reject(e) : resolve(n))),
  );
}

async function waitForAsync(what: string, ok: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** GET /healthz on a fresh session; resolves with the status. */
async function healthz(port: number, cert: TestCert): Promise<number> {
  const session = await h2connect(port, cert);
  try {
    const r = h2request(session, "/healthz");
    return Number((await r.headers)[":status"]);
  } finally {
    session.destroy();
  }
}

/** The broker's Prometheus text. */
async function metrics(s: RunningServer): Promise<string> {
  return s.broker.metrics === null ? "" : await s.broker.metrics.metrics();
}

describe("HTTP/2 over TLS, hostile clients", { skip: noOpenssl }, () => {
  let cert: TestCert;
  const servers: RunningServer[] = [];
  const cleanups: (() => void)[] = [];
  before(() => {
    cert = makeCert();
  });
  after(async () => {
    for (const c of cleanups) c();
    for (const s of servers) await s.close();
    cert?.remove();
  });
  const start = async (args: readonly string[] = []): Promise<RunningServer> => {
    const s = await startTlsServer(cert, args);
    servers.push(s);
    return s;
  };

  it("rapid reset: thousands of streams opened and reset leave no session, and /healthz answers", async () => {
    const s = await start(["--connection-rate-per-ip", "none", "--max-connections-per-ip", "none"]);
    const session = await h2connect(s.port, cert);
    session.on("error", () => {});
    cleanups.push(() => session.destroy());
    let sent = 0;
    // Batches of requests each reset at once by the client (RST_STREAM CANCEL) until Node either accepts
    // them all or calls the session off (GOAWAY): both are fine, nothing may stay behind.
    for (let batch = 0; batch < 40 && !session.closed && !session.destroyed; batch++) {
      for (let i = 0; i < 100 && !session.closed && !session.destroyed; i++) {
        try {
          const st = session.request({ ":path": "/events?topic=rr" });
          st.on("error", () => {});
          st.close(0x8);
          sent++;
        } catch {
          break;
        }
      }
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(sent > 100, `sent ${sent}`);
    assert.equal(await healthz(s.port, cert), 200);
    await waitFor("no broker session left", () => s.broker.sessions.size === 0);
    session.destroy();
    await waitForAsync("no connection left", async () => (await connections(s.server)) === 0);
  });

  it("rapid reset in raw frames: HEADERS and RST_STREAM pairs in large writes cut the session", async () => {
    const s = await start(["--connection-rate-per-ip", "none", "--max-connections-per-ip", "none"]);
    const { socket, closed } = await tlsSocket(s.port, cert, ["h2"]);
    cleanups.push(() => socket.destroy());
    socket.resume();
    const block = Buffer.concat([
      Buffer.from([0x82, 0x87]),
      literal(":path", "/events?topic=raw"),
      literal(":authority", "localhost"),
    ]);
    const cancel = Buffer.from([0, 0, 0, 0x8]);
    let id = 1;
    const pairs = (n: number): Buffer =>
      Buffer.concat(
        Array.from({ length: n }, () => {
          const sid = id;
          id += 2;
          return Buffer.concat([
            frame(HEADERS, END_HEADERS | END_STREAM, sid, block),
            frame(RST_STREAM, 0, sid, cancel),
          ]);
        }),
      );
    socket.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0), pairs(500)]));
    const timer = setInterval(() => {
      if (socket.destroyed || !socket.writable) return clearInterval(timer);
      if (socket.writableLength < 1 << 18 && id < 200_000) socket.write(pairs(500));
    }, 2);
    socket.once("close", () => clearInterval(timer));
    // Cut by the server (the client never closes its side).
    await closed;
    await waitFor("no broker session left", () => s.broker.sessions.size === 0);
    await waitForAsync("no connection left", async () => (await connections(s.server)) === 0);
    assert.equal(await healthz(s.port, cert), 200);
  });

  it("closes a TCP connection that never starts its TLS handshake, and one that stops in the middle", async () => {
    const s = await start(["--headers-timeout-ms", "300", "--request-timeout-ms", "300"]);
    const silent = new Socket();
    silent.on("error", () => {});
    silent.connect(s.port, HOST);
    cleanups.push(() => silent.destroy());
    const half = netConnect(s.port, HOST);
    half.on("error", () => {});
    cleanups.push(() => half.destroy());
    // A TLS record header announcing a ClientHello whose bytes never come.
    half.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
    await Promise.all([once(silent, "close"), once(half, "close")]);
  });

  it("closes a TLS connection that negotiated h2 and never sends the preface", async () => {
    const s = await start(["--headers-timeout-ms", "300", "--request-timeout-ms", "300"]);
    const { socket, closed } = await tlsSocket(s.port, cert, ["h2"]);
    cleanups.push(() => socket.destroy());
    await closed;
    await waitForAsync("no connection left", async () => (await connections(s.server)) === 0);
  });

  it("closes a session flooding CONTINUATION frames of a header block that never ends", async () => {
    const s = await start();
    const { socket, closed } = await tlsSocket(s.port, cert, ["h2"]);
    cleanups.push(() => socket.destroy());
    const block = Buffer.concat([
      Buffer.from([0x82, 0x87, 0x84]), // :method GET, :scheme https, :path /
      literal(":authority", "localhost"),
    ]);
    socket.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0), frame(HEADERS, 0, 1, block)]));
    const timer = setInterval(() => {
      if (socket.destroyed || !socket.writable) return clearInterval(timer);
      const chunk: Buffer[] = [];
      for (let i = 0; i < 50; i++) chunk.push(frame(CONTINUATION, 0, 1, literal(`x-${i}`, "y".repeat(10))));
      socket.write(Buffer.concat(chunk));
    }, 5);
    socket.once("close", () => clearInterval(timer));
    await closed;
  });

  it("closes a session flooding PINGs it never reads the answers of", async () => {
    const s = await start();
    const { socket, closed } = await tlsSocket(s.port, cert, ["h2"]);
    cleanups.push(() => socket.destroy());
    socket.pause(); // never reads the PING ACKs
    socket.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0)]));
    const ping = frame(PING, 0, 0, Buffer.alloc(8));
    const burst = Buffer.concat(Array.from({ length: 2000 }, () => ping));
    const timer = setInterval(() => {
      if (socket.destroyed || !socket.writable) return clearInterval(timer);
      if (socket.writableLength < 1 << 20) socket.write(burst);
    }, 2);
    socket.once("close", () => clearInterval(timer));
    await waitForAsync(
      "connection cut",
      async () => socket.destroyed || (await connections(s.server)) === 0,
      30_000,
    );
    socket.destroy();
    await closed;
    assert.equal(await healthz(s.port, cert), 200);
  });

  it("refuses TLS sessions past --max-connections-per-ip (plus the spare) even when they open no stream", async () => {
    const s = await start(["--max-connections-per-ip", "2", "--connection-rate-per-ip", "none"]);
    const cap = 2 + SOCKET_SPARE_PER_IP;
    const sessions: ClientHttp2Session[] = [];
    cleanups.push(() => {
      for (const x of sessions) x.destroy();
    });
    let connected = 0;
    for (let i = 0; i < cap + 6; i++) {
      const session = h2connectRaw(`https://${HOST}:${s.port}`, { ca: cert.cert });
      session.on("error", () => {});
      sessions.push(session);
      const ok = await new Promise<boolean>((resolve) => {
        session.once("connect", () => resolve(true));
        session.once("close", () => resolve(false));
      });
      if (ok) connected++;
    }
    assert.equal(connected, cap);
    assert.ok(s.broker.stats.connectionsOpened === 0);
    // A stream on an admitted session still works.
    const st = h2request(sessions[0] as ClientHttp2Session, "/events?topic=cap");
    assert.equal((await st.headers)[":status"], 200);
    for (const x of sessions) x.destroy();
    await waitForAsync("no connection left", async () => (await connections(s.server)) === 0);
    // Released: the address may connect again.
    assert.equal(await healthz(s.port, cert), 200);
  });

  it("refuses TCP connections past the per-address cap while their handshakes are pending", async () => {
    const s = await start(["--max-connections-per-ip", "2", "--connection-rate-per-ip", "none"]);
    const cap = 2 + SOCKET_SPARE_PER_IP;
    const raw = Array.from({ length: cap + 6 }, () => {
      const c = netConnect(s.port, HOST);
      c.on("error", () => {});
      return c;
    });
    cleanups.push(() => {
      for (const c of raw) c.destroy();
    });
    await waitFor("the connections past the cap cut", () => raw.filter((c) => c.destroyed).length === 6);
    assert.equal(await connections(s.server), cap);
  });

  it("refuses TLS connections opened faster than --connection-rate-per-ip", async () => {
    const s = await start(["--connection-rate-per-ip", "2", "--max-connections-per-ip", "none"]);
    const raw = Array.from({ length: 12 }, () => {
      const c = netConnect(s.port, HOST);
      c.on("error", () => {});
      return c;
    });
    cleanups.push(() => {
      for (const c of raw) c.destroy();
    });
    // The burst is twice the rate: 4 in, the others cut (the test opens them well within a second).
    await waitFor("the connections past the burst cut", () => raw.filter((c) => c.destroyed).length >= 6);
    const refused = /^sse_broker_refused_total\{reason="connection_rate"\} (\d+)$/m.exec(await metrics(s));
    assert.ok(Number(refused?.[1]) >= 6, `connection_rate refusals: ${refused?.[1]}`);
  });

  it("HTTP/1.1 over TLS: trickled headers, a body never finished and silence are cut", async () => {
    const s = await start(["--headers-timeout-ms", "600", "--request-timeout-ms", "1200"]);
    const headers = await tlsSocket(s.port, cert, ["http/1.1"]);
    const body = await tlsSocket(s.port, cert, ["http/1.1"]);
    const silent = await tlsSocket(s.port, cert, ["http/1.1"]);
    cleanups.push(() => {
      for (const x of [headers, body, silent]) x.socket.destroy();
    });
    let n = 0;
    headers.socket.write("GET /events?topic=a HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    body.socket.write(
      "POST /publish?topic=a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n",
    );
    const timer = setInterval(() => {
      if (headers.socket.writable) headers.socket.write(`X-${n++}: y\r\n`);
      if (body.socket.writable) body.socket.write("x");
    }, 100);
    try {
      const [h, b, q] = await Promise.all([headers.closed, body.closed, silent.closed]);
      assert.match(h, /^HTTP\/1\.1 408 /);
      assert.match(b, /^HTTP\/1\.1 408 /);
      assert.match(q, /^(HTTP\/1\.1 408 |$)/);
    } finally {
      clearInterval(timer);
    }
    assert.equal(s.broker.stats.eventsPublished, 0);
  });
});

describe("HTTP/2 over TLS, clients that never read", { skip: noOpenssl }, () => {
  let cert: TestCert;
  before(() => {
    cert = makeCert();
  });
  after(() => cert?.remove());

  it("resets answers a zero-window client never takes within the request timeout; the session goes", async () => {
    const s = await startTlsServer(cert, ["--request-timeout-ms", "400", "--headers-timeout-ms", "400"]);
    // Window 0 for every stream: no answer body can ever be sent to it.
    const session = h2connectRaw(`https://${HOST}:${s.port}`, {
      ca: cert.cert,
      settings: { initialWindowSize: 0 },
    });
    session.on("error", () => {});
    try {
      const answers = ["/healthz", "/ui/", "/healthz"].map((path) => {
        const st = session.request({ ":path": path });
        st.on("error", () => {});
        return new Promise<number>((resolve) => st.once("close", () => resolve(st.rstCode)));
      });
      const events = session.request({ ":path": "/events?topic=zero" });
      events.on("error", () => {});
      await once(events, "response");
      for (const code of await Promise.all(answers)) assert.equal(code, 0x8); // CANCEL
      // The event stream is not an answer that must finish: it stays.
      assert.equal(events.closed, false);
      assert.equal(s.broker.sessions.size, 1);
    } finally {
      session.destroy();
      await s.close();
    }
  });
});

describe("HTTP/2 over TLS, floods within one connection", { skip: noOpenssl }, () => {
  let cert: TestCert;
  let s: RunningServer;
  before(async () => {
    cert = makeCert();
    s = await startTlsServer(cert, ["--max-connections-per-ip", "none", "--connection-rate-per-ip", "none"]);
  });
  after(async () => {
    await s?.close();
    cert?.remove();
  });

  it("takes at most 256 concurrent streams on a session, and the broker forgets them all", async () => {
    const session = await h2connect(s.port, cert);
    session.on("error", () => {});
    try {
      // Node's client queues streams past the server's SETTINGS_MAX_CONCURRENT_STREAMS: open 300.
      const streams = Array.from({ length: 300 }, () => h2request(session, "/events?topic=flood"));
      await waitFor("256 broker sessions", () => s.broker.sessions.size === 256);
      assert.equal(session.remoteSettings.maxConcurrentStreams, 256);
      for (const st of streams.slice(0, 256)) assert.equal((await st.headers)[":status"], 200);
      assert.equal(s.broker.sessions.size, 256);
    } finally {
      session.destroy();
    }
    await waitFor("no broker session left", () => s.broker.sessions.size === 0);
    await waitForAsync("no connection left", async () => (await connections(s.server)) === 0);
  });

  it("refuses header lists past Node's bounds: too many fields (the session goes on), too large", async () => {
    const session = await h2connect(s.port, cert);
    session.on("error", () => {});
    try {
      assert.equal((await h2request(session, "/healthz").headers)[":status"], 200); // its SETTINGS are in
      assert.equal(session.remoteSettings.maxHeaderListSize, MAX_HEADER_LIST_BYTES);
      const many: Record<string, string> = {};
      for (let i = 0; i < MAX_HEADER_LIST_PAIRS + 50; i++) many[`x-h${i}`] = "v";
      assert.match(await h2request(session, "/healthz", many).ended, /^reset /);
      assert.equal((await h2request(session, "/healthz").headers)[":status"], 200);
      // Past SETTINGS_MAX_HEADER_LIST_SIZE: the stream is refused (the session may be called off too).
      assert.match(
        await h2request(session, "/healthz", { "x-big": "v".repeat(MAX_HEADER_LIST_BYTES + 1_000) }).ended,
        /^reset /,
      );
    } finally {
      session.destroy();
    }
    assert.equal(await healthz(s.port, cert), 200);
  });

  it("HTTP/1.1 over TLS: requests pipelined behind a stream are never handled, nothing leaks", async () => {
    const { socket, closed } = await tlsSocket(s.port, cert, ["http/1.1"]);
    let text = "";
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1");
    });
    const received = (): string => text;
    const req = "GET /events?topic=pipe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    socket.write(req.repeat(10)); // fewer than MAX_QUEUED_REQUESTS (past it the connection is closed)
    await waitFor("the first stream", () => s.broker.sessions.size === 1);
    // Published to, the one session answers; the queued requests never became sessions.
    await s.broker.publish({ topic: "pipe", data: "one" });
    await waitFor("the event", () => received().includes("data: one") || received().includes("data:one"));
    assert.equal(s.broker.sessions.size, 1);
    socket.destroy();
    await closed;
    await waitFor("no broker session left", () => s.broker.sessions.size === 0);
  });
});
