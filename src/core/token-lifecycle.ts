/**
 * In-band token lifecycle of a stream that ends at its token's expiry: `sse-broker.token-expiring` some
 * time before (`tokenExpiryNoticeMs`), so the application can post a fresh token for the subscriber, and a
 * final `sse-broker.closed` event when the stream ends for it, so the client knows it was not a network
 * failure and never takes the silence for an anonymous stream.
 *
 * Neither has an `id:` line: the client's last event id (and so its `Last-Event-ID` resume point) stays the
 * last real event's.
 * @module
 */
import { encodeEvent } from "../wire/encode.js";

/** The notice's `event:` type. */
export const TOKEN_EXPIRING_EVENT = "sse-broker.token-expiring";
/** The final event's `event:` type. */
export const CLOSED_EVENT = "sse-broker.closed";

/** The notice's JSON data. */
export interface TokenExpiringNotice {
  /** When the stream ends unless a new token is posted (ISO 8601, UTC). */
  readonly expiresAt: string;
  /** The stream's subscriber id, when it has one (where a new token is posted). */
  readonly subscriber?: string | undefined;
}

/** Why the stream ended, in the final event's JSON data. */
export type ClosedReason = "token-expired";

/** The notice's bytes: `event:` and one `data:` line, never an `id:` line. */
export function encodeTokenExpiring(expiresAt: number, subscriber: string | undefined): Buffer {
  const notice: TokenExpiringNotice = {
    expiresAt: new Date(expiresAt).toISOString(),
    ...(subscriber === undefined ? {} : { subscriber }),
  };
  return encodeEvent({ event: TOKEN_EXPIRING_EVENT, data: JSON.stringify(notice) });
}

/** The final event's bytes; the same for every stream, so made once. */
export const TOKEN_EXPIRED_FRAME: Buffer = encodeEvent({
  event: CLOSED_EVENT,
  data: JSON.stringify({ reason: "token-expired" satisfies ClosedReason }),
});
