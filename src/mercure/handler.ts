/**
 * The hub's router: everything under `/.well-known/mercure`, and (when the hub serves Mercure 1.0) its
 * protected resource metadata document. Mount with
 * `createBroker({ routes: [createMercureHandler(broker, options)] })` or call it first in your own handler.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Broker } from "../core/broker.js";
import type { Session } from "../core/session.js";
import { notFoundError, SseBrokerError } from "../errors.js";
import { type CorsOrigins, corsHeaders, preflightHeaders } from "../http/cors.js";
import type { RouteHandler } from "../http/handler.js";
import { loggableError } from "../http/loggable-error.js";
import { sendError } from "../http/respond.js";
import { setStreamChanger, setTokenRefresher } from "../subscribers/change.js";
import { servesMercure1 } from "./dialect.js";
import { mercureLinkHeader } from "./discovery.js";
import { publishSubscriptionEvents } from "./events.js";
import { changeHubStream, handleSelectorChange, selectorsTarget } from "./live-selectors.js";
import { handleMetadata, metadataPath, metadataUrlOf } from "./metadata.js";
import { type MercureOptions, resolveMercureOptions } from "./options.js";
import { HUB_PATH, SUBSCRIPTIONS_PATH } from "./paths.js";
import { handlePublish } from "./publish.js";
import { LocalSubscriptionRegistry, mercureMeta, type SubscriptionRegistry } from "./registry.js";
import { handleSubscribe } from "./subscribe.js";
import { asksForEventStream, handleBodySubscribe } from "./subscribe-body.js";
import { handleSubscriptionsApi } from "./subscriptions-api.js";
import { handleTokenRefresh, refreshLocally, refreshTarget } from "./token-refresh.js";

// QUERY: a Mercure 1.0 subscription with its parameters in a form body (subscribe-body.ts).
const HUB_METHODS = "GET, POST, QUERY, OPTIONS";
const CLASSIC_HUB_METHODS = "GET, POST, OPTIONS";
const API_METHODS = "GET, OPTIONS";
const REFRESH_METHODS = "POST, OPTIONS";

/** A Mercure hub route handler; `close()` stops publishing subscription events. */
export type MercureHandler = RouteHandler & { close(): void };

/** Creates the hub. Validates the options at once (SSEB_ERR_OPTIONS_INVALID). */
export function createMercureHandler(broker: Broker, options: MercureOptions = {}): MercureHandler {
  const o = resolveMercureOptions(options);
  const log = broker.options.logger;
  const registry: SubscriptionRegistry | null = o.subscriptions
    ? (o.registry ?? new LocalSubscriptionRegistry(broker))
    : null;
  // Each stream's metadata records the selectors it opened with, so that a later change is told apart.
  const pinMeta = (s: Session): void => void mercureMeta(s);
  broker.on("session-open", pinMeta);
  // A registry keeping its own records (RedisSubscriptionRegistry) follows this broker's sessions.
  registry?.attach?.(broker);
  const stopEvents = o.subscriptions ? publishSubscriptionEvents(broker, log) : () => {};
  const link = mercureLinkHeader(o.hubUrl);
  // Pre-standard hubs publish no metadata (draft-08, Protected Resource Metadata): none under `classic`,
  // nor on a hub that trusts no issuer of access tokens (it is a classic hub that also routes `match…`).
  const metaPath =
    servesMercure1(o) && (o.protocol === "1" || o.oauthIssuers.size > 0) ? metadataPath(o) : null;
  const hubMethods = servesMercure1(o) ? HUB_METHODS : CLASSIC_HUB_METHODS;

  const handler = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    const path = url.pathname;
    if (path === metaPath) {
      const headers: Record<string, string> = {};
      try {
        handleMetadata(o, req, res, headers);
      } catch (err) {
        sendError(res, err, headers);
      }
      return true;
    }
    if (path !== HUB_PATH && !path.startsWith(`${HUB_PATH}/`)) return false;
    const method = req.method ?? "GET";
    // A POST asking for an event stream subscribes (subscribe-body.ts); any other POST publishes.
    const subscribePost = method === "POST" && servesMercure1(o) && asksForEventStream(req);
    // A token refresh is the subscriber's own request (subscriber origins).
    const refreshFor = refreshTarget(path);
    // So is a change of its topics; a publisher's server needs no CORS.
    const selectorsFor = refreshFor === null ? selectorsTarget(path) : null;
    // Publishing and subscribing have separate origin lists; a preflight says which one it asks about.
    const publishing =
      refreshFor === null &&
      selectorsFor === null &&
      ((method === "POST" && !subscribePost) || (method === "OPTIONS" && isPublishPreflight(req)));
    const origins: CorsOrigins = publishing ? o.publishOrigins : o.corsOrigins;
    const headers: Record<string, string> = { ...corsHeaders(req, origins), Link: link };
    const isApi =
      registry !== null && (path === SUBSCRIPTIONS_PATH || path.startsWith(`${SUBSCRIPTIONS_PATH}/`));
    try {
      if (path === HUB_PATH) {
        if (method === "OPTIONS") preflight(req, res, origins, hubMethods);
        else if (method === "GET") await handleSubscribe(broker, o, req, res, url, headers);
        else if ((method === "QUERY" && servesMercure1(o)) || subscribePost)
          await handleBodySubscribe(broker, o, req, res, url, headers);
        else if (method === "POST") await handlePublish(broker, o, req, res, url, headers);
        else throw methodNotAllowed(hubMethods, headers);
      } else if (refreshFor !== null) {
        if (method === "OPTIONS") preflight(req, res, origins, REFRESH_METHODS);
        else if (method === "POST") await handleTokenRefresh(broker, o, req, res, refreshFor, headers);
        else throw methodNotAllowed(REFRESH_METHODS, headers);
      } else if (selectorsFor !== null) {
        if (method === "OPTIONS") preflight(req, res, origins, REFRESH_METHODS);
        else if (method === "POST")
          await handleSelectorChange(broker, o, req, res, url, selectorsFor, headers);
        else throw methodNotAllowed(REFRESH_METHODS, headers);
      } else if (isApi) {
        if (method === "OPTIONS") preflight(req, res, origins, API_METHODS);
        else if (method === "GET") await handleSubscriptionsApi(broker, registry, o, req, res, url, headers);
        else throw methodNotAllowed(API_METHODS, headers);
      } else {
        throw notFoundError();
      }
    } catch (err) {
      const challenge = challengeOf(err, req, servesMercure1(o), () =>
        metaPath === null ? null : metadataUrlOf(o, req),
      );
      const status = sendError(
        res,
        err,
        challenge === null ? headers : { ...headers, "WWW-Authenticate": challenge },
      );
      if (status >= 500 && status !== 503) {
        log?.error({ err: loggableError(err) }, "Mercure request failed");
      } else log?.debug({ code: (err as SseBrokerError).code, status }, "Mercure request refused");
    }
    return true;
  };
  // Other nodes' refreshes of this node's streams are verified with this hub's keys (subscriber router).
  setTokenRefresher(broker, (id, token) => refreshLocally(broker, o, id, token));
  // Changes of this hub's streams, from this node's routes or another node's, in the stream's dialect.
  setStreamChanger(broker, (session, change, trusted) =>
    changeHubStream(broker, o, session, change, trusted),
  );
  const close = (): void => {
    stopEvents();
    broker.off("session-open", pinMeta);
    setTokenRefresher(broker, null);
    setStreamChanger(broker, null);
  };
  return Object.assign(handler, { close });
}

