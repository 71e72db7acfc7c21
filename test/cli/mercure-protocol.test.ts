/**
 * `--mercure-protocol 1` on the real built CLI: a Mercure 1.0-only hub (draft-dunglas-mercure-08) from the
 * command line (trusted issuer, key and audience): a `match` subscription receives an `at+jwt` publish,
 * `topic=` is refused, and its protected resource metadata is served.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import { AUD, ISS } from "../mercure/oauth-fixture.js";
import { type CliProcess, cleanEnv, openStream, publishMercure, startCli } from "./helpers.js";

const KEY = "issuer-secret-0123456789abcdef0123456789abc";
const TOPIC = "https://example.com/books/1";

function accessToken(actions: string[]): Promise<string> {
  return new SignJWT({
    iss: ISS,
    aud: AUD,
    authorization_details: [
      { type: "https://mercure.rocks/authorization-detail", actions, topics: [{ match: "*" }] },
    ],
  })
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
    .setExpirationTime("5m")
    .sign(new TextEncoder().encode(KEY));
}

describe("--mercure-protocol 1 from the command line", () => {
  let cli: CliProcess & { port: number };
  before(async () => {
    cli = await startCli(
      [
        "--mercure-protocol",
        "1",
        "--oauth-issuer",
        ISS,
        "--oauth-issuer-key",
        KEY,
        "--oauth-audience",
        AUD,
        "--anonymous",
        "--no-demo",
      ],
      cleanEnv(),
    );
  });
  after(() => cli.kill());

  it("§Subscription + §Publication: match subscription and at+jwt publish work", async () => {
    const stream = await openStream(
      cli.port,
      `/.well-known/mercure?${new URLSearchParams({ match: TOPIC })}`,
    );
    try {
      assert.equal(stream.res.statusCode, 200);
      const answer = await publishMercure(
        cli.port,
        await accessToken(["publish"]),
        new URLSearchParams({ topic: TOPIC, data: "in stock" }).toString(),
      );
      assert.equal(answer.status, 200, answer.body);
      await stream.waitForEvents(1, 5_000);
      assert.equal(stream.events[0]?.block, `id:${answer.body}\ndata:in stock`);
    } finally {
      stream.destroy();
    }
  });

  it("§Subscription: topic= is refused with a message naming match=", async () => {
    const refused = await openStream(
      cli.port,
      `/.well-known/mercure?${new URLSearchParams({ topic: TOPIC })}`,
    );
    assert.equal(refused.res.statusCode, 400);
    await refused.ended;
    assert.match(refused.text(), /SSEB_ERR_MERCURE_DIALECT_PINNED.*match=/);
  });

  it("§Protected Resource Metadata: the document names the audience as the resource", async () => {
    const doc = await openStream(cli.port, "/.well-known/oauth-protected-resource/.well-known/mercure");
    assert.equal(doc.res.statusCode, 200);
    await doc.ended;
    assert.equal((JSON.parse(doc.text()) as { resource: string }).resource, AUD);
  });
});
