/**
 * Hub options, named after the reference hub's (dunglas/mercure) so a configuration carries over, and
 * resolved once: keys loaded and checked, defaults applied, the result frozen.
 * @module
 */
import type { ClaimsDialect } from "../auth/claims.js";
import { mercureClaims } from "../auth/claims.js";
import {
  type JwtAlgorithm,
  type JwtKeyConfig,
  loadVerificationKey,
  type VerificationKey,
} from "../auth/keys.js";
import { optionsError } from "../errors.js";
import type { CorsOrigins } from "../http/cors.js";
import { HUB_PATH } from "./paths.js";
import type { SubscriptionRegistry } from "./registry.js";

/** A trusted issuer of Mercure 1.0 access tokens (RFC 9068): its `iss` and the key(s) bound to it. */
export interface OAuthIssuer {
  /** The exact `iss` value of its tokens. */
  issuer: string;
  /** HS* secret or PEM public key/certificate. */
  key?: string | null;
  keyFile?: string | null;
  /** Algorithm of `key`. Defaults to `HS256`. */
  alg?: JwtAlgorithm;
  /** JWKS URL instead of a key. */
  jwksUrl?: string | null;
}

export interface MercureOptions {
  /** Key for publishers and subscribers alike (Mercure `JWT_KEY`), when they share one. */
  jwtKey?: string | null;
  /** File holding `jwtKey`. */
  jwtKeyFile?: string | null;
  /** Algorithm of `jwtKey`. Defaults to `HS256`. */
  jwtAlg?: JwtAlgorithm;
  /** JWKS URL for publishers and subscribers alike (instead of a key). */
  jwksUrl?: string | null;
  /** Publishers' key: an HS* secret or a PEM key/certificate. Overrides `jwtKey`/`jwksUrl` for publishers. */
  publisherJwtKey?: string | null;
  publisherJwtKeyFile?: string | null;
  /** Defaults to `jwtAlg`, then `HS256`. */
  publisherJwtAlg?: JwtAlgorithm;
  publisherJwksUrl?: string | null;
  /** Subscribers' key. Overrides `jwtKey`/`jwksUrl` for subscribers; never falls back to the publishers'. */
  subscriberJwtKey?: string | null;
  subscriberJwtKeyFile?: string | null;
  /** Defaults to `jwtAlg`, then `HS256`. */
  subscriberJwtAlg?: JwtAlgorithm;
  subscriberJwksUrl?: string | null;
  /** Algorithms accepted from a JWKS. Defaults to every asymmetric algorithm. */
  jwksAlgorithms?: readonly JwtAlgorithm[];
  /** Let subscribers connect without a token (they never get private updates). Defaults to `false`. */
  anonymous?: boolean;
  /** Origins allowed to subscribe cross-origin; an explicit list allows cookies. Defaults to `null` (none). */
  corsOrigins?: CorsOrigins;
  /** Origins allowed to publish from a browser (CORS and the cookie CSRF check). Defaults to `[]`. */
  publishOrigins?: "*" | readonly string[];
  /** Active subscriptions: subscription events and the subscriptions API. Defaults to `false`. */
  subscriptions?: boolean;
  /** Cookie carrying the token. Defaults to `"mercureAuthorization"`. */
  cookieName?: string;
  /** Hub URL advertised in `Link` headers. Defaults to `"/.well-known/mercure"`. */
  hubUrl?: string;
  /** Seconds of clock skew tolerated on `exp`/`nbf`. Defaults to `0`. */
  jwtClockToleranceSec?: number;
  /** Accepted token audiences: a token's `aud` must name one of them. Defaults to `null` (not checked). */
  jwtAudience?: string | readonly string[] | null;
  /** Accepted token issuers: a token's `iss` must be one of them. Defaults to `null` (not checked). */
  jwtIssuer?: string | readonly string[] | null;
  /** Token claims → grants. Defaults to the classic `mercure` claim. */
  claims?: ClaimsDialect;
  /** Lists active subscriptions for the API. Defaults to this process's sessions. */
  registry?: SubscriptionRegistry;
  /** Mercure 1.0: topic matchers (`match…` parameters) in one subscribe request. Defaults to `32`. */
  maxMatchersPerSubscription?: number;
  /** Mercure 1.0: longest matcher value, in UTF-16 code units. Defaults to `1024`. */
  maxMatcherLength?: number;
  /**
   * Mercure 1.0: accept custom regular expressions (`(…)`) in `match_urlpattern`. Their matching cost is
   * not bounded: only for hubs whose subscribers are all trusted. Defaults to `false`.
   */
  urlPatternRegExpGroups?: boolean;
  /** Mercure 1.0: trusted issuers of `at+jwt` access tokens, each verified only with its own key. Defaults to `[]`. */
  oauthIssuers?: readonly OAuthIssuer[];
  /** Mercure 1.0: the hub's resource identifier, required in access tokens' `aud`. Defaults to `null`. */
  oauthAudience?: string | null;
  /** Mercure 1.0: also require `sub`, `client_id`, `iat` and `jti` in access tokens. Defaults to `false`. */
  oauthStrict?: boolean;
  /** Mercure 1.0: largest form body of a `QUERY` (or `POST` event-stream) subscription; 413 past it. Defaults to `65536`. */
  maxSubscribeBodyBytes?: number;
  /**
   * Open streams one subscriber token may hold on this node (draft-08 Resource Limits); more → 429;
   * `null` = no limit. Defaults to `null`.
   */
  maxStreamsPerToken?: number | null;
  /**
   * Dialects served: `"classic"` (pre-standard only, as before Mercure 1.0), `"1"` (draft-08 only; needs
   * `oauthIssuers`) or `"both"`, chosen per request. Defaults to `"both"`.
   */
  protocol?: MercureProtocol;
}

