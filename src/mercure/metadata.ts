/**
 * Mercure 1.0 discovery (draft-08, Protected Resource Metadata): the OAuth 2.0 Protected Resource Metadata
 * document (RFC 9728) at `/.well-known/oauth-protected-resource` + the hub URL's path, and its absolute URL
 * for the `resource_metadata` parameter of the hub's Bearer challenges.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { SseBrokerError } from "../errors.js";
import { AUTHORIZATION_DETAIL_TYPE } from "./access-token.js";
import { ACCESS_TOKEN_COOKIE } from "./authorize.js";
import type { ResolvedMercureOptions } from "./options.js";

const WELL_KNOWN = "/.well-known/oauth-protected-resource";
const METHODS = "GET, HEAD, OPTIONS";

/** The path the document is served at: derived from the hub URL's path (RFC 9728 §3.1). */
export function metadataPath(o: ResolvedMercureOptions): string {
  const path = new URL(o.hubUrl, "http://localhost").pathname;
  return path === "/" ? WELL_KNOWN : `${WELL_KNOWN}${path}`;
}

/**
 * The hub's resource identifier: `oauthAudience`, else the absolute hub URL on the request's own origin
 * (the request URL here is always based on `http://localhost`, so the Host header is read; set
 * `oauthAudience` rather than rely on it behind a proxy).
 */
export function resourceOf(o: ResolvedMercureOptions, req: IncomingMessage): string {
  return o.oauthAudience ?? new URL(o.hubUrl, requestOrigin(req)).href;
}

/**
 * RFC 9728 §3.1: the metadata URL of a resource identifier inserts the well-known path between its origin
 * and its path (a lone `/` path dropped), keeping the query. A resource identifier that is not an http(s)
 * URL has no such URL: the hub URL's is used instead.
 */
export function metadataUrlOf(o: ResolvedMercureOptions, req: IncomingMessage): string {
  let resource: URL | null = null;
  try {
    resource = new URL(resourceOf(o, req));
  } catch {
    // an audience that is not a URL: fall through to the hub URL
  }
  if (resource === null || (resource.protocol !== "https:" && resource.protocol !== "http:")) {
    resource = new URL(o.hubUrl, requestOrigin(req));
  }
  const path = resource.pathname === "/" ? "" : resource.pathname;
  return `${resource.origin}${WELL_KNOWN}${path}${resource.search}`;
}

/** The document's members (draft-08, Protected Resource Metadata). */
export function metadataDocument(o: ResolvedMercureOptions, req: IncomingMessage): Record<string, unknown> {
  return {
    resource: resourceOf(o, req),
    // Only issuers met through a JWKS URL are authorization servers a client could turn to; issuers with a
    // configured key are self-issuing publishers (draft-08: omitted when tokens are self-issued).
    ...(o.oauthAuthorizationServers.length > 0
      ? { authorization_servers: [...o.oauthAuthorizationServers] }
      : {}),
    authorization_details_types_supported: [AUTHORIZATION_DETAIL_TYPE],
    bearer_methods_supported: ["header"],
    mercure_cookie: ACCESS_TOKEN_COOKIE,
    mercure_matcher_types_supported: ["exact", "urlpattern"],
    ...(o.subscriptions ? { mercure_subscriptions: true } : {}),
  };
}

/** GET/HEAD: the document; OPTIONS: an open preflight. Public metadata: any origin, never credentials. */
export function handleMetadata(
  o: ResolvedMercureOptions,
  req: IncomingMessage,
  res: ServerResponse,
  headers: Record<string, string>,
): void {
  const method = req.method ?? "GET";
  const cors = { "Access-Control-Allow-Origin": "*" };
  if (method === "OPTIONS") {
    res.writeHead(204, {
      ...cors,
      "Access-Control-Allow-Methods": METHODS,
      "Access-Control-Max-Age": "86400",
      Allow: METHODS,
    });
    res.end();
    return;
  }
  if (method !== "GET" && method !== "HEAD") {
    Object.assign(headers, cors, { Allow: METHODS });
    throw new SseBrokerError("SSEB_ERR_METHOD_NOT_ALLOWED", `method not allowed; allowed: ${METHODS}`, {
      statusCode: 405,
    });
  }
  const body = JSON.stringify(metadataDocument(o, req));
  res.writeHead(200, {
    ...cors,
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-cache",
  });
  res.end(method === "HEAD" ? undefined : body);
}

// The Host header names the origin the client used; anything that is not a plain host[:port] is ignored.
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

function requestOrigin(req: IncomingMessage): string {
  // HTTP/2 names it `:authority` (a client may send both; Host then must agree, RFC 9113 8.3.1).
  const authority = req.headers.host ?? req.headers[":authority"];
  const host = typeof authority === "string" ? authority : undefined;
  // `socket` is null once the connection is gone (e.g. closed after a 413 while the body streamed in).
  const scheme = (req.socket as TLSSocket | null)?.encrypted === true ? "https" : "http";
  if (host !== undefined && HOST.test(host)) {
    try {
      return new URL(`${scheme}://${host}`).origin; // also refuses what the pattern lets through (port 99999)
    } catch {
      // not an origin: localhost below
    }
  }
  return `${scheme}://localhost`;
}
