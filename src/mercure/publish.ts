/**
 * `POST /.well-known/mercure`: authorize (401 without a valid publisher token), parse the form (400),
 * check every topic against `mercure.publish` (403), publish, answer the id as text. A Mercure 1.0 access
 * token (`at+jwt`) is checked against its `publish` matchers instead (403 `insufficient_scope`).
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { findToken } from "../auth/token.js";
import type { Broker } from "../core/broker.js";
import { SseBrokerError } from "../errors.js";
import { decodeUtf8, readBody } from "../http/body.js";
import { assertPublishRate } from "../http/limits.js";
import { sendText } from "../http/respond.js";
import {
  authorize,
  authorizeAccess,
  authRequired,
  carriesAccessToken,
  insufficientScope,
} from "./authorize.js";
import { assertFormContentType, parseForm, publishInputOf } from "./form.js";
import type { ResolvedMercureOptions } from "./options.js";

export async function handlePublish(
  broker: Broker,
  o: ResolvedMercureOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  headers: Record<string, string>,
): Promise<void> {
  if (carriesAccessToken(req, url, o)) return handlePublish1(broker, o, req, res, url, headers);
  // Authorize before reading the body: an unauthenticated client gets nothing buffered.
  const grants = await authorize(req, url, "publisher", o);
  if (grants === null) throw authRequired("publishing needs a token");
  if (grants.publish === null || grants.publish.length === 0) {
    throw authRequired("the token has no mercure.publish claim");
  }
  assertPublishRate(broker, req, findToken(req, url, o.cookieName)?.token ?? null);
  assertFormContentType(req);
  const input = publishInputOf(parseForm(decodeUtf8(await readBody(req, broker.options.maxBodyBytes))));
  const topics = typeof input.topic === "string" ? [input.topic] : input.topic;
  for (const topic of topics) {
    // Every topic, alternates included: an alternate must not smuggle an update into a forbidden topic.
    if (!broker.matcher.matchesAny(grants.publish, [topic])) {
      throw new SseBrokerError("SSEB_ERR_AUTH_FORBIDDEN", "the token may not publish to this topic", {
        statusCode: 403,
      });
    }
  }
  const id = await broker.publish(input);
  sendText(res, 200, id, headers);
}

/** Mercure 1.0: an `at+jwt` token whose publish matchers must cover every topic, alternates included. */
async function handlePublish1(
  broker: Broker,
  o: ResolvedMercureOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  headers: Record<string, string>,
): Promise<void> {
  const grants = await authorizeAccess(req, url, o);
  if (grants === null) throw authRequired("publishing needs a token");
  if (grants.publish.selectors.length === 0) throw insufficientScope("the token grants no publish action");
  assertPublishRate(broker, req, req.headers.authorization ?? null);
  assertFormContentType(req);
  const input = publishInputOf(parseForm(decodeUtf8(await readBody(req, broker.options.maxBodyBytes))));
  const topics = typeof input.topic === "string" ? [input.topic] : input.topic;
  // All or nothing: one uncovered topic refuses the whole update (draft-08, Publishers).
  for (const topic of topics) {
    if (!grants.publish.matches(topic)) throw insufficientScope("the token may not publish to this topic");
  }
  const id = await broker.publish(input);
  sendText(res, 200, id, headers);
}
