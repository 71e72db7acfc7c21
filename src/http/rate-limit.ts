/**
 * Token buckets by key (client address, token hash), in a bounded map: at most `maxKeys` buckets, the
 * least recently used dropped first (a Map keeps insertion order, so re-inserting on use makes it an LRU).
 * Hand-written: a dozen lines, no timers, no per-key allocation after the first use; a dropped bucket
 * comes back full, which only ever errs towards letting a request through.
 * @module
 */

interface Bucket {
  tokens: number;
  at: number;
}

export interface TokenBucketOptions {
  /** Tokens added per second. */
  readonly ratePerSec: number;
  /** Bucket size: the burst allowed after a quiet period. */
  readonly burst: number;
  /** Most keys kept. Defaults to `65_536`. */
  readonly maxKeys?: number;
}

export class TokenBuckets {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(o: TokenBucketOptions) {
    this.#perMs = o.ratePerSec / 1000;
    this.#burst = o.burst;
    this.#maxKeys = o.maxKeys ?? 65_536;
  }

  /** Keys with a bucket. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one token for `key`: returns 0 when granted, else the milliseconds until one is available. */
  take(key: string, now: number = performance.now()): number {
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size >= this.#maxKeys) {
        const oldest = this.#buckets.keys().next().value as string;
        this.#buckets.delete(oldest);
      }
      b = { tokens: this.#burst, at: now };
    } else {
      this.#buckets.delete(key);
      b.tokens = Math.min(this.#burst, b.tokens + (now - b.at) * this.#perMs);
      b.at = now;
    }
    this.#buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / this.#perMs);
  }
}
