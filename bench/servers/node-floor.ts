/**
 * The plain Node floor: what any Node SSE server costs at least. `node:http`, no broker logic: each
 * `GET /events…` gets the SSE head, then the server writes to its socket directly (no chunked framing, as
 * sse-broker's raw streams), `TCP_NODELAY` on. `POST /publish` takes the event JSON as its body, encodes
 * `data: <body>\n\n` once, and writes those same bytes to every open stream, one write per event per
 * socket; then answers 200. No heartbeat, no history, no bound on a slow reader's buffer.
 * @module
 */
import http from "node:http";
import type { Socket } from "node:net";
import { runBenchServer } from "./control.js";

const streams = new Set<Socket>();

function broadcast(data: string): void {
  const bytes = Buffer.from(`data: ${data}\n\n`);
  for (const s of streams) s.write(bytes);
}

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url?.startsWith("/events") === true) {
    const socket = req.socket;
    // No Transfer-Encoding: Node then frames nothing and the stream ends with the connection.
    res.removeHeader("Transfer-Encoding");
    res.writeHead(200, {
      "Content-Type": "text/event-stream",
      "Cache-Control": "no-cache",
      Connection: "close",
    });
    res.flushHeaders();
    socket.setNoDelay(true);
    socket.setTimeout(0);
    streams.add(socket);
    socket.once("close", () => streams.delete(socket));
    return;
  }
  if (req.method === "POST" && req.url === "/publish") {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      broadcast(Buffer.concat(parts).toString("utf8"));
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": 2 }).end("{}");
    });
    return;
  }
  res.writeHead(404).end();
});
// Streams never time out; the harness closes them.
server.requestTimeout = 0;
server.headersTimeout = 0;

runBenchServer(server, {
  publish(ev) {
    broadcast(JSON.stringify(ev));
  },
  stats: () => ({ sessions: streams.size }),
});
