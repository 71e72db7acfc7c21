/**
 * Active subscriptions, behind an interface: the local registry reads this process's sessions; a
 * cluster-wide one (e.g. Redis-backed, fed by the subscription events every node publishes) can replace it
 * without touching the API route.
 * @module
 */
import type { Broker } from "../core/broker.js";
import type { Session } from "../core/session.js";
import type { SelectorSet } from "../core/topic.js";
import { JSONLD_CONTEXT, type MatchType, subscriptionId, subscriptionId1 } from "./paths.js";

/** What the hub keeps in `session.meta.mercure` for each subscriber connection. */
export interface MercureSessionMeta {
  /** Subscriber IRI (`urn:uuid:…`), shared by all its subscriptions. */
  readonly subscriber: string;
  /** Classic topic selectors (`topic=`), one subscription each; empty for a Mercure 1.0 subscriber. */
  readonly topics: readonly string[];
  /** `mercure.payload` of the subscriber's token (classic subscriptions). */
  readonly payload: unknown;
  /** Mercure 1.0 subscriptions (`match…=`), one per matcher; absent or empty for a classic subscriber. */
  readonly matchers?: readonly Mercure1Subscription[] | undefined;
  /** How its token was verified (`1`: a Mercure 1.0 access token); absent for an anonymous stream. */
  readonly tokenDialect?: "classic" | "1" | undefined;
  /** The payload its token gives a Mercure 1.0 subscription with this matcher (one added later too). */
  readonly payloadOf?: ((match: string) => unknown) | undefined;
}

/** One Mercure 1.0 subscription of a connection: its matcher and the payload its token gives it. */
export interface Mercure1Subscription {
  /** Canonical matcher type name. */
  readonly matchType: MatchType;
  /** The matcher string as the subscriber sent it. */
  readonly match: string;
  /** `payload` of the first `subscribe` detail of the token matching `match` (draft-08, Payloads). */
  readonly payload?: unknown;
}

/** One Mercure 1.0 subscription as a JSON document (draft-08, Subscription Events and Subscription API). */
export interface Mercure1SubscriptionDocument {
  /** Also the topic of its subscription events. */
  readonly id: string;
  readonly type: "subscription";
  readonly match_type: MatchType;
  readonly match: string;
  readonly subscriber: string;
  readonly active: boolean;
  readonly payload?: unknown;
}

export interface Mercure1SubscriptionFilter {
  readonly matchType?: MatchType | undefined;
  /** Only subscriptions with exactly this matcher string (and `matchType`). */
  readonly match?: string | undefined;
  readonly subscriber?: string | undefined;
}

/** One subscription as a JSON-LD document (subscription events and the API share it). */
export interface SubscriptionDocument {
  readonly "@context": typeof JSONLD_CONTEXT;
  readonly id: string;
  readonly type: "Subscription";
  readonly topic: string;
  readonly subscriber: string;
  readonly active: boolean;
  readonly payload?: unknown;
}

export interface SubscriptionFilter {
  /** Only subscriptions with exactly this topic selector. */
  readonly topic?: string | undefined;
  /** Only this subscriber's subscriptions. */
  readonly subscriber?: string | undefined;
}

export interface SubscriptionRegistry {
  /** Active subscriptions matching the filter. */
  list(filter: SubscriptionFilter): Promise<readonly SubscriptionDocument[]>;
  /**
   * Active Mercure 1.0 subscriptions matching the filter. Registries without it list none to the 1.0
   * subscriptions API.
   */
  listMercure1?(filter: Mercure1SubscriptionFilter): Promise<readonly Mercure1SubscriptionDocument[]>;
  /** Called once by the hub, for registries that keep their own records of the broker's sessions. */
  attach?(broker: Broker): void;
}

export function subscriptionDocument(
  topic: string,
  subscriber: string,
  active: boolean,
  payload: unknown,
): SubscriptionDocument {
  const doc: SubscriptionDocument = {
    "@context": JSONLD_CONTEXT,
    id: subscriptionId(topic, subscriber),
    type: "Subscription",
    topic,
    subscriber,
    active,
  };
  return payload === undefined ? doc : { ...doc, payload };
}

export function subscriptionDocument1(
  s: Mercure1Subscription,
  subscriber: string,
  active: boolean,
): Mercure1SubscriptionDocument {
  const doc: Mercure1SubscriptionDocument = {
    id: subscriptionId1(s.matchType, s.match, subscriber),
    type: "subscription",
    match_type: s.matchType,
    match: s.match,
    subscriber,
    active,
  };
  return s.payload === undefined ? doc : { ...doc, payload: s.payload };
}

