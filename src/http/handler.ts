/**
 * The request handler: routes, method checks, CORS, and error mapping. Mount it on `node:http`
 * (`createServer(broker.handler)`) or as Express middleware (`app.use(broker.handler)`: unknown paths go
 * to `next`).
 * @module
 */

import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Registry } from "prom-client";
import type { Broker } from "../core/broker.js";
import { badRequest, type SseBrokerError } from "../errors.js";
import { beforeStream, hooksOf } from "../hooks/index.js";
import { presenceOf } from "../presence/counter.js";
import { credentialHashOf } from "../subscribers/change.js";
import { assertField } from "../wire/encode.js";
import { whenConnectionFree } from "./connection.js";
import { CONSOLE_FOLDER, createConsoleRoute } from "./console.js";
import { type CorsOrigins, corsHeaders, preflightHeaders } from "./cors.js";
import { admitStream } from "./limits.js";
import { loggableError } from "./loggable-error.js";
import { prefersHtml } from "./negotiate.js";
import { assertMetricsAccess, markStarted, serveHealth, serveMetrics } from "./ops.js";
import { servePresence } from "./presence.js";
import { handlePublish } from "./publish.js";
import { methodNotAllowed, notFound, sendError } from "./respond.js";
import { DEFAULT_WEB_ROOT, StaticFiles } from "./static.js";
import { headEventStream, openEventStream } from "./stream.js";
import { flagOf } from "./stream-flags.js";
import { bearerOf, handleSelectorChange, subscriberPathId } from "./subscribers.js";
import { parseTarget } from "./target.js";
import { queryOf } from "./urlencoded.js";

export type RouteHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
) => boolean | Promise<boolean>;
export type RequestHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: (err?: unknown) => void,
) => void;

export interface HandlerOptions {
  metrics: Registry | null;
  /** Extra routes tried first (e.g. the Mercure hub). */
  routes?: readonly RouteHandler[];
}

const STREAM_METHODS = "GET, HEAD, OPTIONS";

