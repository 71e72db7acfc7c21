/**
 * The process's open-file limit, from which the default stream cap is derived: streams stop short of it
 * so that `/healthz`, `/metrics` and publishes still get a file descriptor when streams are refused.
 * @module
 */
import { readFileSync } from "node:fs";

/** The soft "Max open files" limit (Linux `/proc/self/limits`), or `null` when unknown or unlimited. */
export function openFileSoftLimit(limitsText?: string): number | null {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync("/proc/self/limits", "utf8");
    } catch {
      return null;
    }
  }
  const m = /^Max open files\s+(\d+)\s/m.exec(text);
  return m === null ? null : Number(m[1]);
}

/** Streams allowed by default: the soft limit minus a reserve of max(256, 5 %); 10 000 when unknown. */
export function defaultMaxConnections(softLimit: number | null = openFileSoftLimit()): number {
  if (softLimit === null) return 10_000;
  return Math.max(1, softLimit - Math.max(256, Math.ceil(softLimit * 0.05)));
}

/** File descriptors the CLI server keeps free of connections (logs, files, Redis, listeners). */
export const SERVER_FD_RESERVE = 64;
