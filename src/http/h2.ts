/**
 * Telling an HTTP/2 exchange (`node:http2`'s compatibility API) from an HTTP/1.x one. The handlers are
 * typed for `node:http`; on HTTP/2 they get `Http2ServerRequest`/`Http2ServerResponse`, whose `socket` is
 * a proxy of the connection every stream of the session shares: nothing may destroy it, pause it or set
 * its options for one stream, and connection-specific headers (`Connection`, `Keep-Alive`,
 * `Transfer-Encoding`) do not exist (RFC 9113, 8.2.2).
 * @module
 */
import type { ServerResponse } from "node:http";
import type { ServerHttp2Stream } from "node:http2";

/** The HTTP/2 stream under a compat response, or `undefined` on HTTP/1.x (`ServerResponse` has none). */
export function http2StreamOf(res: ServerResponse): ServerHttp2Stream | undefined {
  return (res as ServerResponse & { stream?: ServerHttp2Stream }).stream;
}

/** True for a response sent over HTTP/2. */
export function isHttp2(res: ServerResponse): boolean {
  return http2StreamOf(res) !== undefined;
}
