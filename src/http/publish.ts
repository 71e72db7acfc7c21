/**
 * `POST /publish`: JSON `{"topic","data","type"?,"id"?,"retry"?}` (topic may be a list; non-string data is
 * sent as its JSON text; `event` is the same as `type`), a JSON array of such events (a batch: all or none,
 * consecutive, answered `{"ids":[…]}`), or any text body with `?topic=` (plus `type` or `event`, `id`,
 * `retry`) for shell use. An
 * `Idempotency-Key` makes a retry answer the first answer instead of publishing again (idempotency.ts).
 * Authorized by a static bearer token, or, with none configured, for requests from this machine only
 * (see local-request.ts). Rate-limited per publisher.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Broker, PublishInput } from "../core/broker.js";
import type { IdempotencyRequest } from "../core/idempotency.js";
import { badRequest as invalid, SseBrokerError } from "../errors.js";
import { refusalsOf } from "../metrics/refusals.js";
import { decodeUtf8, mediaType, parsedBody, readBody } from "./body.js";
import { idempotencyKeyOf, idempotencyRequest, REPLAYED_HEADER } from "./idempotency.js";
import { assertLocal, assertPublishRate } from "./limits.js";
import { safeEqual } from "./ops.js";
import { sendJson } from "./respond.js";
import { queryOf } from "./urlencoded.js";

export interface PublishRouteOptions {
  publishToken: string | null;
  publishOrigins: readonly string[];
  maxBodyBytes: number;
}

export async function handlePublish(
  broker: Broker,
  opts: PublishRouteOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  headers: Record<string, string>,
): Promise<void> {
  if (opts.publishToken === null) {
    assertLocal(broker, req, "publishing without a token", opts.publishOrigins);
  } else {
    authorizePublish(req, opts.publishToken);
  }
  assertPublishRate(broker, req, opts.publishToken);
  const key = idempotencyKeyOf(req); // before the body: a bad key costs no upload
  const type = mediaType(req);
  const parsed = parsedBody(req);
  let inputs: PublishInput[];
  let batch = false;
  let body: Buffer | string;
  if (type === "application/json") {
    let value: unknown;
    if (parsed !== undefined && (isPlainObject(parsed.value) || Array.isArray(parsed.value))) {
      value = parsed.value;
      body = key === undefined ? "" : jsonText(value); // the fingerprint's body, when a parser took it
    } else {
      body = await bodyBytes(req, parsed, opts.maxBodyBytes);
      value = parseJson(decodeUtf8(body));
    }
    if (Array.isArray(value)) {
      batch = true;
      inputs = batchOf(broker, value);
    } else {
      inputs = [fromJsonValue(value)];
    }
  } else if (type === "text/plain" || type === "" || type === "application/octet-stream") {
    body = await bodyBytes(req, parsed, opts.maxBodyBytes);
    inputs = [fromQuery(url, decodeUtf8(body))];
  } else {
    req.resume();
    throw new SseBrokerError(
      "SSEB_ERR_MEDIA_TYPE_UNSUPPORTED",
      "Content-Type must be application/json or text/plain",
      { statusCode: 415 },
    );
  }
  if (key === undefined && !batch) {
    const id = await broker.publish(inputs[0] as PublishInput);
    sendJson(res, 200, { id }, headers);
    return;
  }
  // Keys are scoped to the publishing credential: the static token, or "this machine" without one.
  const credential = opts.publishToken === null ? "local" : `token:${opts.publishToken}`;
  const once =
    key === undefined ? undefined : idempotencyRequest(key, credential, req.method ?? "POST", url, body);
  const replayedHeaders = (replayed: boolean) =>
    replayed ? { ...headers, [REPLAYED_HEADER]: "true" } : headers;
  if (batch) {
    const { ids, replayed } = await broker.publishBatch(inputs, once);
    sendJson(res, 200, { ids }, replayedHeaders(replayed));
  } else {
    const { id, replayed } = await broker.publishOnce(inputs[0] as PublishInput, once as IdempotencyRequest);
    sendJson(res, 200, { id }, replayedHeaders(replayed));
  }
}

/**
 * A JSON array of events: each validated like a single one (an error names its index), at most `max`
 * (413 past it, before looking at any).
 */
