/**
 * Mercure 1.0 access tokens (RFC 9068 `at+jwt`, HS256) from one trusted issuer, for tests that need a 1.0
 * publisher or subscriber beside classic ones: the hub options that trust the issuer, and a minting helper.
 */
import { SignJWT } from "jose";
import type { MercureOptions } from "../../src/mercure/index.js";

export const ISSUER = "https://issuer.example.com";
export const ISSUER_KEY = "issuer-secret-at-least-256-bits-long-000!!";
/** The hub's resource identifier, required in `aud`. */
export const AUDIENCE = "https://hub.example.com/.well-known/mercure";
const DETAIL = "https://mercure.rocks/authorization-detail";

/** Hub options trusting `ISSUER` with `ISSUER_KEY` for `AUDIENCE`. */
export const OAUTH: MercureOptions = {
  oauthIssuers: [{ issuer: ISSUER, key: ISSUER_KEY }],
  oauthAudience: AUDIENCE,
};

export interface Grant {
  /** Topic matchers the token may publish to (`{ match: "*" }` = any). */
  publish?: { match: string; match_type?: string }[];
  subscribe?: { match: string; match_type?: string }[];
}

/** An `at+jwt` token with one authorization detail per action, valid for 5 minutes. */
export function accessToken(grant: Grant): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const details = [];
  if (grant.publish !== undefined)
    details.push({ type: DETAIL, actions: ["publish"], topics: grant.publish });
  if (grant.subscribe !== undefined) {
    details.push({ type: DETAIL, actions: ["subscribe"], topics: grant.subscribe });
  }
  return new SignJWT({
    authorization_details: details,
    sub: "urn:uuid:bb3de268-05b0-4c65-b44e-8f9acefc29d6",
    client_id: ISSUER,
    jti: `urn:uuid:${crypto.randomUUID()}`,
  })
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(new TextEncoder().encode(ISSUER_KEY));
}
