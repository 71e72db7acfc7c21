/**
 * JWT verification with jose. Algorithms are always passed explicitly (never read from the token), so
 * `alg: none` and algorithm substitution are refused by construction. Errors are mapped to coded 401s whose
 * messages name the reason, never the token.
 * @module
 */
import { errors, type JWTPayload, jwtVerify } from "jose";
import { SseBrokerError } from "../errors.js";
import type { VerificationKey } from "./keys.js";

export interface VerifyOptions {
  /** Seconds of clock skew tolerated on `exp`/`nbf`. Defaults to `0`. */
  clockToleranceSec?: number;
  /** Accepted `aud` values: the token must name one of them. Defaults to `null` (not checked). */
  audience?: string | readonly string[] | null;
  /** Accepted `iss` values: the token's must be one of them. Defaults to `null` (not checked). */
  issuer?: string | readonly string[] | null;
}

/** Verifies a compact JWS and returns its payload; throws SSEB_ERR_AUTH_TOKEN_INVALID or _EXPIRED (401) otherwise. */
export async function verifyJwt(
  token: string,
  vk: VerificationKey | null,
  opts: VerifyOptions = {},
): Promise<JWTPayload> {
  if (vk === null) throw invalid("no key is configured to verify this token");
  try {
    // jose's overloads split key objects and key functions; both are accepted at runtime.
    const { payload } = await jwtVerify(token, vk.key as Parameters<typeof jwtVerify>[1], {
      algorithms: [...vk.algorithms],
      clockTolerance: opts.clockToleranceSec ?? 0,
      ...(opts.audience == null ? {} : { audience: listOf(opts.audience) }),
      ...(opts.issuer == null ? {} : { issuer: listOf(opts.issuer) }),
    });
    return payload;
  } catch (err) {
    throw mapJoseError(err);
  }
}

function listOf(v: string | readonly string[]): string[] {
  return typeof v === "string" ? [v] : [...v];
}

const CLAIM_NAMES: Record<string, string> = { aud: "audience (aud)", iss: "issuer (iss)" };

function invalid(message: string, cause?: unknown): SseBrokerError {
  return new SseBrokerError("SSEB_ERR_AUTH_TOKEN_INVALID", message, { statusCode: 401, cause });
}

export function mapJoseError(err: unknown): SseBrokerError {
  if (err instanceof SseBrokerError) return err;
  if (err instanceof errors.JWTExpired) {
    return new SseBrokerError("SSEB_ERR_AUTH_TOKEN_EXPIRED", "token expired", {
      statusCode: 401,
      cause: err,
    });
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    const named = CLAIM_NAMES[err.claim];
    if (named !== undefined) {
      return invalid(
        err.reason === "missing"
          ? `token has no ${named} claim`
          : `token ${named} is not accepted by this hub`,
        err,
      );
    }
    return invalid(
      err.claim === "nbf" ? "token is not valid yet" : `token claim ${err.claim} is invalid`,
      err,
    );
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return invalid("token algorithm not allowed", err);
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalid("token signature is invalid", err);
  if (err instanceof errors.JWKSNoMatchingKey) return invalid("no key matches the token", err);
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JOSENotSupported) {
    return invalid("token cannot be verified", err);
  }
  if (err instanceof errors.JOSEError || err instanceof TypeError) return invalid("token is malformed", err);
  // Anything else (e.g. the JWKS endpoint failing) is still a refusal, never a pass.
  return invalid("token cannot be verified", err);
}
