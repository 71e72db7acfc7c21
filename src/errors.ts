/**
 * One catalogue of coded errors (see docs/errors.md). Messages never carry tokens, payloads or secrets.
 * @module
 */

const kSseBrokerError = Symbol.for("sse-broker.error");

export const ErrorCodes = {
  SSEB_ERR_OPTIONS_INVALID: "invalid option",
  SSEB_ERR_WIRE_FIELD_INVALID: "invalid SSE field",
  SSEB_ERR_TOPIC_INVALID: "invalid topic",
  SSEB_ERR_REQUEST_INVALID: "invalid request",
  SSEB_ERR_REQUEST_ABORTED: "request body cut short",
  SSEB_ERR_REQUEST_TIMEOUT: "request not received in time",
  SSEB_ERR_BODY_TOO_LARGE: "request body too large",
  SSEB_ERR_MEDIA_TYPE_UNSUPPORTED: "unsupported media type",
  SSEB_ERR_AUTH_REQUIRED: "authorization required",
  SSEB_ERR_AUTH_TOKEN_INVALID: "invalid token",
  SSEB_ERR_AUTH_TOKEN_EXPIRED: "token expired",
  SSEB_ERR_AUTH_FORBIDDEN: "forbidden",
  SSEB_ERR_AUTH_PROXY_UNTRUSTED: "proxy headers from an untrusted peer",
  SSEB_ERR_AUTH_NOT_LOOPBACK: "client address is not loopback",
  SSEB_ERR_AUTH_HOST_NOT_LOOPBACK: "Host is not a loopback name",
  SSEB_ERR_AUTH_ORIGIN_REFUSED: "origin not allowed",
  SSEB_ERR_AUTH_CROSS_SITE: "cross-site request refused",
  SSEB_ERR_REQUEST_FORWARDED_INVALID: "malformed forwarding header",
  SSEB_ERR_LIMIT_STREAMS_PER_TOKEN: "too many streams with one token",
  SSEB_ERR_LIMIT_CONNECTIONS: "too many connections",
  SSEB_ERR_LIMIT_CONNECTIONS_PER_IP: "too many connections from this address",
  SSEB_ERR_LIMIT_CONNECTION_RATE: "connecting too fast",
  SSEB_ERR_LIMIT_PUBLISH_RATE: "publishing too fast",
  SSEB_ERR_BROKER_CLOSED: "broker is closed",
  SSEB_ERR_BACKPLANE_UNAVAILABLE: "backplane unavailable",
  SSEB_ERR_NOT_FOUND: "not found",
  SSEB_ERR_METHOD_NOT_ALLOWED: "method not allowed",
  SSEB_ERR_MERCURE_DIALECT_MIXED: "classic and Mercure 1.0 subscription parameters mixed",
  SSEB_ERR_MERCURE_MATCHER_INVALID: "invalid Mercure 1.0 topic matcher",
  SSEB_ERR_MERCURE_TOKEN_INVALID: "invalid Mercure 1.0 access token",
  SSEB_ERR_MERCURE_TOKEN_SCOPE: "Mercure 1.0 access token does not grant this",
  SSEB_ERR_MERCURE_TOKEN_REQUEST: "Mercure 1.0 access token presented wrongly",
  SSEB_ERR_MERCURE_TOPIC_RESERVED: "topic reserved for the hub",
  SSEB_ERR_MERCURE_TYPE_RESERVED: "event type reserved for the hub",
  SSEB_ERR_MERCURE_FIELD_INVALID: "invalid Mercure 1.0 publish field",
  SSEB_ERR_MERCURE_DIALECT_PINNED: "Mercure dialect not served by this hub",
  SSEB_ERR_LIMIT_SELECTOR: "topic selector over a bound",
  SSEB_ERR_LIMIT_SELECTORS: "too many topic selectors",
  SSEB_ERR_LIMIT_PATTERNS: "too many distinct template selectors",
  SSEB_ERR_LIMIT_TOPICS: "too many topics in an update",
  SSEB_ERR_LIMIT_FIELD: "publish field too long",
  SSEB_ERR_LIMIT_EVENT_SIZE: "event data too large",
  SSEB_ERR_ID_CONFLICT: "event id already retained",
  SSEB_ERR_HOOK_DENIED: "subscription refused by the application",
  SSEB_ERR_SUBSCRIBER_NOT_FOUND: "no open stream has this subscriber id",
  SSEB_ERR_SUBSCRIBER_FORBIDDEN: "not allowed to change this stream's selectors",
  SSEB_ERR_SUBSCRIBER_REPLAYING: "the stream is replaying history",
  SSEB_ERR_SUBSCRIBER_TIMEOUT: "other nodes did not answer in time",
  SSEB_ERR_HOOK_UNAVAILABLE: "subscribe hook failed",
  SSEB_ERR_HOOK_BUSY: "too many subscribe hook calls waiting",
  SSEB_ERR_LIMIT_BATCH_EVENTS: "too many events in a batch",
  SSEB_ERR_IDEMPOTENCY_KEY_INVALID: "invalid Idempotency-Key",
  SSEB_ERR_IDEMPOTENCY_KEY_REUSED: "Idempotency-Key reused for another request",
  SSEB_ERR_IDEMPOTENCY_IN_FLIGHT: "a request with this Idempotency-Key is in progress",
  SSEB_ERR_SUBSCRIBER_NO_TOKEN: "this stream was opened without a token",
  SSEB_ERR_CLIENT_HTTP: "the broker refused the client's request",
  SSEB_ERR_CLIENT_RESPONSE_INVALID: "the response is not an event stream",
  SSEB_ERR_CLIENT_DISCONNECTED: "the event stream was cut",
  SSEB_ERR_CLIENT_EVENT_TOO_LARGE: "an event is larger than the client accepts",
  SSEB_ERR_CLIENT_DATA_INVALID: "event data is not what the client was told to parse",
  SSEB_ERR_CLIENT_TOKEN_PROVIDER: "the token provider failed",
  SSEB_ERR_CLIENT_NOT_CONNECTED: "the client has no live stream",
  SSEB_ERR_INTERNAL: "internal error",
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** Base class of every error sse-broker throws on purpose. `statusCode` is the HTTP answer, when there is one. */
export class SseBrokerError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number | undefined;
  /** `Retry-After` (seconds) sent with a 429/503 answer; absent = 5. */
  readonly retryAfterSec: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { statusCode?: number; cause?: unknown; retryAfterSec?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SseBrokerError";
    this.code = code;
    this.statusCode = options.statusCode;
    this.retryAfterSec = options.retryAfterSec;
  }

  /** Branded so `instanceof` holds across two installed copies of the package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return (
      typeof value === "object" &&
      value !== null &&
      (value as Record<symbol, unknown>)[kSseBrokerError] === true
    );
  }

  get [kSseBrokerError](): true {
    return true;
  }
}

export function optionsError(message: string): SseBrokerError {
  return new SseBrokerError("SSEB_ERR_OPTIONS_INVALID", message);
}

export function badRequest(message: string, code: ErrorCode = "SSEB_ERR_REQUEST_INVALID"): SseBrokerError {
  return new SseBrokerError(code, message, { statusCode: 400 });
}

/** A 404 `SSEB_ERR_NOT_FOUND`. */
export function notFoundError(message = "not found"): SseBrokerError {
  return new SseBrokerError("SSEB_ERR_NOT_FOUND", message, { statusCode: 404 });
}
