/**
 * Bounded request body reading: refuses early on Content-Length, stops reading past the limit, and
 * validates UTF-8, so a client can neither exhaust memory nor smuggle invalid text.
 * @module
 */
import type { IncomingMessage } from "node:http";
import { badRequest, SseBrokerError } from "../errors.js";

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) {
    req.resume(); // discard; the response closes the connection
    throw tooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw tooLarge(limit);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
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
