/**
 * Topics and topic selectors. A selector matches a topic when it is `*`, identical to it, or an RFC 6570
 * URI template the topic matches (the Mercure rule, used in plain mode too). Selectors are compiled once,
 * within bounds, because they come from anonymous subscribers.
 * @module
 */
import { badRequest, SseBrokerError } from "../errors.js";
import { TemplateError, type TemplateLimits, UriTemplate } from "./uri-template.js";

export const MAX_TOPIC_LENGTH = 2048;
// C0 controls and DEL have no place in a topic IRI and would corrupt logs and headers.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Throws SSEB_ERR_TOPIC_INVALID (400) unless `topic` is a usable topic or selector string. */
export function assertTopic(topic: string, what = "topic", maxLength = MAX_TOPIC_LENGTH): void {
  if (typeof topic !== "string" || topic.length === 0) throw topicError(`${what} must not be empty`);
  if (topic.length > maxLength) throw topicError(`${what} is longer than ${maxLength} characters`);
  if (CONTROL.test(topic)) throw topicError(`${what} must not contain control characters`);
}

function topicError(message: string): SseBrokerError {
  return badRequest(message, "SSEB_ERR_TOPIC_INVALID");
}

/** True when the selector needs matching (wildcard or template) rather than an exact lookup. */
export function isPatternSelector(selector: string): boolean {
  return selector === "*" || selector.includes("{");
}

export interface SelectorLimits {
  /** Longest selector, in UTF-16 code units. */
  readonly maxSelectorLength: number;
  /** Expressions (`{…}`) in one template selector. */
  readonly maxTemplateExpressions: number;
}

/**
 * Fixed bounds every template also obeys: variables per expression, and the matcher's work per topic
 * character (32-position words × transition distances; realistic templates cost 4 to 8). Together with the
 * topic length they bound a match to well under a millisecond (bench/selectors.ts).
 */
export const MAX_TEMPLATE_VARIABLES = 8;
export const MAX_TEMPLATE_COST = 16;

export type SelectorKind = "exact" | "wildcard" | "template";

/**
 * What a pattern selector needs from its compiled form: a literal prefix every matching topic starts with
 * (for the subscription index) and the match itself. URI templates are one; Mercure 1.0 URL patterns
 * another.
 */
export interface PatternMatcher {
  readonly prefix: string;
  matches(topic: string): boolean;
}

/** A validated, compiled selector. */
export class Selector {
  readonly source: string;
  readonly kind: SelectorKind;
  /**
   * Identity for sharing compiled selectors and grouping them in the index: the source for classic
   * selectors; other dialects give a key no classic selector can have (it starts with a control
   * character), so an exact `a{b}` or a URL pattern never shares a classic template's compiled form.
   */
  readonly key: string;
  /** Literal text every matching topic starts with ("" for `*`; the whole topic for exact selectors). */
  readonly prefix: string;
  readonly #template: PatternMatcher | null;

  constructor(source: string, template: PatternMatcher | null, key: string = source) {
    this.source = source;
    this.key = key;
    this.#template = template;
    this.kind = template !== null ? "template" : source === "*" ? "wildcard" : "exact";
    this.prefix = template !== null ? template.prefix : source === "*" ? "" : source;
  }

  matches(topic: string): boolean {
    if (this.kind === "wildcard" || topic === this.source) return true;
    return this.#template?.matches(topic) === true;
  }
}

/**
 * Validates and compiles `source`; throws a coded 400 when it is malformed (SSEB_ERR_TOPIC_INVALID) or over
 * a bound (SSEB_ERR_LIMIT_SELECTOR).
 */
