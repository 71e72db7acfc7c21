/**
 * Opens one event stream the way a browser would (it accepts gzip, deflate and br, so a compressing proxy
 * shows itself) and records what reached the client and when: status and headers, time to headers and to
 * the first bytes, every network chunk, every SSE item (comment, event, retry) and how the stream ended.
 * Measures only; checks.ts judges.
 * @module
 */
import { type ClientRequest, request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Socket } from "node:net";
import { createBrotliDecompress, createGunzip, createInflate, constants as zlib } from "node:zlib";
import { createParser } from "eventsource-parser";

/** Kept per run at most; the counts go on past it (a busy stream for 10 minutes). */
const MAX_RECORDS = 100_000;
const CONNECT_TIMEOUT_MS = 10_000;
/** An SSE item (line run) larger than this is a stream no proxy test needs to parse. */
const MAX_ITEM_BYTES = 1 << 20;

export interface ProbeItem {
  /** ms since the request started. */
  readonly atMs: number;
  readonly kind: "comment" | "event" | "retry";
  /** Index of the network chunk it arrived in (items of one chunk arrived together). */
  readonly chunk: number;
}

export interface ProbeChunk {
  readonly atMs: number;
  readonly bytes: number;
}

export interface ProbeResult {
  readonly connectMs: number;
  readonly headersMs: number | null;
  readonly status: number | null;
  readonly httpVersion: string | null;
  /** Lower-case names, as received. */
  readonly headers: Readonly<Record<string, string>>;
  readonly firstByteMs: number | null;
  readonly chunks: readonly ProbeChunk[];
  readonly items: readonly ProbeItem[];
  readonly chunkCount: number;
  readonly itemCount: number;
  readonly bytes: number;
  /** How the probe ended: the planned duration, the stream ending cleanly, or a reset/abort. */
  readonly end: { readonly atMs: number; readonly how: "duration" | "closed" | "reset" };
  /** Set when the body could not be decoded (unknown Content-Encoding, corrupt data). */
  readonly decodeError: string | null;
}

export interface ProbeOptions {
  readonly url: URL;
  readonly headers: readonly (readonly [string, string])[];
  /** Watch this long after the request starts, then close. Re-read once headers arrived (see onHeaders). */
  durationMs: number;
  /** Called once the response head arrived (e.g. to publish a probe event, or fix the duration). */
  readonly onHeaders?: (res: ProbeResult) => void;
  /** Called for every event, with its data and arrival time. */
  readonly onEvent?: (data: string, atMs: number) => void;
}

/** The stream could not be tested at all: nothing answered (refused, DNS, TLS, timeout). */
export class UnreachableError extends Error {}

