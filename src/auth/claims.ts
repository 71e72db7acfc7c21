/**
 * Claims → grants. A token dialect turns a verified payload into what its bearer may do; today the classic
 * Mercure `mercure` claim, later e.g. OAuth access tokens with `authorization_details` (Mercure 1.0 draft)
 * as another `ClaimsDialect` without touching the hub.
 * @module
 */
import type { JWTPayload } from "jose";

export interface Grants {
  /** Topic selectors the bearer may publish to; `null` = publishing not granted. */
  readonly publish: readonly string[] | null;
  /** Topic selectors whose private updates the bearer may receive; `null` = none granted. */
  readonly subscribe: readonly string[] | null;
  /** Application data attached to the bearer's subscriptions (`mercure.payload`). */
  readonly payload: unknown;
  /** Token expiry in ms since epoch (`exp`), if any. */
  readonly expiresAt: number | undefined;
}

export type ClaimsDialect = (payload: JWTPayload) => Grants;

function selectors(v: unknown): readonly string[] | null {
  // Anything but a list of strings grants nothing: a malformed claim must not widen access.
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) return null;
  return Object.freeze([...v]);
}

/** The classic Mercure dialect: `{"mercure": {"publish": [...], "subscribe": [...], "payload": ...}}`. */
export const mercureClaims: ClaimsDialect = (payload) => {
  const m = payload.mercure;
  const claim =
    typeof m === "object" && m !== null && !Array.isArray(m) ? (m as Record<string, unknown>) : {};
  return {
    publish: selectors(claim.publish),
    subscribe: selectors(claim.subscribe),
    payload: claim.payload,
    expiresAt: typeof payload.exp === "number" ? payload.exp * 1000 : undefined,
  };
};
