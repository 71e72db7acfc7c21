/**
 * The request target → the URL routes see. Origin-form (`/path?query`) is taken as sent; absolute-form
 * (`http://host[:port]/path?query`, which HTTP/1.1 servers must accept from proxies) is reduced to its
 * path and query. Anything else is a coded 400 whose message never repeats the target: its query may
 * carry a token (`?authorization=`), so neither the answer nor a log line may contain it.
 * @module
 */
import { badRequest } from "../errors.js";

/** Routes only read the path and query: the host part is a fixed placeholder. */
const BASE = "http://localhost";
/** `http(s)://` + a host name, IPv4 or [IPv6] + an optional port; no user info. */
const ABSOLUTE = /^https?:\/\/(?:[a-z0-9._~-]+|\[[0-9a-f:.]+\])(?::(\d{0,5}))?(?=[/?]|$)/i;
/** RFC 9112 request targets are visible ASCII; Node lets other bytes through as latin1 characters. */
const VISIBLE_ASCII = /^[\x21-\x7e]*$/;

/** Throws SSEB_ERR_REQUEST_INVALID (400) for a target that is neither origin- nor absolute-form. */
export function parseTarget(target: string | undefined): URL {
  const raw = target === undefined || target === "" ? "/" : target;
  if (!VISIBLE_ASCII.test(raw)) throw invalid();
  let pathAndQuery = raw;
  if (raw.charCodeAt(0) !== 0x2f /* "/" */) {
    const m = ABSOLUTE.exec(raw);
    if (m === null || (m[1] !== undefined && m[1] !== "" && Number(m[1]) > 65_535)) throw invalid();
    pathAndQuery = raw.slice(m[0].length);
    if (!pathAndQuery.startsWith("/")) pathAndQuery = `/${pathAndQuery}`;
  }
  try {
    // Appended, not resolved against the base: "//host/path" is a path here, not another host.
    return new URL(BASE + pathAndQuery);
  } catch {
    throw invalid();
  }
}

function invalid() {
  return badRequest("the request target is not a valid origin-form or absolute-form URL");
}
