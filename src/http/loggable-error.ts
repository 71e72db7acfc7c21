/**
 * What of an unexpected error may reach a log: its kind, code, message and stack, never its other fields.
 * Node's ERR_INVALID_URL carries the whole URL it refused in `input`, other errors a `url` or request
 * object: any of them may hold a token. The logger is the application's (any `Logger`), so errors are
 * reduced here, before logging, rather than trusting its serializers.
 * @module
 */

const MAX_CAUSES = 3;

export interface LoggableError {
  type: string;
  message: string;
  code?: string;
  stack?: string;
  cause?: LoggableError;
}

export function loggableError(err: unknown, depth = 0): LoggableError {
  if (!(err instanceof Error)) return { type: typeof err, message: "non-error thrown" };
  const out: LoggableError = { type: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") out.code = code;
  if (err.stack !== undefined) out.stack = err.stack;
  if (err.cause !== undefined && depth < MAX_CAUSES) out.cause = loggableError(err.cause, depth + 1);
  return out;
}
