import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  freePort,
  type RedisServer,
  startNode,
  startRedisServer,
  subscribe,
  uniquePrefix,
  waitFor,
} from "../helpers/redis-server.js";

// The certificate is made with the openssl CLI; without it there is nothing to test with.
const noOpenssl = ((): string | false => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return false;
  } catch {
    return "needs the openssl command";
  }
})();

let redis: RedisServer | undefined;
let dir: string | undefined;
let tlsUrl: string;
let cert: Buffer;

before(async () => {
  if (noOpenssl !== false) return;
  // A throwaway self-signed certificate for 127.0.0.1.
  dir = mkdtempSync(join(tmpdir(), "sse-broker-tls-"));
  const key = join(dir, "key.pem");
  const crt = join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      crt,
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  cert = readFileSync(crt);
  const tlsPort = await freePort();
  redis = await startRedisServer({
    args: [
      "--tls-port",
      String(tlsPort),
      "--tls-cert-file",
      crt,
      "--tls-key-file",
      key,
      "--tls-ca-cert-file",
      crt,
      "--tls-auth-clients",
      "no",
    ],
  });
  tlsUrl = `rediss://127.0.0.1:${tlsPort}`;
});

after(async () => {
  await redis?.dispose();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("Redis backplane over TLS", { skip: noOpenssl }, () => {
  it("connects with rediss:// and the CA given in redisOptions.tls", async () => {
    const prefix = uniquePrefix();
    const nodes = [0, 1].map(() => startNode(tlsUrl, prefix, { redisOptions: { tls: { ca: cert } } }));
    try {
      await Promise.all(nodes.map((n) => n.broker.ready()));
      const sub = subscribe(nodes[1]?.broker ?? assert.fail(), { selectors: ["t"] });
      const id = await (nodes[0]?.broker ?? assert.fail()).publish({ topic: "t", data: "over tls" });
      await waitFor("the event on the other node", () => sub.ids().includes(id));
      assert.deepEqual(sub.data(), ["over tls"]);
    } finally {
      await Promise.all(nodes.map((n) => n.broker.close()));
    }
  });
});
