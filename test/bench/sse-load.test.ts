/**
 * The C load generator of the benchmarks (bench/load/sse-load.c) against a scripted loopback server: its
 * stream parsing (frames, "t" latency, "seq" gaps, comment lines), bytes dribbled one at a time so state
 * crosses read boundaries, refused and stalled connections, closing, source addresses, bad commands; and
 * its publisher role against a node:http server (bodies, keep-alive, chunked and failed answers).
 * Needs a C compiler (skipped with the reason otherwise). No timing is asserted: the latency check only
 * tells a parsed `t` (1 s in the past) from a mis-parsed one.
 */
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { buildLoadGenerator, findCompiler } from "../../bench/lib/c-load.js";
import { realtimeClock } from "../../bench/lib/clock.js";
import { Histogram } from "../../bench/lib/histogram.js";
import { type Proc, spawnLines, stop, UNPINNED } from "../../bench/lib/procs.js";

const skip = findCompiler() === undefined ? "no C compiler (gcc/cc) to build bench/load/sse-load.c" : false;
const HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
const now = realtimeClock();

interface Conn {
  socket: net.Socket;
  path: string;
  remoteAddress: string;
}

/** A server that answers by path: `/ok` the SSE head (then the test writes), `/refuse` a 503. */
function scriptedServer(): Promise<{
  port: number;
  conns: Conn[];
  closed: () => number;
  close(): Promise<void>;
}> {
  const conns: Conn[] = [];
  let closed = 0;
  const server = net.createServer((socket) => {
    socket.on("error", () => {});
    socket.on("close", () => {
      closed++;
    });
    let buf = "";
    socket.on("data", (d) => {
      if (buf.includes("\r\n\r\n")) return;
      buf += d.toString("latin1");
      if (!buf.includes("\r\n\r\n")) return;
      const path = buf.split(" ")[1] ?? "";
      if (path === "/refuse") socket.end("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
      else {
        conns.push({ socket, path, remoteAddress: socket.remoteAddress ?? "" });
        socket.write(HEAD);
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        conns,
        closed: () => closed,
        close: () =>
          new Promise<void>((r) => {
            for (const c of conns) c.socket.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

/** Writes `text` one byte per event-loop turn, so the client sees many short reads. */
async function dribble(socket: net.Socket, text: string): Promise<void> {
  for (const ch of Buffer.from(text)) {
    socket.write(Buffer.from([ch]));
    await new Promise((r) => setImmediate(r));
  }
}

async function waitFor<T>(probe: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("sse-load (C load generator)", { skip }, () => {
  let bin = "";
  let load: Proc;
  let srv: Awaited<ReturnType<typeof scriptedServer>>;
  const status = () => load.request<Record<string, number>>({ cmd: "status" }, "status");

  before(async () => {
    bin = buildLoadGenerator();
    srv = await scriptedServer();
  });
  after(async () => {
    await srv.close();
  });

  it("counts frames, latency from t, seq gaps and comment lines across read boundaries", async () => {
    load = spawnLines("sse-load", UNPINNED, bin);
    try {
      await load.next("ready");
      const c = await load.request<Record<string, number>>(
        { cmd: "connect", port: srv.port, path: "/ok", count: 2 },
        "connected",
      );
      assert.equal(c.live, 2);
      assert.equal(c.failed, 0);
      await load.request({ cmd: "start" }, "started");
      const t = (now() - 1000).toFixed(3);
      const ev = (seq: number) => `id: ${seq}\ndata: {"t":${t},"seq":${seq},"msg":"xx\\"q"}\n\n`;
      // seq 1, 2, 4 (one lost), 3 (out of order); a frame without t; two comment lines
      const stream = `: hello\n\n${ev(1)}${ev(2)}${ev(4)}:ping\n${ev(3)}event: other\ndata: plain\n\n`;
      for (const conn of srv.conns) await dribble(conn.socket, stream);
      await waitFor(status, (s) => s.frames === 8 && s.otherFrames === 4, "8 frames with t");
      const r = await load.request<{
        frames: number;
        otherFrames: number;
        comments: number;
        heartbeatConns: number;
        lost: number;
        reordered: number;
        hist: [number, number][];
        max: number;
        minFramesPerConn: number;
        reads: number;
      }>({ cmd: "stop" }, "result");
      assert.equal(r.frames, 8);
      assert.equal(r.otherFrames, 4, "the comment-only frame and the plain one, per connection");
      assert.equal(r.comments, 4);
      assert.equal(r.heartbeatConns, 2);
      assert.equal(r.lost, 2, "seq 3 missing when 4 came, on each connection");
      assert.equal(r.reordered, 2);
      assert.equal(r.minFramesPerConn, 4);
      assert.ok(r.reads > 8, "the bytes arrived in many reads");
      const h = new Histogram();
      h.addSparse(r.hist, r.max);
      assert.equal(h.total, 8);
      // t was 1 s in the past: a parsed t lands at ≥ 1000 ms, a mis-parsed one at 0 or in the overflow bucket.
      assert.ok(h.quantile(0) >= 1000 && h.max < 100_000, `latency ${h.quantile(0)}…${h.max} ms`);
    } finally {
      await stop(load);
    }
  });

  it("reports refused connections by status, and stalled ones that never read", async () => {
    load = spawnLines("sse-load", UNPINNED, bin);
    try {
      await load.next("ready");
      const refused = await load.request<Record<string, unknown>>(
        { cmd: "connect", port: srv.port, path: "/refuse", count: 3 },
        "connected",
      );
      assert.equal(refused.failed, 3);
      assert.equal(refused.lastStatus, 503);
      assert.deepEqual((refused.errorKinds as Record<string, number>).status, 3);
      const before = srv.conns.length;
      const st = await load.request<Record<string, number>>(
        { cmd: "connect", port: srv.port, path: "/ok", count: 1, stalled: true, rcvbuf: 4096, mss: 1024 },
        "connected",
      );
      assert.equal(st.stalled, 1);
      const conn = await waitFor(
        async () => srv.conns[before],
        (c) => c !== undefined,
        "the stalled request",
      );
      const chunk = Buffer.alloc(64 * 1024, "x");
      for (let i = 0; i < 32; i++) conn?.socket.write(chunk);
      // It never reads: most of the 2 MiB stays queued in the server's socket.
      await waitFor(
        async () => conn?.socket.writableLength ?? 0,
        (n) => n > 1024 * 1024,
        "the server's queue to hold over 1 MiB",
      );
    } finally {
      await stop(load);
    }
  });

  it("closes live streams on request and binds the source addresses given", async () => {
    load = spawnLines("sse-load", UNPINNED, bin);
    try {
      await load.next("ready");
      const before = srv.conns.length;
      const closedBefore = srv.closed();
      const c = await load.request<Record<string, number>>(
        { cmd: "connect", port: srv.port, path: "/ok", count: 4, sources: ["127.1.0.1", "127.1.0.2"] },
        "connected",
      );
      assert.equal(c.live, 4);
      const addrs = new Set(srv.conns.slice(before).map((x) => x.remoteAddress));
      assert.deepEqual([...addrs].sort(), ["127.1.0.1", "127.1.0.2"]);
      const closed = await load.request<Record<string, number>>({ cmd: "close", count: 3 }, "closed");
      assert.equal(closed.count, 3);
      assert.equal(closed.live, 1);
      await waitFor(
        async () => srv.closed() - closedBefore,
        (n) => n >= 3,
        "3 closes at the server",
      );
      const bad = await load.request<{ message: string }>({ cmd: "nonsense" }, "error");
      assert.match(bad.message, /unknown command/);
      load.child.stdin?.write("{not json\n");
      const worse = await load.next<{ message: string }>("error");
      assert.match(worse.message, /bad command/);
    } finally {
      await stop(load);
    }
  });

  it("publishes one POST at a time on one keep-alive connection, in the body shape asked", async () => {
    const bodies: string[] = [];
    const peers = new Set<number>();
    let answer = 0;
    const server = http.createServer((req, res) => {
      peers.add(req.socket.remotePort ?? 0);
      let b = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => {
        b += c;
      });
      req.on("end", () => {
        bodies.push(b);
        answer++;
        // every third answer chunked, every fifth refused
        if (answer % 5 === 0) res.writeHead(503, { "Content-Length": 0 }).end();
        else if (answer % 3 === 0) {
          res.write('{"id":'); // two writes: Node answers chunked
          res.end('"x"}');
        } else res.writeHead(200, { "Content-Length": 2 }).end("{}");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const pub = spawnLines("publisher", UNPINNED, bin);
    try {
      await pub.next("ready");
      await pub.request({ cmd: "mark" }, "mark");
      await pub.request(
        {
          cmd: "publish",
          port,
          path: "/publish",
          body: "sse-broker",
          rate: 200,
          payloadBytes: 160,
          depth: 1,
        },
        "publishing",
      );
      await waitFor(
        async () => bodies.length,
        (n) => n >= 12,
        "12 publishes",
      );
      await pub.request({ cmd: "pause" }, "paused");
      const m = await pub.request<{ sent: number; answered: number; failed: number; lastFailure: number }>(
        { cmd: "mark" },
        "mark",
      );
      assert.equal(m.sent, m.answered + m.failed, "every publish answered before the mark");
      assert.equal(m.failed, Math.floor(m.sent / 5));
      assert.equal(m.lastFailure, 503);
      assert.equal(peers.size, 1, "one keep-alive connection");
      const first = JSON.parse(bodies[0] as string) as { topic: string; data: string };
      assert.equal(first.topic, "bench");
      const ev = JSON.parse(first.data) as { t: number; seq: number; msg: string };
      assert.equal(ev.seq, 1);
      assert.ok(Math.abs(ev.t - Date.now()) < 60_000, "t is the wall clock in ms");
      assert.equal(first.data.length, 160 - 45 + `{"t":${ev.t.toFixed(3)},"seq":1,"msg":""}`.length);
      const seqs = bodies.map(
        (b) => (JSON.parse((JSON.parse(b) as { data: string }).data) as { seq: number }).seq,
      );
      assert.deepEqual(
        seqs,
        seqs.map((_, i) => i + 1),
      );
    } finally {
      await stop(pub);
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
