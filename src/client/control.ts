/**
 * The broker's in-band control events (src/core/missed-notice.ts, src/core/token-lifecycle.ts): named,
 * without an `id:` line, and never application data. The client hands them to their own typed callbacks.
 * @module
 */

/** `event:` type of "you missed events" before an incomplete replay. */
export const MISSED_EVENT = "sse-broker.missed";
/** `event:` type of the notice sent some time before a token ends the stream. */
export const TOKEN_EXPIRING_EVENT = "sse-broker.token-expiring";
/** `event:` type of the stream's last event when the broker ends it on purpose. */
export const CLOSED_EVENT = "sse-broker.closed";

/** Data of `sse-broker.missed`. */
export interface MissedNotice {
  /** The resume point the client sent. */
  readonly requested: string;
  /** Id of the first event replayed after the notice, or `null` when none is. */
  readonly earliest: string | null;
}

/** Data of `sse-broker.token-expiring`. */
export interface TokenExpiringNotice {
  /** When the stream ends unless a new token is posted (ISO 8601, UTC). */
  readonly expiresAt: string;
  /** The stream's subscriber id, when it has one. */
  readonly subscriber?: string | undefined;
}

/** Data of `sse-broker.closed`. */
export interface ClosedNotice {
  /** Why the broker ended the stream, e.g. `"token-expired"`. */
  readonly reason: string;
}

export interface ControlEvents {
  [MISSED_EVENT]: MissedNotice;
  [TOKEN_EXPIRING_EVENT]: TokenExpiringNotice;
  [CLOSED_EVENT]: ClosedNotice;
}

export type ControlType = keyof ControlEvents;

const CONTROL_TYPES: ReadonlySet<string> = new Set([MISSED_EVENT, TOKEN_EXPIRING_EVENT, CLOSED_EVENT]);

/** True for the `event:` types the broker reserves for control events. */
export function isControlType(type: string): type is ControlType {
  return CONTROL_TYPES.has(type);
}

/** The control event's data, or `undefined` when it is not the JSON object the broker sends. */
export function parseControl<K extends ControlType>(type: K, data: string): ControlEvents[K] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  switch (type) {
    case MISSED_EVENT:
      if (typeof v.requested !== "string" || !(typeof v.earliest === "string" || v.earliest === null))
        return undefined;
      break;
    case TOKEN_EXPIRING_EVENT:
      if (typeof v.expiresAt !== "string") return undefined;
      if (v.subscriber !== undefined && typeof v.subscriber !== "string") return undefined;
      break;
    case CLOSED_EVENT:
      if (typeof v.reason !== "string") return undefined;
      break;
  }
  return value as ControlEvents[K];
}
