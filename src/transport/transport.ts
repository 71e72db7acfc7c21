/**
 * Where published updates go before they are delivered: in memory (one process) or a backplane shared by
 * several nodes. A transport totally orders updates and hands each one to `deliver` on every node, once.
 * @module
 */
import type { Update } from "../core/update.js";

export interface Transport {
  /** Starts delivering updates (appended by any node) to `deliver`, in the transport's total order. */
  start(deliver: (update: Update) => void): Promise<void>;
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
