/**
 * Where published updates go before they are delivered: in memory (one process) or a backplane shared by
 * several nodes. A transport totally orders updates and hands each one to the receiver on every node, once.
 * @module
 */
import type { IdempotencyRecord } from "../core/idempotency.js";
import type { Update } from "../core/update.js";

/** What a running transport hands updates (and news of lost ones) to: the broker. */
export interface TransportReceiver {
  /**
   * An update in the shared order. `backlog` = it was already in the shared log when this node started:
   * it goes to history only (for resume), never to live subscribers as a new event.
   */
  deliver(update: Update, backlog: boolean): void;
  /**
   * Updates may have been lost before the next delivered one (e.g. Redis trimmed entries this node never
   * read). The broker marks its history so that a resume across this point reports incomplete.
   */
  gap(reason: string): void;
}

export interface Transport {
  /** Starts delivering updates (appended by any node) to `receiver`, in the transport's total order. */
  start(receiver: TransportReceiver): Promise<void>;
  /** Appends an update. Resolves once the transport accepted it (it will be delivered and retained). */
  append(update: Update): Promise<void>;
  /**
   * Optional: appends `updates` as consecutive entries of the total order (no other update between them),
   * all or none, and resolves once accepted. With `once`, the append happens only if `once.key` has no
   * record yet, and the record is written in the same atomic step, so a retry whose first attempt was
   * written but got no answer (timeout, dropped connection) finds it on any node: resolves `null` when
   * appended, or the record already there (nothing appended). A single-process transport may ignore
   * `once` (the broker remembers keys per process). Without this method the broker appends one by one.
   */
  appendBatch?(updates: readonly Update[], once?: IdempotentAppend): Promise<ExistingRecord | null>;
  /** Optional: the record of an idempotency key written by `appendBatch`, when there is one. */
  lookupIdempotency?(key: string): Promise<ExistingRecord | null>;
  /**
   * Optional: resolves once every update the transport had accepted when called has been delivered locally.
   * Lets a node that is behind answer a Last-Event-ID it has not seen yet without a gap or duplicates.
   */
  catchUp?(): Promise<void>;
  /** Stops delivering and releases resources. */
  close(): Promise<void>;
}

/** An idempotency key to record atomically with an append (see `Transport.appendBatch`). */
export interface IdempotentAppend {
  /** The publisher-scoped key (already hashed: no credential in it). */
  readonly key: string;
  readonly record: IdempotencyRecord;
  readonly ttlMs: number;
}

/** A record found under an idempotency key, with the time it has left. */
export interface ExistingRecord {
  readonly record: IdempotencyRecord;
  readonly ttlMs: number;
}
