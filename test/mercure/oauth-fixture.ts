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
