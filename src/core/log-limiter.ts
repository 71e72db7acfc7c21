/**
 * Bounds what clients can make the broker log: lines of one kind (a connection opening, a slow client
 * dropped…) pass at a steady rate with a burst allowance; the rest are counted, and the next line of that
 * kind, or `flush()`, says how many were left out. Logging stays useful without becoming an amplifier.
 * @module
 */
import type { Logger } from "../options.js";

export interface LogRate {
  /** Lines per second of one kind, on average. */
  readonly perSecond: number;
  /** Lines of one kind allowed at once. */
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
  suppressed: number;
  level: "info" | "warn";
}

export class LogLimiter {
  readonly #log: Logger;
  readonly #rate: LogRate;
  readonly #buckets = new Map<string, Bucket>();

  constructor(log: Logger, rate: LogRate = { perSecond: 10, burst: 50 }) {
    this.#log = log;
    this.#rate = rate;
  }

  /** `msg` may be a function, called only when the line is written. */
  info(kind: string, obj: object, msg: string | (() => string)): void {
    this.#write("info", kind, obj, msg);
  }

  warn(kind: string, obj: object, msg: string | (() => string)): void {
    this.#write("warn", kind, obj, msg);
  }

  /** Reports the lines left out since each kind's last line (called from a timer the broker already has). */
  flush(): void {
    for (const [kind, b] of this.#buckets) {
      if (b.suppressed > 0) {
        this.#log[b.level](
          { kind, suppressed: b.suppressed },
          `${b.suppressed} more "${kind}" lines not logged`,
        );
        b.suppressed = 0;
      } else if (b.tokens >= this.#rate.burst) {
        this.#buckets.delete(kind); // idle and full: forget it (the set of kinds is fixed anyway)
      }
    }
  }

  #write(level: "info" | "warn", kind: string, obj: object, message: string | (() => string)): void {
    const now = Date.now();
    let b = this.#buckets.get(kind);
    if (b === undefined) {
      b = { tokens: this.#rate.burst, at: now, suppressed: 0, level };
      this.#buckets.set(kind, b);
    } else {
      b.tokens = Math.min(this.#rate.burst, b.tokens + ((now - b.at) / 1000) * this.#rate.perSecond);
      b.at = now;
    }
    if (b.tokens < 1) {
      b.suppressed++;
      return;
    }
    b.tokens--;
    const msg = typeof message === "string" ? message : message();
    if (b.suppressed > 0) {
      this.#log[level]({ ...obj, suppressed: b.suppressed }, msg);
      b.suppressed = 0;
    } else {
      this.#log[level](obj, msg);
    }
  }
}