export function createHandler(broker: Broker, hopts: HandlerOptions): RequestHandler {
  const o = broker.options;
  // The console's folder has its own access rule (console.ts): never served as a demo asset.
  const files = o.demoRoutes ? new StaticFiles(o.webRoot ?? DEFAULT_WEB_ROOT, [CONSOLE_FOLDER]) : null;
  const consoleRoute = createConsoleRoute(broker);
  const routes = hopts.routes ?? [];
  const log = o.logger;
  markStarted(broker);
  hooksOf(broker); // the disconnect hook listens from the start
  presenceOf(broker); // counts from the start (join/leave notices need every change)

  async function route(
    req: IncomingMessage,
    res: ServerResponse,
    next?: (err?: unknown) => void,
  ): Promise<void> {
    const url = parseTarget(req.url);
    for (const r of routes) if (await r(req, res, url)) return;
    const method = req.method ?? "GET";
    const cors = corsHeaders(req, o.corsOrigins);
    const path = url.pathname;
    if (consoleRoute?.(req, res, path) === true) return;

    if (path === "/events" || (path === "/" && files !== null && !wantsPage(req, method))) {
      if (method === "OPTIONS") return preflight(req, res, STREAM_METHODS);
      if (method !== "GET" && method !== "HEAD") return methodNotAllowed(res, STREAM_METHODS);
      const client = method === "GET" ? admitStream(broker, req, res) : undefined;
      if (path === "/") {
        if (method === "HEAD") return headEventStream(res, cors);
        // The seed demo's stream: every public event, `data:` lines only, exactly as the original.
        const pending = broker.subscribe({ selectors: ["*"], bareFrames: true });
        openEventStream(req, res, pending, cors);
        return;
      }
      const selectors = queryOf(url).getAll("topic");
      if (selectors.length === 0) throw badRequest("at least one topic query parameter is required");
      const lastEventId = lastEventIdOf(req, url);
      // On by default here: an incomplete resume starts with the sse-broker.missed event (?missed=0: not).
      const signalMissed = flagOf(queryOf(url).get("missed"), "missed", true);
      // ?latest=1: the newest retained event of each matched topic first (a resume point wins over it).
      const latest = flagOf(queryOf(url).get("latest"), "latest", false);
      if (method === "HEAD") {
        // GET's checks without a stream: subscribe() validates the selectors (its plan is never opened,
        // and without a resume point nothing is replayed); the resume id is checked as a wire field.
        broker.subscribe({ selectors });
        if (lastEventId !== undefined) assertField("id", lastEventId);
        return headEventStream(res, cors);
      }
      // Decided here so that the subscribe hook sees the id the stream will have.
      const subscriberId = `urn:uuid:${randomUUID()}`;
      const bearer = bearerOf(req);
      const hooked = await beforeStream(broker, req, {
        route: "events",
        id: subscriberId,
        client: client as string,
        topics: selectors,
        lastEventId,
        validate: (topics) => void broker.subscribe({ selectors: topics }),
      });
      if (res.destroyed) return; // the client left while the application answered
      const pending = await broker.prepare({
        selectors: hooked.topics ?? selectors,
        lastEventId,
        client,
        signalMissed,
        latest,
        subscriberId,
        // The stream's own credential for changing its selectors (POST /subscribers/{id}/selectors).
        credentialHash: bearer === "" ? undefined : credentialHashOf(bearer),
        ...(hooked.meta === undefined ? {} : { meta: hooked.meta }),
      });
      if (res.destroyed) return;
      openEventStream(req, res, pending, cors);
      return;
    }
    if (path === "/publish") {
      // Publishing has its own origin list: never `*` by default, whatever the streams allow.
      if (method === "OPTIONS") return preflight(req, res, "POST, OPTIONS", o.publishOrigins);
      if (method !== "POST") return methodNotAllowed(res, "POST, OPTIONS");
      return handlePublish(broker, o, req, res, url, corsHeaders(req, o.publishOrigins));
    }
    const subscriber = subscriberPathId(path);
    if (subscriber !== undefined) {
      if (method === "OPTIONS") return preflight(req, res, "POST, OPTIONS");
      if (method !== "POST") return methodNotAllowed(res, "POST, OPTIONS");
      return handleSelectorChange(broker, req, res, subscriber, cors);
    }
    if (path === "/healthz") {
      if (method !== "GET" && method !== "HEAD") return methodNotAllowed(res, "GET, HEAD");
      return serveHealth(broker, res, cors);
    }
    if (path === "/metrics" && hopts.metrics !== null) {
      if (method !== "GET" && method !== "HEAD") return methodNotAllowed(res, "GET, HEAD");
      assertMetricsAccess(broker, req);
      return serveMetrics(hopts.metrics, res);
    }
    if (path === "/presence") {
      if (method !== "GET") return methodNotAllowed(res, "GET");
      return servePresence(broker, req, res, url, cors);
    }
    if (files !== null && (method === "GET" || method === "HEAD")) {
      const file = path === "/" ? "index.html" : path.slice(1);
      if (files.serve(res, file, method === "HEAD")) return;
    }
    if (next !== undefined) return next();
    notFound(res);
  }

  function preflight(
    req: IncomingMessage,
    res: ServerResponse,
    methods: string,
    origins: CorsOrigins = o.corsOrigins,
  ): void {
    res.writeHead(204, { ...preflightHeaders(req, origins, methods), Allow: methods });
    res.end();
  }

  function handle(req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void {
    route(req, res, next).catch((err: unknown) => {
      const publishing = (req.url ?? "").split("?")[0] === "/publish";
      const headers = corsHeaders(req, publishing ? o.publishOrigins : o.corsOrigins);
      if ((err as SseBrokerError).statusCode === 401) headers["WWW-Authenticate"] = "Bearer";
      const status = sendError(res, err, headers);
      if (status >= 500 && status !== 503) log?.error({ err: loggableError(err) }, "request failed");
      else log?.debug({ code: (err as SseBrokerError).code, status }, "request refused");
    });
  }

  // A request pipelined behind an unfinished response waits for it (see connection.ts).
  return (req, res, next) => whenConnectionFree(req, res, () => handle(req, res, next));
}

function wantsPage(req: IncomingMessage, method: string): boolean {
  return (method === "GET" || method === "HEAD") && prefersHtml(req.headers.accept);
}

/** The resume point: the `Last-Event-ID` header wins over the `lastEventID` query parameter. */
export function lastEventIdOf(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers["last-event-id"];
  if (typeof header === "string" && header !== "") return header;
  const q = queryOf(url).get("lastEventID");
  return q === undefined || q === "" ? undefined : q;
}
