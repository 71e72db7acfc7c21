/**
 * The Mercure 1.0 subscription API (draft-08, Subscription API), for requests carrying an `at+jwt` access
 * token: `GET /.well-known/mercure/subscriptions[/{match_type}/{match}[/{subscriber}]]`, JSON documents
 * of 1.0 subscriptions only, the reconciliation cursor on the `rel="mercure"` Link and as the ETag.
 * @module
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Broker } from "../core/broker.js";
import { badRequest, notFoundError } from "../errors.js";
import { sendJson } from "../http/respond.js";
import { authorizeAccess, authRequired, insufficientScope } from "./authorize.js";
import { mercureLinkHeader } from "./discovery.js";
import type { ResolvedMercureOptions } from "./options.js";
import { MATCH_TYPES, type MatchType, SUBSCRIPTIONS_PATH } from "./paths.js";
import type { Mercure1SubscriptionFilter, SubscriptionRegistry } from "./registry.js";

export async function handleSubscriptionsApi1(
  broker: Broker,
  registry: SubscriptionRegistry,
  o: ResolvedMercureOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  headers: Record<string, string>,
): Promise<void> {
  const grants = await authorizeAccess(req, url, "subscriber", o);
  if (grants === null) throw authRequired("the subscriptions API needs an access token");
  // The topic to authorize is the request URL in relative form, its path without the query; URL patterns
  // are evaluated against it resolved on the hub URL (the grants were compiled on that base).
  const path = url.pathname;
  if (!grants.subscribe.matches(path)) {
    throw insufficientScope("the access token does not grant subscribe on this subscriptions URL");
  }
  const filter = filterOf(path);
  // Read before listing: a subscription event after it is then replayed from this cursor.
  const cursor = broker.lastEventId ?? "earliest";
  const list = (await registry.listMercure1?.(filter)) ?? [];
  const out: Record<string, string> = {
    ...headers,
    Link: mercureLinkHeader(o.hubUrl, {
      lastEventId: cursor,
      type: "mercure",
      contentType: "application/json",
    }),
    ETag: entityTag(cursor),
    "Cache-Control": "must-revalidate",
    "Content-Type": "application/json", // exactly, as draft-08 (Subscription API) says
  };
  if (filter.subscriber !== undefined) {
    const doc = list[0];
    if (doc === undefined) throw notFoundError("no such subscription");
    return sendJson(res, 200, doc, out);
  }
  sendJson(res, 200, { id: path, type: "subscriptions", subscriptions: list }, out);
}

/**
 * The filter a path asks for: `[]` the collection, `[type, match]` one matcher's, `[type, match, subscriber]`
 * one subscription. An unknown matcher type or another shape is a 404, a bad escape a 400.
 */
function filterOf(path: string): Mercure1SubscriptionFilter {
  const rest = path.slice(SUBSCRIPTIONS_PATH.length);
  if (rest === "" || rest === "/") return {};
  const parts = rest.slice(1).split("/");
  const [type, match, subscriber] = parts;
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "")) throw notFoundError("not found");
  if (!MATCH_TYPES.includes(type as MatchType)) throw notFoundError("unknown matcher type");
  try {
    return {
      matchType: type as MatchType,
      match: decodeURIComponent(match as string),
      subscriber: subscriber === undefined ? undefined : decodeURIComponent(subscriber),
    };
  } catch {
    throw badRequest("the path is not valid percent-encoding");
  }
}

/**
 * The cursor as a strong entity tag. Event ids may hold characters an entity tag cannot (`"`, controls,
 * spaces): those are tagged by a digest of the id instead.
 */
function entityTag(cursor: string): string {
  if (/^[\x21\x23-\x7e]+$/.test(cursor)) return `"${cursor}"`;
  return `"sha256-${createHash("sha256").update(cursor).digest("base64url")}"`;
}
