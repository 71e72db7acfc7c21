/**
 * Who the client is. The TCP peer, unless the peer is a configured trusted proxy: then the right-most
 * address of its forwarding headers that is not itself a trusted proxy (what the last trusted hop saw).
 * Forwarding headers from any other peer are never believed, only noticed (see local-request.ts).
 * Used by token-less publishing, `/metrics` and every per-IP limit.
 * @module
 */
import type { IncomingMessage } from "node:http";
import { BlockList, isIP } from "node:net";
import { badRequest, optionsError } from "../errors.js";

/** Headers a proxy adds; their presence from an untrusted peer refuses local-only requests. */
export const PROXY_HEADERS = [
  "x-forwarded-for",
  "forwarded",
  "x-real-ip",
  "x-forwarded-host",
  "x-forwarded-proto",
] as const;

export interface ClientInfo {
  /** The client's address (IPv4-mapped IPv6 written as IPv4). */
  readonly address: string;
  /** The TCP peer's address. */
  readonly peer: string;
  /** The peer is a trusted proxy (its forwarding headers decided `address`). */
  readonly peerTrusted: boolean;
  /** Proxy headers present on the request, by name. */
  readonly proxyHeaders: readonly string[];
}

/**
 * Validates `trustProxy` (IP addresses, CIDRs, or `"loopback"`) into a BlockList; `null` for none.
 * Throws SSEB_ERR_OPTIONS_INVALID naming the bad entry.
 */
export function trustedProxies(entries: readonly string[]): BlockList | null {
  if (!Array.isArray(entries) || entries.some((e) => typeof e !== "string")) {
    throw optionsError("trustProxy must be a list of IP addresses, CIDRs or 'loopback'");
  }
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const entry of entries) {
    const e = entry.trim();
    if (e === "loopback") {
      list.addSubnet("127.0.0.0", 8, "ipv4");
      list.addAddress("::1", "ipv6");
      continue;
    }
    const slash = e.indexOf("/");
    const address = slash === -1 ? e : e.slice(0, slash);
    const family = isIP(address);
    const bits = slash === -1 ? "" : e.slice(slash + 1);
    const max = family === 4 ? 32 : 128;
    if (family === 0 || (slash !== -1 && (!/^\d{1,3}$/.test(bits) || Number(bits) > max))) {
      throw optionsError(
        `trustProxy entry ${JSON.stringify(entry)} is not an IP address, a CIDR (like 10.0.0.0/8) or 'loopback'`,
      );
    }
    const type = family === 4 ? "ipv4" : "ipv6";
    if (slash === -1) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

/** `::ffff:127.0.0.1` → `127.0.0.1`; IPv6 lower-cased. */
export function normalizeAddress(address: string): string {
  const a = address.toLowerCase();
  if (a.startsWith("::ffff:") && isIP(a.slice(7)) === 4) return a.slice(7);
  return a;
}

export function inList(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 4 ? "ipv4" : "ipv6");
}

const LOOPBACK = trustedProxies(["loopback"]) as BlockList;

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopbackAddress(address: string | undefined): boolean {
  return address !== undefined && inList(LOOPBACK, address);
}

/** The request's client; throws 400 (SSEB_ERR_REQUEST_FORWARDED_INVALID) on a trusted peer's malformed headers. */
export function clientInfo(req: IncomingMessage, trusted: BlockList | null): ClientInfo {
  const peer = normalizeAddress(req.socket.remoteAddress ?? "");
  const proxyHeaders = PROXY_HEADERS.filter((h) => req.headers[h] !== undefined);
  const peerTrusted = trusted !== null && inList(trusted, peer);
  if (!peerTrusted || proxyHeaders.length === 0) {
    return { address: peer, peer, peerTrusted, proxyHeaders };
  }
  // Each header the proxy may have set names a client; when several are present they must agree, so a
  // client cannot slip a header past a proxy that only rewrites the other one.
  const found = new Set<string>();
  const xff = req.headers["x-forwarded-for"];
  if (xff !== undefined) found.add(walk(listOf(String(xff), "X-Forwarded-For"), trusted));
  const realIp = req.headers["x-real-ip"];
  if (realIp !== undefined) found.add(walk(listOf(String(realIp), "X-Real-IP"), trusted));
  const forwarded = req.headers.forwarded;
  if (forwarded !== undefined) {
    const chain = forwardedFor(String(forwarded));
    if (chain.length > 0) found.add(walk(chain, trusted));
  }
  if (found.size > 1) throw invalid("X-Forwarded-For, X-Real-IP and Forwarded name different clients");
  const [address = peer] = found;
  return { address, peer, peerTrusted, proxyHeaders };
}

/** Right to left, the first hop that is not a trusted proxy; the left-most when all are. */
function walk(chain: readonly string[], trusted: BlockList): string {
  for (let i = chain.length - 1; i >= 0; i--) {
    const a = chain[i] as string;
    if (!inList(trusted, a)) return a;
  }
  return chain[0] as string;
}

/** `a, b, c` of addresses (`1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]:80`); anything else is malformed. */
function listOf(value: string, header: string): string[] {
  return value.split(",").map((part) => {
    const a = addressOf(part.trim());
    if (a === null) throw invalid(`${header} holds something that is not an IP address`);
    return a;
  });
}

function addressOf(node: string): string | null {
  let a = node;
  if (a.startsWith("[")) {
    const end = a.indexOf("]");
    if (end === -1 || !/^(:\d{1,5})?$/.test(a.slice(end + 1))) return null;
    a = a.slice(1, end);
    return isIP(a) === 6 ? normalizeAddress(a) : null;
  }
  if (isIP(a) === 6) return normalizeAddress(a);
  const m = /^([0-9.]+)(:\d{1,5})?$/.exec(a);
  return m !== null && isIP(m[1] as string) === 4 ? (m[1] as string) : null;
}

/**
 * The `for=` addresses of a `Forwarded` header (RFC 7239), in order. Hand-written (a small scanner for
 * one parameter) so that every malformed form is refused; obfuscated and `unknown` nodes are refused too,
 * since no limit could be applied to them.
 */
function forwardedFor(value: string): string[] {
  const out: string[] = [];
  let i = 0;
  const n = value.length;
  const skipSpace = (): void => {
    while (i < n && (value[i] === " " || value[i] === "\t")) i++;
  };
  while (i < n) {
    skipSpace();
    const name = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(value.slice(i))?.[0];
    if (name === undefined || value[i + name.length] !== "=") throw invalid("malformed Forwarded header");
    i += name.length + 1;
    let v: string;
    if (value[i] === '"') {
      const end = value.indexOf('"', i + 1);
      if (end === -1) throw invalid("malformed Forwarded header");
      v = value.slice(i + 1, end);
      if (v.includes("\\")) throw invalid("malformed Forwarded header");
      i = end + 1;
    } else {
      v = /^[!#$%&'*+.^_`|~0-9A-Za-z:-]*/.exec(value.slice(i))?.[0] ?? "";
      if (v === "") throw invalid("malformed Forwarded header");
      i += v.length;
    }
    if (name.toLowerCase() === "for") {
      const a = addressOf(v);
      if (a === null) throw invalid("Forwarded for= must be an IP address");
      out.push(a);
    }
    skipSpace();
    if (i < n && value[i] !== ";" && value[i] !== ",") throw invalid("malformed Forwarded header");
    i++;
  }
  return out;
}

function invalid(message: string) {
  return badRequest(message, "SSEB_ERR_REQUEST_FORWARDED_INVALID");
}
