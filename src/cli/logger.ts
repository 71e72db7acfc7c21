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
  // A request URL may carry a token in its query (`?authorization=`).
  "req.url",
  "*.req.url",
];

/** Error fields that may hold a URL, hence a token: Node's ERR_INVALID_URL keeps the refused URL in `input`. */
const URL_FIELDS = ["input", "url"] as const;

/** pino's error serializer, minus URL-holding fields in the error and in the errors it nests. */
export function safeErrorSerializer(err: unknown): unknown {
  const out = pino.stdSerializers.err(err as Error) as unknown;
  strip(out, 0);
  return out;
}

function strip(value: unknown, depth: number): void {
  if (typeof value !== "object" || value === null || depth > 4) return;
  const o = value as Record<string, unknown>;
  for (const f of URL_FIELDS) delete o[f];
  for (const v of Object.values(o)) {
    if (Array.isArray(v)) for (const x of v) strip(x, depth + 1);
    else strip(v, depth + 1);
  }
}

export interface LoggerOptions {
  level: LogLevel;
  /** Pretty output; defaults to whether stdout is a TTY. */
  pretty?: boolean;
  /** Where JSON lines go instead of stdout (tests). */
  destination?: pino.DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const base: pino.LoggerOptions = {
    level: options.level,
    redact: { paths: REDACT, censor: "[redacted]" },
    serializers: { err: safeErrorSerializer },
  };
  if (options.destination !== undefined) return pino(base, options.destination);
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
