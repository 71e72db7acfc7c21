/**
 * The Mercure hub through the CLI: keys from the reference hub's environment variables, an anonymous
 * subscriber, a publisher with a JWT; no key or token ever in the logs.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import { type CliProcess, cleanEnv, openStream, publishMercure, startCli } from "./helpers.js";

const PUBLISHER_KEY = "publisher-secret-0123456789abcdef0123456789";
const SUBSCRIBER_KEY = "subscriber-secret-0123456789abcdef012345678";

describe("Mercure hub from the command line", () => {
  let cli: CliProcess & { port: number };
  before(async () => {
    cli = await startCli(
      ["--anonymous", "--log-level", "trace", "--no-demo"],
      cleanEnv({ MERCURE_PUBLISHER_JWT_KEY: PUBLISHER_KEY, MERCURE_SUBSCRIBER_JWT_KEY: SUBSCRIBER_KEY }),
    );
  });
  after(() => cli.kill());

  it("delivers an update published with a JWT to an anonymous subscriber", async () => {
    assert.equal(cli.logs.find((l) => l.msg.startsWith("Listening on "))?.mercure, true);
    const stream = await openStream(cli.port, "/.well-known/mercure?topic=https://example.com/books/1");
    assert.equal(stream.res.statusCode, 200);
    const token = await new SignJWT({ mercure: { publish: ["*"] } })
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode(PUBLISHER_KEY));
    const answer = await publishMercure(cli.port, token, "topic=https://example.com/books/1&data=in%20stock");
    assert.equal(answer.status, 200);
    await stream.waitForEvents(1, 5_000);
    assert.equal(stream.events[0]?.block, `id:${answer.body}\ndata:in stock`);
    stream.destroy();

    const wrong = await new SignJWT({ mercure: { publish: ["*"] } })
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode(SUBSCRIBER_KEY));
    assert.equal(
      (await publishMercure(cli.port, wrong, "topic=x&data=y")).status,
      401,
      "signed with the wrong key",
    );

    const logs = JSON.stringify(cli.logs);
    for (const secret of [PUBLISHER_KEY, SUBSCRIBER_KEY, token, wrong]) {
      assert.ok(!logs.includes(secret), "no key or token in the logs");
    }
  });
});
