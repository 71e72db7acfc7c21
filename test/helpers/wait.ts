/**
 * Waiting for conditions (never for time) and recording logs, shared by the tests.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../src/options.js";

/** Polls `check` until it returns true; throws with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A logger that records what it is given, to check what was logged and how often. */
export function recordingLogger(): Logger & {
  lines: { level: string; obj: object; msg: string | undefined }[];
} {
  const lines: { level: string; obj: object; msg: string | undefined }[] = [];
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj, msg });
    };
  return { lines, info: at("info"), warn: at("warn"), error: at("error"), debug: at("debug") };
}
