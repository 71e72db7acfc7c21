/**
 * Publisher for servers that take events over HTTP only (nchan): the same timer and payload as the
 * in-process publishers, each event a POST on a keep-alive connection (`node http-publisher.ts <url>`).
 * Runs on the load core; the server's CPU then includes parsing 100 small POSTs/s, a small extra.
 * @module
 */
import http from "node:http";
import { runControl } from "../servers/control.js";

const url = process.argv[2];
if (url === undefined) throw new Error("usage: http-publisher.ts <url>");
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
let failed = 0;

runControl({
  publish(ev) {
    const body = JSON.stringify(ev);
    const req = http.request(url, {
      method: "POST",
      agent,
      headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) },
    });
    req.on("response", (res) => {
      if ((res.statusCode ?? 0) >= 300) failed++;
      res.resume();
    });
    req.on("error", () => {
      failed++;
    });
    req.end(body);
  },
  stats: () => ({ sessions: -1, dropped: failed }),
});
process.send?.({ type: "ready", port: 0 });
