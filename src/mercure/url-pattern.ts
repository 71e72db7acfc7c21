/**
 * Mercure 1.0 `urlpattern` matchers: a WHATWG URL Pattern (through urlpattern-polyfill; Node 20 has no
 * URLPattern) compiled once, refused when matching it could stall the hub.
 *
 * URL Pattern compiles each URL component to a backtracking RegExp, and V8's engine offers neither a time
 * limit nor a linear mode per expression, so a crafted pattern costs its subscriber nothing and every
 * publish a lot: `https://a.example/*-*-*-x` against a 1000-character topic of dashes takes 0.7 s, one
 * wildcard more takes minutes (draft-08, "URL-Pattern Denial of Service"). The draft asks for a linear
 * engine or a cost limit; this enforces the cost limit before the pattern is ever used, on the polyfill's
 * canonical component strings:
 * - custom regular expressions (`(…)`) are refused unless the hub allows them (their cost cannot be
 *   bounded by looking at them: `((a+)+)` is exponential);
 * - within one component, the variable-length parts that can compete for the same characters (wildcards,
 *   repeated groups, and named groups in the same segment, the segment being what lies between `/` in
 *   the path or `.` in the host) number at most MAX_DEGREE: matching then costs at most about n² steps
 *   for a topic of n ≤ 2048 characters (about 10 ms at worst, with a topic crafted for it by a publisher);
 * - at most MAX_OPTIONALS optional (`?`) parts per component, each of which doubles the branches;
 * - a repeated group (`{…}+`, `{…}*`) may not contain a variable part, and a repeated named group or
 *   wildcard must follow a `/` in the path (nested quantifiers are exponential).
 * @module
 */
import { URLPattern } from "urlpattern-polyfill/urlpattern";
import type { PatternMatcher } from "../core/topic.js";
import { badRequest, type SseBrokerError } from "../errors.js";

export const MAX_DEGREE = 2;
export const MAX_OPTIONALS = 4;

const COMPONENTS = [
  "protocol",
  "username",
  "password",
  "hostname",
  "port",
  "pathname",
  "search",
  "hash",
] as const;

export interface UrlPatternLimits {
  /** Accept custom regular expressions (`(…)`) in patterns, whose cost is not bounded. */
  readonly allowRegExpGroups: boolean;
}

function invalid(message: string): SseBrokerError {
  return badRequest(message, "SSEB_ERR_MERCURE_MATCHER_INVALID");
}

function tooComplex(message: string): SseBrokerError {
  return badRequest(message, "SSEB_ERR_LIMIT_SELECTOR");
}

/** Compiles `source` against the hub's URL (the base of relative patterns and topics). Throws a coded 400. */
export function compileUrlPattern(source: string, base: string, limits: UrlPatternLimits): PatternMatcher {
  let pattern: URLPattern;
  try {
    // ignoreCase stays off (draft-08 URL Pattern: only the host is case-insensitive, by canonicalization).
    pattern = new URLPattern(source, base);
  } catch {
    throw invalid("match_urlpattern is not a valid URL Pattern");
  }
  // In the polyfill since 10.0, not yet in its type declarations.
  if ((pattern as { hasRegExpGroups?: boolean }).hasRegExpGroups === true && !limits.allowRegExpGroups) {
    throw invalid("match_urlpattern must not contain regular expression groups ( … ) on this hub");
  }
  for (const name of COMPONENTS) {
    const sep = name === "pathname" ? "/" : name === "hostname" ? "." : null;
    checkCost(pattern[name], sep);
  }
  return {
    // No literal prefix: URL parsing canonicalizes the topic (case of scheme and host, default ports,
    // percent-encoding, relative references), so the pattern's text says nothing certain about the raw
    // topic's first characters. Every publish tries each distinct pattern; maxPatternSelectors bounds them.
    prefix: "",
    matches(topic: string): boolean {
      try {
        return pattern.test(topic, base);
      } catch {
        return false; // a topic that is no URL reference matches no URL pattern (draft-08)
      }
    },
  };
}

