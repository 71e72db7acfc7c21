/**
 * Subscription events: a private update when a subscription starts and when it ends, in the dialect the
 * subscription was made in: classic on `/.well-known/mercure/subscriptions/{topic}/{subscriber}` (JSON-LD);
 * Mercure 1.0 on `/.well-known/mercure/subscriptions/{match_type}/{match}/{subscriber}` with SSE
 * `event: mercure` (draft-08, Subscription Events). They go through `broker.publish` (not the publish
 * route, which refuses the reserved `mercure` type to publishers), so a backplane carries them to every
 * node like any other update.
 * @module
 */
import type { Broker } from "../core/broker.js";
import type { Session } from "../core/session.js";
import type { Logger } from "../options.js";
import { mercureMeta, subscriptionDocument, subscriptionDocument1 } from "./registry.js";

/** The reserved SSE event type of the hub's own Mercure 1.0 events. */
const MERCURE_EVENT_TYPE = "mercure";

/** Starts publishing subscription events; returns a function that stops it. */
export function publishSubscriptionEvents(broker: Broker, log: Logger | null): () => void {
  const emit = (session: Session, active: boolean): void => {
    const m = mercureMeta(session);
    if (m === undefined) return;
    const send = (topic: string, doc: unknown, type: string | undefined): void => {
      // A closing broker refuses publishes: that end-of-subscription event is lost with the hub itself.
      broker
        .publish({ topic, data: JSON.stringify(doc), type, private: true, ephemeral: true })
        .catch((err: unknown) => {
          if (!broker.closed)
            log?.warn({ err, subscriber: m.subscriber }, "subscription event not published");
        });
    };
    for (const topic of m.topics) {
      const doc = subscriptionDocument(topic, m.subscriber, active, m.payload);
      send(doc.id, doc, undefined);
    }
    for (const s of m.matchers ?? []) {
      const doc = subscriptionDocument1(s, m.subscriber, active);
      send(doc.id, doc, MERCURE_EVENT_TYPE);
    }
  };
  const onOpen = (s: Session): void => emit(s, true);
  const onClose = (s: Session): void => emit(s, false);
  broker.on("session-open", onOpen);
  broker.on("session-close", onClose);
  return () => {
    broker.off("session-open", onOpen);
    broker.off("session-close", onClose);
  };
}
