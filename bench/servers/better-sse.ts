/**
 * Benchmarked peer: better-sse with its defaults (one session per request, one channel, `broadcast` of the
 * event object, which better-sse JSON-serializes, exactly as its documentation shows).
 * @module
 */
import http from "node:http";
import { createChannel, createSession } from "better-sse";
import { runBenchServer } from "./control.js";

const channel = createChannel();
const server = http.createServer((req, res) => {
  if (req.url?.startsWith("/events") !== true) {
    res.writeHead(404).end();
    return;
  }
  createSession(req, res).then(
    (session) => channel.register(session),
    (err: unknown) => console.error("session failed", err),
  );
});

runBenchServer(server, {
  publish(ev) {
    channel.broadcast(ev);
  },
  stats: () => ({ sessions: channel.sessionCount }),
});
