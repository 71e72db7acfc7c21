/**
 * The publish form (`application/x-www-form-urlencoded`) → a broker publish input, decoded strictly (see
 * http/urlencoded.ts): a corrupted body must be a 400, not an update with mangled data.
 * @module
 */
import type { IncomingMessage } from "node:http";
import type { PublishInput } from "../core/broker.js";
import { badRequest as invalid } from "../errors.js";
import { mediaType } from "../http/body.js";
import { parseUrlEncoded } from "../http/urlencoded.js";

const FORM = "application/x-www-form-urlencoded";

/**
 * Throws 400 unless the body is a form in UTF-8 (a `charset` parameter is accepted if it says so). 400,
 * not 415, as the reference hub answers (it finds no topic in a body it does not parse).
 */
export function assertFormContentType(req: IncomingMessage): void {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(req.headers["content-type"] ?? "")?.[1];
  if (mediaType(req) !== FORM || (charset !== undefined && !/^utf-?8$/i.test(charset))) {
    throw invalid(`Content-Type must be ${FORM} (UTF-8)`);
  }
}

/** Strict form decoding: `+` is a space, every `%` must start a valid escape of valid UTF-8. */
export function parseForm(body: string): Map<string, string[]> {
  return parseUrlEncoded(body, "the form body");
}

/** Mercure's publish fields → a publish input. Throws 400 on a missing topic, a bad `id` or `retry`. */
export function publishInputOf(fields: Map<string, string[]>): PublishInput {
  const topics = fields.get("topic") ?? [];
  if (topics.length === 0) throw invalid("at least one topic field is required");
  const first = (name: string): string | undefined => {
    const v = fields.get(name)?.[0];
    return v === undefined || v === "" ? undefined : v;
  };
  const id = first("id");
  // '#'-ids are the hub's own (fragments); a publisher's id must stay distinct from them.
  if (id?.startsWith("#")) throw invalid("id must not start with #");
  const retryText = first("retry");
  if (retryText !== undefined && !/^\d{1,15}$/.test(retryText))
    throw invalid("retry must be a non-negative integer");
  return {
    topic: topics,
    data: fields.get("data")?.[0] ?? "",
    id,
    type: first("type"),
    retry: retryText === undefined ? undefined : Number(retryText),
    private: fields.has("private"),
  };
}
