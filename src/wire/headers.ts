/**
 * Response headers of every event stream. Frozen: shared by all connections.
 * @module
 */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "Content-Type": "text/event-stream; charset=utf-8",
  // no-transform keeps compression proxies from buffering the stream.
  "Cache-Control": "no-cache, no-transform",
  // nginx and similar proxies would otherwise buffer the response.
  "X-Accel-Buffering": "no",
});

/** Response header of a stream giving the broker's heartbeat interval in ms (absent when heartbeats are off). */
export const HEARTBEAT_HEADER = "SSE-Broker-Heartbeat";
