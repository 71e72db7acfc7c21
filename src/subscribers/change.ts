/**
 * Requests about a live stream by its subscriber id, answered by the node holding it (this one, or another
 * reached through a `SubscriberRouter`, see redis.ts), wherever the request came in. Two kinds:
 * - a selector change: the receiving node decides whether it came from a publisher (for a Mercure
 *   publisher token: which rights it has), the holder checks the subscriber's own credential or those
 *   rights and applies it. Only the bearer token's SHA-256 and the verified rights travel.
 * - a token refresh (Mercure, token-refresh.ts): the holder verifies the new token with its own keys and
 *   renews the stream. That token itself travels, in the forwarded message only (never stored or logged).
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Broker } from "../core/broker.js";
import type { Session } from "../core/session.js";
import { badRequest, type ErrorCode, ErrorCodes, SseBrokerError } from "../errors.js";

/**
 * One entry of `add` or `remove`: a selector string, or, for a Mercure 1.0 stream, a matcher object with
 * one key (`{"match_urlpattern": "…"}`, `{"match": "…"}`), read by the hub (src/mercure/live-selectors.ts).
 */
export type ChangeEntry = string | Readonly<Record<string, string>>;

/**
 * A verified Mercure publisher token's publish rights, as data (the token itself never travels): the
 * holder checks them against the stream's own dialect. Classic: `mercure.publish` selectors; 1.0: the
 * `publish` matchers of the access token's authorization details.
 */
export type PublishRights =
  | { readonly dialect: "classic"; readonly selectors: readonly string[] }
  | { readonly dialect: "1"; readonly matchers: readonly (readonly ["exact" | "urlpattern", string])[] };

/** One change, as it travels between nodes (JSON-safe). */
export interface ChangeRequest {
  readonly id: string;
  readonly add: readonly ChangeEntry[];
  readonly remove: readonly ChangeEntry[];
  /** The receiving node authorized it as a publisher (static publish token, or local-only rule). */
  readonly publisher: boolean;
  /** SHA-256 (hex) of the bearer token the request carried; `null` without one. */
  readonly credentialHash: string | null;
  /** A Mercure publisher token's rights (the hub's route); they must cover every entry. */
  readonly rights?: PublishRights | null | undefined;
}

/**
 * Applies a change to a stream of the hub that registered it (`trusted`: a publisher's or the stream's own
 * request; otherwise the changer decides from `change.rights`); `undefined` for streams it does not own.
 */
export type StreamChanger = (
  session: Session,
  change: ChangeRequest,
  trusted: boolean,
) => readonly ChangeEntry[] | undefined;

/** A new bearer token for a live Mercure stream, as it travels to the holder (JSON-safe). */
export interface TokenRefreshRequest {
  readonly kind: "token";
  readonly id: string;
  readonly token: string;
}

/** What one node asks the holder of a stream; no `kind` is a selector change. */
export type SubscriberRequest = ({ readonly kind?: "selectors" } & ChangeRequest) | TokenRefreshRequest;

/** The holder's coded refusal, as it travels between nodes. */
export interface RefusedAnswer {
  readonly ok: false;
  readonly code: string;
  readonly message: string;
  readonly status: number;
  /** The holder's `Retry-After` (seconds) for a 429/503; absent = the default. */
  readonly retryAfterSec?: number;
}

/** A change's answer, as it travels between nodes. */
export type ChangeAnswer = { readonly ok: true; readonly selectors: readonly ChangeEntry[] } | RefusedAnswer;

/** A refresh's answer: the stream's new end (ISO 8601), `null` for none. */
export type TokenAnswer = { readonly ok: true; readonly expiresAt: string | null } | RefusedAnswer;

export type AnswerOf<R extends SubscriberRequest> = R extends TokenRefreshRequest
  ? TokenAnswer
  : ChangeAnswer;

/** Reaches the other nodes: resolves with the holder's answer, or `null` when no node holds the id. */
export interface SubscriberRouter {
  forward<R extends SubscriberRequest>(request: R): Promise<AnswerOf<R> | null>;
}

/**
 * Refreshes the token of a stream this node holds; resolves with its new end (ISO 8601 or `null`), or
 * `null` when this node holds no such stream. Throws the coded refusals of the local refresh.
 */
export type TokenRefresher = (id: string, token: string) => Promise<{ expiresAt: string | null } | null>;

