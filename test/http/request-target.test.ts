/**
 * Request targets over raw sockets: origin-form and absolute-form are routed by their path, anything else
 * is a coded 400 that repeats nothing of the target; no log line ever carries its token.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { recordingLogger } from "../helpers/redis-server.js";
import { startServer, type TestServer } from "../helpers/server.js";

const logger = recordingLogger();
let srv: TestServer;
let port: number;
before(async () => {
  srv = await startServer({ logger, mercure: { jwtKey: "k".repeat(32), anonymous: true } });
  port = Number(new URL(srv.url).port);
});
after(() => srv.close());

/** Sends one request line (plus headers) on a fresh socket; resolves with the status and the whole answer. */
async function rawRequest(line: string | Buffer): Promise<{ status: number; text: string }> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  let text = "";
  socket.setEncoding("latin1");
  socket.on("data", (d: string) => {
    text += d;
  });
  socket.on("error", () => {});
  const head = Buffer.concat([
    typeof line === "string" ? Buffer.from(line, "latin1") : line,
    Buffer.from(" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
  ]);
  socket.write(head);
  await once(socket, "close");
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text };
}

/** Every log line as JSON, errors with their own fields (as pino writes them). */
function logText(): string {
  return JSON.stringify(logger.lines, (_k, v: unknown) =>
    v instanceof Error ? { ...v, type: v.name, message: v.message, stack: v.stack } : v,
  );
}

describe("request targets", () => {
  it("answers an absolute-form target with a bad port 400, and logs nothing of its token", async () => {
    const res = await rawRequest("GET http://h:99999/.well-known/mercure?topic=a&authorization=SECRET");
    assert.equal(res.status, 400, res.text);
    assert.match(res.text, /"code":"SSEB_ERR_REQUEST_INVALID"/);
    assert.ok(!res.text.includes("SECRET"), "the answer does not repeat the target");
    assert.ok(logger.lines.length > 0, "the refusal is logged (debug)");
    assert.ok(!logText().includes("SECRET"), logText());
    assert.ok(!logger.lines.some((l) => l.level === "error"), "a bad target is not a server error");
  });

  for (const [target, status] of [
    ["http://127.0.0.1:1234/healthz", 200],
    ["https://example.com/healthz?x=1", 200],
    ["HTTP://EXAMPLE.COM/healthz", 200],
    ["http://[::1]:8080/healthz", 200],
    ["http://example.com/nope", 404],
    ["//127.0.0.1/healthz", 404], // a path, not a host
    ["ftp://example.com/healthz", 400],
    ["http://user:pw@example.com/healthz", 400],
    ["http://example.com:123456/healthz", 400],
    ["*", 400],
    ["example.com:443", 400],
  ] as const) {
    it(`GET ${target} → ${status}`, async () => {
      const res = await rawRequest(`GET ${target}`);
      assert.equal(res.status, status, res.text);
    });
  }

  it("refuses a target with raw non-ASCII bytes (400) instead of reading them as latin1", async () => {
    const res = await rawRequest(Buffer.from([...Buffer.from("GET /events?topic="), 0xff]));
    assert.equal(res.status, 400, res.text);
  });

  it("answers a JSON body nested 5 000 deep 400, not 500", async () => {
    const deep = `${"[".repeat(5000)}${"]".repeat(5000)}`;
    for (const body of [`{"topic":"a","data":${deep}}`, deep]) {
      const res = await fetch(`${srv.url}/publish`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body,
      });
      assert.equal(res.status, 400);
      const json = (await res.json()) as { error: { code: string } };
      assert.equal(json.error.code, "SSEB_ERR_REQUEST_INVALID");
    }
    assert.ok(!logger.lines.some((l) => l.level === "error"), "no server error logged");
  });
});
