/**
 * The CLI server's header and request timeouts (issue 8, slowloris) over raw sockets: trickled headers,
 * a body never finished and a connection that sends nothing are cut, counted, while an event stream
 * opened before them on the same server outlives both timeouts and still receives events. Also the
 * separate `--metrics-listen` listener. In-process server (src/cli/server.ts), real sockets, 127.0.0.1.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { describe, it } from "node:test";
import { parseCli } from "../../src/cli/args.js";
import { createLogger } from "../../src/cli/logger.js";
import { type RunningServer, startServer } from "../../src/cli/server.js";
import { send } from "../helpers/http.js";
import { HOST } from "../helpers/net.js";
import { connectSse } from "../helpers/sse-client.js";

async function start(args: string[]): Promise<RunningServer> {
  const command = parseCli(["--port", "0", "--host", HOST, "--no-demo", ...args], {});
  assert.equal(command.kind, "run");
  const { config } = command as Extract<typeof command, { kind: "run" }>;
  return startServer({ config, logger: createLogger({ level: "silent" }) });
}

/** A raw connection that records what it receives and resolves `closed` with it when the server cuts it. */
function rawSocket(port: number): { socket: Socket; closed: Promise<string> } {
  const socket = connect(port, HOST);
  let received = "";
  socket.setEncoding("utf8");
  socket.on("data", (d: string) => {
    received += d;
  });
  socket.on("error", () => {});
  const closed = once(socket, "close").then(() => received);
  return { socket, closed };
}

/** Writes `chunks` one every 100 ms until the socket closes (a client that never finishes). */
function trickle(socket: Socket, first: string, next: () => string): void {
  socket.write(first);
  const timer = setInterval(() => {
    if (socket.destroyed || !socket.writable) clearInterval(timer);
    else socket.write(next());
  }, 100);
  socket.once("close", () => clearInterval(timer));
}

describe("header and request timeouts", () => {
  it("cut slow clients without touching an established stream", async () => {
    const srv = await start(["--headers-timeout-ms", "600", "--request-timeout-ms", "1200"]);
    try {
      const stream = await connectSse(`http://${HOST}:${srv.port}/events?topic=a`);
      assert.equal(stream.status, 200);

      const headers = rawSocket(srv.port);
      let n = 0;
      trickle(headers.socket, "GET /events?topic=a HTTP/1.1\r\nHost: 127.0.0.1\r\n", () => `X-${n++}: y\r\n`);
      const body = rawSocket(srv.port);
      trickle(
        body.socket,
        "POST /publish?topic=a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n",
        () => "x",
      );
      const silent = rawSocket(srv.port);

      const [cutHeaders, cutBody, cutSilent] = await Promise.all([
        headers.closed,
        body.closed,
        silent.closed,
      ]);
      assert.match(cutHeaders, /^HTTP\/1\.1 408 /);
      assert.match(cutBody, /^HTTP\/1\.1 408 /);
      assert.match(cutSilent, /^(HTTP\/1\.1 408 |$)/);

      // The body was cut after the request timeout, so the stream (older) has outlived both timeouts.
      assert.equal(stream.ended, false, "the stream was cut");
      const published = await send(`http://${HOST}:${srv.port}/publish?topic=a`, {
        method: "POST",
        headers: { "Content-Type": "text/plain" },
        body: "after the timeouts",
      });
      assert.equal(published.status, 200);
      const [ev] = await stream.waitForEvents(1);
      assert.equal(ev?.data, "after the timeouts");
      assert.equal(srv.broker.stats.eventsPublished, 1, "the unfinished body published nothing");

      const metrics = (await send(`http://${HOST}:${srv.port}/metrics`)).body;
      const cut = Number(/^sse_broker_refused_total\{reason="request_timeout"\} (\d+)$/m.exec(metrics)?.[1]);
      assert.ok(cut >= 3, `request_timeout refusals: ${cut}`);
      stream.close();
    } finally {
      await srv.close();
    }
  });
});

describe("--metrics-listen", () => {
  it("serves /metrics and /healthz without a token on its own listener", async () => {
    const srv = await start(["--metrics-listen", `${HOST}:0`, "--metrics-token", "m3trics"]);
    try {
      assert.ok(srv.metricsPort !== null && srv.metricsPort !== srv.port);
      const ops = `http://${HOST}:${srv.metricsPort}`;
      const metrics = await send(`${ops}/metrics`, { headers: { Host: "internal.example" } });
      assert.equal(metrics.status, 200);
      assert.match(metrics.body, /^sse_broker_open_connections 0$/m);
      assert.equal((await send(`${ops}/healthz`)).json?.status, "ok");
      assert.equal((await send(`${ops}/events?topic=a`)).status, 404, "no streams on the ops listener");
      assert.equal((await send(`${ops}/metrics`, { method: "POST" })).status, 405);
      // The public listener still wants the token.
      assert.equal((await send(`http://${HOST}:${srv.port}/metrics`)).status, 401);
    } finally {
      await srv.close();
    }
  });
});
