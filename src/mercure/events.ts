/**
 * Subscription events: a private update when a subscription starts, when its payload changes (a token
 * refresh) and when it ends, in the dialect the
 * subscription was made in: classic on `/.well-known/mercure/subscriptions/{topic}/{subscriber}` (JSON-LD);
 * Mercure 1.0 on `/.well-known/mercure/subscriptions/{match_type}/{match}/{subscriber}` with SSE
 * `event: mercure` (draft-08, Subscription Events). They go through `broker.publish` (not the publish
 * route, which refuses the reserved `mercure` type to publishers), so a backplane carries them to every
 * node like any other update.
 * @module
 */
import { isDeepStrictEqual } from "node:util";
import type { Broker } from "../core/broker.js";
import type { Session } from "../core/session.js";
import type { Logger } from "../options.js";
import {
  type MercureSessionMeta,
  mercureMeta,
  subscriptionDocument,
  subscriptionDocument1,
} from "./registry.js";

/** The reserved SSE event type of the hub's own Mercure 1.0 events. */
const MERCURE_EVENT_TYPE = "mercure";

/** One subscription's events: its id (topic of its events) and its document, active or not. */
interface Announced {
  readonly type: string | undefined;
  doc(active: boolean): unknown;
}

/** A session's subscriptions by id, from its current hub metadata. */
function subscriptionsOf(m: MercureSessionMeta): Map<string, Announced> {
  const out = new Map<string, Announced>();
  for (const topic of m.topics) {
    const id = subscriptionDocument(topic, m.subscriber, true, m.payload).id;
    out.set(id, {
      type: undefined,
      doc: (active) => subscriptionDocument(topic, m.subscriber, active, m.payload),
    });
  }
  for (const s of m.matchers ?? []) {
    const id = subscriptionDocument1(s, m.subscriber, true).id;
    out.set(id, {
      type: MERCURE_EVENT_TYPE,
      doc: (active) => subscriptionDocument1(s, m.subscriber, active),
    });
  }
  return out;
}

/**
 * Starts publishing subscription events; returns a function that stops it. A change of a stream's
 * selectors announces the subscriptions it added (`active: true`) and ended (`active: false`); a token
 * refresh announces again (`active: true`) those whose payload it changed; at the end of the stream only
 * its current subscriptions end.
 */
export function publishSubscriptionEvents(broker: Broker, log: Logger | null): () => void {
  /** What each open session's events announced as active. */
  const announced = new WeakMap<Session, Map<string, Announced>>();
  const send = (subscriber: string, topic: string, doc: unknown, type: string | undefined): void => {
    // A closing broker refuses publishes: that end-of-subscription event is lost with the hub itself.
    broker
      .publish({ topic, data: JSON.stringify(doc), type, private: true, ephemeral: true })
      .catch((err: unknown) => {
        if (!broker.closed) log?.warn({ err, subscriber }, "subscription event not published");
      });
  };
  const onOpen = (session: Session): void => {
    const m = mercureMeta(session);
    if (m === undefined) return;
    const subs = subscriptionsOf(m);
    announced.set(session, subs);
    for (const [id, s] of subs) send(m.subscriber, id, s.doc(true), s.type);
  };
  const onChange = (session: Session): void => {
    const m = mercureMeta(session);
    const before = announced.get(session);
    if (m === undefined || before === undefined || session.closed) return;
    const now = subscriptionsOf(m);
    announced.set(session, now);
    for (const [id, s] of before) if (!now.has(id)) send(m.subscriber, id, s.doc(false), s.type);
    for (const [id, s] of now) {
      const was = before.get(id);
      // A kept subscription whose payload changed (a token refresh) is announced with its current state.
      if (was === undefined || !isDeepStrictEqual(was.doc(true), s.doc(true)))
        send(m.subscriber, id, s.doc(true), s.type);
    }
  };
  const onClose = (session: Session): void => {
    const m = mercureMeta(session);
    if (m === undefined) return;
    const subs = announced.get(session) ?? subscriptionsOf(m);
    announced.delete(session);
    for (const [id, s] of subs) send(m.subscriber, id, s.doc(false), s.type);
  };
  broker.on("session-open", onOpen);
  broker.on("session-selectors", onChange);
  broker.on("session-token", onChange);
  broker.on("session-close", onClose);
  return () => {
    broker.off("session-open", onOpen);
    broker.off("session-selectors", onChange);
    broker.off("session-token", onChange);
    broker.off("session-close", onClose);
  };
}
