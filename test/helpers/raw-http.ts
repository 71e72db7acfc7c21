/**
 * Raw HTTP/1.1 exchanges over `node:net`: write exact bytes (malformed, truncated, pipelined), read the
 * answer bytes, and parse every response's status line in order. Hand-written because an HTTP client
 * (node:http, undici) refuses to send malformed requests and hides responses it cannot match to one.
 *
 * @example
 * const r = await exchange(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", { methods: ["GET"] });
 * assert.deepEqual(r.statuses, [200]);
 */
import { connect } from "node:net";
import { HOST } from "./net.js";

/** How an exchange ended. */
export type ExchangeEnd =
  /** every expected response arrived in full */
  | "complete"
  /** a `200 text/event-stream` response's headers arrived; the test closed the stream */
  | "stream"
  /** the server closed (or reset) the connection first */
  | "server-closed"
  /** no complete answer before the deadline; the test closed the connection */
  | "timeout";

export interface ExchangeResult {
  /** Final (non-1xx) status codes, one per response, in order. */
  readonly statuses: number[];
  /** 1xx status codes (e.g. `100 Continue`). */
  readonly informational: number[];
  /** Per final response, the `error.code` of a JSON error body (`null` when none), in order. */
  readonly codes: (string | null)[];
  readonly end: ExchangeEnd;
  /** The bytes did not parse as HTTP responses (reason), or `null`. */
  readonly malformed: string | null;
  readonly bytes: Buffer;
}

export interface ExchangeOptions {
  /**
   * Methods of the requests in the order sent, to know which responses have no body (HEAD) and how many
   * responses make the exchange complete. Defaults to `["GET"]`.
   */
  methods?: readonly string[];
  /** Half-close (FIN) after writing, for requests that are incomplete on purpose. Defaults to `false`. */
  halfClose?: boolean;
  /** Give up (close the socket) after this long without a complete answer. Defaults to `2000`. */
  deadlineMs?: number;
  /** Write the bytes in pieces at these offsets (one event-loop turn apart), to split the parse. */
  splitAt?: readonly number[];
}

interface Parsed {
  statuses: number[];
  informational: number[];
  codes: (string | null)[];
  /** Responses received in full. */
  complete: number;
  stream: boolean;
  malformed: string | null;
}

const CRLF2 = Buffer.from("\r\n\r\n");

/** Parses the responses in `buf` in order, as far as they go. */
export function parseResponses(buf: Buffer, methods: readonly string[]): Parsed {
  const p: Parsed = {
    statuses: [],
    informational: [],
    codes: [],
    complete: 0,
    stream: false,
    malformed: null,
  };
  let at = 0;
  while (at < buf.length) {
    const headEnd = buf.indexOf(CRLF2, at);
    if (headEnd === -1) {
      if (buf.length - at > 64 * 1024) p.malformed = "response head longer than 64 KiB";
      break;
    }
    const lines = buf.subarray(at, headEnd).toString("latin1").split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? "");
    if (m === null) {
      p.malformed = `not a status line: ${JSON.stringify((lines[0] ?? "").slice(0, 80))}`;
      break;
    }
    const status = Number(m[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
    }
    at = headEnd + 4;
    if (status >= 100 && status < 200 && status !== 101) {
      p.informational.push(status);
      continue;
    }
    p.statuses.push(status);
    p.codes.push(null);
    const method = (methods[p.statuses.length - 1] ?? "GET").toUpperCase();
    const type = headers.get("content-type") ?? "";
    if (status === 200 && method !== "HEAD" && type.startsWith("text/event-stream")) {
      p.stream = true;
      break;
    }
    if (method === "HEAD" || status === 204 || status === 304) {
      p.complete++;
      continue;
    }
    if (/(^|,)\s*chunked\s*$/i.test(headers.get("transfer-encoding") ?? "")) {
      const end = chunkedEnd(buf, at);
      if (end === -1) break;
      at = end;
      p.complete++;
      continue;
    }
    const length = headers.get("content-length");
    if (length !== undefined) {
      const n = Number(length);
      if (!Number.isSafeInteger(n) || n < 0) {
        p.malformed = `bad Content-Length ${JSON.stringify(length)}`;
        break;
      }
      if (buf.length - at < n) break;
      const code = /"code":"([A-Z0-9_]+)"/.exec(buf.subarray(at, at + n).toString("latin1"))?.[1];
      if (code !== undefined) p.codes[p.codes.length - 1] = code;
      at += n;
      p.complete++;
      continue;
    }
    break; // a body delimited by the connection's close: complete once the server closes
  }
  return p;
}

/** Offset just past a complete chunked body starting at `at`, or -1 while incomplete. */
function chunkedEnd(buf: Buffer, at: number): number {
  let i = at;
  for (;;) {
    const eol = buf.indexOf("\r\n", i);
    if (eol === -1) return -1;
    const size = Number.parseInt(buf.subarray(i, eol).toString("latin1").split(";")[0] ?? "", 16);
    if (!Number.isFinite(size) || size < 0) return -1;
    i = eol + 2;
    if (size === 0) {
      // Trailers (none expected) end with an empty line.
      const end = buf.indexOf(CRLF2, i - 2);
      return end === -1 ? -1 : end + 4;
    }
    if (buf.length < i + size + 2) return -1;
    i += size + 2;
  }
}

/**
 * Sends `request` on a fresh connection to 127.0.0.1:`port` and collects the answer until every expected
 * response arrived, a stream opened (closed at once), the server closed, or the deadline passed.
 * Never rejects: connection errors count as the server closing.
 */
export function exchange(
  port: number,
  request: string | Buffer,
  opts: ExchangeOptions = {},
): Promise<ExchangeResult> {
  const methods = opts.methods ?? ["GET"];
  const bytes = typeof request === "string" ? Buffer.from(request, "latin1") : request;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect({ host: HOST, port });
    const finish = (end: ExchangeEnd): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const all = Buffer.concat(chunks);
      const p = parseResponses(all, methods);
      resolve({
        statuses: p.statuses,
        informational: p.informational,
        codes: p.codes,
        end: end === "server-closed" && p.stream ? "stream" : end,
        malformed: p.malformed,
        bytes: all,
      });
    };
    const timer = setTimeout(() => finish("timeout"), opts.deadlineMs ?? 2000);
    socket.on("data", (d: Buffer) => {
      chunks.push(d);
      const p = parseResponses(Buffer.concat(chunks), methods);
      if (p.stream) finish("stream");
      else if (p.complete >= methods.length || p.malformed !== null) finish("complete");
    });
    socket.on("end", () => finish("server-closed"));
    socket.on("close", () => finish("server-closed"));
    socket.on("error", () => finish("server-closed"));
    socket.once("connect", () => {
      void writeAll(socket, bytes, opts.splitAt ?? []).then(() => {
        if (opts.halfClose === true && !socket.destroyed) socket.end();
      });
    });
  });
}

async function writeAll(socket: import("node:net").Socket, bytes: Buffer, splitAt: readonly number[]) {
  let from = 0;
  for (const at of [...splitAt].sort((a, b) => a - b)) {
    if (at <= from || at >= bytes.length) continue;
    if (socket.destroyed) return;
    socket.write(bytes.subarray(from, at));
    from = at;
    await new Promise((r) => setImmediate(r));
  }
  if (!socket.destroyed) socket.write(bytes.subarray(from));
}
