/**
 * Turns an HTTP response into an event stream and hands its connection to the broker.
 *
 * On HTTP/1.1 the stream is sent without chunked encoding and the broker writes each event's bytes straight
 * to the socket: one write per event with no per-chunk framing or ServerResponse bookkeeping on the hot
 * path. The connection is not reused afterwards (an event stream only ends when the connection does).
 *
 * On HTTP/2 the connection carries other streams: the broker writes to the stream itself (its flow
 * control window and writable buffer are what a slow subscriber fills), ends or resets only it, and never
 * touches the shared socket.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { constants, type ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";
import type { PendingSubscription } from "../core/broker.js";
import type { Session, SessionSink } from "../core/session.js";
import { HEARTBEAT_HEADER, SSE_HEADERS } from "../wire/headers.js";
import { detachForStream } from "./connection.js";
import { dropStalledSession, http2StreamOf } from "./h2.js";

/** Keep-alive probes let the kernel notice peers that vanished without a FIN (behind NAT, pulled cables). */
const TCP_KEEPALIVE_MS = 30_000;
const HEADER_SAFE = /^[\t\x20-\x7e]*$/;

export function openEventStream(
  req: IncomingMessage,
  res: ServerResponse,
  pending: PendingSubscription,
  headers: Record<string, string> = {},
  /** Response field carrying the resume cursor (Mercure 1.0 names it `Mercure-Last-Event-ID`). */
  resumeField = "Last-Event-ID",
): Session {
  const h2 = http2StreamOf(res);
  const socket = h2 === undefined ? (res.socket as Socket | null) : null;
  const raw = socket !== null && req.httpVersionMajor === 1;
  const out: Record<string, string> = { ...SSE_HEADERS, ...headers };
  if (raw) out.Connection = "close";
  // The id that POST /subscribers/{id}/selectors (and the application) knows this stream by.
  out["SSE-Broker-Subscriber"] = pending.subscriberId;
  // What `sse-broker doctor` (and any client) expects between two writes when nothing is published.
  if (pending.heartbeatMs !== null) out[HEARTBEAT_HEADER] = String(pending.heartbeatMs);
  if (pending.resume !== null) {
    const { complete, lastEventId } = pending.resume;
    out[resumeField] = complete && HEADER_SAFE.test(lastEventId) ? lastEventId : "earliest";
  }
  if (h2 !== undefined) return openHttp2Stream(res, h2, pending, out);
  if (raw) {
    // No later request on this connection is ever handled (see connection.ts).
    detachForStream(socket);
    if (!writeRawHead(socket, res, out)) {
      // Without Transfer-Encoding Node frames nothing and closes the connection when the stream ends.
      res.removeHeader("Transfer-Encoding");
      res.writeHead(200, out);
      res.flushHeaders();
    }
  } else {
    res.writeHead(200, out);
    res.flushHeaders();
  }
  if (socket !== null) {
    // A stream is idle for long stretches by design: no idle timeout; no Nagle delay on small events.
    if (socket.timeout !== 0) socket.setTimeout(0);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
  }
  const sink: SessionSink = raw ? (socket as Socket) : res;
  const session = pending.open(sink);
  if (!raw) res.once("close", () => session.close("client"));
  return session;
}

/**
 * The stream is the sink: a Duplex with `writableNeedDrain`, cork and the flow-controlled buffer, without
 * the compat response's per-write checks. A stream the client already reset is handed over as it is: the
 * broker sees it destroyed and closes the session at once (`res.destroyed` does not exist on HTTP/2).
 * Its 'close' (client reset, session gone) ends the session, as a socket's does on HTTP/1.1.
 */
function openHttp2Stream(
  res: ServerResponse,
  stream: ServerHttp2Stream,
  pending: PendingSubscription,
  out: Record<string, string>,
): Session {
  if (!stream.destroyed && !stream.closed) {
    res.writeHead(200, out);
    res.flushHeaders();
    // Idle by design; the session's own timeout (see secure-server.ts) spares sessions with streams.
    stream.setTimeout(0);
    stream.destroy = cancelOnDestroy;
    eventStreams.add(stream);
  }
  return pending.open(stream as unknown as SessionSink);
}

const eventStreams = new WeakSet<ServerHttp2Stream>();

/** True for an HTTP/2 stream carrying an event stream (never finishes by design). */
export function isHttp2EventStream(stream: ServerHttp2Stream): boolean {
  return eventStreams.has(stream);
}

/**
 * A session drops a slow or failed subscriber with `destroy()`, which on HTTP/2 would reset the stream
 * with NO_ERROR: clients take that for a normal end of the response. CANCEL says it was cut, as a closed
 * socket does on HTTP/1.1. One shared function; streams already closed are left as Node closes them.
 */
function cancelOnDestroy(this: ServerHttp2Stream, err?: Error): ServerHttp2Stream {
  const session = this.session;
  const dropped = err === undefined && !this.closed && session !== undefined && !session.destroyed;
  if (dropped) this.close(constants.NGHTTP2_CANCEL);
  (Object.getPrototypeOf(this) as ServerHttp2Stream).destroy.call(this, err);
  if (dropped) dropStalledSession(session);
  return this;
}

/** Responses whose connection an event stream took over: nothing else may be written on them. */
const takenOver = new WeakSet<ServerResponse>();

export function isTakenOver(res: ServerResponse): boolean {
  return takenOver.has(res);
}

/**
 * Writes the response head straight to the socket the stream takes over, as Node's HTTP server does for an
 * upgraded connection: the response object is never used again, so neither its header checks and
 * bookkeeping nor the head string it would keep for the stream's whole life are paid (idle streams are many).
 * Headers set on `res` before (e.g. by a framework) are kept. Falls back to `res.writeHead` (false) for a
 * value it would not write as is.
 */
function writeRawHead(socket: Socket, res: ServerResponse, out: Record<string, string>): boolean {
  let head = "HTTP/1.1 200 OK\r\n";
  const set = res.getHeaders();
  for (const name of Object.keys(set)) {
    if (name === "transfer-encoding" || name === "content-length" || hasHeader(out, name)) continue;
    const v = set[name];
    for (const one of Array.isArray(v) ? v : [v]) {
      const text = String(one);
      if (!HEADER_SAFE.test(text) || !TOKEN.test(name)) return false;
      head += `${name}: ${text}\r\n`;
    }
  }
  for (const name of Object.keys(out)) {
    const text = out[name] as string;
    if (!HEADER_SAFE.test(text) || !TOKEN.test(name)) return false;
    head += `${name}: ${text}\r\n`;
  }
  head += `Date: ${utcDate()}\r\n\r\n`;
  takenOver.add(res);
  socket.write(head, "latin1");
  return true;
}

function hasHeader(out: Record<string, string>, lower: string): boolean {
  for (const k of Object.keys(out)) if (k.toLowerCase() === lower) return true;
  return false;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
let dateText = "";
let dateSecond = -1;

/** The `Date` value (RFC 9110 requires one from an origin server with a clock), made once per second. */
function utcDate(): string {
  const now = Math.floor(Date.now() / 1000);
  if (now !== dateSecond) {
    dateSecond = now;
    dateText = new Date(now * 1000).toUTCString();
  }
  return dateText;
}

/** `HEAD` on a stream route: the stream's headers, no body. */
export function headEventStream(res: ServerResponse, headers: Record<string, string> = {}): void {
  res.writeHead(200, { ...SSE_HEADERS, ...headers });
  res.end();
}
