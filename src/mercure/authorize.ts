/**
 * Request → grants for the hub: find the token (header > query > cookie), check cookie-authenticated
 * publishes against CSRF, verify with the role's key, and read the claims through the configured dialect.
 * Mercure 1.0 access tokens have their own sources (header, then the 1.0 cookie; never the URL).
 * @module
 */
import type { IncomingMessage } from "node:http";
import type { Grants } from "../auth/claims.js";
import { verifyJwt } from "../auth/jwt.js";
import { findToken, readCookie } from "../auth/token.js";
import { SseBrokerError } from "../errors.js";
import { queryOf } from "../http/urlencoded.js";
import { type AccessGrants, isAccessToken, verifyAccessToken } from "./access-token.js";
import type { ResolvedMercureOptions } from "./options.js";

export type Role = "publisher" | "subscriber";

/** The bearer's grants, or `null` for an anonymous request (no token anywhere). Throws 401/403 otherwise. */
export async function authorize(
  req: IncomingMessage,
  url: URL,
  role: Role,
  o: ResolvedMercureOptions,
): Promise<Grants | null> {
  const found = findToken(req, url, o.cookieName);
  if (found === null) return null;
  // Browsers attach cookies to cross-site form posts by themselves: only listed origins may publish so.
  // (A subscription, whatever its method, only reads: CORS keeps its answer from other origins.)
  if (found.source === "cookie" && role === "publisher") checkOrigin(req, o.publishOrigins);
  const key = role === "publisher" ? o.publisherKey : o.subscriberKey;
  const payload = await verifyJwt(found.token, key, {
    clockToleranceSec: o.jwtClockToleranceSec,
    audience: o.jwtAudience,
    issuer: o.jwtIssuer,
  });
  return o.claims(payload);
}

/** The Mercure 1.0 cookie name (draft-08, Cookie: RECOMMENDED). */
export const ACCESS_TOKEN_COOKIE = "__Secure-mercure_access_token";

/**
 * True when the request speaks Mercure 1.0 through its credentials: an `at+jwt` token where a classic one
 * would be, or the 1.0 cookie. Only on hubs with trusted issuers serving 1.0, so classic hubs behave as
 * before.
 */
export function carriesAccessToken(req: IncomingMessage, url: URL, o: ResolvedMercureOptions): boolean {
  if (o.oauthIssuers.size === 0 || o.protocol === "classic") return false;
  let found: ReturnType<typeof findToken>;
  try {
    found = findToken(req, url, o.cookieName);
  } catch {
    return false; // a malformed classic source is the classic path's error to report
  }
  if (found !== null && isAccessToken(found.token)) return true;
  return found?.source !== "header" && readCookie(req.headers.cookie, ACCESS_TOKEN_COOKIE) !== undefined;
}

const BEARER = /^Bearer +([^\s]+)\s*$/i;

/**
 * Mercure 1.0 token sources: the `Authorization: Bearer` header, else the 1.0 cookie, else an `at+jwt`
 * token in the classic cookie (cookies are ignored when the header is there); never the URL (draft-08,
 * Presenting the Access Token). `null` = no token.
 */
export function findAccessToken(
  req: IncomingMessage,
  url: URL,
  classicCookie?: string,
): { token: string; cookie: boolean } | null {
  const q = queryOf(url);
  if (q.has("authorization") || q.has("access_token")) {
    throw invalidRequest("Mercure 1.0 access tokens are never accepted in the URL");
  }
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = BEARER.exec(header);
    if (m === null || m[1] === undefined)
      throw invalidRequest("the Authorization header must be 'Bearer <token>'");
    return { token: m[1], cookie: false };
  }
  let cookie = readCookie(req.headers.cookie, ACCESS_TOKEN_COOKIE);
  // An at+jwt token in the hub's classic cookie is still a 1.0 token: ignoring it would silently make its
  // bearer anonymous (carriesAccessToken already counted it as 1.0).
  if ((cookie === undefined || cookie === "") && classicCookie !== undefined) {
    const classic = readCookie(req.headers.cookie, classicCookie);
    if (classic !== undefined && isAccessToken(classic)) cookie = classic;
  }
  return cookie === undefined || cookie === "" ? null : { token: cookie, cookie: true };
}

/** Mercure 1.0: the bearer's grants, or `null` without a token. Throws 400/401 (coded) otherwise. */
export async function authorizeAccess(
  req: IncomingMessage,
  url: URL,
  role: Role,
  o: ResolvedMercureOptions,
): Promise<AccessGrants | null> {
  const found = findAccessToken(req, url, o.cookieName);
  if (found === null) return null;
  if (found.cookie && role === "publisher") checkOrigin(req, o.publishOrigins);
  return verifyAccessToken(found.token, o, o.hubBase);
}

function invalidRequest(message: string): SseBrokerError {
  return new SseBrokerError("SSEB_ERR_MERCURE_TOKEN_REQUEST", message, { statusCode: 400 });
}

export function insufficientScope(message: string): SseBrokerError {
  return new SseBrokerError("SSEB_ERR_MERCURE_TOKEN_SCOPE", message, { statusCode: 403 });
}

function checkOrigin(req: IncomingMessage, allowed: "*" | readonly string[]): void {
  let origin = req.headers.origin;
  if (origin === undefined || origin === "null") {
    const referer = req.headers.referer;
    if (referer === undefined)
      throw forbidden("a cookie-authenticated publish needs an Origin or Referer header");
    try {
      origin = new URL(referer).origin;
    } catch {
      throw forbidden("the Referer header is not a valid URL");
    }
  }
  if (allowed !== "*" && !allowed.includes(origin)) throw forbidden("this origin may not publish");
}

function forbidden(message: string): SseBrokerError {
  return new SseBrokerError("SSEB_ERR_AUTH_FORBIDDEN", message, { statusCode: 403 });
}

export function authRequired(message: string): SseBrokerError {
  return new SseBrokerError("SSEB_ERR_AUTH_REQUIRED", message, { statusCode: 401 });
}
