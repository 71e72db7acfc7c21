/**
 * The hub's fixed URLs and the RFC 6570 encoding of the parts put into them.
 * @module
 */

export const HUB_PATH = "/.well-known/mercure";
export const SUBSCRIPTIONS_PATH = `${HUB_PATH}/subscriptions`;
/** The fixed JSON-LD context of subscription documents. */
export const JSONLD_CONTEXT = "https://mercure.rocks/";

/**
 * Percent-encodes like an RFC 6570 simple expansion: everything but unreserved characters
 * (`encodeURIComponent` alone leaves `!'()*` as is).
 */
export function encodeSegment(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${(c.codePointAt(0) as number).toString(16).toUpperCase()}`,
  );
}

/** `/.well-known/mercure/subscriptions/{topic}/{subscriber}`: id and topic of one subscription. */
export function subscriptionId(topic: string, subscriber: string): string {
  return `${SUBSCRIPTIONS_PATH}/${encodeSegment(topic)}/${encodeSegment(subscriber)}`;
}

/** Mercure 1.0 matcher types by canonical name (draft-08, Matcher Types). */
export type MatchType = "exact" | "urlpattern";
export const MATCH_TYPES: readonly MatchType[] = ["exact", "urlpattern"];

/**
 * `/.well-known/mercure/subscriptions/{match_type}/{match}/{subscriber}` (draft-08, Subscription Events):
 * id and topic of one Mercure 1.0 subscription, each variable encoded once, as a whole.
 */
export function subscriptionId1(matchType: MatchType, match: string, subscriber: string): string {
  return `${SUBSCRIPTIONS_PATH}/${matchType}/${encodeSegment(match)}/${encodeSegment(subscriber)}`;
}
