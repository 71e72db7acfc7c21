/**
 * The live console under `/ui/`: a static page (the package's `web/console/`, plain HTML/CSS/JS, no
 * build step) and `GET /ui/api/stats`, a JSON snapshot the page polls. Every path under `/ui` passes the
 * console's access rule first (console-access.ts). The page watches and publishes through the ordinary
 * `/events` and `/publish` routes, so it can do nothing its user could not do with curl.
 *
 * The snapshot holds counts only (streams, distinct client addresses, counters, subscribers per
 * selector): never a token, a cookie or an address. Its work is bounded: one pass over the presence map
 * keeping the top `CONSOLE_TOP_SELECTORS`, reused for `SNAPSHOT_REUSE_MS`, so any number of console tabs
 * costs at most one pass per reuse period.
 * @module
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import type { Broker } from "../core/broker.js";
import { SseBrokerError } from "../errors.js";
import { presenceOf, topCounts } from "../presence/counter.js";
import { assertConsoleAccess, CONSOLE_CHALLENGE } from "./console-access.js";
import { limitsOf } from "./limits.js";
import { assertSameOrigin } from "./local-request.js";
import { markStarted, uptimeSecondsOf } from "./ops.js";
import { methodNotAllowed, notFound, sendError, sendJson } from "./respond.js";
import { DEFAULT_WEB_ROOT, StaticFiles } from "./static.js";

/** The folder of the package's web root that holds the console (never served by the demo routes). */
export const CONSOLE_FOLDER = "console";
/** Selectors listed in a snapshot, most subscribers first. */
export const CONSOLE_TOP_SELECTORS = 25;
/** How long one snapshot answers every console request. */
const SNAPSHOT_REUSE_MS = 250;

/**
 * The page may load only itself: no CDN, no inline script, no framing by another site (the console
 * publishes). `connect-src 'self'` covers its polls, its watch stream and its publishes.
 */
const PAGE_HEADERS = Object.freeze({
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "X-Frame-Options": "DENY",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
});

export interface ConsoleSnapshot {
  /**
   * This broker's random id: counts are per process, and with `--workers` two polls may be answered by
   * two workers, whose counters must not be subtracted from each other.
   */
  readonly node: string;
  /** Milliseconds since the epoch when the snapshot was taken (rates are deltas over it). */
  readonly time: number;
  readonly uptimeSeconds: number;
  /** Open event streams on this node. */
  readonly connections: number;
  /** Distinct client addresses with open streams (a count, never the addresses). */
  readonly clients: number;
  /** The broker's counters since start. */
  readonly totals: {
    readonly connectionsOpened: number;
    readonly eventsPublished: number;
    readonly eventsDelivered: number;
    readonly bytesDelivered: number;
    readonly droppedSlow: number;
    readonly droppedLagged: number;
  };
  /** Distinct selectors with at least one subscriber on this node. */
  readonly selectors: number;
  /** The selectors with the most subscribers on this node. */
  readonly top: readonly { readonly selector: string; readonly count: number }[];
  readonly history: { readonly events: number; readonly bytes: number; readonly topics: number };
}

const snapshots = new WeakMap<Broker, ConsoleSnapshot>();
const nodeIds = new WeakMap<Broker, string>();

/** The broker's state for the console, reused for `SNAPSHOT_REUSE_MS`. */
export function consoleSnapshot(broker: Broker): ConsoleSnapshot {
  const now = Date.now();
  const last = snapshots.get(broker);
  if (last !== undefined && now - last.time < SNAPSHOT_REUSE_MS) return last;
  const s = broker.stats;
  const presence = presenceOf(broker);
  let node = nodeIds.get(broker);
  if (node === undefined) {
    node = randomUUID().slice(0, 8);
    nodeIds.set(broker, node);
  }
  const snap: ConsoleSnapshot = {
    node,
    time: now,
    uptimeSeconds: uptimeSecondsOf(broker, now),
    connections: broker.size,
    clients: limitsOf(broker).admission.addresses,
    totals: {
      connectionsOpened: s.connectionsOpened,
      eventsPublished: s.eventsPublished,
      eventsDelivered: s.eventsDelivered,
      bytesDelivered: s.bytesDelivered,
      droppedSlow: s.droppedSlow,
      droppedLagged: s.droppedLagged,
    },
    selectors: presence.size,
    top: topCounts(presence.entries(), CONSOLE_TOP_SELECTORS).map(([selector, count]) => ({
      selector,
      count,
    })),
    history: {
      events: broker.history.size,
      bytes: broker.history.bytes,
      topics: broker.history.topicCount,
    },
  };
  snapshots.set(broker, snap);
  return snap;
}

export type ConsoleRoute = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

/**
 * The console's routes for `broker`, or `null` when `consoleMode` is `"off"`. The returned function
 * answers any path under `/ui` and returns true, or returns false for other paths.
 */
export function createConsoleRoute(broker: Broker): ConsoleRoute | null {
  if (broker.options.consoleMode === "off") return null;
  // Always the package's own page: a custom webRoot (the demo's) does not replace the console.
  const files = new StaticFiles(join(DEFAULT_WEB_ROOT, CONSOLE_FOLDER));
  markStarted(broker);
  presenceOf(broker);

  return (req, res, path) => {
    if (path !== "/ui" && !path.startsWith("/ui/")) return false;
    const method = req.method ?? "GET";
    try {
      assertConsoleAccess(broker, req);
      if (path === "/ui/api/stats") {
        if (method !== "GET") {
          methodNotAllowed(res, "GET");
          return true;
        }
        // A page of another site cannot make the console's browser read it (no CORS) nor make it ask.
        assertSameOrigin(req, [], "the console API");
        sendJson(res, 200, consoleSnapshot(broker));
        return true;
      }
      if (method !== "GET" && method !== "HEAD") {
        methodNotAllowed(res, "GET, HEAD");
        return true;
      }
      if (path === "/ui") {
        // A relative Location keeps a mount prefix; the slash puts the page and what the browser
        // remembers of its Basic credentials under /ui/ only.
        res.writeHead(308, { Location: "ui/", "Content-Length": 0, "Cache-Control": "no-store" });
        res.end();
        return true;
      }
      const file = path === "/ui/" ? "index.html" : path.slice("/ui/".length);
      if (!files.serve(res, file, method === "HEAD", PAGE_HEADERS)) notFound(res);
    } catch (err) {
      const headers: Record<string, string> = {};
      if ((err as SseBrokerError).statusCode === 401) headers["WWW-Authenticate"] = CONSOLE_CHALLENGE;
      if (!(err instanceof SseBrokerError)) throw err;
      sendError(res, err, headers);
    }
    return true;
  };
}
