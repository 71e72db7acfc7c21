/**
 * Plain responses: JSON bodies and errors. Any thrown SseBrokerError becomes its status and code; anything
 * else is a 500 without details (logged by the caller).
 * @module
 */
import type { ServerResponse } from "node:http";
import { SseBrokerError } from "../errors.js";
import { http2StreamOf, isHttp2 } from "./h2.js";
import { isTakenOver } from "./stream.js";

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    // Defaults a caller may replace (the Mercure 1.0 API: exactly `application/json`, `must-revalidate`).
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-store",
    ...headers,
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    "Content-Type": "text/plain; charset=utf-8",
    ...headers,
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-store",
  });
  res.end(text);
}

/** Answers with the error's status (500 for unexpected errors). Returns the status sent. */
export function sendError(res: ServerResponse, err: unknown, headers: Record<string, string> = {}): number {
  const known = err instanceof SseBrokerError && err.statusCode !== undefined;
  const status = known ? (err.statusCode as number) : 500;
  const code = known ? err.code : "SSEB_ERR_INTERNAL";
  const message = known ? err.message : "internal error";
  if (res.headersSent || isTakenOver(res)) {
    res.destroy();
    return status;
  }
  const extra: Record<string, string> = { ...headers };
  // HTTP/2 has no Connection header, and its connection carries other streams: only this one ends.
  const h1 = !isHttp2(res);
  if (status === 503 || status === 429) {
    extra["Retry-After"] = String((known && err.retryAfterSec) || 5);
    // A refused client should let go of its connection: the reserve is what keeps /healthz answering.
    if (h1) extra.Connection = "close";
  }
  if (status === 413 || status === 400) {
    if (h1) extra.Connection = "close";
    else resetWhenAnswered(res);
  }
  sendJson(res, status, { error: { code, message } }, extra);
  return status;
}

/**
 * HTTP/2's way to stop a body nobody reads, for this stream alone: once the answer is out, a reset with
 * NO_ERROR (RFC 9113, 8.1). Waits for the stream's own 'finish': the compat response's comes only once
 * the stream has closed.
 */
export function resetWhenAnswered(res: ServerResponse): void {
  const stream = http2StreamOf(res);
  stream?.once("finish", () => stream.close());
}

export function methodNotAllowed(res: ServerResponse, allow: string): void {
  sendJson(
    res,
    405,
    { error: { code: "SSEB_ERR_METHOD_NOT_ALLOWED", message: `method not allowed; allowed: ${allow}` } },
    { Allow: allow },
  );
}

export function notFound(res: ServerResponse): void {
  sendJson(res, 404, { error: { code: "SSEB_ERR_NOT_FOUND", message: "not found" } });
}
