/**
 * URLs of the broker's routes: subscribe URLs for the plain API and both Mercure dialects, and the
 * per-subscriber endpoints derived from a stream's URL (selector changes, Mercure token refresh).
 * @module
 */

/** The Mercure hub's path. */
export const MERCURE_PATH = "/.well-known/mercure";

export interface ResumeOptions {
  /**
   * Resume point in the query (`lastEventID` / `last_event_id`), for clients that cannot send the
   * `Last-Event-ID` header; the client itself sends the header.
   */
  lastEventId?: string;
}

/** `GET /events?topic=…` of the plain API. `base` is where the broker is mounted, e.g. `https://host/sse`. */
export function eventsUrl(
  base: string | URL,
  topics: string | readonly string[],
  options: ResumeOptions & { latest?: boolean; missed?: boolean } = {},
): string {
  const url = new URL(`${trimSlash(String(base))}/events`);
  for (const t of list(topics)) url.searchParams.append("topic", t);
  if (options.latest === true) url.searchParams.set("latest", "1");
  if (options.missed === false) url.searchParams.set("missed", "0");
  if (options.lastEventId !== undefined) url.searchParams.set("lastEventID", options.lastEventId);
  return url.href;
}

/** The broker extensions a Mercure subscriber opts into. */
export interface MercureExtensions {
  /** `sse_broker_missed=1`: the `sse-broker.missed` notice on an incomplete resume. */
  missed?: boolean;
  /** `sse_broker_lifecycle=1`: `sse-broker.token-expiring` and `sse-broker.closed`. */
  lifecycle?: boolean;
  /** `sse_broker_latest=1`: the newest retained update of each matched topic first. */
  latest?: boolean;
}

/** A classic Mercure (draft-07, hub v0.x) subscription: `topic=` selectors (topics or URI templates). */
export function mercureSubscribeUrl(
  hub: string | URL,
  topics: string | readonly string[],
  options: ResumeOptions & MercureExtensions = {},
): string {
  const url = new URL(String(hub));
  for (const t of list(topics)) url.searchParams.append("topic", t);
  if (options.lastEventId !== undefined) url.searchParams.set("lastEventID", options.lastEventId);
  return extensions(url, options).href;
}

/** A Mercure 1.0 (draft-08) subscription's matchers. At least one is needed. */
export interface Mercure1Matchers {
  /** `match=`: topics compared byte for byte. */
  match?: string | readonly string[];
  /** `match_exact=`: the same, under its explicit name. */
  matchExact?: string | readonly string[];
  /** `match_urlpattern=`: URL Patterns such as `https://example.com/books/:id`. */
  matchUrlPattern?: string | readonly string[];
}

/** A Mercure 1.0 subscription: `match=`, `match_exact=`, `match_urlpattern=`, `last_event_id=`. */
export function mercure1SubscribeUrl(
  hub: string | URL,
  matchers: Mercure1Matchers,
  options: ResumeOptions & MercureExtensions = {},
): string {
  const url = new URL(String(hub));
  const count = list(matchers.match).length + list(matchers.matchExact).length;
  if (count + list(matchers.matchUrlPattern).length === 0)
    throw new TypeError("a Mercure 1.0 subscription needs a matcher");
  for (const m of list(matchers.match)) url.searchParams.append("match", m);
  for (const m of list(matchers.matchExact)) url.searchParams.append("match_exact", m);
  for (const m of list(matchers.matchUrlPattern)) url.searchParams.append("match_urlpattern", m);
  if (options.lastEventId !== undefined) url.searchParams.set("last_event_id", options.lastEventId);
  return extensions(url, options).href;
}

/** True when the stream URL is a Mercure hub's. */
export function isMercureUrl(url: URL): boolean {
  return trimSlash(url.pathname).endsWith(MERCURE_PATH);
}

/** Where the broker is mounted: the stream URL without `/events` or `/.well-known/mercure`. */
export function brokerBase(url: URL): string {
  const path = trimSlash(url.pathname);
  const mount = path.endsWith(MERCURE_PATH)
    ? path.slice(0, -MERCURE_PATH.length)
    : path.endsWith("/events")
      ? path.slice(0, -"/events".length)
      : path;
  return `${url.origin}${mount}`;
}

/** `POST /subscribers/{id}/selectors` for the stream at `url`. */
export function selectorsUrl(url: URL, subscriber: string): string {
  return `${brokerBase(url)}/subscribers/${encodeURIComponent(subscriber)}/selectors`;
}

/** `POST /.well-known/mercure/subscribers/{id}/token` for the hub stream at `url`. */
export function tokenRefreshUrl(url: URL, subscriber: string): string {
  return `${brokerBase(url)}${MERCURE_PATH}/subscribers/${encodeURIComponent(subscriber)}/token`;
}

function extensions(url: URL, o: MercureExtensions): URL {
  if (o.missed === true) url.searchParams.set("sse_broker_missed", "1");
  if (o.lifecycle === true) url.searchParams.set("sse_broker_lifecycle", "1");
  if (o.latest === true) url.searchParams.set("sse_broker_latest", "1");
  return url;
}

function list(v: string | readonly string[] | undefined): readonly string[] {
  return v === undefined ? [] : typeof v === "string" ? [v] : v;
}

function trimSlash(s: string): string {
  return s.endsWith("/") ? s.slice(0, -1) : s;
}
