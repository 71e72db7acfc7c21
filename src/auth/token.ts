/**
 * Where a request's token comes from. Priority (Mercure): `Authorization: Bearer` header, then the
 * `authorization` query parameter, then a cookie; a lower source is ignored when a higher one is present,
 * so a stale cookie can never override an explicit header.
 * @module
 */
import type { IncomingMessage } from "node:http";
import { SseBrokerError } from "../errors.js";
import { queryOf } from "../http/urlencoded.js";

export type TokenSource = "header" | "query" | "cookie";

export interface FoundToken {
  readonly token: string;
  readonly source: TokenSource;
}

const BEARER = /^Bearer +([^\s]+)\s*$/i;

/** The request's token, or `null` (anonymous). Throws 401 on a present but unusable source. */
export function findToken(req: IncomingMessage, url: URL, cookieName: string): FoundToken | null {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = BEARER.exec(header);
    if (m === null || m[1] === undefined)
      throw malformed("the Authorization header must be 'Bearer <token>'");
    return { token: m[1], source: "header" };
  }
  const query = queryOf(url).getAll("authorization");
  if (query.length > 0) {
    if (query.length > 1 || query[0] === "")
      throw malformed("the authorization query parameter is malformed");
    return { token: query[0] as string, source: "query" };
  }
  const cookie = readCookie(req.headers.cookie, cookieName);
  return cookie === undefined || cookie === "" ? null : { token: cookie, source: "cookie" };
}

function malformed(message: string): SseBrokerError {
  return new SseBrokerError("SSEB_ERR_AUTH_TOKEN_INVALID", message, { statusCode: 401 });
}

/** One cookie's value from a Cookie header (RFC 6265 §5.4 shape; a JWT never needs unquoting/decoding). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value;
  }
  return undefined;
}
