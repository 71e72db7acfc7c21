import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { exportJWK } from "jose";
import { Broker } from "../../src/core/broker.js";
import { SseBrokerError } from "../../src/errors.js";
import { createMercureHandler } from "../../src/mercure/index.js";
import { connectSse } from "../helpers/sse-client.js";
import { publishForm, startHub, subscribeUrl, token } from "./hub-fixture.js";

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const pem = (k: import("node:crypto").KeyObject): string =>
  k.export({ type: "spki", format: "pem" }) as string;

describe("Mercure keys", () => {
  it("uses separate publisher (RS256) and subscriber (ES256) keys", async () => {
    const hub = await startHub({
      publisherJwtKey: pem(rsa.publicKey),
      publisherJwtAlg: "RS256",
      subscriberJwtKey: pem(ec.publicKey),
      subscriberJwtAlg: "ES256",
    });
    try {
      const sub = await token({ subscribe: ["*"] }, ec.privateKey, { alg: "ES256" });
      const sse = await connectSse(subscribeUrl(hub.hub, ["k/1"]), {
        headers: { Authorization: `Bearer ${sub}` },
      });
      assert.equal(sse.status, 200);
      const pub = await token({ publish: ["k/{n}"] }, rsa.privateKey, { alg: "RS256" });
      const r = await publishForm(
        hub.hub,
        [
          ["topic", "k/1"],
          ["data", "rsa"],
          ["private", ""],
        ],
        pub,
      );
      assert.equal(r.status, 200);
      assert.equal((await sse.waitForEvents(1))[0]?.data, "rsa");
      sse.close();
      // Each key only for its role.
      const swapped = await token({ publish: ["*"] }, ec.privateKey, { alg: "ES256" });
      assert.equal((await publishForm(hub.hub, [["topic", "k/1"]], swapped)).status, 401);
      const rsaSub = await connectSse(subscribeUrl(hub.hub, ["k/1"]), {
        headers: { Authorization: `Bearer ${pub}` },
      });
      assert.equal(rsaSub.status, 401);
      rsaSub.close();
    } finally {
      await hub.close();
    }
  });

  it("shares one jwtKey between publishers and subscribers", async () => {
    const hub = await startHub({
      publisherJwtKey: null,
      subscriberJwtKey: null,
      jwtKey: "shared-secret-shared-secret-shared!",
    });
    try {
      const jwt = await token({ publish: ["*"], subscribe: ["*"] }, "shared-secret-shared-secret-shared!");
      const sse = await connectSse(subscribeUrl(hub.hub, ["s"]), {
        headers: { Authorization: `Bearer ${jwt}` },
      });
      assert.equal(sse.status, 200);
      assert.equal(
        (
          await publishForm(
            hub.hub,
            [
              ["topic", "s"],
              ["data", "d"],
            ],
            jwt,
          )
        ).status,
        200,
      );
      await sse.waitForEvents(1);
      sse.close();
    } finally {
      await hub.close();
    }
  });

  it("verifies with keys fetched from a JWKS URL, choosing by kid", async () => {
    const jwk = { ...(await exportJWK(rsa.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
    const jwks = createServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    jwks.listen(0, "127.0.0.1");
    await once(jwks, "listening");
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
    const hub = await startHub({ publisherJwtKey: null, subscriberJwtKey: null, jwksUrl, anonymous: true });
    try {
      const good = await token({ publish: ["*"] }, rsa.privateKey, { alg: "RS256", header: { kid: "k1" } });
      assert.equal(
        (
          await publishForm(
            hub.hub,
            [
              ["topic", "j"],
              ["data", "d"],
            ],
            good,
          )
        ).status,
        200,
      );
      const other = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const forged = await token({ publish: ["*"] }, other.privateKey, {
        alg: "RS256",
        header: { kid: "k1" },
      });
      assert.equal((await publishForm(hub.hub, [["topic", "j"]], forged)).status, 401);
      const hs = await token({ publish: ["*"] }, "whatever-secret-whatever-secret-1234", {
        header: { kid: "k1" },
      });
      assert.equal((await publishForm(hub.hub, [["topic", "j"]], hs)).status, 401, "no HS* with a JWKS");
    } finally {
      await hub.close();
      jwks.closeAllConnections();
      jwks.close();
    }
  });

  it("validates options when the handler is created", () => {
    const broker = new Broker({ heartbeatMs: null });
    const bad = (opts: Parameters<typeof createMercureHandler>[1], re: RegExp): void => {
      assert.throws(
        () => createMercureHandler(broker, opts),
        (e: unknown) =>
          e instanceof SseBrokerError && e.code === "SSEB_ERR_OPTIONS_INVALID" && re.test(e.message),
      );
    };
    bad({}, /needs a JWT key/);
    bad({ jwtKey: "k", anonymus: true } as never, /unknown Mercure option anonymus/);
    bad({ jwtKey: "k", corsOrigins: ["example.com"] }, /corsOrigins/);
    bad({ jwtKey: "k", publishOrigins: "any" as never }, /publishOrigins/);
    bad({ jwtKey: "k", cookieName: "a b" }, /cookieName/);
    bad({ publisherJwtKey: pem(rsa.publicKey) }, /HS256 needs a shared secret/);
    return broker.close();
  });
});
