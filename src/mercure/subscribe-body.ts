/**
 * Mercure 1.0 subscriptions with their parameters in a form body (draft-08, Subscription): `QUERY` on the
 * hub URL, or `POST` asking for `text/event-stream`. The parameter set is the union of the query's and
 * the body's pairs, query first; from there on it is a `GET` subscription (subscribe.ts).
 *
 * The body is read whole, bounded by `maxSubscribeBodyBytes` (and the server's request timeout), before
 * the stream is admitted: a slow upload never holds a stream slot (admission.ts counts from `admitStream`
 * to the response's close).
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Broker } from "../core/broker.js";
import { badRequest, SseBrokerError } from "../errors.js";
import { decodeUtf8, mediaType, readBody } from "../http/body.js";
import { parseUrlEncoded, type UrlEncodedFields } from "../http/urlencoded.js";
import { authRequired } from "./authorize.js";
import { subscribes1 } from "./dialect.js";
import type { ResolvedMercureOptions } from "./options.js";
import { handleSubscribe1 } from "./subscribe.js";

const FORM = "application/x-www-form-urlencoded";

/**
 * True for a `POST` that is a subscription: its `Accept` header names `text/event-stream` (with q > 0;
 * wildcards do not count). Every other `POST` is a publish: publishers do not ask for an event stream
 * (the answer to a publish is `text/plain`), so existing publishers keep publishing.
 */
export function asksForEventStream(req: IncomingMessage): boolean {
  const accept = req.headers.accept;
  if (accept === undefined) return false;
  for (const part of accept.split(",")) {
    const [type = "", ...params] = part.split(";");
    if (type.trim().toLowerCase() !== "text/event-stream") continue;
    const q = params.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith("q="));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

export async function handleBodySubscribe(
  broker: Broker,
  o: ResolvedMercureOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  headers: Record<string, string>,
): Promise<void> {
  const query = parseUrlEncoded(url.search.slice(1), "the query string");
  // A hub without anonymous subscribers buffers nothing for a request that carries no credentials at all
  // (the token itself is verified after the body, with the matchers, as for GET).
  if (!o.anonymous && req.headers.authorization === undefined && req.headers.cookie === undefined) {
    if (hasBody(req)) req.resume();
    throw authRequired("subscribing needs a token");
  }
  const fields = hasBody(req) ? union(query, await readForm(req, o)) : query;
  if (!subscribes1(o, fields)) {
    throw badRequest(
      fields.has("topic")
        ? `classic topic= subscriptions use GET; a ${req.method} subscription takes Mercure 1.0 match… parameters`
        : `a ${req.method} subscription needs at least one match… parameter (in the query or the form body)`,
    );
  }
  return handleSubscribe1(broker, o, req, res, url, headers, fields);
}

/** A body is announced by a non-zero `Content-Length` or by `Transfer-Encoding` (RFC 9112, 6.3). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  if (length !== undefined) return length !== "0";
  return req.headers["transfer-encoding"] !== undefined;
}

/** 415 unless a UTF-8 form; 413 past `maxSubscribeBodyBytes`; 400 on invalid UTF-8 or URL-encoding. */
async function readForm(req: IncomingMessage, o: ResolvedMercureOptions): Promise<UrlEncodedFields> {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(req.headers["content-type"] ?? "")?.[1];
  if (mediaType(req) !== FORM || (charset !== undefined && !/^utf-?8$/i.test(charset))) {
    req.resume(); // discard; the error response closes the connection
    throw new SseBrokerError(
      "SSEB_ERR_MEDIA_TYPE_UNSUPPORTED",
      `a subscription body must be ${FORM} (UTF-8)`,
      { statusCode: 415 },
    );
  }
  return parseUrlEncoded(decodeUtf8(await readBody(req, o.maxSubscribeBodyBytes)), "the form body");
}

/** Every pair of both, as if in one component; the query's values come first under each name. */
function union(query: UrlEncodedFields, body: UrlEncodedFields): UrlEncodedFields {
  const all: UrlEncodedFields = new Map();
  for (const [name, values] of query) all.set(name, [...values]);
  for (const [name, values] of body) {
    const list = all.get(name);
    if (list === undefined) all.set(name, [...values]);
    else list.push(...values);
  }
  return all;
}
