/**
 * `--workers 2 --redis <url>`: two processes share the port and, through a real Redis, each other's
 * events; only one runs the demo producer; SIGTERM to the primary stops everything with exit 0.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { type CliProcess, HOST, type OpenStream, openStream, runCli, startCli } from "./helpers.js";

function publish(port: number, topic: string, data: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ topic, data });
    const req = request(
      {
        host: HOST,
        port,
        path: "/publish",
        method: "POST",
        agent: false,
        headers: { "Content-Type": "application/json" },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("cluster mode with a Redis backplane", () => {
  let redis: RedisServer;
  let cli: (CliProcess & { port: number }) | undefined;
  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    cli?.kill();
    await redis.dispose();
  });

  it("shares the port, delivers across workers, runs one demo producer, stops on SIGTERM", async () => {
    cli = await startCli(["--workers", "2", "--redis", redis.url, "--demo-interval-ms", "200"]);
    const c = cli;
    await c.waitForLog(
      (l) =>
        l.msg.startsWith("Listening on ") &&
        c.logs.filter((x) => x.msg.startsWith("Listening on ")).length === 2,
    );
    const listening = c.logs.filter((l) => l.msg.startsWith("Listening on "));
    assert.equal(new Set(listening.map((l) => l.pid)).size, 2, "two worker processes");
    assert.equal(new Set(listening.map((l) => l.port)).size, 1, "one shared port");
    assert.equal(listening.filter((l) => l.demoProducer === true).length, 1, "one demo producer");

    // The primary hands connections to workers in turn: four streams land on both.
    const streams: OpenStream[] = [];
    for (let i = 0; i < 4; i++) streams.push(await openStream(c.port, "/events?topic=news"));
    const added = (): Set<number> =>
      new Set(c.logs.filter((l) => l.msg.startsWith("Client added.")).map((l) => l.pid));
    await c.waitForLog(
      () => added().size === 2 && c.logs.filter((l) => l.msg.startsWith("Client added.")).length >= 4,
    );

    assert.equal(await publish(c.port, "news", "hello from one worker"), 200);
    await Promise.all(streams.map((s) => s.waitForEvents(1, 5_000)));
    for (const s of streams) assert.match(s.events[0]?.block ?? "", /\ndata:hello from one worker$/);

    // Each demo event is published once and delivered by both workers.
    const times = c.logs.filter((l) => l.msg === "Receiving event" && l.topic === "time");
    const perId = new Map<unknown, number>();
    for (const l of times) perId.set(l.id, (perId.get(l.id) ?? 0) + 1);
    assert.ok(
      [...perId.values()].every((n) => n <= 2),
      "no event delivered twice by one worker",
    );

    process.kill(c.pid, "SIGTERM");
    const exit = await Promise.race([
      c.exited,
      new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 8_000).unref()),
    ]);
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.deepEqual(await Promise.all(streams.map((s) => s.ended)), ["end", "end", "end", "end"]);
  });

  it("reports a port in use once and exits 1", async () => {
    const holder = await startCli(["--no-demo"]);
    try {
      const { code, stderr } = await runCli([
        "--workers",
        "2",
        "--redis",
        redis.url,
        "--host",
        HOST,
        "--port",
        String(holder.port),
      ]);
      assert.equal(code, 1);
      assert.equal(
        stderr,
        `sse-broker: cannot listen on ${HOST}:${holder.port}: address already in use (EADDRINUSE)\n`,
      );
    } finally {
      holder.kill();
    }
  });
});