/** SHA-256 (hex) of a bearer token: what a session keeps to recognise its own credential. */
export function credentialHashOf(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/**
 * Applies `change` when this node holds the stream; `null` when it does not. Throws 403
 * SSEB_ERR_SUBSCRIBER_FORBIDDEN unless the request is a publisher's or carries the stream's own token,
 * and the coded errors of `Broker.changeSelectors`.
 */
export function applyLocally(broker: Broker, change: ChangeRequest): readonly ChangeEntry[] | null {
  const session = broker.subscriber(change.id);
  if (session === undefined || session.closed) return null;
  const trusted = change.publisher || sameHash(change.credentialHash, session.credentialHash);
  const byHub = changers.get(broker)?.(session, change, trusted);
  if (byHub !== undefined) return byHub;
  if (!trusted) throw changeForbidden();
  const add = change.add.filter((x) => typeof x === "string");
  const remove = change.remove.filter((x) => typeof x === "string");
  if (add.length !== change.add.length || remove.length !== change.remove.length) {
    throw badRequest("matcher objects are for Mercure 1.0 streams; this stream takes selector strings");
  }
  return broker.changeSelectors(session, { add, remove });
}

/**
 * Applies `change` here or, through the registered router, on the node holding the stream; its new
 * selectors. Throws 404 SSEB_ERR_SUBSCRIBER_NOT_FOUND when no node holds it, and the holder's refusals.
 */
export async function changeAnywhere(broker: Broker, change: ChangeRequest): Promise<readonly ChangeEntry[]> {
  const selectors = applyLocally(broker, change);
  if (selectors !== null) return selectors;
  const answer = await subscriberRouterOf(broker)?.forward(change);
  if (answer == null) throw subscriberNotFound();
  if (!answer.ok) throw refusedError(answer);
  return answer.selectors;
}

export function subscriberNotFound(): SseBrokerError {
  return new SseBrokerError("SSEB_ERR_SUBSCRIBER_NOT_FOUND", "no open stream has this subscriber id", {
    statusCode: 404,
  });
}

/** The 403 for a request that is neither a publisher's nor the stream's own. */
export function changeForbidden(): SseBrokerError {
  return new SseBrokerError(
    "SSEB_ERR_SUBSCRIBER_FORBIDDEN",
    "only a publisher or the stream's own token may change its selectors",
    { statusCode: 403 },
  );
}

/** `applyLocally` as an answer for another node (coded errors become data; others are rethrown). */
export function answerFor(broker: Broker, change: ChangeRequest): ChangeAnswer | null {
  try {
    const selectors = applyLocally(broker, change);
    return selectors === null ? null : { ok: true, selectors };
  } catch (err) {
    return refusal(err);
  }
}

/** The registered refresher's result as an answer for another node; `null` without a Mercure hub here. */
export async function refreshAnswerFor(
  broker: Broker,
  id: string,
  token: string,
): Promise<TokenAnswer | null> {
  const refresher = refreshers.get(broker);
  if (refresher === undefined) return null;
  try {
    const done = await refresher(id, token);
    return done === null ? null : { ok: true, expiresAt: done.expiresAt };
  } catch (err) {
    return refusal(err);
  }
}

/** A coded error as data for another node; anything else is rethrown. */
function refusal(err: unknown): RefusedAnswer {
  if (!(err instanceof SseBrokerError)) throw err;
  const answer = { ok: false, code: err.code, message: err.message, status: err.statusCode ?? 400 } as const;
  return err.retryAfterSec === undefined ? answer : { ...answer, retryAfterSec: err.retryAfterSec };
}

/** Longest `Retry-After` taken from another node's answer (an hour): a bad value falls back to the default. */
const MAX_RETRY_AFTER_SEC = 3_600;

/**
 * The holder's refusal, thrown again on the node that asked (an unknown code becomes internal), with the
 * holder's `Retry-After` when it gave a sane one.
 */
export function refusedError(answer: RefusedAnswer): SseBrokerError {
  const code = (answer.code in ErrorCodes ? answer.code : "SSEB_ERR_INTERNAL") as ErrorCode;
  const r = answer.retryAfterSec;
  const retryAfterSec =
    typeof r === "number" && Number.isSafeInteger(r) && r > 0 && r <= MAX_RETRY_AFTER_SEC ? r : undefined;
  return new SseBrokerError(code, answer.message, {
    statusCode: answer.status,
    ...(retryAfterSec === undefined ? {} : { retryAfterSec }),
  });
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

const refreshers = new WeakMap<Broker, TokenRefresher>();

/** The Mercure hub registers how this node refreshes its streams' tokens for other nodes' requests. */
export function setTokenRefresher(broker: Broker, refresher: TokenRefresher | null): void {
  if (refresher === null) refreshers.delete(broker);
  else refreshers.set(broker, refresher);
}

const changers = new WeakMap<Broker, StreamChanger>();

/** The Mercure hub registers how its streams are changed (their dialect, its publishers' rights). */
export function setStreamChanger(broker: Broker, changer: StreamChanger | null): void {
  if (changer === null) changers.delete(broker);
  else changers.set(broker, changer);
}
