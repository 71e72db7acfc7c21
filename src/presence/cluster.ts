/**
 * Where the other nodes' presence counts come from (the Redis one: src/presence/redis.ts). Kept apart so
 * the HTTP route never loads ioredis: a node with a backplane registers its source here.
 * @module
 */
import type { Broker } from "../core/broker.js";

export interface PresenceCluster {
  /**
   * The counts the OTHER live nodes exported: for `selectors`, or every exported selector when `null`
   * (at most the per-node cap each); `nodes` counts the live nodes including this one. Throws 503
   * SSEB_ERR_BACKPLANE_UNAVAILABLE when the backplane cannot answer.
   */
  read(selectors: readonly string[] | null): Promise<{ counts: Map<string, number>; nodes: number }>;
}

const clusters = new WeakMap<Broker, PresenceCluster>();

export function setPresenceCluster(broker: Broker, cluster: PresenceCluster | null): void {
  if (cluster === null) clusters.delete(broker);
  else clusters.set(broker, cluster);
}

export function presenceClusterOf(broker: Broker): PresenceCluster | undefined {
  return clusters.get(broker);
}
