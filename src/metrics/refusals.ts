/**
 * Counters of refused requests by limit, for `sse_broker_refused_total{reason}`. The reasons are a fixed
 * set (bounded label cardinality); a refusal path pays one integer increment. No dependency: the core
 * may count here too (`refusalsOf(broker).selectors++`).
 * @module
 */

export const REFUSAL_REASONS = [
  /** Stream refused: `maxConnections` reached (503). */
  "connections",
  /** Stream refused: `maxConnectionsPerIp` reached for the client address (503); with TLS also a connection past it + 8, closed at accept. */
  "connections_per_ip",
  /** Stream refused: `connectionRatePerIp` exceeded (429); with TLS also a connection opened faster, closed at accept. */
  "connection_rate",
  /** Publish refused: `publishRatePerKey` exceeded (429). */
  "publish_rate",
  /** Token-less publish, `/metrics` or the local-only console refused by the local-only rules (403, 404). */
  "not_local",
  /** `/metrics` without the right `metricsToken` (401). */
  "metrics_token",
  /** The console (`/ui/`) from a remote client without the right `consoleToken` (401). */
  "console_token",
  /** Request cut by the server's header or request timeout (408, CLI server). */
  "request_timeout",
  /** Too many selectors in one subscription. */
  "selectors",
  /** A selector over its bounds (length, expressions, matching cost). */
  "selector_bounds",
  /** Too many topics in one update. */
  "topics_per_update",
  /** Event larger than the maximum event size. */
  "event_size",
  /** Too many distinct template selectors, on the node or for one client. */
  "pattern_selectors",
  /** A publish with the id of a retained event. */
  "id_conflict",
  /** A batch publish with more events than `maxBatchEvents` (413). */
  "batch_events",
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];
export type RefusalCounts = Record<RefusalReason, number>;

const counts = new WeakMap<object, RefusalCounts>();

/** The refusal counters of `owner` (a broker), created at zero on first use. */
export function refusalsOf(owner: object): RefusalCounts {
  let c = counts.get(owner);
  if (c === undefined) {
    c = Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as RefusalCounts;
    counts.set(owner, c);
  }
  return c;
}
