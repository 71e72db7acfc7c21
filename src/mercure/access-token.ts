/**
 * Mercure 1.0 (draft-08) access tokens: RFC 9068 `at+jwt` JWTs from trusted issuers, verified with the key
 * bound to their own `iss` (never a pooled set), and their Mercure `authorization_details` compiled once per
 * token into the broker's selectors. Every failure is one coded 401 (`invalid_token`), whatever the cause.
 * @module
 */
import { decodeJwt, decodeProtectedHeader, type JWTPayload, jwtVerify } from "jose";
import { mapJoseError } from "../auth/jwt.js";
import { type Selector, SelectorSet } from "../core/topic.js";
import { SseBrokerError } from "../errors.js";
import { compileMatchers, MAX_URLPATTERN_CHARS } from "./matchers.js";
import type { ResolvedMercureOptions } from "./options.js";

export const AUTHORIZATION_DETAIL_TYPE = "https://mercure.rocks/authorization-detail";

/** Bounds on what one token may make the hub compile (draft-08 asks for implementation-defined limits). */
export const MAX_DETAILS = 32;
export const MAX_TOPICS_PER_DETAIL = 64;

/** What a verified access token grants. */
export interface AccessGrants {
  /** Topics the bearer may publish to; empty = none. */
  readonly publish: SelectorSet;
  /**
   * Selectors whose private updates the bearer may receive; empty = none. One set per cached grant, so
   * that fan-out checks an update once for all subscribers holding the same token rules.
   */
  readonly subscribe: SelectorSet;
  /** `payload` of the first subscribe detail carrying one: for classic `topic=` subscriptions. */
  readonly payload: unknown;
  /**
   * The `subscribe` details in token order (at most MAX_DETAILS), each with its compiled topics: a Mercure
   * 1.0 subscription's payload is the first one's matching its matcher string (see `payloadFor`).
   */
  readonly subscribeDetails: readonly SubscribeDetail[];
  /** `exp` in ms since epoch. */
  readonly expiresAt: number;
}

export interface SubscribeDetail {
  readonly topics: SelectorSet;
  readonly payload: unknown;
}

/**
 * draft-08, Payloads: the `payload` of the first `subscribe` detail whose topics match the subscription's
 * own matcher string taken as a topic (an exact matcher byte for byte, a URL pattern evaluated on it, `*`
 * everything). The first matching detail wins even without a payload, as the draft orders them.
 */
export function payloadFor(grants: AccessGrants, match: string): unknown {
  for (const d of grants.subscribeDetails) if (d.topics.matches(match)) return d.payload;
  return undefined;
}

export function invalidToken(message: string, cause?: unknown): SseBrokerError {
  return new SseBrokerError("SSEB_ERR_MERCURE_TOKEN_INVALID", message, { statusCode: 401, cause });
}

/** True when the token's protected header says `typ: at+jwt` (or `application/at+jwt`), any case. */
export function isAccessToken(token: string): boolean {
  try {
    const typ = decodeProtectedHeader(token).typ;
    return typeof typ === "string" && normalizeTyp(typ) === "at+jwt";
  } catch {
    return false;
  }
}

function normalizeTyp(typ: string): string {
  const t = typ.toLowerCase();
  return t.startsWith("application/") ? t.slice("application/".length) : t;
}

/** Verifies `token` as an RFC 9068 access token of a trusted issuer and compiles its grants. */
export async function verifyAccessToken(
  token: string,
  o: ResolvedMercureOptions,
  base: string,
): Promise<AccessGrants> {
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss; // only to choose the key; the signature check below binds it
  } catch (err) {
    throw invalidToken("the access token is malformed", err);
  }
  const key = typeof iss === "string" ? o.oauthIssuers.get(iss) : undefined;
  if (key === undefined || o.oauthAudience === null) {
    throw invalidToken("the access token's issuer is not trusted by this hub");
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key.key as Parameters<typeof jwtVerify>[1], {
      algorithms: [...key.algorithms],
      typ: "at+jwt", // jose compares it case-insensitively, `application/` omitted (RFC 7515 §4.1.9)
      issuer: iss as string,
      audience: o.oauthAudience,
      clockTolerance: o.jwtClockToleranceSec,
      requiredClaims: o.oauthStrict
        ? ["iss", "aud", "exp", "sub", "client_id", "iat", "jti"]
        : ["iss", "aud", "exp"],
    }));
  } catch (err) {
    // One code for every cause (draft-08, Error Responses); the message still helps the operator.
    throw invalidToken(mapJoseError(err).message, err);
  }
  return {
    ...cachedGrantsOf(payload.authorization_details, o, base),
    expiresAt: (payload.exp as number) * 1000,
  };
}

/** Grants by authorization details, per hub: a token's matchers are compiled once, not on each reconnect. */
const GRANTS_CACHE_SIZE = 1000;
const grantsCache = new WeakMap<ResolvedMercureOptions, Map<string, Omit<AccessGrants, "expiresAt">>>();

