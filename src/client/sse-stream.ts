/**
 * Reads one `text/event-stream` response body with eventsource-parser: bytes decoded as UTF-8 across chunk
 * boundaries, events handed over as they complete, bounded by `maxEventChars` (a stream that never ends
 * an event must not grow memory without bound).
 * @module
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";

export interface StreamHandlers {
  onEvent(message: EventSourceMessage): void;
  onRetry(ms: number): void;
  onComment?(comment: string): void;
}

/** Thrown when one event grows past the bound; the connection is then dropped and resumed. */
export class EventTooLargeError extends Error {
  constructor(maxChars: number) {
    super(`an event is larger than ${maxChars} characters`);
    this.name = "EventTooLargeError";
  }
}

/** Thrown when nothing (not even a heartbeat comment) arrived for the idle timeout: a dead connection. */
export class IdleTimeoutError extends Error {
  constructor(ms: number) {
    super(`nothing received for ${ms} ms`);
    this.name = "IdleTimeoutError";
  }
}

/**
 * Resolves when the body ends; rejects when reading fails, an event is too large, or nothing arrived for
 * `idleTimeoutMs` (`null` = wait for ever).
 */
export async function readEventStream(
  body: ReadableStream<Uint8Array>,
  handlers: StreamHandlers,
  maxEventChars: number,
  idleTimeoutMs: number | null = null,
): Promise<void> {
  let tooLarge = false;
  const parser = createParser({
    onEvent: (m) => handlers.onEvent(m),
    onRetry: (ms) => handlers.onRetry(ms),
    onComment: (c) => handlers.onComment?.(c),
    onError: (err) => {
      // Unknown fields and bad retry values are ignored, as EventSource does; only the bound stops us.
      if (err.type === "max-buffer-size-exceeded") tooLarge = true;
    },
    maxBufferSize: maxEventChars,
  });
  const decoder = new TextDecoder("utf-8");
  const reader = body.getReader();
  let idle = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    if (idleTimeoutMs === null) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      idle = true;
      reader.cancel().catch(() => {});
    }, idleTimeoutMs);
  };
  try {
    arm();
    for (;;) {
      const { done, value } = await reader.read();
      if (idle) throw new IdleTimeoutError(idleTimeoutMs as number);
      if (done) break;
      arm();
      parser.feed(decoder.decode(value, { stream: true }));
      if (tooLarge) throw new EventTooLargeError(maxEventChars);
    }
    // An event cut off by the end of the body is not dispatched (as in EventSource): it is resumed.
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
