/**
 * The `Idempotency-Key` request header of publishes (draft-ietf-httpapi-idempotency-key-header): parsed
 * and bounded here, scoped to the publishing credential, and the request it came with fingerprinted, so
 * that the broker can answer a retry with the first answer (see src/core/idempotency.ts).
 * @module
 */
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { IdempotencyRequest } from "../core/idempotency.js";
import { SseBrokerError } from "../errors.js";

/** Longest key, in characters (a UUID is 36; the draft sets no bound, a server must). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** Response header of an answer replayed from a record (nothing was published). */
export const REPLAYED_HEADER = "Idempotent-Replayed";

/**
 * The key sent, or undefined without the header. The draft's form is a Structured Field string
 * (`"…"`, RFC 8941); a bare token of visible ASCII is accepted too, as many clients send one.
 */
export function idempotencyKeyOf(req: IncomingMessage): string | undefined {
  const raw = req.headers["idempotency-key"];
  if (raw === undefined) return undefined;
  // Node joins repeated unknown headers with ", ": the parse refuses that as two values.
  const key = parseKey((Array.isArray(raw) ? raw.join(", ") : raw).trim());
  if (key === null) {
    throw invalidKey("Idempotency-Key must be one quoted string or token of printable ASCII");
  }
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw invalidKey(`Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  }
  return key;
}

/**
 * Hand-written: RFC 8941's sf-string is a few lines, and a Structured Fields library would be a dependency
 * for one header. Returns null when `v` is neither an sf-string nor a bare token (several values joined
 * by a comma included).
 */
function parseKey(v: string): string | null {
  if (!v.startsWith('"')) return /^[\x21-\x7e]*$/.test(v) && !/[",\\]/.test(v) ? v : null;
  let out = "";
  for (let i = 1; i < v.length; i++) {
    const c = v[i] as string;
    if (c === "\\") {
      const next = v[++i];
      if (next !== '"' && next !== "\\") return null;
      out += next;
    } else if (c === '"') {
      return i === v.length - 1 ? out : null;
    } else if (c < " " || c > "~") {
      return null;
    } else {
      out += c;
    }
  }
  return null; // no closing quote
}

/**
 * The broker's view of a keyed request: the key scoped to `credential` (hashed, so no token is kept or
 * sent to Redis), and a fingerprint of method, path with query, and body.
 */
export function idempotencyRequest(
  key: string,
  credential: string,
  method: string,
  url: URL,
  body: Buffer | string,
): IdempotencyRequest {
  const scoped = createHash("sha256").update(credential).update("\0").update(key).digest("base64url");
  const fingerprint = createHash("sha256")
    .update(`${method}\0${url.pathname}${url.search}\0`)
    .update(body)
    .digest("base64url");
  return { key: scoped, fingerprint };
}

function invalidKey(message: string): SseBrokerError {
  return new SseBrokerError("SSEB_ERR_IDEMPOTENCY_KEY_INVALID", message, { statusCode: 400 });
}
