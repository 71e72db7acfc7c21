/**
 * The built CLI with --tls-cert/--tls-key: SIGTERM ends HTTP/2 streams cleanly (END_STREAM, GOAWAY) and
 * exits 0; a bad certificate configuration is one line on stderr and exit code 2.
 */
import assert from "node:assert/strict";
import { chmodSync, writeFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { get, type RequestOptions } from "node:https";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type CliProcess, cleanEnv, spawnCli, startCli } from "../cli/helpers.js";
import { h2connect, h2publish, h2request, makeCert, noOpenssl, type TestCert } from "./helpers.js";

describe("CLI with --tls-cert/--tls-key", { skip: noOpenssl }, () => {
  let cert: TestCert;
  let other: TestCert;
  const started: CliProcess[] = [];
  before(() => {
    cert = makeCert();
    other = makeCert();
  });
  after(() => {
    for (const c of started) c.kill();
    cert?.remove();
    other?.remove();
  });

  it("ends every HTTP/2 stream cleanly on SIGTERM, sends GOAWAY and exits 0", async () => {
    const cli = await startCli(["--no-demo", "--tls-cert", cert.certFile, "--tls-key", cert.keyFile]);
    started.push(cli);
    const line = cli.logs.find((l) => l.msg.startsWith("Listening on "));
    assert.match(String(line?.url), /^https:\/\//);
    const session = await h2connect(cli.port, cert);
    let goaway = false;
    session.on("goaway", () => {
      goaway = true;
    });
    const sessionClosed = new Promise<void>((resolve) => session.once("close", () => resolve()));
    const streams = [1, 2, 3, 4, 5, 6, 7, 8].map(() => h2request(session, "/events?topic=bye"));
    for (const st of streams) assert.equal((await st.headers)[":status"], 200);
    // And one HTTP/1.1-over-TLS stream beside them.
    const h1 = await new Promise<IncomingMessage>((resolve, reject) => {
      get(
        `https://127.0.0.1:${cli.port}/events?topic=bye`,
        { ca: cert.cert, ALPNProtocols: ["http/1.1"] } as RequestOptions,
        resolve,
      ).on("error", reject);
    });
    let h1Text = "";
    h1.setEncoding("utf8").on("data", (c: string) => {
      h1Text += c;
    });
    const h1Ended = new Promise<string>((resolve) => {
      h1.once("end", () => resolve("end"));
      h1.once("error", (e) => resolve(`error ${e.message}`));
    });
    assert.equal((await h2publish(session, { topic: "bye", data: "before" })).status, 200);
    for (const st of streams) await st.waitForData(1);
    while (!h1Text.includes("data:before")) await new Promise((r) => setTimeout(r, 10));

    process.kill(cli.pid, "SIGTERM");
    const exit = await Promise.race([
      cli.exited,
      new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5_000).unref()),
    ]);
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.deepEqual(
      (await Promise.all(streams.map((st) => st.ended))).filter((e) => e !== "end"),
      [],
      "every stream ended with END_STREAM, none reset",
    );
    assert.equal(await h1Ended, "end", "the HTTP/1.1 stream ended cleanly too");
    await sessionClosed;
    assert.ok(goaway, "the session got a GOAWAY");
    assert.ok(cli.logs.some((l) => l.msg === "Stopped"));
  });

  const configErrors: [string, () => string[], RegExp][] = [
    ["--tls-cert without --tls-key", () => ["--tls-cert", cert.certFile], /--tls-cert needs --tls-key/],
    ["--tls-key without --tls-cert", () => ["--tls-key", cert.keyFile], /--tls-key needs --tls-cert/],
    [
      "a missing certificate file",
      () => ["--tls-cert", join(cert.dir, "nope.pem"), "--tls-key", cert.keyFile],
      /--tls-cert .*nope\.pem: cannot read the file \(ENOENT\)/,
    ],
    [
      "a certificate file that is not PEM",
      () => ["--tls-cert", garbage(cert, "garbage.pem"), "--tls-key", cert.keyFile],
      /--tls-cert .*garbage\.pem: not a PEM certificate/,
    ],
    [
      "a key file that is not a key",
      () => ["--tls-cert", cert.certFile, "--tls-key", cert.certFile],
      /--tls-key .*: not a PEM private key/,
    ],
    [
      "a key of another certificate",
      () => ["--tls-cert", cert.certFile, "--tls-key", other.keyFile],
      /is not the private key of --tls-cert/,
    ],
  ];
  for (const [what, args, message] of configErrors) {
    it(`exits 2 with one line on stderr for ${what}`, async () => {
      const cli = spawnCli(["--port", "0", "--host", "127.0.0.1", ...args()]);
      started.push(cli);
      const exit = await cli.exited;
      assert.deepEqual(exit, { code: 2, signal: null }, cli.stderr());
      assert.match(cli.stderr(), message);
      assert.equal(cli.stderr().trim().split("\n").length, 1, cli.stderr());
    });
  }

  it("reads the files from SSE_BROKER_TLS_CERT/SSE_BROKER_TLS_KEY", async () => {
    const cli = await startCli(
      ["--no-demo"],
      cleanEnv({ SSE_BROKER_TLS_CERT: cert.certFile, SSE_BROKER_TLS_KEY: cert.keyFile }),
    );
    started.push(cli);
    const session = await h2connect(cli.port, cert);
    try {
      assert.equal((await h2request(session, "/healthz").headers)[":status"], 200);
    } finally {
      session.destroy();
      cli.kill();
    }
  });

  it("exits 2 for an unreadable key file", {
    skip: process.getuid?.() === 0 && "root reads any file",
  }, async () => {
    const key = garbage(cert, "locked.pem");
    chmodSync(key, 0o000);
    const cli = spawnCli(["--port", "0", "--tls-cert", cert.certFile, "--tls-key", key]);
    started.push(cli);
    assert.deepEqual(await cli.exited, { code: 2, signal: null });
    assert.match(cli.stderr(), /--tls-key .*locked\.pem: cannot read the file \(EACCES\)/);
  });
});

function garbage(cert: TestCert, name: string): string {
  const file = join(cert.dir, name);
  writeFileSync(file, "not a pem file\n");
  return file;
}
