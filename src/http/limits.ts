/**
 * The HTTP limits of one broker, built once from its options: who the client is, stream admission and
 * the publish rate. Every stream route calls `admitStream` and every publish route `assertPublishRate`,
 * so each limit is applied in one place.
 * @module
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { BlockList } from "node:net";
import type { Broker } from "../core/broker.js";
import { type RefusalCounts, refusalsOf } from "../metrics/refusals.js";
import { Admission, refuse } from "./admission.js";
import { type ClientInfo, clientInfo, trustedProxies } from "./client-address.js";
import { assertLocalRequest, assertSameOrigin } from "./local-request.js";
import { TokenBuckets } from "./rate-limit.js";

export interface HttpLimits {
  readonly trusted: BlockList | null;
  readonly admission: Admission;
  readonly publishRate: TokenBuckets | null;
  readonly refused: RefusalCounts;
}

const byBroker = new WeakMap<Broker, HttpLimits>();
const clients = new WeakMap<IncomingMessage, ClientInfo>();

export function limitsOf(broker: Broker): HttpLimits {
  let l = byBroker.get(broker);
  if (l === undefined) {
    const o = broker.options;
    const refused = refusalsOf(broker);
    l = {
      trusted: trustedProxies(o.trustProxy),
      admission: new Admission(o, refused),
      publishRate:
        o.publishRatePerKey === null
          ? null
          : new TokenBuckets({ ratePerSec: o.publishRatePerKey, burst: 2 * o.publishRatePerKey }),
      refused,
    };
    byBroker.set(broker, l);
  }
  return l;
}

/** The request's client (see client-address.ts), computed once per request. */
export function clientOf(broker: Broker, req: IncomingMessage): ClientInfo {
  let c = clients.get(req);
  if (c === undefined) {
    c = clientInfo(req, limitsOf(broker).trusted);
    clients.set(req, c);
  }
  return c;
}

/**
 * Admits a new stream or throws 503/429; returns the client's address. The slot is released when the
 * response closes, however the request ends (stream, error, client gone): requests are only handled once
 * they own their connection (connection.ts), so the response's close comes with the connection's.
 * Nothing is kept per stream but the one listener (idle streams are many: see docs/benchmarks.md).
 */
export function admitStream(broker: Broker, req: IncomingMessage, res: ServerResponse): string {
  const address = clientInfo(req, limitsOf(broker).trusted).address;
  const release = limitsOf(broker).admission.admit(address);
  res.on("close", release);
  return address;
}

/** Throws 429 when the publisher (its bearer token, else its address) is over `publishRatePerKey`. */
export function assertPublishRate(broker: Broker, req: IncomingMessage, token: string | null): void {
  const l = limitsOf(broker);
  if (l.publishRate === null) return;
  const key =
    token === null
      ? `ip:${clientOf(broker, req).address}`
      : `token:${createHash("sha256").update(token).digest("base64")}`;
  const waitMs = l.publishRate.take(key);
  if (waitMs === 0) return;
  l.refused.publish_rate++;
  throw refuse("SSEB_ERR_LIMIT_PUBLISH_RATE", "publishing too fast", 429, Math.ceil(waitMs / 1000));
}

/** The local-only rules (local-request.ts), counted as `not_local` when they refuse. */
export function assertLocal(
  broker: Broker,
  req: IncomingMessage,
  what: string,
  allowedOrigins: readonly string[] | null,
): void {
  try {
    assertLocalRequest(req, clientOf(broker, req), what);
    if (allowedOrigins !== null) assertSameOrigin(req, allowedOrigins, what);
  } catch (err) {
    limitsOf(broker).refused.not_local++;
    throw err;
  }
}
