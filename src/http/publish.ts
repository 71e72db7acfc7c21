/**
 * `POST /publish`: JSON `{"topic","data","event"?,"id"?,"retry"?}` (topic may be a list; non-string data is
 * sent as its JSON text), or any text body with `?topic=` (plus `event`, `id`, `retry`) for shell use.
 * Authorized by a static bearer token, or, with none configured, for requests from this machine only
 * (see local-request.ts). Rate-limited per publisher.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Broker, PublishInput } from "../core/broker.js";
import { badRequest as invalid, SseBrokerError } from "../errors.js";
import { decodeUtf8, mediaType, parsedBody, readBody } from "./body.js";
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
  const type = mediaType(req);
  const parsed = parsedBody(req);
  let input: PublishInput;
  if (type === "application/json") {
    if (parsed !== undefined && isPlainObject(parsed.value)) input = fromJsonValue(parsed.value);
    else input = fromJson(decodeUtf8(await bodyBytes(req, parsed, opts.maxBodyBytes)));
  } else if (type === "text/plain" || type === "" || type === "application/octet-stream") {
    input = fromQuery(url, decodeUtf8(await bodyBytes(req, parsed, opts.maxBodyBytes)));
  } else {
    req.resume();
    throw new SseBrokerError(
      "SSEB_ERR_MEDIA_TYPE_UNSUPPORTED",
      "Content-Type must be application/json or text/plain",
      { statusCode: 415 },
    );
  }
  const id = await broker.publish(input);
  sendJson(res, 200, { id }, headers);
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

function fromJson(text: string): PublishInput {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw invalid(err instanceof RangeError ? TOO_DEEP : "body is not valid JSON");
  }
  return fromJsonValue(body);
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
    type: optionalString(b, "event"),
    id: optionalString(b, "id"),
    retry: optionalInt(b.retry),
  };
}

const TOO_DEEP = "body is nested too deeply";

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
    type: query.get("event"),
    id: query.get("id"),
    retry: optionalInt(query.get("retry")),
  };
}
