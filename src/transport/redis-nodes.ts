/**
 * Per-node state kept in Redis by the cluster-wide registries (Mercure subscriptions, presence): each node
 * owns one key, refreshes it and removes it when closing; a sorted set of node ids by last refresh says
 * which nodes are alive. Both registries share this record, its removal and the wait for a connection.
 * @module
 */
import type { Redis } from "ioredis";

/**
 * Refresh in one round trip, timed by Redis' clock (nodes' clocks may disagree): mark this node seen,
 * forget nodes not seen for a TTL (their keys have expired by then), extend both keys.
 * KEYS: nodes set, this node's key. ARGV: node id, TTL in ms. Define it as `sseTouch`.
 */
export const TOUCH_NODE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return now
`;

/**
 * A closing node's exit: removes its key and its entry in the nodes set when Redis is reachable (bounded by
 * the command timeout; otherwise the TTL removes them), then disconnects.
 */
export async function leaveNodes(redis: Redis, nodesKey: string, key: string, nodeId: string): Promise<void> {
  if (redis.status === "ready") {
    try {
      await redis.multi().del(key).zrem(nodesKey, nodeId).exec();
    } catch {
      // Redis is going away too: the TTL removes this node's record.
    }
  }
  redis.disconnect();
}

/** Resolves once `redis` is connected; rejects after `timeoutMs` or when the connection fails. */
export function whenReady(redis: Redis, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      redis.off("ready", onReady);
      redis.off("error", onError);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onReady = (): void => done();
    const onError = (err: Error): void => done(err);
    const timer = setTimeout(() => done(new Error("not connected in time")), timeoutMs);
    redis.once("ready", onReady);
    redis.once("error", onError);
  });
}
