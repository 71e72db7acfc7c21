/**
 * sse-broker: a Server-Sent Events broker. `createBroker()` gives the broker and a request handler to
 * mount on `node:http`, Express, or any framework exposing Node's request/response.
 * @module
 */
import { Broker } from "./core/broker.js";
import { hooksOf } from "./hooks/index.js";
import { createHandler, type RequestHandler, type RouteHandler } from "./http/handler.js";
import { createMercureHandler, type MercureOptions } from "./mercure/index.js";
import { createMetrics } from "./metrics/metrics.js";
import type { BrokerOptions } from "./options.js";
import { startPresenceNotices } from "./presence/notices.js";
import type { Transport } from "./transport/transport.js";

export interface CreateBrokerOptions extends Partial<BrokerOptions> {
  /** Where updates go between publish and delivery; in-memory by default. */
  transport?: Transport;
  /** Expose `GET /metrics` and `broker.metrics`. Defaults to `true`. */
  metrics?: boolean;
  /** Extra routes tried before the built-in ones. */
  routes?: readonly RouteHandler[];
  /** Serve a Mercure hub on `/.well-known/mercure` with these options (see docs/mercure.md); absent = none. */
  mercure?: MercureOptions;
}

/** The same handler on `http2.createSecureServer({ allowHTTP1: true, … }, broker.handler)`. */
export type Http2RequestHandler = (
  req: import("node:http2").Http2ServerRequest,
  res: import("node:http2").Http2ServerResponse,
) => void;

export interface SseBroker extends Broker {
  /**
   * `(req, res, next?)`: mount on `http.createServer`, `app.use`, or an HTTP/2 secure server (Node's
   * compatibility API; `createSecureBrokerServer` adds the timeouts and shutdown HTTP/2 lacks).
   */
  readonly handler: RequestHandler & Http2RequestHandler;
  /** prom-client registry with the broker's metrics, or `null` when disabled. */
  readonly metrics: import("prom-client").Registry | null;
}

export function createBroker(options: CreateBrokerOptions = {}): SseBroker {
  const { transport, metrics = true, routes = [], mercure, ...brokerOptions } = options;
  const broker = new Broker(brokerOptions, transport);
  try {
    const hub = mercure === undefined ? null : createMercureHandler(broker, mercure);
    if (hub !== null) broker.once("close", () => hub.close());
    const registry = metrics ? createMetrics(broker) : null;
    const presenceTopic = broker.options.presenceTopic;
    if (presenceTopic !== null) startPresenceNotices(broker, presenceTopic);
    const handler = createHandler(broker, {
      metrics: registry,
      routes: hub === null ? routes : [hub, ...routes],
    });
    // Closing sends the disconnect notifications of the streams it ended (src/hooks/).
    const closeBroker = broker.close.bind(broker);
    const close = async (): Promise<void> => {
      await closeBroker();
      await hooksOf(broker).close();
    };
    // The compat request/response of node:http2 are what the handler uses of node:http's (see http/h2.ts).
    return Object.assign(broker, {
      handler: handler as RequestHandler & Http2RequestHandler,
      metrics: registry,
      close,
    });
  } catch (err) {
    // Invalid hub or web root options (a bad key, an unreadable folder): release the broker's timers and
    // transport. The options error is what the caller gets; a failing close must not become an
    // unhandled rejection on top of it.
    broker.close().catch(() => {});
    throw err;
  }
}

export { type ClaimsDialect, type Grants, mercureClaims } from "./auth/index.js";
export type { PendingSubscription, PublishInput, SubscribeOptions } from "./core/broker.js";
export { Broker } from "./core/broker.js";
export type { CloseReason, Session, SessionSink } from "./core/session.js";
export { TopicMatcher } from "./core/topic.js";
export type { DeliveredUpdate, Update } from "./core/update.js";
export { ErrorCodes, SseBrokerError } from "./errors.js";
export type { RequestHandler, RouteHandler } from "./http/handler.js";
export {
  createSecureBrokerServer,
  MAX_CONCURRENT_STREAMS,
  type SecureServer,
  type SecureServerOptions,
} from "./http/secure-server.js";
export {
  addMercureLink,
  createMercureHandler,
  LocalSubscriptionRegistry,
  type MercureHandler,
  type MercureLinkAttributes,
  type MercureOptions,
  mercureLinkHeader,
  type SubscriptionDocument,
  type SubscriptionRegistry,
} from "./mercure/index.js";
export { createMetrics } from "./metrics/metrics.js";
export type { BrokerOptions, Logger } from "./options.js";
export { DEFAULT_BROKER_OPTIONS } from "./options.js";
export { PresenceCounter, presenceOf } from "./presence/counter.js";
export { MemoryTransport } from "./transport/memory.js";
export type { Transport } from "./transport/transport.js";
export { encodeComment, encodeEvent, type SseEvent } from "./wire/encode.js";