export function compileSelector(source: string, limits: SelectorLimits): Selector {
  assertTopic(source, "topic selector", Math.min(limits.maxSelectorLength, MAX_TOPIC_LENGTH));
  if (!isPatternSelector(source) || source === "*") return new Selector(source, null);
  const templateLimits: TemplateLimits = {
    maxExpressions: limits.maxTemplateExpressions,
    maxVariablesPerExpression: MAX_TEMPLATE_VARIABLES,
  };
  let template: UriTemplate;
  try {
    template = new UriTemplate(source, templateLimits);
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    if (err.message.startsWith("more than")) {
      throw limitError(`topic selector has ${err.message} (see maxTemplateExpressions)`);
    }
    throw topicError(`topic selector is not a valid URI template: ${err.message}`);
  }
  if (template.cost > MAX_TEMPLATE_COST) {
    throw limitError("topic selector is too complex to match (too many adjacent optional expressions)");
  }
  return new Selector(source, template);
}

function limitError(message: string): SseBrokerError {
  return badRequest(message, "SSEB_ERR_LIMIT_SELECTOR");
}

/** A list of compiled selectors, matched against an update's topics. */
export class SelectorSet {
  readonly selectors: readonly Selector[];
  readonly #exact: ReadonlySet<string>;
  readonly #patterns: readonly Selector[];
  readonly #any: boolean;

  constructor(selectors: readonly Selector[]) {
    this.selectors = selectors;
    this.sources = selectors.map((s) => s.source);
    this.key = selectors.map((s) => s.key).join("\u0000");
    this.#exact = new Set(selectors.filter((s) => s.kind === "exact").map((s) => s.source));
    this.#patterns = selectors.filter((s) => s.kind === "template");
    this.#any = selectors.some((s) => s.kind === "wildcard");
  }

  /** The selectors as given. */
  readonly sources: readonly string[];
  /** The selectors' keys joined by NUL (which no topic contains): equal sets have equal keys. */
  readonly key: string;

  /** Whether matching needs more than an exact lookup (`*` or a template). */
  get hasPatterns(): boolean {
    return this.#any || this.#patterns.length > 0;
  }

  get exactTopics(): Iterable<string> {
    return this.#exact;
  }

  matches(topic: string): boolean {
    if (this.#any || this.#exact.has(topic)) return true;
    for (const p of this.#patterns) if (p.matches(topic)) return true;
    return false;
  }

  matchesAny(topics: readonly string[]): boolean {
    for (const t of topics) if (this.matches(t)) return true;
    return false;
  }
}

/**
 * Matches topics against selector lists given as strings (e.g. a token's claims), compiling each distinct
 * list once; the cache holds at most `maxLists` lists, least recently used first out. A selector that is
 * not a valid template (or is over a bound) matches only the identical topic, as in the reference hub.
 */
export class TopicMatcher {
  readonly #limits: SelectorLimits;
  readonly #maxLists: number;
  readonly #lists = new Map<string, SelectorSet>();

  constructor(limits: Partial<SelectorLimits> = {}, maxLists = 1000) {
    this.#limits = {
      maxSelectorLength: limits.maxSelectorLength ?? MAX_TOPIC_LENGTH,
      maxTemplateExpressions: limits.maxTemplateExpressions ?? 8,
    };
    this.#maxLists = maxLists;
  }

  /** The compiled set for `selectors`. */
  compile(selectors: readonly string[]): SelectorSet {
    const key = selectors.length === 1 ? (selectors[0] as string) : JSON.stringify(selectors);
    let set = this.#lists.get(key);
    if (set !== undefined) {
      this.#lists.delete(key); // re-inserted below: most recently used last
    } else {
      set = new SelectorSet(selectors.map((s) => this.#compileOne(s)));
      if (this.#lists.size >= this.#maxLists) {
        const oldest = this.#lists.keys().next();
        if (oldest.done !== true) this.#lists.delete(oldest.value);
      }
    }
    this.#lists.set(key, set);
    return set;
  }

  #compileOne(source: string): Selector {
    try {
      return compileSelector(source, this.#limits);
    } catch (err) {
      if (err instanceof SseBrokerError) return new Selector(source, null);
      throw err;
    }
  }

  matches(selector: string, topic: string): boolean {
    return this.compile([selector]).matches(topic);
  }

  /** True when any selector matches any topic. */
  matchesAny(selectors: readonly string[], topics: readonly string[]): boolean {
    return this.compile(selectors).matchesAny(topics);
  }
}
