/**
 * The single-process transport: appending is delivering, synchronously, so the order is the call order.
 * Nothing precedes the process (no backlog) and nothing is lost (no gap).
 * @module
 */
import type { Update } from "../core/update.js";
import { SseBrokerError } from "../errors.js";
import type { ExistingRecord, Transport, TransportReceiver } from "./transport.js";

export class MemoryTransport implements Transport {
  #receiver: TransportReceiver | undefined;

  async start(receiver: TransportReceiver): Promise<void> {
    this.#receiver = receiver;
  }

  append(update: Update): Promise<void> {
    if (this.#receiver === undefined) {
      return Promise.reject(
        new SseBrokerError("SSEB_ERR_BROKER_CLOSED", "broker is not running", { statusCode: 503 }),
      );
    }
    this.#receiver.deliver(update, false);
    return Promise.resolve();
  }

  /** Delivers `updates` in one synchronous loop: nothing can come between them. Keys: see the broker. */
  appendBatch(updates: readonly Update[]): Promise<ExistingRecord | null> {
    const receiver = this.#receiver;
    if (receiver === undefined) {
      return Promise.reject(
        new SseBrokerError("SSEB_ERR_BROKER_CLOSED", "broker is not running", { statusCode: 503 }),
      );
    }
    for (const u of updates) receiver.deliver(u, false);
    return Promise.resolve(null);
  }

  async close(): Promise<void> {
    this.#receiver = undefined;
  }
}
