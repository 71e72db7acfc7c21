/**
 * SIGTERM/SIGINT: the process stops accepting, ends every stream cleanly (clients see a normal end of
 * body and reconnect), and exits 0 within a few seconds.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { type CliProcess, HOST, type OpenStream, openStream, startCli } from "./helpers.js";

/** A client that reads the stream's end but never closes its own side (allowHalfOpen). */
function stubbornClient(port: number): Socket {
  const socket = connect({ host: HOST, port, allowHalfOpen: true });
  socket.on("error", () => {});
  socket.write(`GET /events?topic=x HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
  socket.resume();
  return socket;
}

const CLIENTS = 100;

describe("graceful shutdown", () => {
  const started: CliProcess[] = [];
  after(() => {
    for (const c of started) c.kill();
  });

  it(`exits 0 within 5 s on SIGTERM with ${CLIENTS} open streams, each ended cleanly`, async () => {
    // 100 streams from one address in a row: more than the default burst of new streams per address.
    const cli = await startCli(["--demo-interval-ms", "100", "--connection-rate-per-ip", "none"]);
    started.push(cli);
    const streams: OpenStream[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      // Half on the demo's GET /, half on a topic stream.
      streams.push(await openStream(cli.port, i % 2 === 0 ? "/" : "/events?topic=time", { Accept: "*/*" }));
    }
    await Promise.all(streams.map((s) => s.waitForEvents(1, 5_000)));

    const t0 = performance.now();
    process.kill(cli.pid, "SIGTERM");
    const exit = await Promise.race([
      cli.exited,
      new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5_000).unref()),
    ]);
    assert.notEqual(exit, "timeout", "exited within 5 s");
    assert.deepEqual(exit, { code: 0, signal: null });
    const endings = await Promise.all(streams.map((s) => s.ended));
    assert.deepEqual(
      endings.filter((e) => e !== "end"),
      [],
      "every stream ended cleanly, none reset",
    );
    // The broker ended each one (a crash would also close the sockets, but log none of this).
    assert.ok(cli.logs.some((l) => l.msg === `Ending ${CLIENTS} streams`));
    assert.ok(cli.logs.some((l) => l.msg === "Stopped"));
    assert.ok(performance.now() - t0 < 5_000);
  });

  it("exits 0 on SIGINT (Ctrl-C) too", async () => {
    const cli = await startCli();
    started.push(cli);
    const stream = await openStream(cli.port, "/events?topic=time");
    await cli.waitForLog((l) => l.msg === "Client added. 1 registered clients");
    process.kill(cli.pid, "SIGINT");
    assert.deepEqual(await cli.exited, { code: 0, signal: null });
    assert.equal(await stream.ended, "end");
  });

  it("cuts a peer that keeps its side open, and still exits 0", async () => {
    const cli = await startCli();
    started.push(cli);
    const socket = stubbornClient(cli.port);
    await cli.waitForLog((l) => l.msg === "Client added. 1 registered clients");
    process.kill(cli.pid, "SIGTERM");
    assert.deepEqual(await cli.exited, { code: 0, signal: null });
    socket.destroy();
  });

  it("exits at once on a second signal", async () => {
    const cli = await startCli();
    started.push(cli);
    const socket = stubbornClient(cli.port); // holds the first shutdown open for its grace period
    await cli.waitForLog((l) => l.msg === "Client added. 1 registered clients");
    process.kill(cli.pid, "SIGTERM");
    await cli.waitForLog((l) => l.msg.startsWith("Shutting down"));
    process.kill(cli.pid, "SIGTERM");
    assert.deepEqual(await cli.exited, { code: 128 + 15, signal: null });
    assert.ok(!cli.logs.some((l) => l.msg === "Stopped"), "did not wait for the first shutdown");
    socket.destroy();
  });
});