export function probe(opts: ProbeOptions): Promise<ProbeResult> {
  const started = performance.now();
  const now = (): number => Math.round(performance.now() - started);
  const headers: Record<string, string> = {
    Accept: "text/event-stream",
    "Accept-Encoding": "gzip, deflate, br",
    "Cache-Control": "no-cache",
    "User-Agent": "sse-broker-doctor",
  };
  for (const [k, v] of opts.headers) {
    for (const existing of Object.keys(headers))
      if (existing.toLowerCase() === k.toLowerCase()) delete headers[existing];
    headers[k] = v;
  }
  const state = {
    connectMs: -1,
    headersMs: null as number | null,
    status: null as number | null,
    httpVersion: null as string | null,
    headers: {} as Record<string, string>,
    firstByteMs: null as number | null,
    chunks: [] as ProbeChunk[],
    items: [] as ProbeItem[],
    chunkCount: 0,
    itemCount: 0,
    bytes: 0,
    decodeError: null as string | null,
  };
  const snapshot = (end: ProbeResult["end"]): ProbeResult => ({ ...state, end });

  return new Promise<ProbeResult>((resolve, reject) => {
    const send = opts.url.protocol === "https:" ? httpsRequest : httpRequest;
    let req: ClientRequest;
    let done = false;
    let durationTimer: NodeJS.Timeout | undefined;
    const finish = (how: ProbeResult["end"]["how"]): void => {
      if (done) return;
      done = true;
      clearTimeout(durationTimer);
      clearTimeout(connectTimer);
      const result = snapshot({ atMs: now(), how });
      req.destroy();
      resolve(result);
    };
    const fail = (message: string): void => {
      if (done) return;
      done = true;
      clearTimeout(durationTimer);
      clearTimeout(connectTimer);
      req.destroy();
      reject(new UnreachableError(message));
    };
    const armDuration = (): void => {
      clearTimeout(durationTimer);
      durationTimer = setTimeout(() => finish("duration"), Math.max(0, opts.durationMs - now()));
    };
    try {
      req = send(opts.url, { method: "GET", headers, agent: false });
    } catch (err) {
      reject(new UnreachableError(`cannot request the stream URL: ${(err as Error).message}`));
      return;
    }
    const connectTimer = setTimeout(
      () => fail(`no connection to ${opts.url.host} within ${CONNECT_TIMEOUT_MS} ms`),
      Math.min(CONNECT_TIMEOUT_MS, opts.durationMs),
    );
    armDuration();
    req.once("socket", (socket: Socket) => {
      const connected = (): void => {
        if (state.connectMs < 0) state.connectMs = now();
        clearTimeout(connectTimer);
      };
      socket.once(opts.url.protocol === "https:" ? "secureConnect" : "connect", connected);
    });
    req.once("error", (err: NodeJS.ErrnoException) => {
      if (state.status === null) fail(reachError(err, opts.url));
      else finish("reset");
    });
    req.once("response", (res: IncomingMessage) => {
      state.headersMs = now();
      state.status = res.statusCode ?? null;
      state.httpVersion = res.httpVersion;
      for (const [k, v] of Object.entries(res.headers)) {
        if (v !== undefined) state.headers[k] = Array.isArray(v) ? v.join(", ") : v;
      }
      opts.onHeaders?.(snapshot({ atMs: now(), how: "duration" }));
      armDuration(); // onHeaders may have set the duration (from an advertised heartbeat)
      const parser = createParser({
        onEvent: (ev) => {
          record("event");
          opts.onEvent?.(ev.data, now());
        },
        onComment: () => record("comment"),
        onRetry: () => record("retry"),
      });
      const record = (kind: ProbeItem["kind"]): void => {
        state.itemCount++;
        if (state.items.length < MAX_RECORDS)
          state.items.push({ atMs: now(), kind, chunk: state.chunkCount - 1 });
      };
      const decoder = new TextDecoder();
      let pendingLine = 0;
      const feed = (buf: Buffer): void => {
        // The parser keeps an unterminated line; bound it (a proxy test never needs a 1 MiB line).
        const nl = Math.max(buf.lastIndexOf(10), buf.lastIndexOf(13));
        pendingLine = nl < 0 ? pendingLine + buf.length : buf.length - nl - 1;
        if (pendingLine > MAX_ITEM_BYTES) {
          state.decodeError ??= "an SSE line longer than 1 MiB: stopped parsing";
          return;
        }
        if (state.decodeError === null) parser.feed(decoder.decode(buf, { stream: true }));
      };
      const decode = decoderFor(state.headers["content-encoding"]);
      if (decode === "unknown")
        state.decodeError = `cannot decode Content-Encoding ${state.headers["content-encoding"]}`;
      else if (decode !== null) {
        decode.on("data", feed);
        decode.on("error", (err: Error) => {
          state.decodeError ??= `the compressed body does not decode: ${err.message}`;
        });
      }
      res.on("data", (chunk: Buffer) => {
        const at = now();
        state.firstByteMs ??= at;
        state.chunkCount++;
        state.bytes += chunk.length;
        if (state.chunks.length < MAX_RECORDS) state.chunks.push({ atMs: at, bytes: chunk.length });
        if (decode === null) feed(chunk);
        else if (decode !== "unknown" && state.decodeError === null) decode.write(chunk);
      });
      res.once("end", () => finish(res.complete ? "closed" : "reset"));
      res.once("aborted", () => finish("reset"));
      res.once("error", () => finish("reset"));
    });
    req.end();
  });
}

type Decoder = ReturnType<typeof createGunzip>;

/** A streaming decoder that hands out what it has at every flush point, or null for identity. */
function decoderFor(encoding: string | undefined): Decoder | null | "unknown" {
  const e = (encoding ?? "").trim().toLowerCase();
  if (e === "" || e === "identity") return null;
  const flush = { finishFlush: zlib.Z_SYNC_FLUSH };
  if (e === "gzip" || e === "x-gzip") return createGunzip(flush);
  if (e === "deflate") return createInflate(flush);
  if (e === "br") return createBrotliDecompress({ finishFlush: zlib.BROTLI_OPERATION_FLUSH });
  return "unknown";
}

/** One line that says what went wrong, without the URL's path or query (they may carry a token). */
function reachError(err: NodeJS.ErrnoException, url: URL): string {
  const where = url.host;
  switch (err.code) {
    case "ECONNREFUSED":
      return `connection refused by ${where}: nothing listens there`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `cannot resolve ${url.hostname}`;
    case "ECONNRESET":
      return `${where} closed the connection before any response`;
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `cannot reach ${where} (${err.code})`;
    default:
      if (/certificate|SSL|TLS/i.test(`${err.code ?? ""} ${err.message}`)) {
        return `TLS with ${where} failed: ${err.message} (a private CA goes in NODE_EXTRA_CA_CERTS)`;
      }
      return `${where}: ${err.message}${err.code === undefined ? "" : ` (${err.code})`}`;
  }
}
