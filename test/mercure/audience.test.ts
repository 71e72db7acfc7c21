/**
 * Optional `aud` / `iss` checks: with `jwtAudience` / `jwtIssuer` a token must name an accepted audience
 * and come from an accepted issuer (else 401 saying which claim); without them neither claim is checked.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import { connectSse } from "../helpers/sse-client.js";
import {
  errorCode,
  type Hub,
  PUBLISHER_SECRET,
  publishForm,
  SUBSCRIBER_SECRET,
  startHub,
} from "./hub-fixture.js";

function signed(
  claims: { aud?: string | string[]; iss?: string },
  mercure: Record<string, unknown>,
  secret: string,
): Promise<string> {
  const jwt = new SignJWT({ mercure }).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  if (claims.aud !== undefined) jwt.setAudience(claims.aud);
  if (claims.iss !== undefined) jwt.setIssuer(claims.iss);
  return jwt.sign(new TextEncoder().encode(secret));
}

const pub = (claims: { aud?: string | string[]; iss?: string }) =>
  signed(claims, { publish: ["*"] }, PUBLISHER_SECRET);
const sub = (claims: { aud?: string | string[]; iss?: string }) =>
  signed(claims, { subscribe: ["*"] }, SUBSCRIBER_SECRET);

let checked: Hub;
let unchecked: Hub;
before(async () => {
  checked = await startHub({
    jwtAudience: ["https://hub.example", "mercure"],
    jwtIssuer: "https://idp.example",
  });
  unchecked = await startHub();
});
after(async () => {
  await checked.close();
  await unchecked.close();
});

describe("JWT audience and issuer", () => {
  it("refuses a publisher token with a wrong aud or iss, or none, with a 401 naming the claim", async () => {
    const cases: [{ aud?: string | string[]; iss?: string }, RegExp][] = [
      [{ aud: "other", iss: "https://idp.example" }, /audience \(aud\) is not accepted/],
      [{ iss: "https://idp.example" }, /no audience \(aud\) claim/],
      [{ aud: "mercure", iss: "https://evil.example" }, /issuer \(iss\) is not accepted/],
      [{ aud: "mercure" }, /no issuer \(iss\) claim/],
    ];
    for (const [claims, message] of cases) {
      const res = await publishForm(
        checked.hub,
        [
          ["topic", "t"],
          ["data", "x"],
        ],
        await pub(claims),
      );
      assert.equal(res.status, 401, JSON.stringify(claims));
      assert.equal(errorCode(res), "SSEB_ERR_AUTH_TOKEN_INVALID");
      assert.match(res.body, message);
      assert.match(String(res.headers["www-authenticate"]), /^Bearer/);
    }
    assert.equal(checked.broker.stats.eventsPublished, 0);
  });

  it("accepts tokens naming an accepted audience (among others) from an accepted issuer", async () => {
    const res = await publishForm(
      checked.hub,
      [
        ["topic", "t"],
        ["data", "x"],
      ],
      await pub({ aud: ["someone-else", "mercure"], iss: "https://idp.example" }),
    );
    assert.equal(res.status, 200, res.body);
    const sse = await connectSse(`${checked.hub}?topic=t`, {
      headers: {
        Authorization: `Bearer ${await sub({ aud: "https://hub.example", iss: "https://idp.example" })}`,
      },
    });
    assert.equal(sse.status, 200);
    sse.close();
    const wrong = await connectSse(`${checked.hub}?topic=t`, {
      headers: { Authorization: `Bearer ${await sub({ aud: "nope", iss: "https://idp.example" })}` },
    });
    assert.equal(wrong.status, 401);
    wrong.close();
  });

  it("does not check aud or iss when not configured", async () => {
    for (const claims of [{}, { aud: "anything", iss: "anyone" }]) {
      const res = await publishForm(
        unchecked.hub,
        [
          ["topic", "t"],
          ["data", "x"],
        ],
        await pub(claims),
      );
      assert.equal(res.status, 200, res.body);
    }
  });

  it("refuses invalid audience and issuer options at start", async () => {
    for (const bad of [{ jwtAudience: "" }, { jwtAudience: [] }, { jwtIssuer: [1] as unknown as string[] }]) {
      await assert.rejects(startHub(bad), { code: "SSEB_ERR_OPTIONS_INVALID" });
    }
  });
});
