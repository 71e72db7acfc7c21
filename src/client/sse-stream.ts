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

/** Resolves when the body ends; rejects when reading fails or an event is too large. */
export async function readEventStream(
  body: ReadableStream<Uint8Array>,
  handlers: StreamHandlers,
  maxEventChars: number,
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
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      if (tooLarge) throw new EventTooLargeError(maxEventChars);
    }
    // An event cut off by the end of the body is not dispatched (as in EventSource): it is resumed.
  } finally {
    reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
