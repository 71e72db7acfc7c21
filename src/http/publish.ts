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
import { decodeUtf8, mediaType, readBody } from "./body.js";
import { assertLocal, assertPublishRate } from "./limits.js";
import { safeEqual } from "./ops.js";
import { sendJson } from "./respond.js";

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
  let input: PublishInput;
  if (type === "application/json") {
    input = fromJson(decodeUtf8(await readBody(req, opts.maxBodyBytes)));
  } else if (type === "text/plain" || type === "" || type === "application/octet-stream") {
    input = fromQuery(url, decodeUtf8(await readBody(req, opts.maxBodyBytes)));
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

function fromJson(text: string): PublishInput {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalid("body is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw invalid("body must be a JSON object");
  const b = body as Record<string, unknown>;
  const topic = b.topic;
  const topicOk =
    typeof topic === "string" ||
    (Array.isArray(topic) && topic.length > 0 && topic.every((t) => typeof t === "string"));
  if (!topicOk) throw invalid("topic must be a string or a non-empty list of strings");
  if (!("data" in b)) throw invalid("data is required");
  const data = typeof b.data === "string" ? b.data : JSON.stringify(b.data);
  return {
    topic: topic as string | string[],
    data,
    type: optionalString(b, "event"),
    id: optionalString(b, "id"),
    retry: optionalInt(b.retry),
  };
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
  const topics = url.searchParams.getAll("topic");
  if (topics.length === 0) throw invalid("topic query parameter is required for a text body");
  return {
    topic: topics,
    data,
    type: url.searchParams.get("event") ?? undefined,
    id: url.searchParams.get("id") ?? undefined,
    retry: optionalInt(url.searchParams.get("retry") ?? undefined),
  };
}
