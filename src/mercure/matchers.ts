/**
 * Mercure 1.0 (draft-dunglas-mercure-08) subscription parameters: which dialect a subscribe request
 * speaks, and its topic matchers (`match`, `match_exact`, `match_urlpattern`) checked and compiled into
 * the broker's selectors. Exact matchers become exact selectors (an indexed lookup, whatever characters
 * they hold); URL patterns become pattern selectors, counted like classic templates.
 * @module
 */
import { Selector } from "../core/topic.js";
import { badRequest, type SseBrokerError } from "../errors.js";
import type { UrlEncodedFields } from "../http/urlencoded.js";
import type { ResolvedMercureOptions } from "./options.js";
import { compileUrlPattern } from "./url-pattern.js";

/** The matcher parameters this hub implements, by name (case-sensitive). */
const MATCHER_TYPES: ReadonlyMap<string, "exact" | "urlpattern"> = new Map([
  ["match", "exact"],
  ["match_exact", "exact"],
  ["match_urlpattern", "urlpattern"],
]);

// C0, DEL, C1 and Unicode format characters (Cf) are refused in matcher values (draft-08, Subscription).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\p{Cf}]/u;

/**
 * Characters of URL patterns one subscription may compile (at least `maxMatcherLength`). Compiling costs
 * about 1.3 µs per pattern character (polyfill 10.1, this machine's class): 32 patterns of 1024 characters
 * would hold the event loop for ~45 ms per request; 8192 characters keep it near 10 ms.
 */
export const MAX_URLPATTERN_CHARS = 8192;

/** A name in the reserved `match` namespace: `match`, or starting with it, ASCII case-insensitively. */
function reserved(name: string): boolean {
  return name.length >= 5 && name.slice(0, 5).toLowerCase() === "match";
}

/** True when the query speaks Mercure 1.0; 400 when it mixes `topic` with `match…` parameters. */
export function isMercure1(fields: UrlEncodedFields): boolean {
  let v1 = false;
  for (const name of fields.keys()) {
    if (reserved(name)) {
      v1 = true;
      break;
    }
  }
  if (v1 && fields.has("topic")) {
    throw badRequest(
      "a subscription uses either classic topic= parameters or Mercure 1.0 match… parameters, not both",
      "SSEB_ERR_MERCURE_DIALECT_MIXED",
    );
  }
  return v1;
}

export interface Mercure1Matchers {
  /** The matcher values, in order, deduplicated per type. */
  readonly values: readonly string[];
  /** `[type, value]` pairs, checked but not compiled yet. */
  readonly pairs: readonly (readonly ["exact" | "urlpattern", string])[];
}

function invalid(message: string): SseBrokerError {
  return badRequest(message, "SSEB_ERR_MERCURE_MATCHER_INVALID");
}

/**
 * Checks names, values and limits (cheap; before admission and authorization). Throws a coded 400. Never
 * echoes a name or value: they are client input.
 */
export function readMatchers(fields: UrlEncodedFields, o: ResolvedMercureOptions): Mercure1Matchers {
  const pairs: ["exact" | "urlpattern", string][] = [];
  const seen = new Set<string>();
  const patternBudget = Math.max(MAX_URLPATTERN_CHARS, o.maxMatcherLength);
  let patternChars = 0;
  for (const [name, list] of fields) {
    if (!reserved(name)) continue;
    const type = MATCHER_TYPES.get(name);
    if (type === undefined) {
      throw invalid(
        "unknown matcher parameter: the match… namespace is reserved; this hub supports match, match_exact and match_urlpattern",
      );
    }
    for (const value of list) {
      if (pairs.length >= o.maxMatchersPerSubscription) {
        throw badRequest(
          `a subscription may have at most ${o.maxMatchersPerSubscription} topic matchers`,
          "SSEB_ERR_LIMIT_SELECTORS",
        );
      }
      if (value === "") throw invalid(`${name} must not be empty`);
      if (value.length > o.maxMatcherLength) {
        throw badRequest(
          `${name} is longer than ${o.maxMatcherLength} characters`,
          "SSEB_ERR_LIMIT_SELECTOR",
        );
      }
      if (FORBIDDEN.test(value)) {
        throw invalid(`${name} must not contain control or Unicode format characters`);
      }
      const key = `${type}\u0000${value}`;
      if (seen.has(key)) continue; // identical type and pattern: one subscription (draft-08 allows it)
      seen.add(key);
      if (type === "urlpattern") patternChars += value.length;
      if (patternChars > patternBudget) {
        throw badRequest(
          `the URL patterns of one subscription may total at most ${patternBudget} characters`,
          "SSEB_ERR_LIMIT_SELECTOR",
        );
      }
      pairs.push([type, value]);
    }
  }
  return { values: [...new Set(pairs.map(([, v]) => v))], pairs };
}

/**
 * Compiles checked matchers, each URL pattern once, against the hub URL `base`. `*` is the reserved
 * wildcard whatever the type (draft-08, Matcher Types). Keys start with U+0001 (never in a classic
 * selector) so these selectors are never shared with a classic one of the same text.
 */
export function compileMatchers(m: Mercure1Matchers, base: string, o: ResolvedMercureOptions): Selector[] {
  return m.pairs.map(([type, value]) => {
    const key = matcherKey(type, value, base);
    if (value === "*") return new Selector("*", null);
    if (type === "exact") return new Selector(value, null, key);
    const matcher = compileUrlPattern(value, base, { allowRegExpGroups: o.urlPatternRegExpGroups });
    return new Selector(value, matcher, key);
  });
}

/** The `Selector.key` `compileMatchers` gives a matcher, without compiling it (to name it for removal). */
export function matcherKey(type: "exact" | "urlpattern", value: string, base: string): string {
  if (value === "*") return "*";
  return type === "exact" ? `\u0001exact\u0001${value}` : `\u0001urlpattern\u0001${base}\u0001${value}`;
}