/** True when a 1.0 subscription passes the filter. */
export function matchesFilter1(s: Mercure1Subscription, subscriber: string, f: Mercure1SubscriptionFilter) {
  return (
    (f.matchType === undefined || s.matchType === f.matchType) &&
    (f.match === undefined || s.match === f.match) &&
    (f.subscriber === undefined || subscriber === f.subscriber)
  );
}

/** The selectors (`SelectorSet.key`) each session's hub metadata describes. */
const described = new WeakMap<Session, string>();

/**
 * The hub's metadata of a session, or `undefined` for sessions opened by other routes. It follows the
 * session's selectors: after a change (`Broker.changeSelectors`), its classic topics or 1.0 matchers are
 * the current ones (kept subscriptions keep their payload), and `session.meta.mercure` is replaced with it.
 * The first look (the hub looks when the session opens) records what the opening metadata describes.
 */
export function mercureMeta(session: Session): MercureSessionMeta | undefined {
  const m = session.meta.mercure as MercureSessionMeta | undefined;
  if (m === undefined) return undefined;
  const key = session.selectorSet.key;
  const was = described.get(session);
  described.set(session, key);
  if (was === undefined || was === key) return m;
  const next = describe(m, session.selectorSet);
  session.meta.mercure = next;
  return next;
}

/** `m` made to describe `set`: classic topics are the selectors; 1.0 matchers are read from their kind. */
function describe(m: MercureSessionMeta, set: SelectorSet): MercureSessionMeta {
  if (m.matchers === undefined) return { ...m, topics: [...set.sources] };
  const old = m.matchers;
  const matchers = set.selectors.map((sel): Mercure1Subscription => {
    const matchType: MatchType = sel.kind === "template" ? "urlpattern" : "exact";
    const kept = old.find(
      (x) => x.match === sel.source && (sel.kind === "wildcard" || x.matchType === matchType),
    );
    if (kept !== undefined) return kept;
    const payload = m.payloadOf?.(sel.source);
    return payload === undefined
      ? { matchType, match: sel.source }
      : { matchType, match: sel.source, payload };
  });
  return { ...m, matchers };
}

/**
 * The hub's metadata of a session as a new token describes it (token-refresh.ts): the same subscriptions,
 * each with the payload the new token gives it (classic: its `mercure.payload`; 1.0: `payloadOf` of the
 * matcher), and `payloadOf` for matchers added later. `undefined` for sessions of other routes.
 */
export function metaWithToken(
  session: Session,
  payload: unknown,
  payloadOf: (match: string) => unknown,
): MercureSessionMeta | undefined {
  const m = mercureMeta(session); // describes the current selectors first
  if (m === undefined) return undefined;
  const matchers = m.matchers?.map((x): Mercure1Subscription => {
    const p = payloadOf(x.match);
    return p === undefined ? { matchType: x.matchType, match: x.match } : { ...x, payload: p };
  });
  return { ...m, payload, payloadOf, ...(matchers === undefined ? {} : { matchers }) };
}

/** This process's subscriptions, read from the broker's open sessions. */
export class LocalSubscriptionRegistry implements SubscriptionRegistry {
  readonly #broker: Broker;

  constructor(broker: Broker) {
    this.#broker = broker;
  }

  async list(filter: SubscriptionFilter): Promise<readonly SubscriptionDocument[]> {
    const out: SubscriptionDocument[] = [];
    for (const session of this.#broker.sessions) {
      const m = mercureMeta(session);
      if (m === undefined || session.closed) continue;
      if (filter.subscriber !== undefined && m.subscriber !== filter.subscriber) continue;
      for (const topic of m.topics) {
        if (filter.topic !== undefined && topic !== filter.topic) continue;
        out.push(subscriptionDocument(topic, m.subscriber, true, m.payload));
      }
    }
    return out;
  }

  async listMercure1(filter: Mercure1SubscriptionFilter): Promise<readonly Mercure1SubscriptionDocument[]> {
    const out: Mercure1SubscriptionDocument[] = [];
    for (const session of this.#broker.sessions) {
      const m = mercureMeta(session);
      if (m?.matchers === undefined || session.closed) continue;
      for (const s of m.matchers) {
        if (matchesFilter1(s, m.subscriber, filter)) out.push(subscriptionDocument1(s, m.subscriber, true));
      }
    }
    return out;
  }
}
