/**
 * Discovery: the `Link: <hub>; rel="mercure"` header that tells clients where the hub is. Applications add
 * it to the responses of the resources they publish updates about.
 * @module
 */
import type { ServerResponse } from "node:http";
import { HUB_PATH } from "./paths.js";

export interface MercureLinkAttributes {
  /** Canonical topic of the resource, sent as a second link with `rel="self"`. */
  self?: string;
  /** Last event id the resource reflects, to pass back as `lastEventID` when subscribing. */
  lastEventId?: string;
  /** SSE `event` type of the updates (e.g. `mercure` on the Mercure 1.0 subscriptions API). */
  type?: string;
  /** Content type of the updates' data. */
  contentType?: string;
  /** URL of a JWK set to decrypt updates. */
  keySet?: string;
}

// Quoted-string per RFC 8288: escape backslashes and quotes; header-breaking characters are refused.
function quote(value: string): string {
  if (/[\r\n\0]/.test(value)) throw new TypeError("link attribute must not contain CR, LF or NUL");
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function target(url: string): string {
  if (/[\r\n\0<>]/.test(url)) throw new TypeError("link target must not contain CR, LF, NUL, < or >");
  return `<${url}>`;
}

/** The `Link` header value advertising the hub (relative `/.well-known/mercure` by default). */
export function mercureLinkHeader(hubUrl: string = HUB_PATH, attrs: MercureLinkAttributes = {}): string {
  let link = `${target(hubUrl)}; rel="mercure"`;
  if (attrs.lastEventId !== undefined) link += `; last-event-id=${quote(attrs.lastEventId)}`;
  if (attrs.type !== undefined) link += `; type=${quote(attrs.type)}`;
  if (attrs.contentType !== undefined) link += `; content-type=${quote(attrs.contentType)}`;
  if (attrs.keySet !== undefined) link += `; key-set=${quote(attrs.keySet)}`;
  if (attrs.self !== undefined) link += `, ${target(attrs.self)}; rel="self"`;
  return link;
}

/** Appends the hub's `Link` to a response (keeping any Link already set). Call before headers are sent. */
export function addMercureLink(
  res: ServerResponse,
  hubUrl: string = HUB_PATH,
  attrs: MercureLinkAttributes = {},
): void {
  const value = mercureLinkHeader(hubUrl, attrs);
  const prev = res.getHeader("Link");
  if (prev === undefined) res.setHeader("Link", value);
  else res.setHeader("Link", [...(Array.isArray(prev) ? prev : [String(prev)]), value]);
}
