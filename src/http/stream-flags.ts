/**
 * On/off query parameters of a stream request (`missed`, `latest`; Mercure's `sse_broker_…`): `1` or `0`,
 * anything else a 400, so that a typo never silently means the default.
 * @module
 */
import { badRequest } from "../errors.js";

/** The flag `name` given as its first value, or `fallback` when absent. Throws 400 on another value. */
export function flagOf(value: string | undefined, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === "1") return true;
  if (value === "0") return false;
  throw badRequest(`${name} must be 0 or 1`);
}