export type MercureProtocol = "classic" | "1" | "both";

export interface ResolvedMercureOptions {
  readonly publisherKey: VerificationKey | null;
  readonly subscriberKey: VerificationKey | null;
  readonly anonymous: boolean;
  readonly corsOrigins: CorsOrigins;
  readonly publishOrigins: "*" | readonly string[];
  readonly subscriptions: boolean;
  readonly cookieName: string;
  readonly hubUrl: string;
  /**
   * The absolute hub URL relative topics and URL patterns resolve against (draft-08, URL Pattern):
   * `hubUrl` if absolute, else `hubUrl` on the origin of an absolute `oauthAudience` (the hub's resource
   * identifier, RECOMMENDED to be its canonical URL), else on `http://localhost`.
   */
  readonly hubBase: string;
  readonly jwtClockToleranceSec: number;
  readonly jwtAudience: readonly string[] | null;
  readonly jwtIssuer: readonly string[] | null;
  readonly claims: ClaimsDialect;
  readonly registry: SubscriptionRegistry | null;
  readonly maxMatchersPerSubscription: number;
  readonly maxMatcherLength: number;
  readonly urlPatternRegExpGroups: boolean;
  /** Trusted `iss` → its verification key. */
  readonly oauthIssuers: ReadonlyMap<string, VerificationKey>;
  readonly oauthAudience: string | null;
  readonly oauthStrict: boolean;
  readonly maxSubscribeBodyBytes: number;
  readonly maxStreamsPerToken: number | null;
  /** Issuers configured with a JWKS URL: the authorization servers advertised in the metadata. */
  readonly oauthAuthorizationServers: readonly string[];
  readonly protocol: MercureProtocol;
}

const KNOWN = new Set([
  "jwtKey",
  "jwtKeyFile",
  "jwtAlg",
  "jwksUrl",
  "publisherJwtKey",
  "publisherJwtKeyFile",
  "publisherJwtAlg",
  "publisherJwksUrl",
  "subscriberJwtKey",
  "subscriberJwtKeyFile",
  "subscriberJwtAlg",
  "subscriberJwksUrl",
  "jwksAlgorithms",
  "anonymous",
  "corsOrigins",
  "publishOrigins",
  "subscriptions",
  "cookieName",
  "hubUrl",
  "jwtClockToleranceSec",
  "jwtAudience",
  "jwtIssuer",
  "claims",
  "registry",
  "maxMatchersPerSubscription",
  "maxMatcherLength",
  "urlPatternRegExpGroups",
  "oauthIssuers",
  "oauthAudience",
  "oauthStrict",
  "maxSubscribeBodyBytes",
  "maxStreamsPerToken",
  "protocol",
]);

