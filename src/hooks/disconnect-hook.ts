/**
 * Disconnect notifications: each stream that ends is queued, and batches are POSTed to the application
 * every `disconnectHookIntervalMs`, or as soon as `disconnectHookBatch` are waiting. Asynchronous: the
 * broker never waits for it. The queue is bounded (the oldest entries go first, counted); a failed POST
 * is retried a bounded number of times with a growing, jittered delay, then its batch is dropped
 * (counted). `close()` sends what is left, one attempt per batch.
 * @module
 */
import { LogLimiter } from "../core/log-limiter.js";
import { jitteredMs } from "../jitter.js";
import type { Logger } from "../options.js";
import { postJson } from "./post-json.js";

export interface Disconnect {
  readonly id: string;
  readonly client: string;
  readonly selectors: readonly string[];
  /** ms since the epoch */
  readonly openedAt: number;
  readonly closedAt: number;
  readonly reason: string;
}

export interface DisconnectHookOptions {
  readonly url: string;
  readonly intervalMs: number;
  readonly batch: number;
  readonly queue: number;
  readonly retries: number;
  readonly timeoutMs: number;
  readonly logger: Logger | null;
}

export interface DisconnectHookStats {
  /** Entries the application acknowledged (2xx). */
  sent: number;
  /** Entries dropped from a full queue (the oldest). */
  dropped: number;
  /** Entries given up after the last retry failed. */
  failed: number;
}

/** The application's answer body is not read; a small bound keeps a chatty one from costing memory. */
const MAX_ANSWER_BYTES = 4096;

export class DisconnectHook {
  readonly stats: DisconnectHookStats = { sent: 0, dropped: 0, failed: 0 };
  readonly #o: DisconnectHookOptions;
  readonly #log: LogLimiter | null;
  #queue: Disconnect[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** The batch being sent (with its retries), if any: one at a time, in order. */
  #sending: Promise<void> | null = null;
  #closing = false;
  /** Ends a retry's wait early (at close). */
  #wake: (() => void) | undefined;

  constructor(o: DisconnectHookOptions) {
    this.#o = o;
    this.#log = o.logger === null ? null : new LogLimiter(o.logger);
  }

  /** Entries waiting to be sent. */
  get queued(): number {
    return this.#queue.length;
  }

  add(d: Disconnect): void {
    if (this.#closing) return;
    this.#queue.push(d);
    if (this.#queue.length > this.#o.queue) {
      this.#queue.shift();
      this.stats.dropped++;
    }
    if (this.#queue.length >= this.#o.batch) this.#kick();
    else this.#schedule(this.#o.intervalMs);
  }

  /** Sends what is queued (one attempt per batch, retries left off) and stops. */
  async close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#wake?.();
    await this.#sending;
    while (this.#queue.length > 0) await this.#send(this.#queue.splice(0, this.#o.batch), 0);
  }

  #schedule(ms: number): void {
    if (this.#timer !== undefined || this.#sending !== null || this.#closing) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#kick();
    }, ms);
    this.#timer.unref();
  }

  #kick(): void {
    if (this.#sending !== null || this.#closing || this.#queue.length === 0) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#queue.splice(0, this.#o.batch);
    this.#sending = this.#send(batch, this.#o.retries).then(() => {
      this.#sending = null;
      if (this.#queue.length >= this.#o.batch) this.#kick();
      else if (this.#queue.length > 0) this.#schedule(this.#o.intervalMs);
    });
  }

  /** Never rejects. */
  async #send(batch: Disconnect[], retries: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const r = await postJson(this.#o.url, batch, {
        signal: AbortSignal.timeout(this.#o.timeoutMs),
        maxBytes: MAX_ANSWER_BYTES,
      });
      if (r.ok && r.status >= 200 && r.status < 300) {
        this.stats.sent += batch.length;
        return;
      }
      const reason = r.ok ? `status_${r.status}` : r.reason;
      if (attempt >= retries || this.#closing) {
        this.stats.failed += batch.length;
        this.#log?.warn(
          "disconnect-hook-failed",
          { reason, entries: batch.length },
          "Disconnect hook failed; batch dropped",
        );
        return;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, jitteredMs(this.#o.intervalMs * 2 ** attempt));
        t.unref();
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }
}