function batchOf(broker: Broker, items: unknown[]): PublishInput[] {
  const max = broker.options.maxBatchEvents;
  if (items.length === 0) throw invalid("a batch needs at least one event");
  if (items.length > max) {
    refusalsOf(broker).batch_events++;
    throw new SseBrokerError("SSEB_ERR_LIMIT_BATCH_EVENTS", `a batch may hold at most ${max} events`, {
      statusCode: 413,
    });
  }
  return items.map((item, i) => {
    try {
      return fromJsonValue(item);
    } catch (err) {
      if (!(err instanceof SseBrokerError)) throw err;
      throw new SseBrokerError(err.code, `event ${i}: ${err.message}`, {
        ...(err.statusCode === undefined ? {} : { statusCode: err.statusCode }),
        cause: err,
      });
    }
  });
}

function authorizePublish(req: IncomingMessage, token: string): void {
  const auth = req.headers.authorization ?? "";
  const given = auth.startsWith("Bearer ") ? auth.slice(7).trim() : "";
  if (given === "" || !safeEqual(given, token)) {
    throw new SseBrokerError("SSEB_ERR_AUTH_REQUIRED", "a valid publish token is required", {
      statusCode: 401,
    });
  }
}

/**
 * The body's bytes: read from the request, or, when a body parser mounted before the broker (Express's
 * `express.text()` / `express.raw()`) already consumed the stream, the text or bytes it left in `req.body`.
 */
async function bodyBytes(
  req: IncomingMessage,
  parsed: { value: unknown } | undefined,
  limit: number,
): Promise<Buffer> {
  if (parsed === undefined) return readBody(req, limit);
  const v = parsed.value;
  if (typeof v !== "string" && !Buffer.isBuffer(v)) {
    throw invalid(
      "the request body was consumed by a body parser mounted before the broker, which left no usable body; mount the broker before it",
    );
  }
  const bytes = typeof v === "string" ? Buffer.from(v, "utf8") : v;
  if (bytes.length > limit) {
    throw new SseBrokerError("SSEB_ERR_BODY_TOO_LARGE", `body larger than ${limit} bytes`, {
      statusCode: 413,
    });
  }
  return bytes;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalid(err instanceof RangeError ? TOO_DEEP : "body is not valid JSON");
  }
}

function fromJsonValue(body: unknown): PublishInput {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw invalid("body must be a JSON object");
  const b = body as Record<string, unknown>;
  const topic = b.topic;
  const topicOk =
    typeof topic === "string" ||
    (Array.isArray(topic) && topic.length > 0 && topic.every((t) => typeof t === "string"));
  if (!topicOk) throw invalid("topic must be a string or a non-empty list of strings");
  if (!("data" in b)) throw invalid("data is required");
  return {
    topic: topic as string | string[],
    data: dataText(b.data),
    type: eventType(optionalString(b, "type"), optionalString(b, "event")),
    id: optionalString(b, "id"),
    retry: optionalInt(b.retry),
  };
}

const TOO_DEEP = "body is nested too deeply";

/** A body a parser mounted before the broker left as a value, as text again (for the fingerprint). */
function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (err instanceof RangeError) throw invalid(TOO_DEEP);
    throw err;
  }
}

/** Non-string data is sent as its JSON text; JSON.stringify recurses, so deep nesting is a RangeError. */
function dataText(data: unknown): string {
  if (typeof data === "string") return data;
  try {
    return JSON.stringify(data);
  } catch (err) {
    if (err instanceof RangeError) throw invalid(TOO_DEEP);
    throw err;
  }
}

function optionalString(b: Record<string, unknown>, key: string): string | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw invalid(`${key} must be a string`);
  return v;
}

/**
 * The event's type: `type`, as the library and the wire's `event:` line mean it, or `event`, the name the
 * HTTP API had first (kept so existing publishers work). Both given must agree.
 */
function eventType(type: string | undefined, event: string | undefined): string | undefined {
  if (type !== undefined && event !== undefined && type !== event) {
    throw invalid("type and event name the same field (the event's type): give one, or the same value");
  }
  return type ?? event;
}

function optionalInt(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === "string" && /^\d{1,15}$/.test(v)) return Number(v);
  throw invalid("retry must be a non-negative integer");
}

function fromQuery(url: URL, data: string): PublishInput {
  const query = queryOf(url);
  const topics = query.getAll("topic");
  if (topics.length === 0) throw invalid("topic query parameter is required for a text body");
  return {
    topic: [...topics],
    data,
    type: eventType(query.get("type") ?? undefined, query.get("event") ?? undefined),
    id: query.get("id"),
    retry: optionalInt(query.get("retry")),
  };
}
