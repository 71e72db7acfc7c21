import assert from "node:assert/strict";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, it } from "node:test";
import { type HttpBindings, serve } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { fastifySseBroker } from "../../src/adapters/fastify.js";
import { mountSseBroker } from "../../src/adapters/hono.js";
import { createBroker, type SseBroker } from "../../src/index.js";
import { connectSse } from "../helpers/sse-client.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function newBroker(): SseBroker {
  const broker = createBroker({ heartbeatMs: null, demoRoutes: false });
  cleanups.push(() => broker.close());
  return broker;
}

function listening(server: Server): Promise<string> {
  return new Promise((resolve) => {
    const done = () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    if (server.listening) done();
    else server.once("listening", done);
  });
}

/** Subscribes, publishes over HTTP through the framework, and checks the app's own route still works. */
async function exercise(url: string, appUrl = url): Promise<void> {
  const sse = await connectSse(`${url}/events?topic=fw`);
  assert.equal(sse.status, 200);
  assert.equal(sse.headers["content-type"], "text/event-stream; charset=utf-8");
  const res = await fetch(`${url}/publish`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ topic: "fw", data: { ok: true } }),
  });
  assert.equal(res.status, 200);
  const { id } = (await res.json()) as { id: string };
  const [ev] = await sse.waitForEvents(1);
  assert.deepEqual(ev, { id, event: undefined, data: '{"ok":true}' });
  sse.close();
  assert.equal(await (await fetch(`${appUrl}/app`)).text(), "app route");
  const health = await fetch(`${url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, "ok");
  const bad = await fetch(`${url}/publish`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{",
  });
  assert.equal(bad.status, 400);
}

describe("framework adapters", () => {
  it("Express: app.use(broker.handler)", async () => {
    const broker = newBroker();
    const app = express();
    app.get("/app", (_req, res) => {
      res.send("app route");
    });
    app.use(broker.handler);
    const server = app.listen(0, "127.0.0.1");
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    await exercise(await listening(server));
  });

  it("Express with express.json() and express.text() mounted before the broker: publishes the parsed body", async () => {
    const broker = newBroker();
    const app = express();
    app.use(express.json());
    app.use(express.text());
    app.get("/app", (_req, res) => {
      res.send("app route");
    });
    app.use(broker.handler);
    const server = app.listen(0, "127.0.0.1");
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    const url = await listening(server);
    await exercise(url);
    const sse = await connectSse(`${url}/events?topic=fw`);
    const text = await fetch(`${url}/publish?topic=fw&event=note`, {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: "plain text",
    });
    assert.equal(text.status, 200, await text.clone().text());
    const [ev] = await sse.waitForEvents(1);
    assert.equal(ev?.data, "plain text");
    assert.equal(ev?.event, "note");
    // A batch parsed by express.json(), retried with its Idempotency-Key: the same ids, published once.
    const batch = async () =>
      fetch(`${url}/publish`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": "fw-batch" },
        body: JSON.stringify([
          { topic: "fw", data: "b1" },
          { topic: "fw", data: "b2" },
        ]),
      });
    const first = await batch();
    const again = await batch();
    assert.equal(first.status, 200);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(await again.json(), await first.json());
    const end = await fetch(`${url}/publish?topic=fw`, {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: "end marker",
    });
    assert.equal(end.status, 200);
    const all = await sse.waitForEvents(4);
    assert.deepEqual(
      all.map((e) => e.data),
      ["plain text", "b1", "b2", "end marker"],
    );
    sse.close();
  });

  it("Express with a body parser the broker cannot use: a 400 that says what happened", async () => {
    const broker = newBroker();
    const app = express();
    app.use(express.urlencoded({ extended: false, type: "text/plain" }));
    app.use(broker.handler);
    const server = app.listen(0, "127.0.0.1");
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    const url = await listening(server);
    const res = await fetch(`${url}/publish?topic=fw`, {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: "a=b",
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, "SSEB_ERR_REQUEST_INVALID");
    assert.match(body.error.message, /body parser/);
  });

  it("Fastify: app.register(fastifySseBroker(broker))", async () => {
    const broker = newBroker();
    const app = Fastify();
    app.get("/app", async () => "app route");
    await app.register(fastifySseBroker(broker));
    cleanups.push(async () => {
      app.server.closeAllConnections();
      await app.close();
    });
    const url = await app.listen({ port: 0, host: "127.0.0.1" });
    await exercise(url);
  });

  it("Hono on @hono/node-server: mountSseBroker(app, broker)", async () => {
    const broker = newBroker();
    const app = new Hono<{ Bindings: HttpBindings }>();
    app.get("/app", (c) => c.text("app route"));
    mountSseBroker(app, broker);
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }) as Server;
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    await exercise(await listening(server));
  });

  it('Fastify under a prefix: app.register(fastifySseBroker(broker), { prefix: "/sse" })', async () => {
    const broker = newBroker();
    const app = Fastify();
    app.get("/app", async () => "app route");
    await app.register(fastifySseBroker(broker), { prefix: "/sse" });
    cleanups.push(async () => {
      app.server.closeAllConnections();
      await app.close();
    });
    const url = await app.listen({ port: 0, host: "127.0.0.1" });
    await exercise(`${url}/sse`, url);
    assert.equal((await fetch(`${url}/events?topic=fw`)).status, 404, "not at the root");
  });

  it('Hono sub-app under a prefix: app.route("/sse", sub) with mountSseBroker(sub, broker)', async () => {
    const broker = newBroker();
    const app = new Hono<{ Bindings: HttpBindings }>();
    app.get("/app", (c) => c.text("app route"));
    const sub = new Hono<{ Bindings: HttpBindings }>();
    mountSseBroker(sub, broker);
    app.route("/sse", sub);
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }) as Server;
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    const url = await listening(server);
    await exercise(`${url}/sse`, url);
    assert.equal((await fetch(`${url}/events?topic=fw`)).status, 404, "not at the root");
  });

  it('Express under a prefix: app.use("/sse", broker.handler)', async () => {
    const broker = newBroker();
    const app = express();
    app.get("/app", (_req, res) => {
      res.send("app route");
    });
    app.use("/sse", broker.handler);
    const server = app.listen(0, "127.0.0.1");
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    const url = await listening(server);
    await exercise(`${url}/sse`, url);
  });
});
