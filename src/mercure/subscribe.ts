/**
 * `GET /.well-known/mercure?topic=…`: authorize (anonymous when allowed), plan the resume from
 * `Last-Event-ID` / `lastEventID`, and open the stream. The subscriber's private-update rights are its
 * token's `mercure.subscribe`; the stream ends at the token's `exp`.
 * @module
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Broker } from "../core/broker.js";
import { badRequest } from "../errors.js";
import { lastEventIdOf } from "../http/handler.js";
import { admitStream } from "../http/limits.js";
import { openEventStream } from "../http/stream.js";
import { queryOf } from "../http/urlencoded.js";
import { authorize, authRequired } from "./authorize.js";
import type { ResolvedMercureOptions } from "./options.js";
import type { MercureSessionMeta } from "./registry.js";

export async function handleSubscribe(
  broker: Broker,
  o: ResolvedMercureOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  headers: Record<string, string>,
): Promise<void> {
  const topics = [...new Set(queryOf(url).getAll("topic"))];
  if (topics.length === 0) {
    throw badRequest("at least one topic query parameter is required");
  }
  const client = admitStream(broker, req, res); // before verifying a token: refused clients cost no JWT check
  const grants = await authorize(req, url, "subscriber", o);
  if (grants === null && !o.anonymous) throw authRequired("subscribing needs a token");
  const mercure: MercureSessionMeta = {
    subscriber: `urn:uuid:${randomUUID()}`,
    topics,
    payload: grants?.payload,
  };
  const pending = await broker.prepare({
    client,
    selectors: topics,
    authorized: grants?.subscribe ?? null,
    lastEventId: lastEventIdOf(req, url),
    // The token was accepted within the clock tolerance: the stream gets the same tolerance, or a token
    // just inside it would open and close at once, and the client would reconnect in a loop.
    expiresAt: grants?.expiresAt === undefined ? undefined : grants.expiresAt + o.jwtClockToleranceSec * 1000,
    meta: { mercure },
  });
  if (res.destroyed) return; // the client left while a backplane caught up
  openEventStream(req, res, pending, headers);
}
