/**
 * Request order on one HTTP/1.1 connection, and handing a connection over to an event stream.
 *
 * Node emits every request it parses at once, also those pipelined behind a response still in flight; such
 * a request's `res.socket` is `null` until the responses before it have finished. An event stream never
 * finishes, so a request queued behind one must never be handled (it used to become a session writing
 * into a response that never reached the wire and never closed). Requests therefore wait for their socket,
 * which also keeps them in order; a connection that carries a stream stops being parsed.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** Requests that may wait behind an unfinished response on one connection; one more closes it. */
export const MAX_QUEUED_REQUESTS = 16;

interface ConnectionState {
  queued: number;
  streaming: boolean;
}

const connections = new WeakMap<Socket, ConnectionState>();

function stateOf(socket: Socket): ConnectionState {
  let state = connections.get(socket);
  if (state === undefined) {
    state = { queued: 0, streaming: false };
    connections.set(socket, state);
  }
  return state;
}

/**
 * Runs `handle` once the response owns the connection: at once, or when the responses pipelined before it
 * have finished. Never, when the connection has become an event stream or closes first.
 */
export function whenConnectionFree(req: IncomingMessage, res: ServerResponse, handle: () => void): void {
  if (res.socket !== null) {
    handle();
    return;
  }
  const socket = req.socket as Socket | null;
  if (socket === null) return; // already gone
  const state = stateOf(socket);
  if (state.streaming) return;
  if (state.queued >= MAX_QUEUED_REQUESTS) {
    socket.destroy();
    return;
  }
  state.queued++;
  res.once("socket", () => {
    state.queued--;
    if (!state.streaming) handle();
  });
}

const discard = (): void => {};

/**
 * Marks the connection as carrying an event stream and stops Node's HTTP parser from reading it: anything a
 * client sends after the stream request is read and dropped, while end and close are still seen.
 *
 * Node's parser reads the socket natively; adding a `data` listener moves input to JS `data` events (Node's
 * http server wraps `socket.on` to "unconsume" the native parser), after which removing the server's own
 * `data` listener leaves our discarding one as the only reader.
 */
export function detachForStream(socket: Socket): void {
  const state = stateOf(socket);
  if (state.streaming) return;
  state.streaming = true;
  socket.on("data", discard);
  for (const listener of socket.listeners("data")) {
    if (listener !== discard) socket.off("data", listener as (...args: unknown[]) => void);
  }
  // Keep reading so that EOF is noticed. The server may have paused the socket (a request body nobody
  // reads, a flood of pipelined requests) while its parser read the handle natively: the stream then still
  // believes a read is pending, so resume() alone would not restart the handle (what Node's own
  // onSocketResume in lib/_http_server.js does for a consumed socket, done here once it is unconsumed).
  socket.resume();
  const handle = (socket as unknown as { _handle?: { reading?: boolean; readStart?: () => number } })._handle;
  if (handle !== undefined && handle.reading === false && typeof handle.readStart === "function") {
    handle.reading = true;
    handle.readStart();
  }
}
