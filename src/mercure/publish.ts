/**
 * `POST /.well-known/mercure`: authorize (401 without a valid publisher token), parse the form (400),
 * check every topic against `mercure.publish` (403), publish, answer the id as text. A Mercure 1.0 access
 * token (`at+jwt`) is checked against its `publish` matchers instead (403 `insufficient_scope`), and its
 * form against the 1.0 publication rules (publish-rules.ts). A hub serving 1.0 also keeps classic
 * publishers out of its reserved namespace and event type, so they cannot forge its 1.0 events. An
 * `Idempotency-Key` makes a retry answer the first id instead of publishing again (see http/idempotency.ts).
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { findToken } from "../auth/token.js";
import type { Broker } from "../core/broker.js";
import { SseBrokerError } from "../errors.js";
import { decodeUtf8, readBody } from "../http/body.js";
import { idempotencyKeyOf, idempotencyRequest, REPLAYED_HEADER } from "../http/idempotency.js";
import { assertPublishRate } from "../http/limits.js";
import { sendText } from "../http/respond.js";
import { authorize, authorizeAccess, authRequired, insufficientScope } from "./authorize.js";
import { dialectOf, servesMercure1 } from "./dialect.js";
import { assertFormContentType, parseForm, publishInputOf } from "./form.js";
import type { ResolvedMercureOptions } from "./options.js";
import { assertNotReserved, assertPublish1 } from "./publish-rules.js";

type FieldRules = (fields: Map<string, string[]>) => void;

export async function handlePublish(
  broker: Broker,
  o: ResolvedMercureOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  headers: Record<string, string>,
): Promise<void> {
  const hub = new URL(o.hubBase);
  // Authorize before reading the body: an unauthenticated client gets nothing buffered.
  if (dialectOf(req, url, o) === "1") {
    // Mercure 1.0: an `at+jwt` token whose publish matchers must cover every topic.
    const grants = await authorizeAccess(req, url, "publisher", o);
    if (grants === null) throw authRequired("publishing needs a token");
    // No early 403 for a token without any publish grant: the publication rules come first, since a topic
    // in the reserved namespace is a 400 "regardless of the presented access token" (draft-08, Publication).
    const rules: FieldRules = (fields) => assertPublish1(fields, hub, broker.options.maxTopicsPerUpdate);
    return publishCovered(
      broker,
      req,
      res,
      url,
      headers,
      req.headers.authorization ?? null,
      rules,
      (topic) => {
        if (!grants.publish.matches(topic))
          throw insufficientScope("the token may not publish to this topic");
      },
    );
  }
  const grants = await authorize(req, url, "publisher", o);
  if (grants === null) throw authRequired("publishing needs a token");
  const allowed = grants.publish;
  if (allowed === null || allowed.length === 0) throw authRequired("the token has no mercure.publish claim");
  return publishCovered(
    broker,
    req,
    res,
    url,
    headers,
    findToken(req, url, o.cookieName)?.token ?? null,
    servesMercure1(o) ? (fields) => assertNotReserved(fields, hub) : () => {},
    (topic) => {
      if (!broker.matcher.matchesAny(allowed, [topic])) {
        throw new SseBrokerError("SSEB_ERR_AUTH_FORBIDDEN", "the token may not publish to this topic", {
          statusCode: 403,
        });
      }
    },
  );
}

/**
 * Reads the form and publishes it once `cover` accepted every topic, alternates included: all or nothing,
 * so an alternate cannot smuggle an update into a forbidden topic (draft-08, Publishers). `rateKey` is the
 * token the publish rate is counted against; `rules` check the raw fields first (400/413, whatever the token
 * grants).
 */
async function publishCovered(
  broker: Broker,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  headers: Record<string, string>,
  rateKey: string | null,
  rules: FieldRules,
  cover: (topic: string) => void,
): Promise<void> {
  assertPublishRate(broker, req, rateKey);
  assertFormContentType(req);
  const key = idempotencyKeyOf(req);
  const body = await readBody(req, broker.options.maxBodyBytes);
  const fields = parseForm(decodeUtf8(body));
  rules(fields);
  const input = publishInputOf(fields);
  for (const topic of typeof input.topic === "string" ? [input.topic] : input.topic) cover(topic);
  if (key === undefined) {
    sendText(res, 200, await broker.publish(input), headers);
    return;
  }
  // Scoped to the token the publish is counted against: two publishers never share a key.
  const once = idempotencyRequest(key, `token:${rateKey ?? ""}`, req.method ?? "POST", url, body);
  const { id, replayed } = await broker.publishOnce(input, once);
  sendText(res, 200, id, replayed ? { ...headers, [REPLAYED_HEADER]: "true" } : headers);
}