/** Issuers → keys; a 1.0 hub needs its audience, and every issuer a key. */
function oauthIssuersOf(o: MercureOptions): ReadonlyMap<string, VerificationKey> {
  const list = o.oauthIssuers ?? [];
  if (!Array.isArray(list)) throw optionsError("oauthIssuers must be a list");
  const map = new Map<string, VerificationKey>();
  for (const i of list as readonly OAuthIssuer[]) {
    if (typeof i?.issuer !== "string" || i.issuer === "") {
      throw optionsError("every oauthIssuers entry needs a non-empty issuer");
    }
    if (map.has(i.issuer)) throw optionsError(`oauthIssuers lists ${i.issuer} twice`);
    const what = `oauth issuer ${i.issuer}`;
    const key = loadVerificationKey(
      { key: i.key, keyFile: i.keyFile, alg: i.alg, jwksUrl: i.jwksUrl, jwksAlgorithms: o.jwksAlgorithms },
      what,
    );
    if (key === null) throw optionsError(`${what}: needs a key, a key file or a JWKS URL`);
    map.set(i.issuer, key);
  }
  return map;
}

/** A role's own key settings win as a whole; otherwise the shared ones apply. */
function roleKey(o: MercureOptions, role: "publisher" | "subscriber"): JwtKeyConfig {
  const key = o[`${role}JwtKey`];
  const keyFile = o[`${role}JwtKeyFile`];
  const jwksUrl = o[`${role}JwksUrl`];
  const own = key != null || keyFile != null || jwksUrl != null;
  return {
    key: own ? key : o.jwtKey,
    keyFile: own ? keyFile : o.jwtKeyFile,
    jwksUrl: own ? jwksUrl : o.jwksUrl,
    alg: o[`${role}JwtAlg`] ?? o.jwtAlg,
    jwksAlgorithms: o.jwksAlgorithms,
  };
}

/** `null`, one non-empty string or a non-empty list of them → a frozen list, or `null`. */
function claimValues(name: string, v: unknown): readonly string[] | null {
  if (v === undefined || v === null) return null;
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || list.some((x) => typeof x !== "string" || x === "")) {
    throw optionsError(`${name} must be a non-empty string, a non-empty list of them, or null`);
  }
  return Object.freeze([...list]);
}

function origins(name: string, v: unknown, allowNull: boolean): CorsOrigins {
  if (v === "*" || (allowNull && v === null)) return v as CorsOrigins;
  if (
    !Array.isArray(v) ||
    v.some((x) => typeof x !== "string" || !/^[a-z][a-z0-9+.-]*:\/\/[^/\s]+$/i.test(x))
  ) {
    throw optionsError(
      `${name} must be "*" or a list of origins like "https://example.com"${allowNull ? ", or null" : ""}`,
    );
  }
  return Object.freeze([...v]);
}

