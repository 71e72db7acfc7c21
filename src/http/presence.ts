/**
 * `GET /presence`: subscriber counts by selector, summed over the live nodes when a backplane exports
 * them (see src/presence/). `?topic=a&topic=b` answers those selectors (0 for none); without topics, the
 * selectors with the most subscribers (`?limit=`, at most 100). Counts only: never who subscribes.
 *
 * Who may read: the `/metrics` rule (`metricsToken` as a bearer token, or without one requests from this
 * machine only), since the list names the topics others subscribe to.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Broker } from "../core/broker.js";
import { badRequest, SseBrokerError } from "../errors.js";
import { presenceClusterOf } from "../presence/cluster.js";
import { MAX_PRESENCE_TOP, presenceOf, topCounts } from "../presence/counter.js";
import { assertLocal, limitsOf } from "./limits.js";
import { safeEqual } from "./ops.js";
import { sendJson } from "./respond.js";
import { queryOf } from "./urlencoded.js";

/** Selectors one `GET /presence?topic=…` may ask about. */
export const MAX_PRESENCE_QUERY = 100;

export async function servePresence(
  broker: Broker,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  headers: Record<string, string>,
): Promise<void> {
  assertPresenceAccess(broker, req);
  const query = queryOf(url);
  const topics = [...new Set(query.getAll("topic"))];
  if (topics.length > MAX_PRESENCE_QUERY) {
    throw badRequest(`ask about at most ${MAX_PRESENCE_QUERY} topics at once`, "SSEB_ERR_LIMIT_SELECTORS");
  }
  const local = presenceOf(broker);
  const cluster = presenceClusterOf(broker);
  if (topics.length > 0) {
    const others = cluster === undefined ? null : await cluster.read(topics);
    const counts: Record<string, number> = {};
    for (const t of topics) counts[t] = local.count(t) + (others?.counts.get(t) ?? 0);
    sendJson(res, 200, { counts, nodes: others?.nodes ?? 1 }, headers);
    return;
  }
  const limit = limitOf(query.get("limit"));
  const others = cluster === undefined ? null : await cluster.read(null);
  let entries: Iterable<[string, number]> = local.entries();
  let selectors = local.size;
  if (others !== null) {
    const sum = new Map(local.entries());
    for (const [s, n] of others.counts) sum.set(s, (sum.get(s) ?? 0) + n);
    entries = sum;
    selectors = sum.size;
  }
  const top = topCounts(entries, limit).map(([selector, count]) => ({ selector, count }));
  sendJson(res, 200, { top, selectors, nodes: others?.nodes ?? 1 }, headers);
}

function limitOf(value: string | undefined): number {
  if (value === undefined) return MAX_PRESENCE_TOP;
  const n = /^\d{1,3}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= 1 && n <= MAX_PRESENCE_TOP)) {
    throw badRequest(`limit must be an integer from 1 to ${MAX_PRESENCE_TOP}`, "SSEB_ERR_REQUEST_INVALID");
  }
  return n;
}

/** The `/metrics` rule: the metrics token when set (401 otherwise), else local requests only (403). */
export function assertPresenceAccess(broker: Broker, req: IncomingMessage): void {
  const token = broker.options.metricsToken;
  if (token === null) {
    assertLocal(broker, req, "GET /presence without a metrics token", null);
    return;
  }
  const auth = req.headers.authorization ?? "";
  const given = auth.startsWith("Bearer ") ? auth.slice(7).trim() : "";
  if (given === "" || !safeEqual(given, token)) {
    limitsOf(broker).refused.metrics_token++;
    throw new SseBrokerError("SSEB_ERR_AUTH_REQUIRED", "GET /presence needs the metrics token", {
      statusCode: 401,
    });
  }
}
