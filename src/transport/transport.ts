/**
 * Where published updates go before they are delivered: in memory (one process) or a backplane shared by
 * several nodes. A transport totally orders updates and hands each one to the receiver on every node, once.
 * @module
 */
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
   * Optional: resolves once every update the transport had accepted when called has been delivered locally.
   * Lets a node that is behind answer a Last-Event-ID it has not seen yet without a gap or duplicates.
   */
  catchUp?(): Promise<void>;
  /** Stops delivering and releases resources. */
  close(): Promise<void>;
}
