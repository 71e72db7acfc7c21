/**
 * The TLS listener: HTTP/2 with HTTP/1.1 fallback (`node:http2` with `allowHTTP1`), both served by the
 * same request handler through Node's compatibility API.
 *
 * What `node:http` gives an HTTP/1.1 server and HTTP/2 sessions do not have is added here: a session
 * that never opens a stream is closed after the header timeout, an idle session (no open stream) after
 * the keep-alive timeout, a request whose answer has not started within the request timeout gets 408,
 * and shutdown sends every session a GOAWAY, then cuts what is left. Connection options (no Nagle delay,
 * TCP keep-alive) are set once per connection, never per stream: on HTTP/2 a socket carries many.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  constants,
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  type ServerHttp2Stream,
} from "node:http2";
import type { BlockList, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { SseBrokerError } from "../errors.js";
import type { RefusalCounts } from "../metrics/refusals.js";
import { SocketAdmission } from "./admission.js";
import { clientErrorHandler } from "./client-error.js";
import { closeSessionWithin, cutSession, dropStalledSession, registerSessionSocket } from "./h2.js";
import { resetWhenAnswered, sendError } from "./respond.js";
import { isHttp2EventStream } from "./stream.js";

/** Concurrent streams a client may open on one session (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
export const MAX_CONCURRENT_STREAMS = 256;
/** Header bytes (HPACK-decoded, RFC 9113 accounting) and fields one HTTP/2 request may carry. */
export const MAX_HEADER_LIST_BYTES = 65_535;
export const MAX_HEADER_LIST_PAIRS = 128;
const TCP_KEEPALIVE_MS = 30_000;

export interface SecureServerOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** A connection must send its first request (HTTP/1.1 headers, or an HTTP/2 stream) within this. */
  readonly headersTimeoutMs: number;
  /** A request must be answered (its answer started) within this: bounds slow uploads. */
  readonly requestTimeoutMs: number;
  /** A connection without an open request or stream is closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** Where timeouts and refused connections are counted. */
  readonly refused: RefusalCounts;
  /** Per-address caps on TCP connections (see `SocketAdmission`); `trusted` peers are exempt. */
  readonly maxConnectionsPerIp: number | null;
  readonly connectionRatePerIp: number | null;
  readonly trusted: BlockList | null;
}

export interface SecureServer {
  readonly server: Http2SecureServer;
  /** Stops new streams (GOAWAY on every session) and ends idle HTTP/1.1 connections. */
  closeIdle(): void;
  /** Cuts every connection still open. */
  closeAll(): void;
}

interface Http1Settings {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionsCheckingInterval: number;
  closeIdleConnections(): void;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export function createSecureBrokerServer(handler: Handler, o: SecureServerOptions): SecureServer {
  const server = createSecureServer({
    cert: o.cert,
    key: o.key,
    allowHTTP1: true,
    // Node's own bounds on what a peer may make a session hold, said here so that they hold whatever
    // the Node version: header fields and bytes per request (past them the stream is refused), memory
    // per session (past it new streams are refused), refused streams and invalid frames per session
    // (past them the session is closed), SETTINGS frames awaiting their ACK.
    settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS, maxHeaderListSize: MAX_HEADER_LIST_BYTES },
    maxHeaderListPairs: MAX_HEADER_LIST_PAIRS,
    maxSessionMemory: 10,
    maxSessionRejectedStreams: 100,
    maxSessionInvalidFrames: 1_000,
    maxSettings: 32,
    // TLS handshakes that never finish count as connections sending nothing.
    handshakeTimeout: o.headersTimeoutMs,
  });
  // HTTP/1.1 fallback: node:http's own timeouts, which the secure server runs with allowHTTP1 (its
  // typings omit them). keepAliveTimeout it leaves unset, which would keep idle connections forever.
  const h1 = server as unknown as Http1Settings;
  h1.headersTimeout = o.headersTimeoutMs;
  h1.requestTimeout = o.requestTimeoutMs;
  h1.keepAliveTimeout = o.keepAliveTimeoutMs;
  h1.connectionsCheckingInterval = Math.max(
    100,
    Math.min(1_000, Math.floor(Math.min(o.headersTimeoutMs, o.requestTimeoutMs) / 2)),
  );
  // Sessions: idle ones (no open stream) are closed; one with streams is left alone (streams are idle
  // by design). HTTP/1.1 sockets reach this only outside a request (a stream turns its timeout off).
  server.setTimeout(o.keepAliveTimeoutMs);
  server.on("timeout", (target: Http2Session | Socket) => {
    if (!isSession(target)) target.destroy();
    else if ((openStreams.get(target) ?? 0) === 0) closeSessionWithin(target);
  });

  // Before the handshake: one address may not hold unbounded handshakes or sessions without streams.
  const admission = new SocketAdmission(o, o.refused);
  server.on("connection", (raw: Socket) => admission.admit(raw));

