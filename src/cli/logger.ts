/**
 * The CLI's logger: pino, human-readable through pino-pretty when stdout is a terminal, one JSON object
 * per line otherwise (for log collectors and tests).
 * @module
 */
import pino, { type Logger } from "pino";
import pretty from "pino-pretty";
import type { LogLevel } from "./option-specs.js";

/** Secrets that must never reach a log line, wherever a caller puts them. */
const REDACT = [
  "token",
  "publishToken",
  "authorization",
  "cookie",
  "password",
  "jwt",
  "redisUrl",
  "*.token",
  "*.publishToken",
  "*.authorization",
  "*.cookie",
  "*.password",
  "*.jwt",
  "*.redisUrl",
  "req.headers.authorization",
  "req.headers.cookie",
];

export interface LoggerOptions {
  level: LogLevel;
  /** Pretty output; defaults to whether stdout is a TTY. */
  pretty?: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  const base: pino.LoggerOptions = {
    level: options.level,
    redact: { paths: REDACT, censor: "[redacted]" },
  };
  if (options.pretty ?? process.stdout.isTTY === true) {
    // In-process and synchronous: a terminal is slow anyway, and no worker thread to manage on exit.
    return pino(
      base,
      pretty({
        colorize: true,
        sync: true,
        singleLine: true,
        translateTime: "SYS:HH:MM:ss.l",
        ignore: "hostname",
      }),
    );
  }
  // Asynchronous writes keep logging off the hot path; pino flushes them synchronously on exit.
  return pino(base, pino.destination({ fd: 1, sync: false }));
}
