/**
 * SIGINT/SIGTERM → graceful shutdown, then exit 0. A second signal exits at once; a safety timer exits
 * if shutdown hangs (e.g. a backplane that never answers), so a supervisor's stop never waits forever.
 * @module
 */
import { constants } from "node:os";
import type { Logger } from "pino";

export const FORCE_EXIT_MS = 4_000;

/**
 * Installs the handlers; returns the shutdown trigger for other sources (a cluster primary's message).
 * Calling it again is a no-op, unlike a second signal.
 */
export function exitOnSignals(
  shutdown: () => Promise<void>,
  log: Logger,
  forceExitMs = FORCE_EXIT_MS,
): (reason: string) => void {
  let stopping = false;
  const begin = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, "Shutting down: ending streams (clients reconnect and resume)");
    const force = setTimeout(() => {
      log.error({ forceExitMs }, "shutdown did not finish in time: exiting");
      process.exit(1);
    }, forceExitMs);
    force.unref();
    shutdown().then(
      () => {
        log.info("Stopped");
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, "second signal: exiting now");
      process.exit(128 + (constants.signals[signal] ?? 0));
    }
    begin(signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return begin;
}
