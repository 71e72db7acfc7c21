/**
 * The Lua scripts of batch and idempotent publishing on the Redis backplane, and how an idempotency record
 * is stored. A script runs atomically: the XADDs of one batch are consecutive in the stream, and the record
 * of a key is written in the same step as its entries (never one without the other).
 * @module
 */
import type { IdempotencyRecord } from "../core/idempotency.js";

/**
 * KEYS[1] data stream, KEYS[2] (optional) idempotency record; ARGV[1] MAXLEN, ARGV[2] record, ARGV[3] its
 * TTL in ms, then one `m`, `d` pair per entry (see redis-entry.ts). Answers nil when appended, or
 * `{record, pttl}` when KEYS[2] already held a record (then nothing is appended).
 */
export const APPEND_BATCH = `
if KEYS[2] then
  local rec = redis.call('GET', KEYS[2])
  if rec then return {rec, redis.call('PTTL', KEYS[2])} end
end
for i = 4, #ARGV, 2 do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'm', ARGV[i], 'd', ARGV[i + 1])
end
if KEYS[2] then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
return false
`;

/** KEYS[1] idempotency record: nil, or `{record, pttl}`. */
export const LOOKUP = `
local rec = redis.call('GET', KEYS[1])
if rec then return {rec, redis.call('PTTL', KEYS[1])} end
return false
`;

export function encodeRecord(r: IdempotencyRecord): string {
  return JSON.stringify({ f: r.fingerprint, i: r.ids });
}

/** The record stored as `text`, or null when it is not one (anyone can write to the key). */
export function decodeRecord(text: string): IdempotencyRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const { f, i } = v as Record<string, unknown>;
  if (typeof f !== "string" || !Array.isArray(i) || !i.every((x) => typeof x === "string")) return null;
  return { fingerprint: f, ids: i as string[] };
}
