import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { startServer, type TestServer } from "../helpers/server.js";

let srv: TestServer;
before(async () => {
  srv = await startServer({ maxBodyBytes: 1024 });
});
after(() => srv.close());

interface Case {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Send the body with chunked encoding (no Content-Length). */
  chunked?: boolean;
  status: number;
  code?: string;
  allow?: string;
}

const json = { "Content-Type": "application/json" };
const cases: Case[] = [
  {
    name: "stream without topic",
    method: "GET",
    path: "/events",
    status: 400,
    code: "SSEB_ERR_REQUEST_INVALID",
  },
  {
    name: "stream with empty topic",
    method: "GET",
    path: "/events?topic=",
    status: 400,
    code: "SSEB_ERR_TOPIC_INVALID",
  },
  {
    name: "topic with a control character",
    method: "GET",
    path: "/events?topic=a%01b",
    status: 400,
    code: "SSEB_ERR_TOPIC_INVALID",
  },
  {
    name: "unparsable template selector",
    method: "GET",
    path: "/events?topic=%2Fa%2F%7Bb",
    status: 400,
    code: "SSEB_ERR_TOPIC_INVALID",
  },
  {
    name: "DELETE on a stream",
    method: "DELETE",
    path: "/events?topic=a",
    status: 405,
    allow: "GET, HEAD, OPTIONS",
  },
  { name: "GET on publish", method: "GET", path: "/publish", status: 405, allow: "POST, OPTIONS" },
  { name: "PUT on publish", method: "PUT", path: "/publish", status: 405, allow: "POST, OPTIONS" },
  { name: "POST on healthz", method: "POST", path: "/healthz", status: 405, allow: "GET, HEAD" },
  { name: "unknown path", method: "GET", path: "/nope", status: 404, code: "SSEB_ERR_NOT_FOUND" },
  { name: "path traversal", method: "GET", path: "/../package.json", status: 404 },
  { name: "malformed JSON", method: "POST", path: "/publish", headers: json, body: "{bad", status: 400 },
  { name: "JSON array body", method: "POST", path: "/publish", headers: json, body: "[1]", status: 400 },
  { name: "empty JSON body", method: "POST", path: "/publish", headers: json, body: "", status: 400 },
  {
    name: "missing topic",
    method: "POST",
    path: "/publish",
    headers: json,
    body: '{"data":"x"}',
    status: 400,
  },
  {
    name: "topic not a string",
    method: "POST",
    path: "/publish",
    headers: json,
    body: '{"topic":5,"data":"x"}',
    status: 400,
  },
  {
    name: "empty topic list",
    method: "POST",
    path: "/publish",
    headers: json,
    body: '{"topic":[],"data":"x"}',
    status: 400,
  },
  {
    name: "missing data",
    method: "POST",
    path: "/publish",
    headers: json,
    body: '{"topic":"a"}',
    status: 400,
  },
  {
    name: "id with LF (field injection)",
    method: "POST",
    path: "/publish",
    headers: json,
    body: '{"topic":"a","data":"x","id":"1\\ndata: evil"}',
    status: 400,
    code: "SSEB_ERR_WIRE_FIELD_INVALID",
  },
  {
    name: "event with CR",
    method: "POST",
    path: "/publish",
    headers: json,
    body: '{"topic":"a","data":"x","event":"a\\rb"}',
    status: 400,
    code: "SSEB_ERR_WIRE_FIELD_INVALID",
  },
  {
    name: "id with NUL",
    method: "POST",
    path: "/publish",
    headers: json,
    body: '{"topic":"a","data":"x","id":"a\\u0000"}',
    status: 400,
    code: "SSEB_ERR_WIRE_FIELD_INVALID",
  },
  {
    name: "negative retry",
    method: "POST",
    path: "/publish",
    headers: json,
    body: '{"topic":"a","data":"x","retry":-1}',
    status: 400,
  },
  {
    name: "fractional retry",
    method: "POST",
    path: "/publish",
    headers: json,
    body: '{"topic":"a","data":"x","retry":1.5}',
    status: 400,
  },
  {
    name: "id of wrong type",
    method: "POST",
    path: "/publish",
    headers: json,
    body: '{"topic":"a","data":"x","id":7}',
    status: 400,
  },
  {
    name: "text body without ?topic",
    method: "POST",
    path: "/publish",
    headers: { "Content-Type": "text/plain" },
    body: "hi",
    status: 400,
  },
  {
    name: "unsupported media type",
    method: "POST",
    path: "/publish?topic=a",
    headers: { "Content-Type": "application/xml" },
    body: "<a/>",
    status: 415,
    code: "SSEB_ERR_MEDIA_TYPE_UNSUPPORTED",
  },
  {
    name: "invalid UTF-8",
    method: "POST",
    path: "/publish?topic=a",
    headers: { "Content-Type": "text/plain" },
    body: Buffer.from([0x61, 0xff, 0xfe]),
    status: 400,
  },
  {
    name: "body over the limit (Content-Length)",
    method: "POST",
    path: "/publish?topic=a",
    headers: { "Content-Type": "text/plain" },
    body: "x".repeat(2000),
    status: 413,
    code: "SSEB_ERR_BODY_TOO_LARGE",
  },
  {
    name: "body over the limit (chunked)",
    method: "POST",
    path: "/publish?topic=a",
    headers: { "Content-Type": "text/plain" },
    body: "x".repeat(5000),
    chunked: true,
    status: 413,
    code: "SSEB_ERR_BODY_TOO_LARGE",
  },
];

