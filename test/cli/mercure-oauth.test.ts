/**
 * The Mercure 1.0 hub as an external conformance suite starts it: one trusted issuer, an audience and an
 * HS256 key on the command line only (no classic key), then a publish with an `at+jwt` access token to a
 * subscriber holding one. No key or token ever in the logs.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import { AUD, DETAIL, ISS } from "../mercure/oauth-fixture.js";
import { type CliProcess, cleanEnv, openStream, publishMercure, runCli, startCli } from "./helpers.js";

const KEY = "issuer-secret-0123456789abcdef0123456789abc";

function accessToken(actions: string[], topic: string, key = KEY): Promise<string> {
  return new SignJWT({
    iss: ISS,
    aud: AUD,
    sub: "urn:uuid:bb3de268-05b0-4c65-b44e-8f9acefc29d6",
    client_id: ISS,
    jti: `urn:uuid:${crypto.randomUUID()}`,
    authorization_details: [{ type: DETAIL, actions, topics: [{ match: topic, match_type: "urlpattern" }] }],
  })
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(new TextEncoder().encode(key));
}

describe("Mercure 1.0 access tokens from the command line", () => {
  let cli: CliProcess & { port: number };
  before(async () => {
    cli = await startCli(
      [
        "--oauth-issuer",
        ISS,
        "--oauth-issuer-key",
        KEY,
        "--oauth-issuer-alg",
        "HS256",
        "--oauth-audience",
        AUD,
        "--anonymous",
        "--log-level",
        "trace",
        "--no-demo",
      ],
      cleanEnv(),
    );
  });
  after(() => cli.kill());

  it("publishes with an at+jwt token to a 1.0 subscriber's private stream", async () => {
    const sub = await accessToken(["subscribe"], "https://example.com/books/:id");
    const stream = await openStream(
      cli.port,
      `/.well-known/mercure?${new URLSearchParams({ match_urlpattern: "https://example.com/books/*" })}`,
      { Authorization: `Bearer ${sub}` },
    );
    assert.equal(stream.res.statusCode, 200);
    const pub = await accessToken(["publish"], "https://example.com/books/:id");
    const answer = await publishMercure(
      cli.port,
      pub,
      new URLSearchParams({
        topic: "https://example.com/books/1",
        data: "in stock",
        private: "on",
      }).toString(),
    );
    assert.equal(answer.status, 200, answer.body);
    await stream.waitForEvents(1, 5_000);
    assert.equal(stream.events[0]?.block, `id:${answer.body}\ndata:in stock`);
    stream.destroy();

    const outside = await publishMercure(cli.port, pub, "topic=https://example.com/authors/1&data=y");
    assert.equal(outside.status, 403, outside.body);
    assert.match(String(outside.challenge), /error="insufficient_scope"/);
    const wrong = await accessToken(["publish"], "*", "another-secret-0123456789abcdef0123456789ab");
    const refused = await publishMercure(cli.port, wrong, "topic=x&data=y");
    assert.equal(refused.status, 401, "signed with a key not bound to the issuer");
    assert.match(String(refused.challenge), /error="invalid_token"/);

    const logs = JSON.stringify(cli.logs);
    for (const secret of [KEY, sub, pub, wrong])
      assert.ok(!logs.includes(secret), "no key or token in the logs");
  });

  it("lists the flags in --help and refuses an issuer without an audience", async () => {
    const help = await runCli(["--help"]);
    for (const flag of [
      "--oauth-issuer",
      "--oauth-issuer-key",
      "--oauth-issuer-jwks-url",
      "--oauth-audience",
      "--oauth-strict",
    ]) {
      assert.ok(help.stdout.includes(flag), flag);
    }
    const bad = await runCli(["--oauth-issuer", ISS, "--oauth-issuer-key", KEY, "--no-demo"]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--oauth-issuer needs --oauth-audience/);
  });
});
