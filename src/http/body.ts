/**
 * Bounded request body reading: refuses encodings it would not undo and early on Content-Length, stops
 * reading past the limit, and validates UTF-8, so a client can neither exhaust memory nor smuggle invalid
 * or still-compressed text.
 * @module
 */
import type { IncomingMessage } from "node:http";
import { badRequest, SseBrokerError } from "../errors.js";

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  if (req.readableEnded) {
    // Nothing left to read: what came would be an empty body, and the client's data would be lost.
    throw badRequest(
      "the request body was already read by a body parser mounted before the broker (e.g. express.json()); mount the broker before it",
    );
  }
  assertIdentityEncoding(req);
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) {
    req.resume(); // discard; the response closes the connection
    throw tooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        req.resume();
        throw tooLarge(limit);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof SseBrokerError) throw err;
    // The client went away mid-body (or the server's request timeout cut it): its error, not ours.
    throw new SseBrokerError("SSEB_ERR_REQUEST_ABORTED", "the request body did not arrive in full", {
      statusCode: 400,
      cause: err,
    });
  }
  return Buffer.concat(chunks, size);
}

/**
 * Throws 415 unless the body arrives as sent: `Transfer-Encoding` at most `chunked` (which Node undoes) and
 * `Content-Encoding` absent or `identity`. Node's parser de-chunks `gzip, chunked` and hands over the gzip
 * bytes as they are, which would be published as if they were the text.
 */
export function assertIdentityEncoding(req: IncomingMessage): void {
  const te = req.headers["transfer-encoding"];
  if (te !== undefined && te.trim().toLowerCase() !== "chunked") {
    req.resume();
    throw unsupportedEncoding("Transfer-Encoding other than chunked is not supported");
  }
  const ce = req.headers["content-encoding"];
  if (ce !== undefined && ce.trim().toLowerCase() !== "identity" && ce.trim() !== "") {
    req.resume();
    throw unsupportedEncoding("Content-Encoding must be identity (compressed bodies are not supported)");
  }
}

function unsupportedEncoding(message: string): SseBrokerError {
  return new SseBrokerError("SSEB_ERR_MEDIA_TYPE_UNSUPPORTED", message, { statusCode: 415 });
}

/**
 * A body an earlier middleware (Express's `express.json()`, `express.text()`, `express.raw()`) already read
 * and parsed into `req.body`, or `undefined` when the request stream is still unread.
 */
export function parsedBody(req: IncomingMessage): { value: unknown } | undefined {
  if (!req.readableEnded) return undefined;
  const value = (req as IncomingMessage & { body?: unknown }).body;
  return value === undefined ? undefined : { value };
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export function decodeUtf8(body: Buffer): string {
  try {
    return decoder.decode(body);
  } catch {
    throw badRequest("body is not valid UTF-8");
  }
}

function tooLarge(limit: number): SseBrokerError {
  return new SseBrokerError("SSEB_ERR_BODY_TOO_LARGE", `body larger than ${limit} bytes`, {
    statusCode: 413,
  });
}

/** The media type of a request, lower-cased, without parameters ("" when absent). */
export function mediaType(req: IncomingMessage): string {
  const ct = req.headers["content-type"] ?? "";
  return (ct.split(";")[0] ?? "").trim().toLowerCase();
}
