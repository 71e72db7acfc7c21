/**
 * The server's `clientError` answer: what Node does by default (408 for a request cut by
 * `headersTimeout`/`requestTimeout`, 431 for oversized headers, 400 otherwise, nothing once a response
 * has started), plus counting the timeouts as `request_timeout` refusals.
 * @module
 */
import type { Socket } from "node:net";
import type { RefusalCounts } from "../metrics/refusals.js";

const ANSWERS: Record<string, string> = {
  ERR_HTTP_REQUEST_TIMEOUT: "408 Request Timeout",
  HPE_HEADER_OVERFLOW: "431 Request Header Fields Too Large",
};

export function clientErrorHandler(refused: RefusalCounts) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") refused.request_timeout++;
    // A response already under way (e.g. a publish still reading its body) must not get a second head.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code !== "ECONNRESET" && socket.writable && inFlight?.headersSent !== true) {
      const status = ANSWERS[err.code ?? ""] ?? "400 Bad Request";
      socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    }
    socket.destroy();
  };
}
