/**
 * At most `concurrency` hook calls at once, at most `queue` more waiting; past that, `run` says no at once
 * (the caller answers 503), so a flood of connects never opens unbounded outgoing requests nor an
 * unbounded queue. A waiting call whose signal fires leaves the queue. Hand-written: p-limit and its kin
 * have no queue bound nor abort of queued work, and this is a counter and an array.
 * @module
 */

export class Limiter {
  readonly #concurrency: number;
  readonly #queueMax: number;
  readonly #queue: (() => void)[] = [];
  #active = 0;

  constructor(concurrency: number, queue: number) {
    this.#concurrency = concurrency;
    this.#queueMax = queue;
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Runs `task` when a slot is free; `null` when the queue is full. Resolves `undefined` without running
   * it when `signal` fires while it waits.
   */
  run<T>(task: () => Promise<T>, signal: AbortSignal): Promise<T | undefined> | null {
    if (this.#active < this.#concurrency) return this.#start(task);
    if (this.#queue.length >= this.#queueMax) return null;
    return new Promise<T | undefined>((resolve) => {
      const go = (): void => {
        signal.removeEventListener("abort", leave);
        resolve(this.#start(task));
      };
      const leave = (): void => {
        const i = this.#queue.indexOf(go);
        if (i >= 0) this.#queue.splice(i, 1);
        resolve(undefined);
      };
      signal.addEventListener("abort", leave, { once: true });
      this.#queue.push(go);
    });
  }

  async #start<T>(task: () => Promise<T>): Promise<T> {
    this.#active++;
    try {
      return await task();
    } finally {
      this.#active--;
      this.#queue.shift()?.();
    }
  }
}
