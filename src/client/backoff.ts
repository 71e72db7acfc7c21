/**
 * When to reconnect: the server's `retry:` (else `initialDelayMs`) doubled per failed attempt, capped at
 * `maxDelayMs`, with jitter so that clients dropped together do not come back together; back to the base
 * once a connection was healthy (it delivered an event or stayed open `healthyAfterMs`).
 * @module
 */

export interface ReconnectOptions {
  /** First delay when the server sent no `retry:`. Defaults to `1000`. */
  initialDelayMs?: number;
  /** Upper bound of any delay (the server's `retry:` included). Defaults to `30000`. */
  maxDelayMs?: number;
  /** Growth per failed attempt. Defaults to `2`. */
  factor?: number;
  /** Fraction of each delay taken off at random: a delay `d` becomes one in `[d·(1−jitter), d]`. Defaults to `0.2`. */
  jitter?: number;
  /** A connection open this long counts as healthy even without events. Defaults to `10000`. */
  healthyAfterMs?: number;
  /** Failed attempts in a row before giving up (`Infinity` = never). Defaults to `Infinity`. */
  maxAttempts?: number;
}

export const DEFAULT_RECONNECT: Readonly<Required<ReconnectOptions>> = Object.freeze({
  initialDelayMs: 1000,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 0.2,
  healthyAfterMs: 10_000,
  maxAttempts: Number.POSITIVE_INFINITY,
});

/** The smallest delay that failed attempts grow from. */
const GROWTH_FLOOR_MS = 100;

export class ReconnectPolicy {
  readonly options: Readonly<Required<ReconnectOptions>>;
  readonly #random: () => number;
  #retryMs: number | undefined;
  #attempt = 0;

  constructor(options: ReconnectOptions = {}, random: () => number = Math.random) {
    const o = { ...DEFAULT_RECONNECT, ...options };
    for (const k of ["initialDelayMs", "maxDelayMs", "factor", "healthyAfterMs"] as const) {
      if (!Number.isFinite(o[k]) || o[k] < 0) throw new RangeError(`reconnect.${k} must be a number >= 0`);
    }
    if (!(o.jitter >= 0 && o.jitter <= 1)) throw new RangeError("reconnect.jitter must be within 0..1");
    if (!(o.maxAttempts >= 0)) throw new RangeError("reconnect.maxAttempts must be >= 0");
    this.options = Object.freeze(o);
    this.#random = random;
  }

  /** The server's `retry:` value: the base of later delays. */
  set retryMs(ms: number) {
    this.#retryMs = ms;
  }

  get retryMs(): number | undefined {
    return this.#retryMs;
  }

  /** Failed attempts since the last healthy connection. */
  get attempts(): number {
    return this.#attempt;
  }

  /** True once `maxAttempts` failed attempts in a row were made. */
  get exhausted(): boolean {
    return this.#attempt >= this.options.maxAttempts;
  }

  /** The delay before the next attempt (counts it); `atLeastMs` is a server's `Retry-After`. */
  next(atLeastMs = 0): number {
    const o = this.options;
    const base = Math.min(this.#retryMs ?? o.initialDelayMs, o.maxDelayMs);
    // A `retry: 0` (or a tiny one) is followed once; growth starts from a floor, else failures never slow down.
    const grown =
      this.#attempt === 0
        ? base
        : Math.min(Math.max(base, GROWTH_FLOOR_MS) * o.factor ** this.#attempt, o.maxDelayMs);
    this.#attempt++;
    const jittered = grown * (1 - o.jitter * this.#random());
    return Math.max(Math.round(jittered), Math.min(atLeastMs, o.maxDelayMs));
  }

  /** A healthy connection: the next failure starts from the base delay again. */
  reset(): void {
    this.#attempt = 0;
  }
}
