/**
 * `npx sse-broker` with no options behaves like the Go example it started from: `GET /` streams
 * `data:{"timestamp":…,"message":"the time is <RFC1123>"}` every 2 s, logs "Client added. N registered
 * clients" / "Removed client. …", and browsers get the page. Real process, real sockets, 127.0.0.1.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { rfc1123Utc } from "../../src/cli/demo.js";
import { type CliProcess, cleanEnv, freePort, HOST, openStream, startCli } from "./helpers.js";

function get(port: number, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; type: string | undefined; body: string }>((resolve, reject) => {
    const req = request({ host: HOST, port, path, headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], body }));
    });
    req.on("error", reject);
    req.end();
  });
}

function post(port: number, path: string, body: string, headers: Record<string, string>) {
  return new Promise<number>((resolve, reject) => {
    const req = request({ host: HOST, port, path, method: "POST", headers, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("seed demo with default options", () => {
  let cli: CliProcess & { port: number };
  before(async () => {
    cli = await startCli(); // only --port 0 --host 127.0.0.1 added: everything else default
  });
  after(() => cli.kill());

  it("streams the time event every 2 s on GET /, in the original's exact wire format", async () => {
    const stream = await openStream(cli.port, "/", { Accept: "*/*" });
    try {
      assert.equal(stream.res.statusCode, 200);
      assert.equal(stream.res.headers["content-type"], "text/event-stream; charset=utf-8");
      assert.equal(stream.res.headers["access-control-allow-origin"], "*");
      await stream.waitForEvents(2, 8_000);
      const [first, second] = stream.events;
      assert.ok(first !== undefined && second !== undefined);
      // A functional check of the producer's period (2 s), not a performance assertion.
      const gap = second.at - first.at;
      assert.ok(gap >= 1_500 && gap <= 2_500, `events ${Math.round(gap)} ms apart`);
      for (const { block } of [first, second]) {
        assert.match(block, /^data:\{[^\n]*\}$/, "one bare data: line per event, no id/event lines");
        const event = JSON.parse(block.slice("data:".length)) as Record<string, unknown>;
        assert.deepEqual(Object.keys(event), ["timestamp", "message"]);
        const { timestamp, message } = event as { timestamp: number; message: string };
        assert.ok(Number.isSafeInteger(timestamp));
        assert.ok(Math.abs(timestamp - Date.now() / 1000) < 10, "unix seconds, close to now");
        assert.equal(message, `the time is ${rfc1123Utc(new Date(timestamp * 1000))}`);
        assert.match(message, /^the time is \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} UTC$/);
      }
      assert.doesNotMatch(stream.text(), /^(id|event):/m);
    } finally {
      stream.destroy();
    }
  });

  it('logs "Client added" and "Removed client" with the count, and "Receiving event"', async () => {
    const from = cli.logs.length;
    const stream = await openStream(cli.port, "/", { Accept: "*/*" });
    await cli.waitForLog((l) => l.msg === "Client added. 1 registered clients", 5_000, from);
    stream.destroy();
    await cli.waitForLog((l) => l.msg === "Removed client. 0 registered clients", 5_000, from);
    assert.ok(cli.logs.some((l) => l.msg === "Receiving event" && l.topic === "time"));
    for (const l of cli.logs) assert.equal(typeof l.level, "number", "JSON log lines when not a TTY");
  });

  it("serves the page to a browser on GET /", async () => {
    const page = await get(cli.port, "/", { Accept: "text/html,application/xhtml+xml,*/*;q=0.8" });
    assert.equal(page.status, 200);
    assert.equal(page.type, "text/html; charset=utf-8");
    assert.match(page.body, /EventSource|<html/i);
  });
});

describe("listening address", () => {
  it("listens on the PORT environment variable", async () => {
    const port = await freePort();
    const cli = await startCli(["--host", HOST], cleanEnv({ PORT: String(port) }));
    try {
      assert.equal(cli.port, port);
      assert.equal((await get(port, "/healthz")).status, 200);
    } finally {
      cli.kill();
    }
  });

  it("lets --port and --host win over PORT and HOST", async () => {
    const port = await freePort();
    const cli = await startCli(
      ["--port", String(port), "--host", HOST],
      cleanEnv({ PORT: "1", HOST: "192.0.2.1" }), // both would fail if used
    );
    try {
      const line = cli.logs.find((l) => l.msg.startsWith("Listening on "));
      assert.equal(line?.port, port);
      assert.equal(line?.address, HOST);
      assert.equal(line?.url, `http://${HOST}:${port}/`);
      assert.equal((await get(port, "/healthz")).status, 200);
    } finally {
      cli.kill();
    }
  });
});

describe("options reach the server", () => {
  it("--no-demo: no producer, no page, no stream on GET /", async () => {
    const cli = await startCli(["--no-demo", "--demo-interval-ms", "20"]);
    try {
      await sleep(200);
      assert.equal(cli.logs.filter((l) => l.msg === "Receiving event").length, 0);
      assert.equal((await get(cli.port, "/", { Accept: "*/*" })).status, 404);
    } finally {
      cli.kill();
    }
  });

  it("--no-metrics hides /metrics; --retry-ms sends retry:", async () => {
    const cli = await startCli(["--no-metrics", "--retry-ms", "1234"]);
    try {
      assert.equal((await get(cli.port, "/metrics")).status, 404);
      const stream = await openStream(cli.port, "/events?topic=x");
      await sleep(100);
      // --retry-ms plus a random 0–50 % (jitter), digits only.
      const retry = Number(/^retry:(\d+)\n/.exec(stream.text())?.[1]);
      assert.ok(retry >= 1234 && retry <= 1851, `retry:${retry}`);
      stream.destroy();
    } finally {
      cli.kill();
    }
  });

  it("never logs the publish token", async () => {
    const token = "tok-9f3c1e77d2";
    const cli = await startCli(["--log-level", "trace"], cleanEnv({ SSE_BROKER_PUBLISH_TOKEN: token }));
    try {
      const json = { "Content-Type": "application/json" };
      const body = JSON.stringify({ topic: "t", data: "x" });
      assert.equal(
        await post(cli.port, "/publish", body, { ...json, Authorization: `Bearer ${token}` }),
        200,
      );
      assert.equal(await post(cli.port, "/publish", body, { ...json, Authorization: "Bearer wrong" }), 401);
      await cli.waitForLog((l) => l.msg === "Receiving event" && l.topic === "t");
      await sleep(100);
      const out = JSON.stringify(cli.logs);
      assert.ok(!out.includes(token), "token absent from logs");
      assert.ok(!out.includes("wrong"), "offered token absent from logs");
    } finally {
      cli.kill();
    }
  });
});
