/**
 * `GET /.well-known/mercure?topic=…` (classic) or `?match…=…` (Mercure 1.0, draft-08): authorize
 * (anonymous when allowed), plan the resume from `Last-Event-ID` / `lastEventID` (1.0: `last_event_id`),
 * and open the stream. The subscriber's private-update rights are a Mercure 1.0 access token's `subscribe`
 * matchers (`at+jwt`), else a classic token's `mercure.subscribe`; the stream ends at the token's `exp`.
 * @module
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { findToken } from "../auth/token.js";
import type { Broker } from "../core/broker.js";
import { MAX_TOPIC_LENGTH, type Selector, type SelectorSet } from "../core/topic.js";
import { badRequest, type SseBrokerError } from "../errors.js";
import { beforeStream } from "../hooks/index.js";
import { lastEventIdOf } from "../http/handler.js";
import { admitStream } from "../http/limits.js";
import { openEventStream } from "../http/stream.js";
import { flagOf } from "../http/stream-flags.js";
import { parseUrlEncoded, queryOf } from "../http/urlencoded.js";
import { refusalsOf } from "../metrics/refusals.js";
import { credentialHashOf } from "../subscribers/change.js";
import { payloadFor } from "./access-token.js";
import {
  authorize,
  authorizeAccess,
  authRequired,
  carriesAccessToken,
  findAccessToken,
} from "./authorize.js";
import { subscribes1 } from "./dialect.js";
import { compileMatchers, type Mercure1Matchers, readMatchers } from "./matchers.js";
import type { ResolvedMercureOptions } from "./options.js";
import { subscriptionId1 } from "./paths.js";
import type { Mercure1Subscription, MercureSessionMeta } from "./registry.js";
import { tokenStreamsOf } from "./token-streams.js";

export async function handleSubscribe(
  broker: Broker,
  o: ResolvedMercureOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  headers: Record<string, string>,
): Promise<void> {
  const fields = parseUrlEncoded(url.search.slice(1), "the query string");
  if (subscribes1(o, fields)) return handleSubscribe1(broker, o, req, res, url, headers, fields);
  const topics = [...new Set(queryOf(url).getAll("topic"))];
  if (topics.length === 0) {
    throw badRequest("at least one topic query parameter is required");
  }
  const client = admitStream(broker, req, res); // before verifying a token: refused clients cost no JWT check
  // Classic routing (topic=); a Mercure 1.0 token's rules still decide its private updates.
  const grants = await subscriberGrants(req, url, o, carriesAccessToken(req, url, o));
  return open(broker, o, req, res, headers, {
    client,
    grants,
    topics,
    selectors: topics,
    lastEventId: lastEventIdOf(req, url),
    ...extensionsOf(fields),
  });
}

/**
 * Mercure 1.0: `match…` matchers, `last_event_id`, and `Mercure-Last-Event-ID` on the response. `fields`
 * are the query's, or the union of query and body (subscribe-body.ts), query first.
 */
export async function handleSubscribe1(
  broker: Broker,
  o: ResolvedMercureOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  headers: Record<string, string>,
  fields: Map<string, string[]>,
): Promise<void> {
  let matchers: Mercure1Matchers;
  let client: string;
  let compiled: Selector[];
  try {
    matchers = readMatchers(fields, o);
    if (o.subscriptions) checkEventTopics(matchers);
    client = admitStream(broker, req, res);
    // Compiled after admission (a refused client costs no pattern compile), once for this subscription.
    compiled = compileMatchers(matchers, o.hubBase, o);
  } catch (err) {
    countRefusal(broker, err);
    throw err;
  }
  const grants = await subscriberGrants(req, url, o, true);
  const subscriptions: Mercure1Subscription[] = matchers.pairs.map(([matchType, match]) => {
    const payload = grants?.payloadFor(match);
    return payload === undefined ? { matchType, match } : { matchType, match, payload };
  });
  return open(
    broker,
    o,
    req,
    res,
    headers,
    {
      client,
      grants,
      topics: [], // 1.0 subscriptions are not classic ones (events, API): they go in `matchers`
      matchers: subscriptions,
      selectors: [],
      compiled,
      lastEventId: lastEventId1(req, fields),
      ...extensionsOf(fields),
    },
    "Mercure-Last-Event-ID",
  );
}

/** A subscriber's private-update rights, in whichever dialect its token speaks. */
interface SubscriberGrants {
  readonly authorized: readonly string[] | null;
  readonly authorizedCompiled: SelectorSet | undefined;
  readonly payload: unknown;
  /** The payload of a Mercure 1.0 subscription with this matcher string (draft-08, Payloads). */
  payloadFor(match: string): unknown;
  readonly expiresAt: number | undefined;
  /** The token presented, counted against `maxStreamsPerToken`. */
  readonly token: string;
}

