/**
 * Mercure 1.0 access tokens for tests: one trusted issuer with an HS256 key, the hub options that trust
 * it, and RFC 9068 `at+jwt` tokens minted as a self-issuing publisher would.
 */
import { SignJWT } from "jose";
import type { MercureOptions } from "../../src/mercure/index.js";

export const ISS = "https://issuer.example.com";
export const ISS_KEY = "issuer-secret-at-least-256-bits-long-000!!";
export const AUD = "https://hub.example.com/.well-known/mercure";
export const DETAIL = "https://mercure.rocks/authorization-detail";

/** Hub options trusting ISS (key ISS_KEY) with the resource identifier AUD. */
export const OAUTH: MercureOptions = { oauthIssuers: [{ issuer: ISS, key: ISS_KEY }], oauthAudience: AUD };

/** Authorization details granting `actions` on every topic. */
export const grantAll = (actions: string[]) => [{ type: DETAIL, actions, topics: [{ match: "*" }] }];

/** An `at+jwt` access token of ISS for AUD, valid 5 minutes, with these authorization details. */
export function accessToken(details: unknown = grantAll(["publish", "subscribe"])): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ authorization_details: details, iss: ISS, aud: AUD, exp: now + 300 })
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
    .sign(new TextEncoder().encode(ISS_KEY));
}

export interface Grant {
  /** Topic matchers the token may publish to (`{ match: "*" }` = any). */
  publish?: { match: string; match_type?: string }[];
  subscribe?: { match: string; match_type?: string }[];
}

/** An `at+jwt` token with every RFC 9068 claim and one authorization detail per action, valid 5 minutes. */
export function grantToken(grant: Grant): Promise<string> {
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
    client_id: ISS,
    jti: `urn:uuid:${crypto.randomUUID()}`,
  })
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
    .setIssuer(ISS)
    .setAudience(AUD)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(new TextEncoder().encode(ISS_KEY));
}
