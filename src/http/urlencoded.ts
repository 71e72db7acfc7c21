/**
 * Strict `application/x-www-form-urlencoded` decoding, for form bodies and request query strings alike.
 * Hand-written rather than `URLSearchParams`, which silently keeps malformed percent-escapes (`%zz` stays
 * as is) and turns invalid UTF-8 into U+FFFD: a corrupted topic or token must be a 400, not a different
 * value than the client meant.
 * @module
 */
import { badRequest } from "../errors.js";

/** Fields in order of appearance; a repeated name keeps every value. */
export type UrlEncodedFields = Map<string, string[]>;

/**
 * `+` is a space, every `%` must start an escape and the escapes must spell valid UTF-8
 * (`decodeURIComponent` refuses truncated, overlong and surrogate sequences). Throws
 * SSEB_ERR_REQUEST_INVALID naming `what` ("the form body", "the query string"), never the text itself.
 */
export function parseUrlEncoded(text: string, what: string): UrlEncodedFields {
  const fields: UrlEncodedFields = new Map();
  if (text === "") return fields;
  for (const pair of text.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const name = decode(eq === -1 ? pair : pair.slice(0, eq), what);
    const value = eq === -1 ? "" : decode(pair.slice(eq + 1), what);
    const list = fields.get(name);
    if (list === undefined) fields.set(name, [value]);
    else list.push(value);
  }
  return fields;
}

function decode(s: string, what: string): string {
  if (s.indexOf("%") === -1 && s.indexOf("+") === -1) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    throw badRequest(`${what} is not valid URL-encoding (percent-escaped UTF-8)`);
  }
}

/** A request's query parameters, decoded strictly. */
export interface QueryParams {
  /** The first value of `name`, or `undefined`. */
  get(name: string): string | undefined;
  getAll(name: string): readonly string[];
  has(name: string): boolean;
}

const EMPTY: readonly string[] = Object.freeze([]);
const cache = new WeakMap<URL, QueryParams>();

/** The query of `url`, decoded once per URL object (routes share the request's URL). Throws 400. */
export function queryOf(url: URL): QueryParams {
  let q = cache.get(url);
  if (q === undefined) {
    const fields = parseUrlEncoded(url.search.slice(1), "the query string");
    q = {
      get: (name) => fields.get(name)?.[0],
      getAll: (name) => fields.get(name) ?? EMPTY,
      has: (name) => fields.has(name),
    };
    cache.set(url, q);
  }
  return q;
}
