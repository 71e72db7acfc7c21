/**
 * `GET /.well-known/mercure/subscriptions[/{topic}[/{subscriber}]]`: active subscriptions as JSON-LD, for a
 * token whose `mercure.subscribe` matches the requested path. A request with a Mercure 1.0 access token gets
 * the 1.0 API instead (subscriptions-api1.ts).
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Broker } from "../core/broker.js";
import { badRequest, notFoundError, SseBrokerError } from "../errors.js";
import { authorize, authRequired, carriesAccessToken } from "./authorize.js";
import type { ResolvedMercureOptions } from "./options.js";
import { encodeSegment, JSONLD_CONTEXT, SUBSCRIPTIONS_PATH } from "./paths.js";
import type { SubscriptionRegistry } from "./registry.js";
import { handleSubscriptionsApi1 } from "./subscriptions-api1.js";

export async function handleSubscriptionsApi(
  broker: Broker,
  registry: SubscriptionRegistry,
  o: ResolvedMercureOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  headers: Record<string, string>,
): Promise<void> {
  // A 1.0 request (an access token, or any request on a 1.0-only hub) gets the 1.0 shape.
  if (o.protocol === "1" || carriesAccessToken(req, url, o)) {
    return handleSubscriptionsApi1(broker, registry, o, req, res, url, headers);
  }
  const grants = await authorize(req, url, "subscriber", o);
  if (grants === null) throw authRequired("the subscriptions API needs a token");
  const path = url.pathname;
  if (grants.subscribe === null || !broker.matcher.matchesAny(grants.subscribe, [path])) {
    throw new SseBrokerError("SSEB_ERR_AUTH_FORBIDDEN", "the token may not read these subscriptions", {
      statusCode: 403,
    });
  }
  const parts = segments(path);
  if (parts === null) throw notFoundError("not found");
  const [topic, subscriber] = parts;
  const lastEventID = broker.lastEventId ?? "earliest";
  const list = await registry.list({ topic, subscriber });
  if (subscriber !== undefined) {
    const doc = list[0];
    if (doc === undefined) throw notFoundError("no such subscription");
    return sendJsonLd(res, { ...doc, lastEventID }, headers);
  }
  const id = topic === undefined ? SUBSCRIPTIONS_PATH : `${SUBSCRIPTIONS_PATH}/${encodeSegment(topic)}`;
  sendJsonLd(
    res,
    { "@context": JSONLD_CONTEXT, id, type: "Subscriptions", lastEventID, subscriptions: list },
    headers,
  );
}

/** `[topic?, subscriber?]` decoded from the path; `null` for anything deeper, 400 for bad escapes. */
function segments(path: string): [string | undefined, string | undefined] | null {
  const rest = path.slice(SUBSCRIPTIONS_PATH.length);
  if (rest === "" || rest === "/") return [undefined, undefined];
  const parts = rest.slice(1).split("/");
  if (parts.length > 2 || parts.some((p) => p === "")) return null;
  try {
    const decoded = parts.map((p) => decodeURIComponent(p));
    return [decoded[0], decoded[1]];
  } catch {
    throw badRequest("the path is not valid percent-encoding");
  }
}

function sendJsonLd(res: ServerResponse, body: unknown, headers: Record<string, string>): void {
  const text = JSON.stringify(body);
  res.writeHead(200, {
    ...headers,
    "Content-Type": "application/ld+json",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-store",
  });
  res.end(text);
}