interface Scan {
  /** Parts that may match across segments: wildcards, repeated and regexp groups. */
  wide: number;
  /** Named groups in the current segment, and the most in any segment so far. */
  segment: number;
  maxSegment: number;
  optionals: number;
  /** Variable parts seen (to spot a repeated group holding one). */
  variables: number;
}

/** Throws SSEB_ERR_LIMIT_SELECTOR when one component's pattern could backtrack too much. */
function checkCost(text: string, sep: string | null): void {
  const s: Scan = { wide: 0, segment: 0, maxSegment: 0, optionals: 0, variables: 0 };
  scan(text, 0, sep, s, false);
  if (s.wide + Math.max(s.maxSegment, s.segment) > MAX_DEGREE) {
    throw tooComplex(
      `match_urlpattern has too many wildcards or groups that compete for the same characters (at most ${MAX_DEGREE} per segment)`,
    );
  }
  if (s.optionals > MAX_OPTIONALS) {
    throw tooComplex(`match_urlpattern has more than ${MAX_OPTIONALS} optional parts in one component`);
  }
}

const NAME_START = /[$_\p{ID_Start}]/u;
const NAME_PART = /[$_\p{ID_Continue}]|\u200C|\u200D/u;

/**
 * Walks URL Pattern syntax (names, `*`, `( … )`, `{ … }`, modifiers, `\` escapes) from `i`; returns the
 * index after a closing `}` when `inGroup`. The syntax is the polyfill's, already validated by it.
 */
function scan(text: string, start: number, sep: string | null, s: Scan, inGroup: boolean): number {
  let i = start;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === "\\") {
      i += 2;
      continue;
    }
    if (inGroup && c === "}") return i + 1;
    if (c === sep) {
      s.maxSegment = Math.max(s.maxSegment, s.segment);
      s.segment = 0;
      i++;
      continue;
    }
    const at = i;
    let kind: "named" | "wide" | "group" | null = null;
    let before = s.variables;
    if (c === ":" && NAME_START.test(text[i + 1] ?? "")) {
      i += 2;
      while (i < text.length && NAME_PART.test(text[i] as string)) i++;
      if (text[i] === "(") {
        i = skipRegExp(text, i);
        kind = "wide";
      } else kind = "named";
    } else if (c === "(") {
      i = skipRegExp(text, i);
      kind = "wide";
    } else if (c === "*") {
      i++;
      kind = "wide";
    } else if (c === "{") {
      before = s.variables;
      i = scan(text, i + 1, sep, s, true);
      kind = "group";
    } else {
      i++;
      continue;
    }
    const modifier = text[i];
    const repeated = modifier === "+" || modifier === "*";
    if (modifier === "?" || repeated) i++;
    if (modifier === "?") s.optionals++;
    if (kind === "group") {
      if (repeated && s.variables > before) {
        throw tooComplex("match_urlpattern repeats a group holding a wildcard or named group");
      }
      if (repeated) s.wide++;
      continue;
    }
    // A repeated part repeats with its prefix as the separator; without a `/` prefix the RegExp is
    // `(x+?)(?:x+?)*`, exponential (`/:a+-:b+x` against 100 dashes does not finish).
    // `(.*)(?:/(.*))*` is exponential too (`/*+x` against slashes): repeated wildcards are refused.
    if (repeated && (kind === "wide" || sep !== "/" || text[at - 1] !== "/")) {
      throw tooComplex(
        "match_urlpattern repeats (+ or *) a wildcard, or a named group that does not follow a /",
      );
    }
    s.variables++;
    if (kind === "wide" || repeated) s.wide++;
    else s.segment++;
  }
  return i;
}

/** The index after the `)` closing the regexp group opened at `i` (nested parentheses, escapes). */
function skipRegExp(text: string, i: number): number {
  let depth = 0;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") i++;
    else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return i + 1;
  }
  return i;
}