function cachedGrantsOf(
  details: unknown,
  o: ResolvedMercureOptions,
  base: string,
): Omit<AccessGrants, "expiresAt"> {
  let cache = grantsCache.get(o);
  if (cache === undefined) {
    cache = new Map();
    grantsCache.set(o, cache);
  }
  // Verified claims only reach here; the key is bounded by the request header size.
  const key = `${base}\u0000${JSON.stringify(details) ?? ""}`;
  let grants = cache.get(key);
  if (grants !== undefined) {
    cache.delete(key); // re-inserted below: most recently used last
  } else {
    grants = grantsOf(details, o, base); // throws on a malformed token: nothing cached
    if (cache.size >= GRANTS_CACHE_SIZE) {
      const oldest = cache.keys().next();
      if (oldest.done !== true) cache.delete(oldest.value);
    }
  }
  cache.set(key, grants);
  return grants;
}

/** Parses `authorization_details`: Mercure entries only, all or nothing (a malformed one voids the token). */
function grantsOf(
  details: unknown,
  o: ResolvedMercureOptions,
  base: string,
): Omit<AccessGrants, "expiresAt"> {
  const publish: Selector[] = [];
  const subscribe: Selector[] = [];
  const subscribeDetails: SubscribeDetail[] = [];
  let payload: unknown;
  if (details === undefined)
    return { publish: new SelectorSet([]), subscribe: new SelectorSet(subscribe), payload, subscribeDetails };
  if (!Array.isArray(details)) throw invalidToken("authorization_details must be an array");
  let mercure = 0;
  // URL patterns of one token share the budget of one subscription: compiling is ~1.3 µs per character.
  const budget = { left: Math.max(MAX_URLPATTERN_CHARS, o.maxMatcherLength) };
  for (const d of details) {
    if (typeof d !== "object" || d === null || Array.isArray(d)) {
      throw invalidToken("authorization_details entries must be objects");
    }
    const detail = d as Record<string, unknown>;
    if (detail.type !== AUTHORIZATION_DETAIL_TYPE) continue; // other types are not ours to judge
    if (++mercure > MAX_DETAILS) throw invalidToken(`at most ${MAX_DETAILS} Mercure authorization details`);
    const actions = detail.actions;
    if (!Array.isArray(actions) || actions.length === 0 || actions.some((a) => typeof a !== "string")) {
      throw invalidToken("a Mercure authorization detail needs a non-empty actions array of strings");
    }
    const selectors = topicsOf(detail.topics, o, base, budget);
    if (detail.payload !== undefined && (typeof detail.payload !== "object" || detail.payload === null)) {
      throw invalidToken("a Mercure authorization detail's payload must be an object");
    }
    // Unknown actions grant nothing and do not invalidate the token (draft-08, Authorization Details).
    if (actions.includes("publish")) publish.push(...selectors);
    if (actions.includes("subscribe")) {
      subscribe.push(...selectors);
      if (payload === undefined) payload = detail.payload;
      subscribeDetails.push({ topics: new SelectorSet(selectors), payload: detail.payload });
    }
  }
  return {
    publish: new SelectorSet(publish),
    subscribe: new SelectorSet(subscribe),
    payload,
    subscribeDetails,
  };
}

/** A topic matcher list: `{match, match_type?}` objects, `exact` by default; checked as query matchers are. */
function topicsOf(
  topics: unknown,
  o: ResolvedMercureOptions,
  base: string,
  budget: { left: number },
): Selector[] {
  if (!Array.isArray(topics) || topics.length === 0) {
    throw invalidToken("a Mercure authorization detail needs a non-empty topics array");
  }
  if (topics.length > MAX_TOPICS_PER_DETAIL) {
    throw invalidToken(`a Mercure authorization detail may list at most ${MAX_TOPICS_PER_DETAIL} topics`);
  }
  const pairs: ["exact" | "urlpattern", string][] = [];
  for (const t of topics) {
    if (typeof t !== "object" || t === null || Array.isArray(t)) {
      throw invalidToken("topic matchers must be objects");
    }
    const { match, match_type: type = "exact" } = t as Record<string, unknown>;
    if (typeof match !== "string" || match === "" || match.length > o.maxMatcherLength) {
      throw invalidToken("a topic matcher needs a non-empty match string within the length limit");
    }
    if (type !== "exact" && type !== "urlpattern") throw invalidToken("unsupported match_type");
    if (type === "urlpattern") {
      budget.left -= match.length;
      if (budget.left < 0) throw invalidToken("the token's URL patterns are too long in total");
    }
    pairs.push([type, match]);
  }
  try {
    return compileMatchers({ values: pairs.map(([, v]) => v), pairs }, base, o);
  } catch (err) {
    throw invalidToken("a topic matcher of the token is not valid", err);
  }
}