/** Validates and freezes hub options; throws SSEB_ERR_OPTIONS_INVALID naming the bad option. */
export function resolveMercureOptions(o: MercureOptions = {}): ResolvedMercureOptions {
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) throw optionsError(`unknown Mercure option ${k}`);
  const publisherKey = loadVerificationKey(roleKey(o, "publisher"), "publisher");
  const subscriberKey = loadVerificationKey(roleKey(o, "subscriber"), "subscriber");
  const oauthIssuers = oauthIssuersOf(o);
  const oauthAudience = o.oauthAudience ?? null;
  if (oauthAudience !== null && (typeof oauthAudience !== "string" || oauthAudience === "")) {
    throw optionsError("oauthAudience must be a non-empty string or null");
  }
  if (oauthIssuers.size > 0 && oauthAudience === null) {
    // RFC 9068 and draft-08: the hub MUST check its resource identifier in aud; no default would be safe.
    throw optionsError("oauthIssuers need oauthAudience (the hub's resource identifier)");
  }
  const oauthStrict = o.oauthStrict ?? false;
  if (typeof oauthStrict !== "boolean") throw optionsError("oauthStrict must be a boolean");
  const protocol = o.protocol ?? "both";
  if (protocol !== "classic" && protocol !== "1" && protocol !== "both") {
    throw optionsError('protocol must be "classic", "1" or "both"');
  }
  if (protocol === "1" && oauthIssuers.size === 0) {
    throw optionsError(
      'protocol "1" (Mercure 1.0 only) needs oauthIssuers: no publisher could be authorized',
    );
  }
  if (publisherKey === null && subscriberKey === null && oauthIssuers.size === 0) {
    // Most likely a typo in the configuration: a hub where no token can ever be valid.
    throw optionsError(
      "Mercure hub needs a JWT key: jwtKey, publisherJwtKey, subscriberJwtKey, a JWKS URL or oauthIssuers",
    );
  }
  const cookieName = o.cookieName ?? "mercureAuthorization";
  if (typeof cookieName !== "string" || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookieName)) {
    throw optionsError("cookieName must be a valid cookie name");
  }
  const hubUrl = o.hubUrl ?? HUB_PATH;
  if (typeof hubUrl !== "string" || hubUrl === "" || /[\s<>]/.test(hubUrl))
    throw optionsError("hubUrl is invalid");
  const tolerance = o.jwtClockToleranceSec ?? 0;
  if (!Number.isSafeInteger(tolerance) || tolerance < 0) {
    throw optionsError("jwtClockToleranceSec must be an integer >= 0");
  }
  const subscriptions = o.subscriptions ?? false;
  const maxMatchers = o.maxMatchersPerSubscription ?? 32;
  if (!Number.isSafeInteger(maxMatchers) || maxMatchers < 1) {
    throw optionsError("maxMatchersPerSubscription must be an integer >= 1");
  }
  const maxMatcherLength = o.maxMatcherLength ?? 1024;
  if (!Number.isSafeInteger(maxMatcherLength) || maxMatcherLength < 1) {
    throw optionsError("maxMatcherLength must be an integer >= 1");
  }
  const regExpGroups = o.urlPatternRegExpGroups ?? false;
  if (typeof regExpGroups !== "boolean") throw optionsError("urlPatternRegExpGroups must be a boolean");
  const maxSubscribeBodyBytes = o.maxSubscribeBodyBytes ?? 65_536;
  if (!Number.isSafeInteger(maxSubscribeBodyBytes) || maxSubscribeBodyBytes < 1) {
    throw optionsError("maxSubscribeBodyBytes must be an integer >= 1");
  }
  const maxStreamsPerToken = o.maxStreamsPerToken ?? null;
  if (maxStreamsPerToken !== null && (!Number.isSafeInteger(maxStreamsPerToken) || maxStreamsPerToken < 1)) {
    throw optionsError("maxStreamsPerToken must be an integer >= 1 or null");
  }
  return Object.freeze({
    publisherKey,
    subscriberKey,
    anonymous: o.anonymous ?? false,
    corsOrigins: origins("corsOrigins", o.corsOrigins ?? null, true),
    publishOrigins: origins("publishOrigins", o.publishOrigins ?? [], false) as "*" | readonly string[],
    subscriptions,
    cookieName,
    hubUrl,
    hubBase: hubBaseOf(hubUrl, oauthAudience),
    jwtClockToleranceSec: tolerance,
    jwtAudience: claimValues("jwtAudience", o.jwtAudience),
    jwtIssuer: claimValues("jwtIssuer", o.jwtIssuer),
    claims: o.claims ?? mercureClaims,
    registry: subscriptions ? (o.registry ?? null) : null,
    maxMatchersPerSubscription: maxMatchers,
    maxMatcherLength,
    urlPatternRegExpGroups: regExpGroups,
    oauthIssuers,
    oauthAudience,
    oauthStrict,
    maxSubscribeBodyBytes,
    maxStreamsPerToken,
    oauthAuthorizationServers: Object.freeze(
      (o.oauthIssuers ?? []).filter((i) => i.jwksUrl != null).map((i) => i.issuer),
    ),
    protocol,
  });
}

function hubBaseOf(hubUrl: string, audience: string | null): string {
  if (URL.canParse(hubUrl)) return new URL(hubUrl).href;
  if (audience !== null && URL.canParse(audience)) {
    const a = new URL(audience);
    if (a.protocol === "https:" || a.protocol === "http:") return new URL(hubUrl, a).href;
  }
  return new URL(hubUrl, "http://localhost").href;
}
