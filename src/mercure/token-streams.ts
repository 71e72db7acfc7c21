/**
 * Open streams per subscriber token (draft-08, Authorization Details: a hub MAY limit the concurrent
 * subscriptions established under a single token, with a 429; Resource Limits). Counted on this node; one
 * entry per token that has open streams, so memory follows the open streams.
 *
 * A stream's slot follows its token: a token refresh (token-refresh.ts) moves it from the old token to the
 * new one, refused with the same 429 as opening a stream when the new token has no room, so a refresh can
 * never hold more streams under one token than opening them would.
 * @module
 */
import { SseBrokerError } from "../errors.js";
import type { ResolvedMercureOptions } from "./options.js";

/** One open stream's place in its token's count. */
export interface TokenSlot {
  /** Frees the slot; later calls do nothing. */
  release(): void;
  /** Throws the 429 of `acquire` unless `token` has room for this stream (its own token always has). */
  checkRoom(token: string): void;
  /** Counts this stream under `token` from now on, without a check (call `checkRoom` first). */
  moveTo(token: string): void;
}

export class TokenStreams {
  readonly #open = new Map<string, number>();
  readonly #max: number;
  /** The slot of each open stream that has one (keyed by its session), for a refresh to move. */
  readonly #slots = new WeakMap<object, TokenSlot>();

  constructor(max: number) {
    this.#max = max;
  }

  /** Streams open with `token` now. */
  count(token: string): number {
    return this.#open.get(keyOf(token)) ?? 0;
  }

  /** Counts one more stream for `token`, or throws a 429. */
  acquire(token: string): TokenSlot {
    this.#checkRoom(keyOf(token));
    let key: string | null = keyOf(token);
    this.#add(key, 1);
    return {
      release: () => {
        if (key === null) return;
        this.#add(key, -1);
        key = null;
      },
      checkRoom: (next) => {
        const k = keyOf(next);
        if (key !== null && k !== key) this.#checkRoom(k);
      },
      moveTo: (next) => {
        if (key === null) return; // the stream already ended
        this.#add(key, -1);
        key = keyOf(next);
        this.#add(key, 1);
      },
    };
  }

  /** Remembers the slot of an open stream (its session), for `slotOf`. */
  bind(session: object, slot: TokenSlot): void {
    this.#slots.set(session, slot);
  }

  slotOf(session: object): TokenSlot | undefined {
    return this.#slots.get(session);
  }

  #checkRoom(key: string): void {
    if ((this.#open.get(key) ?? 0) < this.#max) return;
    throw new SseBrokerError(
      "SSEB_ERR_LIMIT_STREAMS_PER_TOKEN",
      `this token already holds ${this.#max} open streams`,
      { statusCode: 429, retryAfterSec: 10 },
    );
  }

  #add(key: string, delta: number): void {
    const n = (this.#open.get(key) ?? 0) + delta;
    if (n <= 0) this.#open.delete(key);
    else this.#open.set(key, n);
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
