/**
 * Which subscribers want a topic. Exact selectors are a map lookup; `*` is one set; template selectors are
 * grouped (one compiled template however many subscribers share it) and indexed by their literal prefix,
 * so a publish matches only the templates whose prefix its topic starts with, not every template that
 * anonymous clients ever sent.
 * @module
 */
import { PrefixTree } from "./prefix-tree.js";
import type { Selector } from "./topic.js";

interface Group<S> {
  readonly selector: Selector;
  readonly members: Set<S>;
  /** The last publish that matched this group (one match per publish, however many topics it has). */
  mark: number;
}

export interface SubscriptionCounts {
  /** Subscriber-selector pairs, by kind. */
  readonly exact: number;
  readonly wildcard: number;
  readonly template: number;
  /** Distinct template selectors (compiled once each). */
  readonly distinctTemplates: number;
  /** Distinct exact topics subscribed to. */
  readonly distinctTopics: number;
}

export class SubscriptionIndex<S> {
  readonly #exact = new Map<string, Set<S>>();
  readonly #wildcard = new Set<S>();
  readonly #templates = new Map<string, Group<S>>();
  readonly #byPrefix = new PrefixTree<Group<S>>();
  #exactPairs = 0;
  #templatePairs = 0;

  /** Distinct template selectors in use. */
  get templateCount(): number {
    return this.#templates.size;
  }

  /** True when subscribing with `selector` would add a template (a new compiled matcher). */
  isNewTemplate(selector: Selector): boolean {
    return selector.kind === "template" && !this.#templates.has(selector.key);
  }

  add(selector: Selector, member: S): void {
    if (selector.kind === "wildcard") {
      this.#wildcard.add(member);
    } else if (selector.kind === "exact") {
      let set = this.#exact.get(selector.source);
      if (set === undefined) {
        set = new Set();
        this.#exact.set(selector.source, set);
      }
      if (!set.has(member)) this.#exactPairs++;
      set.add(member);
    } else {
      let group = this.#templates.get(selector.key);
      if (group === undefined) {
        group = { selector, members: new Set(), mark: 0 };
        this.#templates.set(selector.key, group);
        this.#byPrefix.add(selector.prefix, group);
      }
      if (!group.members.has(member)) this.#templatePairs++;
      group.members.add(member);
    }
  }

  delete(selector: Selector, member: S): void {
    if (selector.kind === "wildcard") {
      this.#wildcard.delete(member);
    } else if (selector.kind === "exact") {
      const set = this.#exact.get(selector.source);
      if (set?.delete(member) !== true) return;
      this.#exactPairs--;
      if (set.size === 0) this.#exact.delete(selector.source);
    } else {
      const group = this.#templates.get(selector.key);
      if (group?.members.delete(member) !== true) return;
      this.#templatePairs--;
      if (group.members.size === 0) {
        this.#templates.delete(selector.key);
        this.#byPrefix.delete(selector.prefix, group);
      }
    }
  }

  /**
   * Calls `fn` with each set of members whose selector matches one of `topics`. A member may come in
   * several sets (dedupe is the caller's, by publish `mark`). The index must not change during the call.
   */
  forEachMatch(topics: readonly string[], mark: number, fn: (members: ReadonlySet<S>) => void): void {
    if (this.#wildcard.size > 0) fn(this.#wildcard);
    for (const topic of topics) {
      const set = this.#exact.get(topic);
      if (set !== undefined) fn(set);
      if (this.#templates.size === 0) continue;
      this.#byPrefix.forEachPrefixOf(topic, (groups) => {
        for (const g of groups) {
          if (g.mark === mark || !g.selector.matches(topic)) continue;
          g.mark = mark;
          fn(g.members);
        }
      });
    }
  }

  counts(): SubscriptionCounts {
    return {
      exact: this.#exactPairs,
      wildcard: this.#wildcard.size,
      template: this.#templatePairs,
      distinctTemplates: this.#templates.size,
      distinctTopics: this.#exact.size,
    };
  }
}
