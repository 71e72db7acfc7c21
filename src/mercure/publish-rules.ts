/**
 * Mercure 1.0 publication rules (draft-08, Publication; Security Considerations, Reserved Hub Namespace and
 * Server-Sent Events Field Injection), checked on the raw form fields before anything is published: the
 * hub's own namespace and the `mercure` event type are reserved, topics/id/type carry no control or
 * format characters, `retry` is digits only, and limits answer 413 (draft-08: "Content Too Large").
 * @module
 */
import { MAX_TOPIC_LENGTH } from "../core/topic.js";
import { type ErrorCode, SseBrokerError } from "../errors.js";
import { HUB_PATH } from "./paths.js";

/** Longest `id` or `type` value of a 1.0 publish, in UTF-16 code units (topics: MAX_TOPIC_LENGTH). */
export const MAX_FIELD_LENGTH = MAX_TOPIC_LENGTH;
/** Longest `retry` value: 15 digits stay a safe integer. */
const MAX_RETRY_DIGITS = 15;

// C0, DEL, C1 and Unicode format characters (Cf): invisible, or able to break the SSE framing.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const FORBIDDEN_CHARS = /[\u0000-\u001f\u007f-\u009f\p{Cf}]/u;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * The rules every publish to a hub serving Mercure 1.0 obeys, whatever its dialect: a classic publisher
 * must not be able to forge the hub's 1.0 subscription events either (by topic or by event type).
 */
export function assertNotReserved(fields: Map<string, string[]>, hub: URL): void {
  // The router's own path too: subscription events take their topics from it whatever `hubUrl` says.
  const own = new URL(HUB_PATH, hub);
  for (const topic of fields.get("topic") ?? []) {
    if (addressesHubNamespace(topic, hub) || addressesHubNamespace(topic, own)) {
      throw invalid("SSEB_ERR_MERCURE_TOPIC_RESERVED", "topics under the hub's URL are reserved for the hub");
    }
  }
  if (fields.get("type")?.[0] === "mercure") {
    throw invalid("SSEB_ERR_MERCURE_TYPE_RESERVED", "the event type mercure is reserved for the hub");
  }
}

/** Every Mercure 1.0 publication rule on the fields; throws a coded 400 or 413. Unknown fields are ignored. */
export function assertPublish1(fields: Map<string, string[]>, hub: URL, maxTopics: number): void {
  const topics = fields.get("topic") ?? [];
  if (topics.length > maxTopics) {
    throw tooLarge("SSEB_ERR_LIMIT_TOPICS", `an update may have at most ${maxTopics} topics`);
  }
  for (const topic of topics) {
    if (topic.length > MAX_TOPIC_LENGTH) {
      throw tooLarge("SSEB_ERR_LIMIT_FIELD", `a topic is longer than ${MAX_TOPIC_LENGTH} characters`);
    }
    if (FORBIDDEN_CHARS.test(topic)) {
      throw invalid("SSEB_ERR_MERCURE_FIELD_INVALID", "a topic contains a control or format character");
    }
    if (topic === "*") {
      throw invalid("SSEB_ERR_MERCURE_TOPIC_RESERVED", "the topic * is reserved for the wildcard matcher");
    }
  }
  assertNotReserved(fields, hub);
  // Only the first value counts, as publishInputOf reads it; an empty value means "absent".
  for (const name of ["id", "type"] as const) {
    const value = fields.get(name)?.[0];
    if (value === undefined) continue;
    if (value.length > MAX_FIELD_LENGTH) {
      throw tooLarge("SSEB_ERR_LIMIT_FIELD", `${name} is longer than ${MAX_FIELD_LENGTH} characters`);
    }
    if (FORBIDDEN_CHARS.test(value)) {
      throw invalid("SSEB_ERR_MERCURE_FIELD_INVALID", `${name} contains a control or format character`);
    }
  }
  const id = fields.get("id")?.[0];
  if (id?.startsWith("#") === true || id === "earliest") {
    throw invalid("SSEB_ERR_MERCURE_FIELD_INVALID", "id must not start with # nor be earliest");
  }
  const retry = fields.get("retry")?.[0];
  if (retry !== undefined && retry !== "") {
    if (!/^[0-9]+$/.test(retry)) {
      throw invalid("SSEB_ERR_MERCURE_FIELD_INVALID", "retry must consist of ASCII digits only");
    }
    if (retry.length > MAX_RETRY_DIGITS) {
      throw tooLarge("SSEB_ERR_LIMIT_FIELD", `retry is longer than ${MAX_RETRY_DIGITS} digits`);
    }
  }
}

/**
 * True when `topic`, resolved against the hub URL with the WHATWG URL parser, has the hub's path or a path
 * under it, whatever its scheme and authority (draft-08, Publication). The parser removes dot segments
 * (`%2e` forms included); percent-encoded unreserved characters are decoded here, so that
 * `/.well-known/%6Dercure/x` is caught. A topic that does not parse names no hub path.
 */
export function addressesHubNamespace(topic: string, hub: URL): boolean {
  let resolved: URL;
  try {
    resolved = new URL(topic, hub);
  } catch {
    return false;
  }
  const path = decodeUnreserved(resolved.pathname);
  const hubPath = decodeUnreserved(hub.pathname);
  return path === hubPath || path.startsWith(`${hubPath}/`);
}

function decodeUnreserved(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (encoded, hex: string) => {
    const c = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : encoded;
  });
}

function invalid(code: ErrorCode, message: string): SseBrokerError {
  return new SseBrokerError(code, message, { statusCode: 400 });
}

function tooLarge(code: ErrorCode, message: string): SseBrokerError {
  return new SseBrokerError(code, message, { statusCode: 413 });
}
