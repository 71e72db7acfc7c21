/**
 * Idempotency keys of publishes (draft-ietf-httpapi-idempotency-key-header), as the broker remembers them
 * on this node: a bounded LRU of recent records, plus the keys of publishes still in flight. With a shared
 * backplane the authoritative record lives there (written atomically with the append); this store then
 * only spares a round trip on a retry this node already answered.
 * @module
 */

/** What a performed publish answered: the ids, in order, and which request they answered. */
export interface IdempotencyRecord {
  /** Hash of the request (method, path, body); a retry with the same key must match it. */
  readonly fingerprint: string;
  readonly ids: readonly string[];
}

/** A publish made under an idempotency key. */
export interface IdempotencyRequest {
  /** The key scoped to its publisher (a hash of credential and key): two publishers never share one. */
  readonly key: string;
  readonly fingerprint: string;
}

interface Entry {
  record: IdempotencyRecord;
  expiresAt: number;
}

export class IdempotencyStore {
  readonly #max: number;
  /** Insertion order is recency order: a hit moves its entry to the end, the first one goes first. */
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Set<string>();

  constructor(maxKeys: number) {
    this.#max = maxKeys;
  }

  /** Records remembered now (expired ones may still count until looked up or evicted). */
  get size(): number {
    return this.#entries.size;
  }

  /** The record of `key` when remembered and not expired. */
  get(key: string, now = Date.now()): IdempotencyRecord | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    this.#entries.delete(key);
    if (e.expiresAt <= now) return undefined;
    this.#entries.set(key, e);
    return e.record;
  }

  /** Remembers `record` for `ttlMs`, evicting the least recently used record past the bound. */
  set(key: string, record: IdempotencyRecord, ttlMs: number, now = Date.now()): void {
    if (this.#max === 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, { record, expiresAt: now + ttlMs });
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  /** Marks `key` in flight; false when it already is (a concurrent retry). */
  begin(key: string): boolean {
    if (this.#inFlight.has(key)) return false;
    this.#inFlight.add(key);
    return true;
  }

  end(key: string): void {
    this.#inFlight.delete(key);
  }
}
