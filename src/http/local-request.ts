/**
 * The rules for what needs no token because it comes from this machine: token-less `POST /publish` and
 * `/metrics` without `metricsToken`. "From loopback" alone is not enough: a reverse proxy on the host
 * makes every internet client loopback, a DNS-rebinding page reaches 127.0.0.1 under its own name, and a
 * browser sends a cross-site `text/plain` POST without a preflight. Each rule refuses with its own code.
 * @module
 */
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import { type ErrorCode, SseBrokerError } from "../errors.js";
import { type ClientInfo, isLoopbackAddress } from "./client-address.js";

/**
 * Refuses (403) unless the request is from this machine: no proxy headers unless the peer is a trusted
 * proxy, a loopback client address, and a loopback `Host`. `what` names the action in messages.
 */
export function assertLocalRequest(req: IncomingMessage, client: ClientInfo, what: string): void {
  if (!client.peerTrusted && client.proxyHeaders.length > 0) {
    throw forbidden(
      "SSEB_ERR_AUTH_PROXY_UNTRUSTED",
      `${what} is refused: the request carries proxy headers (${client.proxyHeaders.join(", ")}) from a peer that is not a trusted proxy (trustProxy, --trust-proxy)`,
    );
  }
  if (!isLoopbackAddress(client.address)) {
    throw forbidden("SSEB_ERR_AUTH_NOT_LOOPBACK", `${what} is allowed from loopback addresses only`);
  }
  if (!isLoopbackHost(hostOf(req))) {
    throw forbidden(
      "SSEB_ERR_AUTH_HOST_NOT_LOOPBACK",
      `${what} needs a loopback Host header (localhost, *.localhost, 127.x.x.x or [::1])`,
    );
  }
}

/**
 * Refuses (403) browser requests from other origins: an `Origin` must be listed in `allowedOrigins` or be
 * the broker's own (its demo page); `Sec-Fetch-Site` must be absent, `same-origin` or `none` unless the
 * origin is listed. Requests without these headers (curl, scripts) pass.
 */
export function assertSameOrigin(
  req: IncomingMessage,
  allowedOrigins: readonly string[],
  what: string,
): void {
  const origin = req.headers.origin;
  const listed = origin !== undefined && allowedOrigins.includes(origin);
  if (origin !== undefined && !listed && !isOwnOrigin(origin, hostOf(req))) {
    throw forbidden(
      "SSEB_ERR_AUTH_ORIGIN_REFUSED",
      `${what} is refused from this Origin (allow it with publishOrigins, --publish-cors-origin)`,
    );
  }
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && !listed && site !== "same-origin" && site !== "none") {
    throw forbidden("SSEB_ERR_AUTH_CROSS_SITE", `${what} is refused for a ${site} browser request`);
  }
}

function hostOf(req: IncomingMessage): string | undefined {
  const h = req.headers.host ?? req.headers[":authority"];
  return typeof h === "string" ? h : undefined;
}

/** The page served by this very broker under a loopback name (the demo page) is same-origin. */
function isOwnOrigin(origin: string, host: string | undefined): boolean {
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}

/** `localhost`, `*.localhost`, `127.x.x.x`, `[::1]` (IPv4-mapped forms too), each with an optional port. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const h = host.toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?$/.exec(h);
  if (m === null) return false;
  const name = m[1] as string;
  if (name.startsWith("[")) return isLoopbackAddress(name.slice(1, -1));
  if (isIP(name) === 4) return isLoopbackAddress(name);
  return name === "localhost" || (name.endsWith(".localhost") && !name.startsWith("."));
}

function forbidden(code: ErrorCode, message: string): SseBrokerError {
  return new SseBrokerError(code, message, { statusCode: 403 });
}
