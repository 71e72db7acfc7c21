/**
 * Publish bodies must arrive as sent: a transfer coding other than chunked or any content coding is a
 * coded 415, answered before the body is read.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { startServer, type TestServer } from "../helpers/server.js";
import { type Hub, publisherToken, startHub } from "../mercure/hub-fixture.js";

let srv: TestServer;
let hub: Hub;
before(async () => {
  srv = await startServer({ demoRoutes: false });
  hub = await startHub();
});
after(async () => {
  await srv.close();
  await hub.close();
});

/** Writes `head` then `body` on a raw socket; resolves with the status line's code and the whole answer. */
async function raw(
  baseUrl: string,
  head: string,
  body: Buffer = Buffer.alloc(0),
): Promise<{ status: number; text: string }> {
  const socket = connect(Number(new URL(baseUrl).port), "127.0.0.1");
  await once(socket, "connect");
  let text = "";
  socket.setEncoding("utf8").on("data", (d: string) => {
    text += d;
  });
  socket.on("error", () => {});
  socket.write(Buffer.concat([Buffer.from(head.replace(/\n/g, "\r\n")), body]));
  // Waits for the status line only: a refusal before reading must not need the body.
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (text.startsWith("HTTP/1.1 ") && text.includes("\r\n\r\n")) resolve();
    };
    socket.on("data", check);
    setTimeout(() => reject(new Error(`no answer within 10 s: ${text}`)), 10_000).unref();
    socket.once("close", () =>
      /^HTTP\/1\.1 \d{3}/.test(text) ? resolve() : reject(new Error(`closed: ${text}`)),
    );
  });
  socket.destroy();
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), text };
}

function chunked(data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from("\r\n0\r\n\r\n")]);
}

describe("publish body encodings", () => {
  it("refuses Transfer-Encoding: gzip, chunked with 415 instead of publishing the gzip bytes", async () => {
    const res = await raw(
      srv.url,
      "POST /publish?topic=a HTTP/1.1\nHost: 127.0.0.1\nContent-Type: text/plain\nTransfer-Encoding: gzip, chunked\n\n",
      chunked(gzipSync("hello")),
    );
    assert.equal(res.status, 415, res.text);
    assert.match(res.text, /"code":"SSEB_ERR_MEDIA_TYPE_UNSUPPORTED"/);
    assert.equal(srv.broker.stats.eventsPublished, 0);
  });

  it("refuses Content-Encoding: gzip with 415 before the body arrives", async () => {
    // The declared body is never sent: the answer cannot depend on reading it.
    const res = await raw(
      srv.url,
      "POST /publish HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\nContent-Encoding: gzip\nContent-Length: 1000\n\n",
    );
    assert.equal(res.status, 415, res.text);
    assert.match(res.text, /Content-Encoding/);
  });

  it("refuses a compressed Mercure publish form with 415", async () => {
    const jwt = await publisherToken();
    const res = await raw(
      hub.base,
      `POST /.well-known/mercure HTTP/1.1\nHost: 127.0.0.1\nAuthorization: Bearer ${jwt}\nContent-Type: application/x-www-form-urlencoded\nContent-Encoding: deflate\nContent-Length: 1000\n\n`,
    );
    assert.equal(res.status, 415, res.text);
  });

  it("accepts chunked and identity bodies", async () => {
    const a = await raw(
      srv.url,
      "POST /publish?topic=a HTTP/1.1\nHost: 127.0.0.1\nContent-Type: text/plain\nTransfer-Encoding: chunked\n\n",
      chunked(Buffer.from("hello")),
    );
    assert.equal(a.status, 200, a.text);
    const body = '{"topic":"a","data":"x"}';
    const b = await raw(
      srv.url,
      `POST /publish HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\nContent-Encoding: identity\nContent-Length: ${body.length}\n\n`,
      Buffer.from(body),
    );
    assert.equal(b.status, 200, b.text);
  });
});
