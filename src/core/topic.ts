/**
 * Topics and topic selectors. A selector matches a topic when it is `*`, byte-identical to it, or an
 * RFC 6570 URI template the topic matches (the Mercure rule, used in plain mode too).
 * @module
 */
import { Router } from "uri-template-router";
import { badRequest, type SseBrokerError } from "../errors.js";

const MAX_TOPIC_LENGTH = 2048;
// C0 controls and DEL have no place in a topic IRI and would corrupt logs and headers.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Throws SSEB_ERR_TOPIC_INVALID (400) unless `topic` is a usable topic or selector string. */
export function assertTopic(topic: string, what = "topic"): void {
  if (topic.length === 0) throw topicError(`${what} must not be empty`);
  if (topic.length > MAX_TOPIC_LENGTH)
    throw topicError(`${what} is longer than ${MAX_TOPIC_LENGTH} characters`);
  if (CONTROL.test(topic)) throw topicError(`${what} must not contain control characters`);
}

function topicError(message: string): SseBrokerError {
  return badRequest(message, "SSEB_ERR_TOPIC_INVALID");
}

/** True when the selector needs matching (wildcard or template) rather than an exact lookup. */
export function isPatternSelector(selector: string): boolean {
  return selector === "*" || selector.includes("{");
}

/** Throws SSEB_ERR_TOPIC_INVALID when a template selector does not parse. */
export function assertSelector(selector: string): void {
  assertTopic(selector, "topic selector");
  if (selector !== "*" && selector.includes("{")) {
    try {
      new Router().addTemplate(selector, {}, true);
    } catch {
      throw topicError("topic selector is not a valid URI template");
    }
  }
}

/**
 * Matches topics against selectors with a bounded cache, so that a publish does not re-run template
 * matching for every subscriber: each (selector, topic) pair is computed once until the cache turns over.
 */
export class TopicMatcher {
  readonly #templates = new Map<string, Router | null>();
  readonly #cache = new Map<string, Map<string, boolean>>();
  readonly #maxEntries: number;
  #entries = 0;

  constructor(maxEntries = 100_000) {
    this.#maxEntries = maxEntries;
  }

  matches(selector: string, topic: string): boolean {
    if (selector === "*" || selector === topic) return true;
    if (!selector.includes("{")) return false;
    let perSelector = this.#cache.get(selector);
    const hit = perSelector?.get(topic);
    if (hit !== undefined) return hit;
    const result = this.#template(selector)?.resolveURI(topic) !== undefined;
    if (this.#entries >= this.#maxEntries) {
      // Simple turnover: hot pairs come back on the next publish; keeps memory bounded.
      this.#cache.clear();
      this.#entries = 0;
      perSelector = undefined;
    }
    if (perSelector === undefined) {
      perSelector = new Map();
      this.#cache.set(selector, perSelector);
    }
    perSelector.set(topic, result);
    this.#entries++;
    return result;
  }

  /** True when any selector matches any topic. */
  matchesAny(selectors: readonly string[], topics: readonly string[]): boolean {
    for (const s of selectors) for (const t of topics) if (this.matches(s, t)) return true;
    return false;
  }

  #template(selector: string): Router | null {
    let m = this.#templates.get(selector);
    if (m === undefined) {
      try {
        m = new Router();
        m.addTemplate(selector, {}, true);
      } catch {
        m = null; // an invalid template matches nothing but itself
      }
      if (this.#templates.size >= 10_000) this.#templates.clear();
      this.#templates.set(selector, m);
    }
    return m;
  }
}
