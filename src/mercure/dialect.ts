/**
 * Which Mercure dialect a request speaks: classic (`topic=`, the `mercure` claim) or 1.0 (draft-08:
 * `match…` parameters, `at+jwt` access tokens), per request unless `protocol` pins one.
 * @module
 */
import type { IncomingMessage } from "node:http";
import { badRequest } from "../errors.js";
import { carriesAccessToken } from "./authorize.js";
import { isMercure1 } from "./matchers.js";
import type { ResolvedMercureOptions } from "./options.js";

export type Dialect = "classic" | "1";

/**
 * The dialect of a request: the pinned one, else 1.0 for `match…` parameters in `fields` (the subscribe
 * query or body) or an `at+jwt` token / the 1.0 cookie, else classic.
 */
export function dialectOf(
  req: IncomingMessage,
  url: URL,
  o: ResolvedMercureOptions,
  fields?: Map<string, string[]>,
): Dialect {
  if (o.protocol !== "both") return o.protocol;
  if (fields !== undefined && isMercure1(fields)) return "1";
  return carriesAccessToken(req, url, o) ? "1" : "classic";
}

/** True when the hub answers Mercure 1.0 requests (`protocol` `1` or `both`). */
export function servesMercure1(o: ResolvedMercureOptions): boolean {
  return o.protocol !== "classic";
}

/**
 * True when a subscribe request with these fields (query, or query and body) is a 1.0 subscription:
 * `classic` never (a `match…` parameter means nothing there), `both` when a `match…` parameter is present
 * (400 when mixed with `topic=`), `1` always, and then `topic=` or no matcher at all is a 400.
 */
export function subscribes1(o: ResolvedMercureOptions, fields: Map<string, string[]>): boolean {
  if (o.protocol === "classic") return false;
  if (o.protocol === "both") return isMercure1(fields);
  if (fields.has("topic")) {
    throw badRequest(
      "this hub speaks Mercure 1.0 only: subscribe with match=… (topic= is the pre-standard protocol)",
      "SSEB_ERR_MERCURE_DIALECT_PINNED",
    );
  }
  if (!isMercure1(fields)) throw badRequest("at least one match… query parameter is required");
  return true;
}
