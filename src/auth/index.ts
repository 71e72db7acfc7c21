/**
 * JWT authorization: keys, verification, token sources and claim dialects.
 * @module
 */
export { type ClaimsDialect, type Grants, mercureClaims } from "./claims.js";
export { mapJoseError, type VerifyOptions, verifyJwt } from "./jwt.js";
export {
  ASYMMETRIC_ALGORITHMS,
  HMAC_ALGORITHMS,
  type JwtAlgorithm,
  type JwtKeyConfig,
  loadVerificationKey,
  type VerificationKey,
} from "./keys.js";
export { type FoundToken, findToken, readCookie, type TokenSource } from "./token.js";
