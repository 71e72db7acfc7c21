/**
 * Reads `--tls-cert`/`--tls-key` at start and checks them with OpenSSL, so that a wrong file is one
 * configuration error (exit 2) naming the file, not a failure at the first client's handshake.
 * @module
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { optionsError } from "../errors.js";

export interface TlsFiles {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export function loadTlsFiles(files: { certFile: string; keyFile: string }): TlsFiles {
  const cert = readPem("--tls-cert", files.certFile);
  const key = readPem("--tls-key", files.keyFile);
  // X509Certificate also refuses a file without any certificate, which a secure context would take.
  check(() => new X509Certificate(cert), `--tls-cert ${files.certFile}: not a PEM certificate`);
  check(() => createSecureContext({ cert }), `--tls-cert ${files.certFile}: not a PEM certificate`);
  check(
    () => createSecureContext({ key }),
    `--tls-key ${files.keyFile}: not a PEM private key (or encrypted)`,
  );
  check(
    () => createSecureContext({ cert, key }),
    `--tls-key ${files.keyFile} is not the private key of --tls-cert ${files.certFile}`,
  );
  return { cert, key };
}

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw optionsError(`${flag} ${file}: cannot read the file (${code})`);
  }
}

function check(make: () => unknown, message: string): void {
  try {
    make();
  } catch (err) {
    // OpenSSL's reason (e.g. "no start line", "key values mismatch") says what to look at.
    const reason = (err as { reason?: unknown }).reason;
    throw optionsError(typeof reason === "string" ? `${message} (${reason})` : message);
  }
}
