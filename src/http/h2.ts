/**
 * Telling an HTTP/2 exchange (`node:http2`'s compatibility API) from an HTTP/1.x one. The handlers are
 * typed for `node:http`; on HTTP/2 they get `Http2ServerRequest`/`Http2ServerResponse`, whose `socket` is
 * a proxy of the connection every stream of the session shares: nothing may destroy it, pause it or set
 * its options for one stream, and connection-specific headers (`Connection`, `Keep-Alive`,
 * `Transfer-Encoding`) do not exist (RFC 9113, 8.2.2).
 * @module
 */
import type { ServerResponse } from "node:http";
import type { Http2Session, ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";

/** The HTTP/2 stream under a compat response, or `undefined` on HTTP/1.x (`ServerResponse` has none). */
export function http2StreamOf(res: ServerResponse): ServerHttp2Stream | undefined {
  return (res as ServerResponse & { stream?: ServerHttp2Stream }).stream;
}

/** True for a response sent over HTTP/2. */
export function isHttp2(res: ServerResponse): boolean {
  return http2StreamOf(res) !== undefined;
}

/**
 * The socket under each session, for the one case where it must be cut (see `dropStalledSession`): the
 * session only lends it out as a proxy that refuses `destroy`. Filled by secure-server.ts.
 */
const sockets = new WeakMap<Http2Session, Socket>();

export function registerSessionSocket(session: Http2Session, socket: Socket): void {
  sockets.set(session, socket);
}

/**
 * A stream dropped as slow while its session has no connection-level send window left: the peer reads
 * nothing on the whole connection, so every stream on it is stuck (each would be dropped in turn) and
 * the connection would stay forever, since closing a session waits until its socket has written
 * everything. An HTTP/1.1 socket in that state is closed; so is this connection.
 */
export function dropStalledSession(session: Http2Session): void {
  if (session.state.remoteWindowSize !== 0) return;
  cutSession(session);
}

/** Ends a session at once (a GOAWAY with `code` if it can still be sent) and its socket with it. */
export function cutSession(session: Http2Session, code?: number): void {
  if (!session.destroyed) session.destroy(undefined, code);
  sockets.get(session)?.destroy();
}

/** How long a session closed for being idle gets to finish (its peer to close its side) before it is cut. */
export const SESSION_CLOSE_GRACE_MS = 2_500;

/**
 * Closes a session (GOAWAY, then its socket ends) and cuts it if that has not finished within the grace:
 * a graceful close waits for the peer to close its side, and a peer that never does would keep it.
 */
export function closeSessionWithin(session: Http2Session, graceMs = SESSION_CLOSE_GRACE_MS): void {
  if (session.destroyed || session.closed) return;
  session.close();
  const cut = setTimeout(() => {
    session.destroy();
    sockets.get(session)?.destroy();
  }, graceMs);
  cut.unref();
  session.once("close", () => clearTimeout(cut));
}