function send(c: Case): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${srv.url}${c.path}`,
      { method: c.method, headers: c.headers, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    if (c.body !== undefined) {
      if (c.chunked) {
        // Written in pieces so the server sees a chunked body with no declared length.
        const b = Buffer.from(c.body);
        for (let i = 0; i < b.length; i += 1000) req.write(b.subarray(i, i + 1000));
      } else {
        req.setHeader("Content-Length", Buffer.byteLength(c.body));
        req.write(c.body);
      }
    }
    req.end();
  });
}

describe("bad input gets a clear 4xx and the server keeps serving", () => {
  for (const c of cases) {
    it(`${c.name} → ${c.status}`, async () => {
      const res = await send(c);
      assert.equal(res.status, c.status, res.body);
      if (c.allow !== undefined) assert.equal(res.headers.allow, c.allow);
      if (c.code !== undefined) assert.equal(JSON.parse(res.body).error.code, c.code);
      else if (res.headers["content-type"]?.toString().startsWith("application/json")) {
        assert.equal(typeof JSON.parse(res.body).error.message, "string");
      }
    });
  }

  it("still serves and publishes after all of the above", async () => {
    const health = await fetch(`${srv.url}/healthz`);
    assert.equal(health.status, 200);
    const ok = await send({
      name: "ok",
      method: "POST",
      path: "/publish",
      headers: json,
      body: '{"topic":"a","data":"fine"}',
      status: 200,
    });
    assert.equal(ok.status, 200);
    assert.equal(srv.broker.stats.eventsPublished, 1, "no rejected request published anything");
  });
});

describe("publish authorization", () => {
  it("requires the static bearer token when one is configured", async () => {
    const guarded = await startServer({ publishToken: "s3cret" });
    try {
      const body = '{"topic":"a","data":"x"}';
      const none = await fetch(`${guarded.url}/publish`, { method: "POST", headers: json, body });
      assert.equal(none.status, 401);
      const wrong = await fetch(`${guarded.url}/publish`, {
        method: "POST",
        headers: { ...json, Authorization: "Bearer nope" },
        body,
      });
      assert.equal(wrong.status, 401);
      const right = await fetch(`${guarded.url}/publish`, {
        method: "POST",
        headers: { ...json, Authorization: "Bearer s3cret" },
        body,
      });
      assert.equal(right.status, 200);
    } finally {
      await guarded.close();
    }
  });
});
