/**
 * CORS headers for streams and publishing. With an explicit origin list the request's origin is echoed
 * and credentials are allowed (cookies need that; browsers refuse `*` with credentials).
 * @module
 */
import type { IncomingMessage } from "node:http";

export type CorsOrigins = "*" | readonly string[] | null;

// Idempotency-Key / Idempotent-Replayed: a browser publisher retrying safely (see idempotency.ts).
const ALLOW_HEADERS = "Authorization, Content-Type, Last-Event-ID, Cache-Control, Idempotency-Key";
// Mercure-Last-Event-ID: the Mercure 1.0 resume cursor, for polyfills that read response headers.
// SSE-Broker-Subscriber: a page changing its own stream's selectors needs its id (subscribers.ts).
const EXPOSE_HEADERS =
  "Last-Event-ID, Mercure-Last-Event-ID, Link, Idempotent-Replayed, SSE-Broker-Subscriber, SSE-Broker-Heartbeat";

export function corsHeaders(req: IncomingMessage, origins: CorsOrigins): Record<string, string> {
  if (origins === null) return {};
  if (origins === "*")
    return { "Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": EXPOSE_HEADERS };
  const origin = req.headers.origin;
  if (origin === undefined || !origins.includes(origin)) return { Vary: "Origin" };
  return {
    "Access-Control-Allow-Origin": origin,
    "Access-Control-Allow-Credentials": "true",
    "Access-Control-Expose-Headers": EXPOSE_HEADERS,
    Vary: "Origin",
  };
}

/** Headers answering a preflight (OPTIONS) request. */
export function preflightHeaders(
  req: IncomingMessage,
  origins: CorsOrigins,
  methods: string,
): Record<string, string> {
  const base = corsHeaders(req, origins);
  if (!("Access-Control-Allow-Origin" in base)) return base;
  return {
    ...base,
    "Access-Control-Allow-Methods": methods,
    "Access-Control-Allow-Headers": ALLOW_HEADERS,
    "Access-Control-Max-Age": "600",
  };
}
