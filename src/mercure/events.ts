/**
 * Subscription events: a private update on `/.well-known/mercure/subscriptions/{topic}/{subscriber}` when a
 * subscription starts and when it ends. They go through `broker.publish`, so a backplane carries them to
 * every node like any other update.
 * @module
 */
import type { Broker } from "../core/broker.js";
import type { Session } from "../core/session.js";
import type { Logger } from "../options.js";
import { mercureMeta, subscriptionDocument } from "./registry.js";

/** Starts publishing subscription events; returns a function that stops it. */
export function publishSubscriptionEvents(broker: Broker, log: Logger | null): () => void {
  const emit = (session: Session, active: boolean): void => {
    const m = mercureMeta(session);
    if (m === undefined) return;
    for (const topic of m.topics) {
      const doc = subscriptionDocument(topic, m.subscriber, active, m.payload);
      // A closing broker refuses publishes: that end-of-subscription event is lost with the hub itself.
      broker
        .publish({ topic: doc.id, data: JSON.stringify(doc), private: true, ephemeral: true })
        .catch((err: unknown) => {
          if (!broker.closed)
            log?.warn({ err, subscriber: m.subscriber }, "subscription event not published");
        });
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