/**
 * `v1` (a `match…` subscription or an `at+jwt` token): never a token in the URL (draft-08, Presenting the
 * Access Token). An `at+jwt` token or the 1.0 cookie is verified as a 1.0 access token; a classic token in
 * the header or classic cookie keeps its classic meaning.
 */
async function subscriberGrants(
  req: IncomingMessage,
  url: URL,
  o: ResolvedMercureOptions,
  v1: boolean,
): Promise<SubscriberGrants | null> {
  const q = queryOf(url);
  // Either name of a URL token makes findAccessToken throw the coded 400 (invalid_request).
  if (v1 && (q.has("authorization") || q.has("access_token"))) findAccessToken(req, url);
  // A 1.0-only hub reads 1.0 token sources only: a classic token there fails as an invalid access token.
  if (v1 && (o.protocol === "1" || carriesAccessToken(req, url, o))) {
    const g = await authorizeAccess(req, url, "subscriber", o);
    if (g === null) {
      if (!o.anonymous) throw authRequired("subscribing needs a token");
      return null;
    }
    return {
      authorized: null,
      authorizedCompiled: g.subscribe,
      payload: g.payload,
      payloadFor: (match) => payloadFor(g, match),
      expiresAt: g.expiresAt,
      token: findAccessToken(req, url, o.cookieName)?.token ?? "",
    };
  }
  const g = await authorize(req, url, "subscriber", o);
  if (g === null) {
    if (!o.anonymous) throw authRequired("subscribing needs a token");
    return null;
  }
  return {
    authorized: g.subscribe,
    authorizedCompiled: undefined,
    payload: g.payload,
    payloadFor: () => g.payload, // a classic token's payload covers all its subscriptions
    expiresAt: g.expiresAt,
    token: findToken(req, url, o.cookieName)?.token ?? "",
  };
}

interface StreamPlan {
  client: string;
  grants: SubscriberGrants | null;
  topics: readonly string[];
  matchers?: readonly Mercure1Subscription[];
  selectors: readonly string[];
  compiled?: readonly Selector[];
  lastEventId: string | undefined;
  /** Start an incomplete resume with the `sse-broker.missed` control event (opt-in here). */
  signalMissed: boolean;
  /** Send the newest retained event of each matched topic first. */
  latest: boolean;
  /** Token-expiry notice and final `sse-broker.closed` event (opt-in here: core/token-lifecycle.ts). */
  tokenLifecycle: boolean;
  /** Session meta from the backend hooks (src/hooks/). */
  meta?: Record<string, unknown>;
}

/**
 * The subscribe hook (when configured) allows, denies or narrows: classic topics are replaced by the ones
 * it answers (checked like a client's); Mercure 1.0 keeps the matchers whose value it names, which must
 * be among those asked for (a topic list cannot say a matcher's type).
 */
async function narrowByHook(
  broker: Broker,
  req: IncomingMessage,
  subscriber: string,
  s: StreamPlan,
): Promise<StreamPlan> {
  const v1 = s.matchers !== undefined;
  const asked = v1 ? (s.matchers ?? []).map((m) => m.match) : s.topics;
  const hooked = await beforeStream(broker, req, {
    route: "mercure",
    id: subscriber,
    client: s.client,
    topics: asked,
    ...(v1 ? { matchers: (s.matchers ?? []).map((m) => ({ type: m.matchType, match: m.match })) } : {}),
    lastEventId: s.lastEventId,
    validate: v1
      ? (topics) => {
          if (topics.some((t) => !asked.includes(t))) throw badRequest("not a matcher of this subscription");
        }
      : (topics) => void broker.subscribe({ selectors: topics }),
  });
  const meta = hooked.meta === undefined ? s.meta : { ...s.meta, ...hooked.meta };
  const narrowed = hooked.topics;
  if (narrowed === null) return { ...s, ...(meta === undefined ? {} : { meta }) };
  if (!v1) return { ...s, topics: narrowed, selectors: narrowed, ...(meta === undefined ? {} : { meta }) };
  const keep = (s.matchers ?? []).map((m) => narrowed.includes(m.match));
  return {
    ...s,
    matchers: (s.matchers ?? []).filter((_, i) => keep[i]),
    ...(s.compiled === undefined ? {} : { compiled: s.compiled.filter((_, i) => keep[i]) }),
    ...(meta === undefined ? {} : { meta }),
  };
}

