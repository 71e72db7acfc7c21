/**
 * Who may open the live console (`/ui/`, see console.ts). A local request — the rules token-less
 * publishing uses (local-request.ts): a loopback client address, a loopback `Host`, and no proxy headers
 * unless a trusted proxy sent them and named a loopback client — always may, unless the console is off.
 * Anyone else only with `consoleMode: "on"` and the console token, given as the password of HTTP Basic
 * (any user name: a browser asks for it once and sends it with every request under `/ui/`) or as a
 * bearer token (scripts). A reverse proxy on the same machine therefore never opens the console to the
 * internet: its requests carry `X-Forwarded-For`/`Forwarded`, and an untrusted peer's proxy headers make
 * a request non-local.
 * @module
 */
import type { IncomingMessage } from "node:http";
import type { Broker } from "../core/broker.js";
import { SseBrokerError } from "../errors.js";
import { clientOf, limitsOf } from "./limits.js";
import { assertLocalRequest } from "./local-request.js";
import { safeEqual } from "./ops.js";

/** The challenge of a 401: Basic, so that a browser prompts for the token and then sends it by itself. */
export const CONSOLE_CHALLENGE = 'Basic realm="sse-broker console", charset="UTF-8"';

/**
 * Refuses a request for the console: 404 (`SSEB_ERR_NOT_FOUND`) when it is not local and the console is
 * local-only, 401 without the token (`SSEB_ERR_AUTH_REQUIRED`) or with a wrong one
 * (`SSEB_ERR_AUTH_TOKEN_INVALID`). Throws 400 on a trusted proxy's malformed forwarding headers.
 */
export function assertConsoleAccess(broker: Broker, req: IncomingMessage): void {
  const o = broker.options;
  const local = isLocal(req, broker);
  if (local) return;
  const refused = limitsOf(broker).refused;
  if (o.consoleMode !== "on" || o.consoleToken === null) {
    refused.not_local++;
    throw new SseBrokerError(
      "SSEB_ERR_NOT_FOUND",
      "not found: the console answers requests from this machine only (see --console)",
      { statusCode: 404 },
    );
  }
  const given = consoleTokenOf(req);
  if (given === undefined) {
    refused.console_token++;
    throw new SseBrokerError("SSEB_ERR_AUTH_REQUIRED", "the console needs its token", { statusCode: 401 });
  }
  if (!safeEqual(given, o.consoleToken)) {
    refused.console_token++;
    throw new SseBrokerError("SSEB_ERR_AUTH_TOKEN_INVALID", "wrong console token", { statusCode: 401 });
  }
}

function isLocal(req: IncomingMessage, broker: Broker): boolean {
  try {
    assertLocalRequest(req, clientOf(broker, req), "the console");
    return true;
  } catch (err) {
    // A trusted proxy's malformed headers are the client's 400, not a reason to ask for a token.
    if ((err as SseBrokerError).statusCode === 400) throw err;
    return false;
  }
}

/** The token of `Authorization: Bearer <t>` or the password of `Authorization: Basic`, if any. */
export function consoleTokenOf(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth === undefined) return undefined;
  const m = /^(Bearer|Basic)[ ]+(\S+)[ ]*$/i.exec(auth);
  if (m === null) return undefined;
  const value = m[2] as string;
  if ((m[1] as string).toLowerCase() === "bearer") return value;
  const decoded = Buffer.from(value, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const password = colon === -1 ? "" : decoded.slice(colon + 1);
  return password === "" ? undefined : password;
}
