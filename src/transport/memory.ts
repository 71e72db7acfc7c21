/**
 * The single-process transport: appending is delivering, synchronously, so the order is the call order.
 * @module
 */
import type { Update } from "../core/update.js";
import { SseBrokerError } from "../errors.js";
import type { Transport } from "./transport.js";

export class MemoryTransport implements Transport {
  #deliver: ((update: Update) => void) | undefined;

  async start(deliver: (update: Update) => void): Promise<void> {
    this.#deliver = deliver;
  }

  append(update: Update): Promise<void> {
    if (this.#deliver === undefined) {
      return Promise.reject(
        new SseBrokerError("SSEB_ERR_BROKER_CLOSED", "broker is not running", { statusCode: 503 }),
      );
    }
    this.#deliver(update);
    return Promise.resolve();
  }

  async close(): Promise<void> {
    this.#deliver = undefined;
  }
}