async function open(
  broker: Broker,
  o: ResolvedMercureOptions,
  req: IncomingMessage,
  res: ServerResponse,
  headers: Record<string, string>,
  s: StreamPlan,
  lastEventIdHeader?: string,
): Promise<void> {
  const subscriber = `urn:uuid:${randomUUID()}`;
  s = await narrowByHook(broker, req, subscriber, s); // after the token check (authorize above)
  if (res.destroyed) return; // the client left while the application answered
  const mercure: MercureSessionMeta = {
    subscriber,
    topics: [...s.topics],
    payload: s.grants?.payload,
    matchers: s.matchers,
    tokenDialect: s.grants === null ? undefined : s.grants.authorizedCompiled === undefined ? "classic" : "1",
    payloadOf: s.grants?.payloadFor, // for matchers added later (live-selectors.ts)
  };
  const expiresAt = s.grants?.expiresAt;
  const token = s.grants?.token;
  const streams = token === undefined ? null : tokenStreamsOf(o);
  const slot = token === undefined ? undefined : streams?.acquire(token);
  let pending: Awaited<ReturnType<Broker["prepare"]>>;
  try {
    pending = await broker.prepare({
      client: s.client,
      selectors: s.selectors,
      compiled: s.compiled,
      authorized: s.grants?.authorized ?? null,
      authorizedCompiled: s.grants?.authorizedCompiled,
      lastEventId: s.lastEventId,
      signalMissed: s.signalMissed,
      latest: s.latest,
      tokenLifecycle: s.tokenLifecycle,
      // The token was accepted within the clock tolerance: the stream gets the same tolerance, or a token
      // just inside it would open and close at once, and the client would reconnect in a loop.
      expiresAt: expiresAt === undefined ? undefined : expiresAt + o.jwtClockToleranceSec * 1000,
      meta: s.meta === undefined ? { mercure } : { mercure, ...s.meta },
      subscriberId: subscriber,
      // Its token's hash: the stream may change its own selectors (POST /subscribers/{id}/selectors).
      credentialHash: token === undefined || token === "" ? undefined : credentialHashOf(token),
    });
  } catch (err) {
    slot?.release();
    throw err;
  }
  if (slot !== undefined) res.once("close", slot.release);
  if (res.destroyed) return; // the client left while a backplane caught up ("close" released it)
  const session = openEventStream(req, res, pending, headers, lastEventIdHeader);
  // A token refresh moves the stream's slot to the new token (token-refresh.ts).
  if (slot !== undefined) streams?.bind(session, slot);
}

/**
 * This hub's opt-in extensions, named outside the protocol's reserved `match…` namespace (draft-08) and
 * off unless asked for: `sse_broker_missed=1` starts an incomplete resume with the `sse-broker.missed`
 * control event; `sse_broker_latest=1` sends the newest retained update of each matched topic first;
 * `sse_broker_lifecycle=1` sends the `sse-broker.token-expiring` notice before the token expires and the
 * final `sse-broker.closed` event when it does. Read from the query (classic) or the query and body (1.0),
 * the first value winning.
 */
function extensionsOf(fields: Map<string, string[]>): {
  signalMissed: boolean;
  latest: boolean;
  tokenLifecycle: boolean;
} {
  return {
    signalMissed: flagOf(fields.get("sse_broker_missed")?.[0], "sse_broker_missed", false),
    latest: flagOf(fields.get("sse_broker_latest")?.[0], "sse_broker_latest", false),
    tokenLifecycle: flagOf(fields.get("sse_broker_lifecycle")?.[0], "sse_broker_lifecycle", false),
  };
}

/** A subscriber id as the hub makes them: what the event topics' length is checked with. */
const SUBSCRIBER_SAMPLE = "urn:uuid:00000000-0000-0000-0000-000000000000";

/**
 * Every subscription must be able to announce itself (draft-08, Subscription Events): one whose event topic
 * (the matcher percent-encoded, up to 9 times longer) would be over the topic length limit is refused.
 */
export function checkEventTopics(m: Mercure1Matchers): void {
  for (const [type, value] of m.pairs) {
    if (subscriptionId1(type, value, SUBSCRIBER_SAMPLE).length > MAX_TOPIC_LENGTH) {
      throw badRequest(
        `a matcher is too long for its subscription events' topic (at most ${MAX_TOPIC_LENGTH} characters once percent-encoded)`,
        "SSEB_ERR_LIMIT_SELECTOR",
      );
    }
  }
}

/** Limits hit here count in /metrics' sse_broker_refused_total like the broker's own refusals. */
export function countRefusal(broker: Broker, err: unknown): void {
  const code = (err as SseBrokerError).code;
  if (code === "SSEB_ERR_LIMIT_SELECTORS") refusalsOf(broker).selectors++;
  else if (code === "SSEB_ERR_LIMIT_SELECTOR") refusalsOf(broker).selector_bounds++;
}

/**
 * The `Last-Event-ID` header wins over the `last_event_id` parameter (draft-08, Reconnection); of a query
 * and a body value, the first one is the query's (draft-08, Subscription: the query's wins).
 */
function lastEventId1(req: IncomingMessage, fields: Map<string, string[]>): string | undefined {
  const header = req.headers["last-event-id"];
  if (typeof header === "string" && header !== "") return header;
  const q = fields.get("last_event_id")?.[0];
  return q === undefined || q === "" ? undefined : q;
}
