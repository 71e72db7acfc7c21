/**
 * Changing the selectors of a live stream by its subscriber id, wherever the request came in: the node that
 * received it decides whether it came from a publisher, then the node holding the stream (this one, or
 * another reached through a `SubscriberRouter`, see redis.ts) checks the subscriber's own credential and
 * applies the change. Tokens never travel: only their SHA-256 does.
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Broker } from "../core/broker.js";
import { SseBrokerError } from "../errors.js";

/** One change, as it travels between nodes (JSON-safe). */
export interface ChangeRequest {
  readonly id: string;
  readonly add: readonly string[];
  readonly remove: readonly string[];
  /** The receiving node authorized it as a publisher (static publish token, or local-only rule). */
  readonly publisher: boolean;
  /** SHA-256 (hex) of the bearer token the request carried; `null` without one. */
  readonly credentialHash: string | null;
}

/** A change's answer, as it travels between nodes. */
export type ChangeAnswer =
  | { readonly ok: true; readonly selectors: readonly string[] }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly status: number };

/** Reaches the other nodes: resolves with the holder's answer, or `null` when no node holds the id. */
export interface SubscriberRouter {
  forward(change: ChangeRequest): Promise<ChangeAnswer | null>;
}

/** SHA-256 (hex) of a bearer token: what a session keeps to recognise its own credential. */
export function credentialHashOf(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/**
 * Applies `change` when this node holds the stream; `null` when it does not. Throws 403
 * SSEB_ERR_SUBSCRIBER_FORBIDDEN unless the request is a publisher's or carries the stream's own token,
 * and the coded errors of `Broker.changeSelectors`.
 */
export function applyLocally(broker: Broker, change: ChangeRequest): readonly string[] | null {
  const session = broker.subscriber(change.id);
  if (session === undefined || session.closed) return null;
  if (!change.publisher && !sameHash(change.credentialHash, session.credentialHash)) {
    throw new SseBrokerError(
      "SSEB_ERR_SUBSCRIBER_FORBIDDEN",
      "only a publisher or the stream's own token may change its selectors",
      { statusCode: 403 },
    );
  }
  return broker.changeSelectors(session, { add: change.add, remove: change.remove });
}

/** `applyLocally` as an answer for another node (coded errors become data; others are rethrown). */
export function answerFor(broker: Broker, change: ChangeRequest): ChangeAnswer | null {
  try {
    const selectors = applyLocally(broker, change);
    return selectors === null ? null : { ok: true, selectors };
  } catch (err) {
    if (!(err instanceof SseBrokerError)) throw err;
    return { ok: false, code: err.code, message: err.message, status: err.statusCode ?? 400 };
  }
}

function sameHash(a: string | null, b: string | undefined): boolean {
  if (a === null || b === undefined || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

const routers = new WeakMap<Broker, SubscriberRouter>();

/** A node with a backplane registers how to reach the others (the HTTP route never loads ioredis). */
export function setSubscriberRouter(broker: Broker, router: SubscriberRouter | null): void {
  if (router === null) routers.delete(broker);
  else routers.set(broker, router);
}

export function subscriberRouterOf(broker: Broker): SubscriberRouter | undefined {
  return routers.get(broker);
}
