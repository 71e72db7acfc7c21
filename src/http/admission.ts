/**
 * Admission of new event streams: the overall cap, the cap per client address and the rate of new
 * streams per address. Over a cap → 503, over the rate → 429, both with a jittered `Retry-After` so the
 * refused clients do not all come back in the same second. Established streams are never evicted.
 * The per-address map holds only addresses with open streams (an entry goes at zero).
 * @module
 */
import type { BlockList, Socket } from "node:net";
import { SseBrokerError } from "../errors.js";
import { retryAfterSec } from "../jitter.js";
import type { RefusalCounts } from "../metrics/refusals.js";
import { inList, normalizeAddress } from "./client-address.js";
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

/** TLS connections an address may hold beyond its stream cap: its publishes, `/healthz`, its 503. */
export const SOCKET_SPARE_PER_IP = 8;

/**
 * Admission of TCP connections on the TLS listener, before their handshake: one address holds at most
 * `maxConnectionsPerIp` + {@link SOCKET_SPARE_PER_IP} of them and opens them at `connectionRatePerIp`
 * (bursts of twice that). Streams are admitted per stream (`Admission`), but over HTTP/2 a session
 * carrying none, or a handshake never finished, holds a socket and TLS state too: without this one
 * address could hold any number of them. Peers in `trusted` (proxies, every client behind one address)
 * are not capped here.
 */
export class SocketAdmission {
  readonly #cap: number | null;
  readonly #rate: TokenBuckets | null;
  readonly #trusted: BlockList | null;
  readonly #refused: RefusalCounts;
  readonly #perAddress = new Map<string, number>();

  constructor(
    o: Omit<AdmissionOptions, "maxConnections"> & { readonly trusted: BlockList | null },
    refused: RefusalCounts,
  ) {
    this.#cap = o.maxConnectionsPerIp === null ? null : o.maxConnectionsPerIp + SOCKET_SPARE_PER_IP;
    this.#rate =
      o.connectionRatePerIp === null
        ? null
        : new TokenBuckets({ ratePerSec: o.connectionRatePerIp, burst: 2 * o.connectionRatePerIp });
    this.#trusted = o.trusted;
    this.#refused = refused;
  }

  /** Addresses holding connections. */
  get addresses(): number {
    return this.#perAddress.size;
  }

  /** Admits `socket` or destroys it; an admitted one is counted until it closes. */
  admit(socket: Socket): void {
    const address = normalizeAddress(socket.remoteAddress ?? "");
    if (this.#trusted !== null && inList(this.#trusted, address)) return;
    const mine = this.#perAddress.get(address) ?? 0;
    if (this.#cap !== null && mine >= this.#cap) {
      this.#refused.connections_per_ip++;
      socket.destroy();
      return;
    }
    if ((this.#rate?.take(address) ?? 0) > 0) {
      this.#refused.connection_rate++;
      socket.destroy();
      return;
    }
    this.#perAddress.set(address, mine + 1);
    socket.once("close", () => {
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.#perAddress.set(address, left);
      else this.#perAddress.delete(address);
    });
  }
}
