/**
 * The client-address rule and the loopback Host rule, table-driven (request objects carry only what the
 * functions read: the peer address and the headers). The same rules are exercised over real sockets in
 * publish-local.test.ts.
 */
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import { clientInfo, trustedProxies } from "../../src/http/client-address.js";
import { isLoopbackHost } from "../../src/http/local-request.js";
import { resolveOptions } from "../../src/options.js";

const req = (peer: string, headers: Record<string, string> = {}) =>
  ({ socket: { remoteAddress: peer }, headers }) as unknown as IncomingMessage;

describe("trustProxy", () => {
  it("takes addresses, CIDRs (IPv4, IPv6) and 'loopback'; refuses anything else at start", () => {
    const list = trustedProxies(["loopback", "10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]);
    assert.ok(list !== null);
    for (const a of ["127.0.0.5", "::1", "10.9.8.7", "2001:db8::42", "192.0.2.7", "::ffff:10.1.1.1"]) {
      assert.ok(list.check(a, a.includes(":") ? "ipv6" : "ipv4"), a);
    }
    assert.ok(!list.check("192.0.2.8", "ipv4"));
    assert.equal(trustedProxies([]), null);
    for (const bad of ["10.0.0.0/33", "::/129", "proxy.example", "10.0.0.0/x", "", "1.2.3"]) {
      assert.throws(() => resolveOptions({ trustProxy: [bad] }), { code: "SSEB_ERR_OPTIONS_INVALID" }, bad);
    }
  });
});

describe("clientInfo", () => {
  const trusted = trustedProxies(["loopback", "10.0.0.0/8"]);
  const cases: { name: string; peer: string; headers?: Record<string, string>; address: string }[] = [
    { name: "the peer without headers", peer: "203.0.113.1", address: "203.0.113.1" },
    { name: "IPv4-mapped peer as IPv4", peer: "::ffff:127.0.0.1", address: "127.0.0.1" },
    {
      name: "an untrusted peer's X-Forwarded-For is ignored",
      peer: "203.0.113.1",
      headers: { "x-forwarded-for": "127.0.0.1" },
      address: "203.0.113.1",
    },
    {
      name: "a trusted peer: the right-most untrusted hop",
      peer: "127.0.0.1",
      headers: { "x-forwarded-for": "198.51.100.1, 203.0.113.5, 10.1.2.3" },
      address: "203.0.113.5",
    },
    {
      name: "every hop trusted: the left-most",
      peer: "127.0.0.1",
      headers: { "x-forwarded-for": "10.0.0.1, 10.0.0.2" },
      address: "10.0.0.1",
    },
    {
      name: "ports and brackets",
      peer: "127.0.0.1",
      headers: { "x-forwarded-for": "[2001:DB8::1]:443, 10.0.0.1:80" },
      address: "2001:db8::1",
    },
    {
      name: "Forwarded for=, quoted IPv6 with a port",
      peer: "::1",
      headers: { forwarded: 'for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"' },
      address: "2001:db8:cafe::17",
    },
    {
      name: "headers that agree",
      peer: "127.0.0.1",
      headers: {
        "x-forwarded-for": "198.51.100.7",
        "x-real-ip": "198.51.100.7",
        forwarded: "for=198.51.100.7",
      },
      address: "198.51.100.7",
    },
    {
      name: "only X-Forwarded-Proto: the peer",
      peer: "127.0.0.1",
      headers: { "x-forwarded-proto": "https" },
      address: "127.0.0.1",
    },
  ];
  for (const c of cases) {
    it(`gives ${c.name}`, () => {
      assert.equal(clientInfo(req(c.peer, c.headers), trusted).address, c.address);
    });
  }

  for (const headers of <Record<string, string>[]>[
    { "x-forwarded-for": "" },
    { "x-forwarded-for": "1.2.3.4 5.6.7.8" },
    { "x-forwarded-for": "[::1" },
    { "x-real-ip": "unknown" },
    { forwarded: "for" },
    { forwarded: 'for="1.2.3.4' },
    { forwarded: "for=unknown" },
    { forwarded: "for=1.2.3.4 ;; x" },
    { "x-forwarded-for": "203.0.113.1", forwarded: "for=203.0.113.2" },
  ]) {
    it(`refuses ${JSON.stringify(headers)} from a trusted peer with 400`, () => {
      assert.throws(() => clientInfo(req("127.0.0.1", headers), trusted), {
        code: "SSEB_ERR_REQUEST_FORWARDED_INVALID",
        statusCode: 400,
      });
    });
  }

  it("notes proxy headers from any peer", () => {
    const c = clientInfo(req("203.0.113.1", { "x-forwarded-host": "a", "x-real-ip": "1.1.1.1" }), null);
    assert.deepEqual(c.proxyHeaders, ["x-real-ip", "x-forwarded-host"]);
    assert.equal(c.peerTrusted, false);
  });
});

describe("loopback Host names", () => {
  for (const host of [
    "localhost",
    "LOCALHOST:8080",
    "app.localhost",
    "127.0.0.1",
    "127.255.0.9:1",
    "[::1]",
    "[::1]:80",
    "[::ffff:127.0.0.1]",
  ]) {
    it(`accepts ${host}`, () => assert.ok(isLoopbackHost(host)));
  }
  for (const host of [
    undefined,
    "",
    "evil.example",
    "localhost.evil.example",
    "127.0.0.1.nip.io",
    "128.0.0.1",
    "[::2]",
    "0.0.0.0",
    ".localhost",
    "localhost:80:80",
    "127.1",
  ]) {
    it(`refuses ${JSON.stringify(host)}`, () => assert.ok(!isLoopbackHost(host)));
  }
});
