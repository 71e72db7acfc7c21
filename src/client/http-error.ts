/**
 * A refused request as a coded client error: the broker's own `{"error": {"code", "message"}}` is kept in
 * the message (never a token: the broker's messages carry none) and as the `cause`.
 * @module
 */
import { SseBrokerError } from "../errors.js";

export interface BrokerErrorBody {
  readonly code: string;
  readonly message: string;
}

/** Reads the response's error body (bounded by the response itself) and makes the error. */
export async function httpError(res: Response, what: string): Promise<SseBrokerError> {
  let body: BrokerErrorBody | undefined;
  try {
    const parsed = JSON.parse(await res.text()) as { error?: Partial<BrokerErrorBody> };
    const e = parsed?.error;
    if (typeof e?.code === "string" && typeof e.message === "string")
      body = { code: e.code, message: e.message };
  } catch {
    // not JSON: the status says enough
  }
  const detail = body === undefined ? "" : ` (${body.code}: ${body.message})`;
  return new SseBrokerError("SSEB_ERR_CLIENT_HTTP", `${what} answered ${res.status}${detail}`, {
    statusCode: res.status,
    ...(body === undefined ? {} : { cause: body }),
  });
}
