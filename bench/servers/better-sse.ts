/**
 * Benchmarked peer: better-sse with its defaults (one session per request, one channel, `broadcast` of the
 * event object, which better-sse JSON-serializes, exactly as its documentation shows). Events come over
 * HTTP as a real app's would (`POST /publish` with the event JSON as the body: parsed, then broadcast),
 * or in-process from the harness (`bench/fanout.ts`).
 * @module
 */
import http from "node:http";
import { createChannel, createSession } from "better-sse";
import { runBenchServer } from "./control.js";

const channel = createChannel();
const server = http.createServer((req, res) => {
  if (req.method === "POST" && req.url === "/publish") {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      try {
        channel.broadcast(JSON.parse(Buffer.concat(parts).toString("utf8")));
        res.writeHead(200, { "Content-Type": "application/json", "Content-Length": 2 }).end("{}");
      } catch {
        res.writeHead(400).end();
      }
    });
    return;
  }
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
