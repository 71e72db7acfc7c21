/**
 * Active subscriptions, behind an interface: the local registry reads this process's sessions; a
 * cluster-wide one (e.g. Redis-backed, fed by the subscription events every node publishes) can replace it
 * without touching the API route.
 * @module
 */
import type { Broker } from "../core/broker.js";
import type { Session } from "../core/session.js";
import { JSONLD_CONTEXT, subscriptionId } from "./paths.js";

/** What the hub keeps in `session.meta.mercure` for each subscriber connection. */
export interface MercureSessionMeta {
  /** Subscriber IRI (`urn:uuid:…`), shared by all its subscriptions. */
  readonly subscriber: string;
  /** Topic selectors, one subscription each. */
  readonly topics: readonly string[];
  /** `mercure.payload` of the subscriber's token. */
  readonly payload: unknown;
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

/** The hub's metadata of a session, or `undefined` for sessions opened by other routes. */
export function mercureMeta(session: Session): MercureSessionMeta | undefined {
  return session.meta.mercure as MercureSessionMeta | undefined;
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
}
