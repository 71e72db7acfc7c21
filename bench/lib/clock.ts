/**
 * The wall clock of latency stamps, in ms since the epoch with sub-ms digits (CLOCK_REALTIME, as the C
 * load generator reads it).
 * @module
 */
import { performance } from "node:perf_hooks";

/**
 * Milliseconds since the epoch with sub-ms digits: `performance.now()` plus an offset taken at the moment
 * `Date.now()` ticks over (so the offset is exact to a few µs, not to Date's 1 ms).
 */
export function realtimeClock(): () => number {
  const offsets: number[] = [];
  for (let i = 0; i < 5; i++) {
    const d0 = Date.now();
    let d = d0;
    let p = 0;
    // Date.now() is the realtime clock floored to ms: the instant it changes is a whole millisecond.
    while (d === d0) {
      p = performance.now();
      d = Date.now();
    }
    offsets.push(d - p);
  }
  offsets.sort((a, b) => a - b);
  const offset = offsets[2] as number;
  return () => offset + performance.now();
}
