/**
 * The Mercure hub's resource identifier comes from the request's origin when no audience is set. HTTP/2
 * requests carry it in `:authority` (no Host header): read over a real HTTP/2 connection.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createSecureServer } from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { resourceOf } from "../../src/mercure/metadata.js";
import { resolveMercureOptions } from "../../src/mercure/options.js";
import { h2connect, h2request, makeCert, noOpenssl, type TestCert } from "./helpers.js";

describe("Mercure resource identifier over HTTP/2", { skip: noOpenssl }, () => {
  let cert: TestCert;
  before(() => {
    cert = makeCert();
  });
  after(() => cert?.remove());

  it("is the hub URL on https://<:authority>, not on localhost", async () => {
    const o = resolveMercureOptions({ jwtKey: "x".repeat(32), oauthAudience: null });
    const server = createSecureServer({ allowHTTP1: true, cert: cert.cert, key: readFileSync(cert.keyFile) });
    server.on("request", (req, res) => {
      const text = resourceOf(o, req as unknown as IncomingMessage);
      (res as unknown as ServerResponse).end(text);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;
    const session = await h2connect(port, cert);
    try {
      const r = h2request(session, "/");
      await r.ended;
      assert.equal(r.text(), `https://127.0.0.1:${port}/.well-known/mercure`);
    } finally {
      session.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
