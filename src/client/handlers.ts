/**
 * Handler lists per event type. A throwing handler neither stops the others nor the stream: its error is
 * reported the way the platform reports uncaught errors (`reportError` in browsers, an uncaught exception
 * in Node), as an `EventTarget` listener's would be.
 * @module
 */

// biome-ignore lint/suspicious/noExplicitAny: handlers of every event type are kept in one map
type AnyHandler = (event: any) => void;

export class Handlers {
  readonly #byType = new Map<string, Set<AnyHandler>>();

  add(type: string, handler: AnyHandler): void {
    let set = this.#byType.get(type);
    if (set === undefined) {
      set = new Set();
      this.#byType.set(type, set);
    }
    set.add(handler);
  }

  remove(type: string, handler: AnyHandler): void {
    const set = this.#byType.get(type);
    set?.delete(handler);
    if (set?.size === 0) this.#byType.delete(type);
  }

  has(type: string): boolean {
    return this.#byType.has(type);
  }

  emit(type: string, event: unknown): void {
    const set = this.#byType.get(type);
    if (set === undefined) return;
    for (const handler of [...set]) {
      try {
        handler(event);
      } catch (err) {
        report(err);
      }
    }
  }
}

function report(err: unknown): void {
  const g = globalThis as { reportError?: (e: unknown) => void };
  if (typeof g.reportError === "function") g.reportError(err);
  else
    queueMicrotask(() => {
      throw err;
    });
}
