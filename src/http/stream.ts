/**
 * Turns an HTTP response into an event stream and hands its connection to the broker.
 *
 * On HTTP/1.1 the stream is sent without chunked encoding and the broker writes each event's bytes straight
 * to the socket: one write per event with no per-chunk framing or ServerResponse bookkeeping on the hot
 * path. The connection is not reused afterwards (an event stream only ends when the connection does).
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { PendingSubscription } from "../core/broker.js";
import type { Session, SessionSink } from "../core/session.js";
import { SSE_HEADERS } from "../wire/headers.js";
import { detachForStream } from "./connection.js";

/** Keep-alive probes let the kernel notice peers that vanished without a FIN (behind NAT, pulled cables). */
const TCP_KEEPALIVE_MS = 30_000;
const HEADER_SAFE = /^[\t\x20-\x7e]*$/;

export function openEventStream(
  req: IncomingMessage,
  res: ServerResponse,
  pending: PendingSubscription,
  headers: Record<string, string> = {},
): Session {
  const socket = res.socket as Socket | null;
  const raw = socket !== null && req.httpVersionMajor === 1;
  if (raw) {
    // Without Transfer-Encoding Node frames nothing and closes the connection when the stream ends.
    res.removeHeader("Transfer-Encoding");
    // No later request on this connection is ever handled (see connection.ts).
    detachForStream(socket);
  }
  const out: Record<string, string> = { ...SSE_HEADERS, ...headers };
  if (raw) out.Connection = "close";
  if (pending.resume !== null) {
    const { complete, lastEventId } = pending.resume;
    out["Last-Event-ID"] = complete && HEADER_SAFE.test(lastEventId) ? lastEventId : "earliest";
  }
  res.writeHead(200, out);
  res.flushHeaders();
  if (socket !== null) {
    // A stream is idle for long stretches by design: no idle timeout; no Nagle delay on small events.
    socket.setTimeout(0);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
  }
  const sink: SessionSink = raw ? (socket as Socket) : res;
  const session = pending.open(sink);
  if (!raw) res.once("close", () => session.close("client"));
  return session;
}

/** `HEAD` on a stream route: the stream's headers, no body. */
export function headEventStream(res: ServerResponse, headers: Record<string, string> = {}): void {
  res.writeHead(200, { ...SSE_HEADERS, ...headers });
  res.end();
}
