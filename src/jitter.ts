/**
 * Random spreads for reconnection hints: when a restart or a cap sends thousands of clients away at once,
 * the same delay would bring them all back in the same second.
 * @module
 */
import { randomInt } from "node:crypto";

/** `baseMs` plus a uniformly random 0–`fraction` of it (the `retry:` sent when a stream opens). */
export function jitteredMs(baseMs: number, fraction = 0.5): number {
  return baseMs + Math.floor(Math.random() * (baseMs * fraction + 1));
}

/** A whole number of seconds, uniformly in [minSec, maxSec], for `Retry-After`. */
export function retryAfterSec(minSec: number, maxSec: number): number {
  return randomInt(minSec, Math.max(minSec, maxSec) + 1);
}
