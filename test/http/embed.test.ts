import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { createBroker, type Transport } from "../../src/index.js";
import { connectSse } from "../helpers/sse-client.js";

describe("embedding as a library", () => {
  it("mounts on node:http beside the application's own routes and publishes in-process", async () => {
    const broker = createBroker({ heartbeatMs: null, demoRoutes: false });
    const server = createServer((req, res) => {
      broker.handler(req, res, () => {
        // Middleware style: paths the broker does not own fall through to the application.
        res.writeHead(200, { "Content-Type": "text/plain" });
        res.end("app");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.equal(await (await fetch(`${url}/orders`)).text(), "app");
      assert.equal(
        await (await fetch(`${url}/`, { headers: { Accept: "*/*" } })).text(),
        "app",
        "no demo routes",
      );
      const sse = await connectSse(`${url}/events?topic=orders`);
      const id = await broker.publish({ topic: "orders", data: JSON.stringify({ n: 1 }), type: "order" });
      const [ev] = await sse.waitForEvents(1);
      assert.deepEqual(ev, { id, event: "order", data: '{"n":1}' });
      sse.close();
    } finally {
      await broker.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("refuses invalid options with SSEB_ERR_OPTIONS_INVALID naming the option", () => {
    assert.throws(() => createBroker({ maxBufferedBytes: -1 }), {
      code: "SSEB_ERR_OPTIONS_INVALID",
      message: /maxBufferedBytes/,
    });
    assert.throws(() => createBroker({ heartbeatMs: 1.5 }), { code: "SSEB_ERR_OPTIONS_INVALID" });
    assert.throws(() => createBroker({ nope: 1 } as never), {
      code: "SSEB_ERR_OPTIONS_INVALID",
      message: /nope/,
    });
  });

  it("releases the broker when the hub or web root options are invalid, and a failing close stays handled", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on("unhandledRejection", onUnhandled);
    try {
      for (const bad of [{ mercure: {} }, { webRoot: "/nonexistent/sse-broker-web-root" }]) {
        let closed = 0;
        const transport: Transport = {
          start: async () => {},
          append: async () => {},
          close: () => {
            closed++;
            return Promise.reject(new Error("transport close failed"));
          },
        };
        assert.throws(() => createBroker({ heartbeatMs: null, transport, ...bad }), {
          code: "SSEB_ERR_OPTIONS_INVALID",
        });
        assert.equal(closed, 1, "the broker was closed");
      }
      // Unhandled rejections are reported once the microtask queue drains: two turns later at the latest.
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