/**
 * The RFC 6750 challenge for an error: with `error=` for Mercure 1.0 token failures, none without a token
 * (draft-08, Error Responses), and `resource_metadata` (RFC 9728 §5.1) when the hub serves 1.0.
 */
function challengeOf(
  err: unknown,
  req: IncomingMessage,
  serves1: boolean,
  metadataUrl: () => string | null,
): string | null {
  if (!(err instanceof SseBrokerError)) return null;
  let code = BEARER_ERRORS[err.code];
  // A token that is no at+jwt (an ID token, no typ, not a JWS) is verified as a classic one; where it fails
  // on a hub serving 1.0 it is still a presented token that failed validation: `invalid_token` (draft-08,
  // Error Responses). Another scheme in the Authorization header presented no bearer token (RFC 6750 §3.1).
  if (code === undefined && serves1 && CLASSIC_TOKEN_ERRORS.has(err.code) && presentsBearer(req)) {
    code = "invalid_token";
  }
  if (code === undefined && err.statusCode !== 401) return null;
  const resourceMetadata = metadataUrl();
  let challenge = 'Bearer realm="mercure"';
  if (code !== undefined) challenge += `, error="${code}"`;
  if (resourceMetadata !== null)
    challenge += `, resource_metadata="${resourceMetadata.replace(/["\\]/g, encodeURIComponent)}"`;
  return challenge;
}

const BEARER_ERRORS: Partial<Record<string, string>> = {
  SSEB_ERR_MERCURE_TOKEN_INVALID: "invalid_token",
  SSEB_ERR_MERCURE_TOKEN_SCOPE: "insufficient_scope",
  SSEB_ERR_MERCURE_TOKEN_REQUEST: "invalid_request",
};

const CLASSIC_TOKEN_ERRORS = new Set(["SSEB_ERR_AUTH_TOKEN_INVALID", "SSEB_ERR_AUTH_TOKEN_EXPIRED"]);

/** False when the Authorization header holds no `Bearer <token>` credential (a cookie or query token is one). */
function presentsBearer(req: IncomingMessage): boolean {
  const header = req.headers.authorization;
  return header === undefined || /^Bearer +\S/i.test(header);
}

function isPublishPreflight(req: IncomingMessage): boolean {
  return req.headers["access-control-request-method"]?.toUpperCase() === "POST";
}

function preflight(req: IncomingMessage, res: ServerResponse, origins: CorsOrigins, methods: string): void {
  res.writeHead(204, { ...preflightHeaders(req, origins, methods), Allow: methods });
  res.end();
}

/** A coded 405; `Allow` goes with it through the shared headers. */
function methodNotAllowed(allow: string, headers: Record<string, string>): SseBrokerError {
  headers.Allow = allow;
  return new SseBrokerError("SSEB_ERR_METHOD_NOT_ALLOWED", `method not allowed; allowed: ${allow}`, {
    statusCode: 405,
  });
}
