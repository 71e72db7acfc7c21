/**
 * Admission of new event streams: the overall cap, the cap per client address and the rate of new
 * streams per address. Over a cap → 503, over the rate → 429, both with a jittered `Retry-After` so the
 * refused clients do not all come back in the same second. Established streams are never evicted.
 * The per-address map holds only addresses with open streams (an entry goes at zero).
 * @module
 */
import { SseBrokerError } from "../errors.js";
import { retryAfterSec } from "../jitter.js";
import type { RefusalCounts } from "../metrics/refusals.js";
import { TokenBuckets } from "./rate-limit.js";

export interface AdmissionOptions {
  readonly maxConnections: number | null;
  readonly maxConnectionsPerIp: number | null;
  /** New streams per second per address; the burst is twice that. */
  readonly connectionRatePerIp: number | null;
}

export class Admission {
  readonly #o: AdmissionOptions;
  readonly #refused: RefusalCounts;
  readonly #perAddress = new Map<string, number>();
  readonly #rate: TokenBuckets | null;
  #open = 0;

  constructor(o: AdmissionOptions, refused: RefusalCounts) {
    this.#o = o;
    this.#refused = refused;
    this.#rate =
      o.connectionRatePerIp === null
        ? null
        : new TokenBuckets({ ratePerSec: o.connectionRatePerIp, burst: 2 * o.connectionRatePerIp });
  }

  /** Streams admitted and not yet released. */
  get open(): number {
    return this.#open;
  }

  /** Addresses with admitted streams (the size of the per-address map). */
  get addresses(): number {
    return this.#perAddress.size;
  }

  /** Admits one stream from `address` or throws; call the returned function once when it ends. */
  admit(address: string): () => void {
    const o = this.#o;
    if (o.maxConnections !== null && this.#open >= o.maxConnections) {
      this.#refused.connections++;
      throw refuse("SSEB_ERR_LIMIT_CONNECTIONS", "the broker is at its connection limit", 503, 1);
    }
    const mine = this.#perAddress.get(address) ?? 0;
    if (o.maxConnectionsPerIp !== null && mine >= o.maxConnectionsPerIp) {
      this.#refused.connections_per_ip++;
      throw refuse("SSEB_ERR_LIMIT_CONNECTIONS_PER_IP", "too many streams from this address", 503, 1);
    }
    const waitMs = this.#rate?.take(address) ?? 0;
    if (waitMs > 0) {
      this.#refused.connection_rate++;
      throw refuse(
        "SSEB_ERR_LIMIT_CONNECTION_RATE",
        "new streams from this address come too fast",
        429,
        Math.ceil(waitMs / 1000),
      );
    }
    this.#open++;
    this.#perAddress.set(address, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#open--;
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.#perAddress.set(address, left);
      else this.#perAddress.delete(address);
    };
  }
}

/** Refusals spread their `Retry-After` over 1–10 s beyond the least wait. */
export function refuse(
  code:
    | "SSEB_ERR_LIMIT_CONNECTIONS"
    | "SSEB_ERR_LIMIT_CONNECTIONS_PER_IP"
    | "SSEB_ERR_LIMIT_CONNECTION_RATE"
    | "SSEB_ERR_LIMIT_PUBLISH_RATE",
  message: string,
  statusCode: 429 | 503,
  minWaitSec: number,
): SseBrokerError {
  const min = Math.max(1, minWaitSec);
  return new SseBrokerError(code, message, { statusCode, retryAfterSec: retryAfterSec(min, min + 9) });
}
