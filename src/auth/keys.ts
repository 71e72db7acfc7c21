/**
 * Verification keys for JWTs: a shared secret (HS*), a PEM public key, private key or certificate
 * (RS*, PS*, ES*, EdDSA), inline or from a file, or a remote JWKS. Everything is checked when options are
 * resolved, so a misconfigured key fails at start-up rather than on the first request.
 * @module
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRemoteJWKSet, type JWTVerifyGetKey } from "jose";
import { optionsError } from "../errors.js";

export const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;
export const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
] as const;

export type JwtAlgorithm = (typeof HMAC_ALGORITHMS)[number] | (typeof ASYMMETRIC_ALGORITHMS)[number];

export interface JwtKeyConfig {
  /** HS*: the shared secret. Others: a PEM public key (SPKI), private key or X.509 certificate. */
  key?: string | null | undefined;
  /** A file holding `key` (read once, at start-up). */
  keyFile?: string | null | undefined;
  /** Algorithm of `key`/`keyFile`. Defaults to `HS256` (the Mercure hub's default). */
  alg?: JwtAlgorithm | undefined;
  /** A JWKS URL (instead of a key); keys are fetched and cached by jose. */
  jwksUrl?: string | null | undefined;
  /** Algorithms accepted with `jwksUrl`. Defaults to every asymmetric algorithm (never HS* or `none`). */
  jwksAlgorithms?: readonly JwtAlgorithm[] | undefined;
}

/** A ready verification key and the only algorithms it may be used with (always explicit for jose). */
export interface VerificationKey {
  readonly key: KeyObject | Uint8Array | JWTVerifyGetKey;
  readonly algorithms: readonly JwtAlgorithm[];
}

const ALL = new Set<string>([...HMAC_ALGORITHMS, ...ASYMMETRIC_ALGORITHMS]);

function isHmac(alg: string): boolean {
  return alg.startsWith("HS");
}

/** Which `asymmetricKeyType`s fit an algorithm; a mismatch would only fail later, per request. */
function keyTypesFor(alg: JwtAlgorithm): readonly string[] {
  if (alg.startsWith("RS")) return ["rsa"];
  if (alg.startsWith("PS")) return ["rsa", "rsa-pss"];
  if (alg.startsWith("ES")) return ["ec"];
  return ["ed25519", "ed448"];
}

/**
 * Builds the verification key described by `cfg`, or `null` when it names none. `what` names the option
 * group in error messages (e.g. "publisher"). Throws SSEB_ERR_OPTIONS_INVALID on any inconsistency.
 */
export function loadVerificationKey(cfg: JwtKeyConfig, what: string): VerificationKey | null {
  const hasKey = cfg.key != null || cfg.keyFile != null;
  if (cfg.key != null && cfg.keyFile != null)
    throw optionsError(`${what}: give a JWT key or a key file, not both`);
  if (hasKey && cfg.jwksUrl != null) throw optionsError(`${what}: give a JWT key or a JWKS URL, not both`);
  if (cfg.jwksUrl != null) return jwksKey(cfg.jwksUrl, cfg.jwksAlgorithms ?? ASYMMETRIC_ALGORITHMS, what);
  if (!hasKey) return null;
  const alg = cfg.alg ?? "HS256";
  if (!ALL.has(alg)) throw optionsError(`${what}: unsupported JWT algorithm ${String(alg)}`);
  let material: string;
  if (cfg.keyFile != null) {
    try {
      material = readFileSync(cfg.keyFile, "utf8");
    } catch (cause) {
      throw optionsError(
        `${what}: cannot read the JWT key file ${cfg.keyFile} (${(cause as Error).message})`,
      );
    }
  } else {
    material = cfg.key as string;
  }
  if (typeof material !== "string" || material === "") throw optionsError(`${what}: the JWT key is empty`);
  const pem = material.includes("-----BEGIN");
  if (isHmac(alg)) {
    // A public key used as an HMAC secret is the classic algorithm-confusion attack: refuse the config.
    if (pem) throw optionsError(`${what}: ${alg} needs a shared secret, not a PEM key`);
    return { key: new TextEncoder().encode(material), algorithms: [alg] };
  }
  if (!pem) throw optionsError(`${what}: ${alg} needs a PEM public key, private key or certificate`);
  let key: KeyObject;
  try {
    // Accepts SPKI, PKCS#1/#8 private keys (public part derived) and X.509 certificates.
    key = createPublicKey(material);
  } catch {
    throw optionsError(`${what}: the JWT key is not a valid PEM key or certificate`);
  }
  if (!keyTypesFor(alg).includes(key.asymmetricKeyType ?? "")) {
    throw optionsError(`${what}: a ${key.asymmetricKeyType ?? "unknown"} key cannot verify ${alg}`);
  }
  return { key, algorithms: [alg] };
}

function jwksKey(url: string, algorithms: readonly JwtAlgorithm[], what: string): VerificationKey {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw optionsError(`${what}: the JWKS URL is not a valid URL`);
  }
  if (algorithms.length === 0 || algorithms.some((a) => !ALL.has(a) || isHmac(a))) {
    throw optionsError(`${what}: JWKS algorithms must be asymmetric JWT algorithms`);
  }
  return { key: createRemoteJWKSet(parsed), algorithms: [...algorithms] };
}
