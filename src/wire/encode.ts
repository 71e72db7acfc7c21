/**
 * SSE wire encoding (WHATWG HTML, "Server-sent events"). Pure functions: an event is encoded once into a
 * Buffer and that same Buffer is written to every subscriber.
 * @module
 */
import { SseBrokerError } from "../errors.js";

export interface SseEvent {
  /** `id:` field; `""` resets the client's last event id; `undefined` writes no id line. */
  id?: string | undefined;
  /** `event:` field (the EventSource event type); absent means `message`. */
  event?: string | undefined;
  /** Payload; split into one `data:` line per line (CR, LF and CRLF all end a line). */
  data: string;
  /** `retry:` reconnection time in milliseconds. */
  retry?: number | undefined;
}

const LINE_BREAK = /\r\n|\r|\n/;
const FIELD_FORBIDDEN = /[\r\n\0]/;

/** Throws SSEB_ERR_WIRE_FIELD_INVALID when a single-line field would inject other fields. */
export function assertField(name: "id" | "event", value: string): void {
  if (FIELD_FORBIDDEN.test(value)) {
    throw new SseBrokerError("SSEB_ERR_WIRE_FIELD_INVALID", `${name} must not contain CR, LF or NUL`, {
      statusCode: 400,
    });
  }
}

/** Throws SSEB_ERR_WIRE_FIELD_INVALID unless `retry` is a non-negative safe integer. */
export function assertRetry(retry: number): void {
  if (!Number.isSafeInteger(retry) || retry < 0) {
    throw new SseBrokerError("SSEB_ERR_WIRE_FIELD_INVALID", "retry must be a non-negative integer", {
      statusCode: 400,
    });
  }
}

// The parser strips exactly one space after the colon, so a value starting with a space needs one added.
function field(name: string, value: string): string {
  return value.charCodeAt(0) === 0x20 ? `${name}: ${value}\n` : `${name}:${value}\n`;
}

/** Encodes one event as text, ending with the blank line that dispatches it. Validates id/event/retry. */
export function encodeEventText(ev: SseEvent): string {
  let out = "";
  if (ev.id !== undefined) {
    assertField("id", ev.id);
    out += field("id", ev.id);
  }
  if (ev.event !== undefined) {
    assertField("event", ev.event);
    out += field("event", ev.event);
  }
  if (ev.retry !== undefined) {
    assertRetry(ev.retry);
    out += `retry:${ev.retry}\n`;
  }
  // Fast path: most payloads (JSON) are one line.
  if (ev.data.indexOf("\n") === -1 && ev.data.indexOf("\r") === -1) {
    out += field("data", ev.data);
  } else {
    for (const line of ev.data.split(LINE_BREAK)) out += field("data", line);
  }
  return `${out}\n`;
}

/** Encodes one event into the bytes written to every subscriber. */
export function encodeEvent(ev: SseEvent): Buffer {
  return Buffer.from(encodeEventText(ev), "utf8");
}

/** A comment line (`:` prefix), ignored by clients; used for heartbeats and hints. */
export function encodeComment(text = ""): Buffer {
  const lines = text.split(LINE_BREAK);
  return Buffer.from(`${lines.map((l) => (l === "" ? ":" : `: ${l}`)).join("\n")}\n\n`, "utf8");
}

/** A standalone `retry:` line. */
export function encodeRetry(retryMs: number): Buffer {
  assertRetry(retryMs);
  return Buffer.from(`retry:${retryMs}\n\n`, "utf8");
}
