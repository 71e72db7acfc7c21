/**
 * Open streams per subscriber token (draft-08, Authorization Details: a hub MAY limit the concurrent
 * subscriptions established under a single token, with a 429; Resource Limits). Counted on this node; one
 * entry per token that has open streams, so memory follows the open streams.
 * @module
 */
import { SseBrokerError } from "../errors.js";
import type { ResolvedMercureOptions } from "./options.js";

export class TokenStreams {
  readonly #open = new Map<string, number>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** Streams open with `token` now. */
  count(token: string): number {
    return this.#open.get(keyOf(token)) ?? 0;
  }

  /** Counts one more stream for `token`, or throws a 429; the function returned releases it, once. */
  acquire(token: string): () => void {
    const key = keyOf(token);
    const n = this.#open.get(key) ?? 0;
    if (n >= this.#max) {
      throw new SseBrokerError(
        "SSEB_ERR_LIMIT_STREAMS_PER_TOKEN",
        `this token already holds ${this.#max} open streams`,
        { statusCode: 429, retryAfterSec: 10 },
      );
    }
    this.#open.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#open.get(key) ?? 1) - 1;
      if (left === 0) this.#open.delete(key);
      else this.#open.set(key, left);
    };
  }
}

// A JWS's signature identifies the token; keeping only it keeps no usable credential in memory.
function keyOf(token: string): string {
  return token.slice(token.lastIndexOf(".") + 1);
}

const perHub = new WeakMap<ResolvedMercureOptions, TokenStreams>();

/** The counter of one hub (its resolved options), or `null` when `maxStreamsPerToken` is off. */
export function tokenStreamsOf(o: ResolvedMercureOptions): TokenStreams | null {
  if (o.maxStreamsPerToken === null) return null;
  let t = perHub.get(o);
  if (t === undefined) {
    t = new TokenStreams(o.maxStreamsPerToken);
    perHub.set(o, t);
  }
  return t;
}