  const sockets = new Set<TLSSocket>();
  const sessions = new Set<Http2Session>();
  const openStreams = new WeakMap<Http2Session, number>();
  // Node's own 'secureConnection' listener (registered first) creates the session and emits 'session'
  // synchronously: the socket of the session seen last is the one arriving here right after.
  let lastSession: Http2Session | undefined;
  server.on("secureConnection", (socket: TLSSocket) => {
    if (lastSession !== undefined) registerSessionSocket(lastSession, socket);
    lastSession = undefined;
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.setNoDelay(true);
    socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
  });
  server.on("session", (session: Http2Session) => {
    lastSession = session;
    sessions.add(session);
    openStreams.set(session, 0);
    const silent = setTimeout(() => closeSessionWithin(session), o.headersTimeoutMs);
    silent.unref();
    session.once("stream", () => clearTimeout(silent));
    session.once("close", () => {
      clearTimeout(silent);
      sessions.delete(session);
    });
  });
  const resets = new WeakMap<Http2Session, ResetBudget>();
  server.on("stream", (stream: ServerHttp2Stream) => {
    const session = stream.session;
    if (session === undefined) return;
    openStreams.set(session, (openStreams.get(session) ?? 0) + 1);
    stream.once("close", () => {
      openStreams.set(session, (openStreams.get(session) ?? 1) - 1);
      if (stream.rstCode !== constants.NGHTTP2_NO_ERROR && overResetBudget(resets, session)) {
        cutSession(session, constants.NGHTTP2_ENHANCE_YOUR_CALM);
      }
    });
  });
  const onClientError = clientErrorHandler(o.refused);
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    // node:http's parse and timeout errors get its answer; a failed TLS handshake gets none (nothing
    // readable could be sent on it).
    if (/^(HPE_|ERR_HTTP_)/.test(err.code ?? "")) onClientError(err, socket);
    else socket.destroy();
  });
  server.on(
    "request",
    (req: Http2ServerRequest | IncomingMessage, res: Http2ServerResponse | ServerResponse) => {
      if (req.httpVersionMajor === 2) answerInTime(res as Http2ServerResponse, o.requestTimeoutMs, o.refused);
      handler(req as IncomingMessage, res as ServerResponse);
    },
  );

  return {
    server,
    closeIdle() {
      for (const s of sessions) s.close();
      h1.closeIdleConnections();
    },
    closeAll() {
      for (const s of sessions) s.destroy();
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** Streams a session may have reset (by either side) in a burst, and per second after it. */
export const RESET_BURST = MAX_CONCURRENT_STREAMS;
export const RESETS_PER_SEC = 32;

interface ResetBudget {
  tokens: number;
  at: number;
}

/**
 * Rapid reset (CVE-2023-44487): streams opened and reset at once each cost a request, an admission and
 * a broker session. nghttp2 has its own budget (1 000, then 33/s), but when it runs out it only sends a
 * GOAWAY and stops reading: Node never learns of it, and the connection stays until the idle timeout,
 * its peer long gone. This smaller budget is spent first, and the broker cuts the connection itself.
 * Resets the broker sends (slow readers, 408, 413) count too: a client earning that many is no better.
 */
function overResetBudget(budgets: WeakMap<Http2Session, ResetBudget>, session: Http2Session): boolean {
  const now = performance.now();
  let b = budgets.get(session);
  if (b === undefined) {
    b = { tokens: RESET_BURST, at: now };
    budgets.set(session, b);
  }
  b.tokens = Math.min(RESET_BURST, b.tokens + ((now - b.at) * RESETS_PER_SEC) / 1000);
  b.at = now;
  if (b.tokens < 1) return true;
  b.tokens -= 1;
  return false;
}

function isSession(x: Http2Session | Socket): x is Http2Session {
  return typeof (x as Http2Session).goaway === "function";
}

/**
 * node:http's `requestTimeout` for an HTTP/2 request: 408 when its answer has not started in time (an
 * upload too slow), then the stream is reset so that the client stops sending. Event streams start their
 * answer at once and are never affected. Another answer not finished by then is reset (CANCEL): its
 * client gives it no flow-control window (reads nothing), and the stream, its buffered body and its
 * session would otherwise stay forever; an HTTP/1.1 socket hands such an answer to the kernel instead.
 */
function answerInTime(res: Http2ServerResponse, ms: number, refused: RefusalCounts): void {
  const timer = setTimeout(() => {
    const stream = res.stream;
    if (stream.destroyed || stream.closed) return;
    if (res.headersSent) {
      if (isHttp2EventStream(stream)) return;
      refused.request_timeout++;
      stream.close(constants.NGHTTP2_CANCEL);
      if (stream.session !== undefined) dropStalledSession(stream.session);
      return;
    }
    refused.request_timeout++;
    const err = new SseBrokerError("SSEB_ERR_REQUEST_TIMEOUT", "the request did not arrive in time", {
      statusCode: 408,
    });
    // A 408 is not among sendError's resets (400, 413): the upload must stop here too.
    resetWhenAnswered(res as unknown as ServerResponse);
    sendError(res as unknown as ServerResponse, err);
  }, ms);
  timer.unref();
  res.once("close", () => clearTimeout(timer));
}
