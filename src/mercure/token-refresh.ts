/**
 * `POST /.well-known/mercure/subscribers/{id}/token`: a new token for a live stream, without reconnecting
 * (this hub's extension; Mercure itself ends a stream at its token's `exp`).
 *
 * The new token comes in `Authorization: Bearer` only (never the URL, never a cookie a cross-site form
 * would carry), and is verified as the stream's own was: the same dialect (a classic JWT, or a Mercure 1.0
 * access token), with the same subscriber key or trusted issuers, audience, issuer and clock tolerance. It
 * must grant every selector of private updates the stream's current token grants (the same selectors: a
 * 1.0 matcher's type and string, a classic selector's string; `*` covers all): a refresh may widen a
 * stream's rights, never narrow them behind its back — a narrower token means a new stream. On success the stream's rights become the new token's and
 * it ends at the new `exp` (its notice moves with it); the new token becomes the stream's own credential
 * (selector changes) in place of the old one, and its `maxStreamsPerToken` slot moves to the new token
 * (429 when that token already holds as many streams as it may open). Its subscriptions take the new
 * token's payloads (the subscriptions APIs list them; a subscription whose payload changed is announced
 * again, events.ts), and matchers added later read theirs from it. Refused 409 while the stream
 * replays history (Broker.renewToken).
 *
 * Any node: a node that does not hold the stream forwards {id, token} through the subscriber router
 * (src/subscribers/redis.ts); the holder runs `refreshLocally` with its own keys and its answer is
 * returned as is. The token crosses Redis in that message only, never stored nor logged.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { verifyJwt } from "../auth/jwt.js";
import type { Broker } from "../core/broker.js";
import type { SelectorSet } from "../core/topic.js";
import { notFoundError, SseBrokerError } from "../errors.js";
import { sendJson } from "../http/respond.js";
import { credentialHashOf, refusedError, subscriberRouterOf } from "../subscribers/change.js";
import { isAccessToken, payloadFor, verifyAccessToken } from "./access-token.js";
import { authRequired, insufficientScope } from "./authorize.js";
import type { ResolvedMercureOptions } from "./options.js";
import { HUB_PATH } from "./paths.js";
import { type MercureSessionMeta, metaWithToken } from "./registry.js";
import { tokenStreamsOf } from "./token-streams.js";

export const SUBSCRIBERS_PATH = `${HUB_PATH}/subscribers`;
const BEARER = /^Bearer +([^\s]+)\s*$/i;
/** The key of a `*` selector, classic or 1.0 (matchers.ts): every topic. */
const ANY = "*";

/** The subscriber id of a `…/subscribers/{id}/token` path (the id percent-encoded or not); else `null`. */
export function refreshTarget(path: string): string | null {
  if (!path.startsWith(`${SUBSCRIBERS_PATH}/`) || !path.endsWith("/token")) return null;
  const segment = path.slice(SUBSCRIBERS_PATH.length + 1, -"/token".length);
  if (segment === "" || segment.includes("/")) return null;
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

export async function handleTokenRefresh(
  broker: Broker,
  o: ResolvedMercureOptions,
  req: IncomingMessage,
  res: ServerResponse,
  subscriber: string,
  headers: Record<string, string>,
): Promise<void> {
  const header = req.headers.authorization;
  const m = header === undefined ? null : BEARER.exec(header);
  if (m === null || m[1] === undefined)
    throw authRequired("a token refresh needs 'Authorization: Bearer <token>'");
  const token = m[1];
  let done = await refreshLocally(broker, o, subscriber, token);
  if (done === null) {
    const answer = await subscriberRouterOf(broker)?.forward({ kind: "token", id: subscriber, token });
    if (answer == null) throw notFoundError("no such subscriber");
    if (!answer.ok) throw refusedError(answer);
    done = { expiresAt: answer.expiresAt };
  }
  sendJson(res, 200, { subscriber, expiresAt: done.expiresAt }, headers);
}

/**
 * Refreshes a stream this node holds (for this node's request or another node's); `null` when it holds
 * none with that id. Throws the coded refusals.
 */
export async function refreshLocally(
  broker: Broker,
  o: ResolvedMercureOptions,
  subscriber: string,
  token: string,
): Promise<{ expiresAt: string | null } | null> {
  const session = broker.subscriber(subscriber);
  const mercure = session?.meta.mercure as MercureSessionMeta | undefined;
  // Only streams of this hub: another route's session with the same id is not the hub's to change.
  if (session === undefined || session.closed || mercure?.subscriber !== subscriber) return null;
  if (mercure.tokenDialect === undefined) {
    throw new SseBrokerError(
      "SSEB_ERR_SUBSCRIBER_NO_TOKEN",
      "this stream was opened without a token: open a new stream with one",
      { statusCode: 409 },
    );
  }
  let grants: SelectorSet | null;
  let expiresAt: number | undefined;
  // What the new token attaches to the stream's subscriptions, as subscribe.ts reads it at the opening.
  let payload: unknown;
  let payloadOf: (match: string) => unknown;
  if (mercure.tokenDialect === "1") {
    const g = await verifyAccessToken(token, o, o.hubBase);
    grants = g.subscribe;
    expiresAt = g.expiresAt;
    payload = g.payload;
    payloadOf = (match) => payloadFor(g, match);
  } else {
    if (isAccessToken(token)) throw authRequired("this stream's token is a classic Mercure JWT");
    const claims = await verifyJwt(token, o.subscriberKey, {
      clockToleranceSec: o.jwtClockToleranceSec,
      audience: o.jwtAudience,
      issuer: o.jwtIssuer,
    });
    const g = o.claims(claims);
    grants = g.subscribe === null ? null : broker.matcher.compile(g.subscribe);
    expiresAt = g.expiresAt;
    payload = g.payload;
    payloadOf = () => g.payload;
  }
  if (!covers(grants, session.grants)) {
    const message = "the new token does not grant every private selector of the stream's token";
    throw mercure.tokenDialect === "1"
      ? insufficientScope(message)
      : new SseBrokerError("SSEB_ERR_AUTH_FORBIDDEN", message, { statusCode: 403 });
  }
  if (session.closed) throw notFoundError("no such subscriber"); // it ended while the token was verified
  // The stream was opened with the same tolerance on its token (see subscribe.ts).
  const end = expiresAt === undefined ? undefined : expiresAt + o.jwtClockToleranceSec * 1000;
  // From here to the end nothing awaits: the room checked is the room taken.
  const slot = tokenStreamsOf(o)?.slotOf(session);
  slot?.checkRoom(token); // 429, as opening a stream with that token would be
  // The subscriptions take the new token's payloads (events.ts announces those that changed).
  const meta = metaWithToken(session, payload, payloadOf);
  broker.renewToken(session, end, grants, credentialHashOf(token), meta && { mercure: meta }); // 409 during a replay
  slot?.moveTo(token);
  return { expiresAt: session.expiresAt === undefined ? null : new Date(session.expiresAt).toISOString() };
}

/**
 * True when `fresh` grants every selector `old` does, compared by key (a 1.0 matcher's type and string:
 * an exact matcher spelt like a URL pattern grants far less); a `*` grant covers all, in both dialects.
 */
function covers(fresh: SelectorSet | null, old: SelectorSet | null): boolean {
  const wanted = old?.selectors ?? [];
  if (wanted.length === 0) return true;
  const have = new Set(fresh?.selectors.map((s) => s.key));
  if (have.has(ANY)) return true;
  return wanted.every((s) => have.has(s.key));
}
