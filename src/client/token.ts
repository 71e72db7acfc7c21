/**
 * Bearer tokens for the stream: a fixed string or a provider the client asks on every connect, after a
 * 401 (once) and when the broker says the stream's token is expiring.
 * @module
 */

/** Why the client asks for a token; a provider that caches should fetch a new one unless `"connect"`. */
export type TokenReason = "connect" | "unauthorized" | "expiring";

export type TokenProvider =
  | string
  | ((context: { reason: TokenReason; signal: AbortSignal }) => string | Promise<string>);

/** The token, or `undefined` without a provider. */
export async function tokenOf(
  provider: TokenProvider | undefined,
  reason: TokenReason,
  signal: AbortSignal,
): Promise<string | undefined> {
  if (provider === undefined) return undefined;
  if (typeof provider === "string") return provider;
  const token = await provider({ reason, signal });
  if (typeof token !== "string" || token === "") throw new TypeError("the token provider gave no token");
  return token;
}

/** `Authorization` header value for a token. */
export const bearer = (token: string): string => `Bearer ${token}`;
