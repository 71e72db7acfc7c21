/**
 * Idempotency keys of publishes (draft-ietf-httpapi-idempotency-key-header), as the broker remembers them
 * on this node: an LRU of recent records bounded in count and bytes, plus the keys of publishes still in flight. With a shared
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
  bytes: number;
}

/**
 * Bytes of records kept at most, whatever the count: a publisher's own ids can be long (up to the body
 * limit per batch), so a count alone would not bound memory.
 */
export const MAX_IDEMPOTENCY_BYTES = 16 * 1024 * 1024;

/** About what a record costs: its strings (UTF-16) and a fixed overhead per entry and per id. */
function sizeOf(key: string, r: IdempotencyRecord): number {
  let n = 128 + 2 * (key.length + r.fingerprint.length);
  for (const id of r.ids) n += 16 + 2 * id.length;
  return n;
}

export class IdempotencyStore {
  readonly #max: number;
  /** Insertion order is recency order: a hit moves its entry to the end, the first one goes first. */
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Set<string>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxKeys: number, maxBytes = MAX_IDEMPOTENCY_BYTES) {
    this.#max = maxKeys;
    this.#maxBytes = maxBytes;
  }

  /** Approximate bytes held by the records. */
  get bytes(): number {
    return this.#bytes;
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
    if (e.expiresAt <= now) {
      this.#bytes -= e.bytes;
      return undefined;
    }
    this.#entries.set(key, e);
    return e.record;
  }

  /** Remembers `record` for `ttlMs`, evicting the least recently used records past the bounds. */
  set(key: string, record: IdempotencyRecord, ttlMs: number, now = Date.now()): void {
    const bytes = sizeOf(key, record);
    if (this.#max === 0 || bytes > this.#maxBytes) return;
    this.#forget(key);
    this.#entries.set(key, { record, expiresAt: now + ttlMs, bytes });
    this.#bytes += bytes;
    while (this.#entries.size > this.#max || this.#bytes > this.#maxBytes) {
      this.#forget(this.#entries.keys().next().value as string);
    }
  }

  #forget(key: string): void {
    const e = this.#entries.get(key);
    if (e === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= e.bytes;
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
