/**
 * The paths a broker serves when mounted inside a framework application (the app keeps `/`).
 * @module
 */
export const BROKER_PATHS: readonly string[] = Object.freeze([
  "/events",
  "/publish",
  "/healthz",
  "/metrics",
  "/.well-known/mercure",
  "/.well-known/mercure/*",
]);
