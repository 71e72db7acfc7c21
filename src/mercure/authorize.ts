/**
 * Request → grants for the hub: find the token (header > query > cookie), check cookie-authenticated
 * publishes against CSRF, verify with the role's key, and read the claims through the configured dialect.
 * @module
 */
import type { IncomingMessage } from "node:http";
import type { Grants } from "../auth/claims.js";
import { verifyJwt } from "../auth/jwt.js";
import { findToken } from "../auth/token.js";
import { SseBrokerError } from "../errors.js";
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
  if (found.source === "cookie" && req.method === "POST") checkOrigin(req, o.publishOrigins);
  const key = role === "publisher" ? o.publisherKey : o.subscriberKey;
  const payload = await verifyJwt(found.token, key, {
    clockToleranceSec: o.jwtClockToleranceSec,
    audience: o.jwtAudience,
    issuer: o.jwtIssuer,
  });
  return o.claims(payload);
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
