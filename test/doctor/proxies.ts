/**
 * Real reverse proxies on 127.0.0.1 that misbehave the way deployed ones do, for the doctor's tests: one
 * holds the body until it has N bytes (nginx with proxy_buffering and the header ignored), one gzips the
 * stream (flushing each chunk, so compression is its only fault), one closes connections silent for T ms
 * (an idle timeout shorter than the heartbeat), and a well-behaved one that only drops a header (another hub,
 * which advertises no heartbeat). Each forwards one request per connection to `upstream`.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { constants, createGzip } from "node:zlib";

export interface TestProxy {
  readonly port: number;
  close(): Promise<void>;
}

type Relay = (upstream: IncomingMessage, res: ServerResponse) => void;

async function startProxy(
  upstreamPort: number,
  relay: Relay,
  tls?: { key: string; cert: string },
): Promise<TestProxy> {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const up = request(
      {
        host: "127.0.0.1",
        port: upstreamPort,
        path: req.url,
        method: req.method,
        headers: req.headers,
        agent: false,
      },
      (upRes) => relay(upRes, res),
    );
    up.once("error", () => res.destroy());
    res.once("close", () => up.destroy());
    req.pipe(up);
  };
  const server: Server = tls === undefined ? createServer(handler) : createHttpsServer(tls, handler);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

/** Sends the head at once, then holds body bytes until `threshold` of them are in (or the body ends). */
export function bufferingProxy(upstreamPort: number, threshold: number): Promise<TestProxy> {
  return startProxy(upstreamPort, (upRes, res) => {
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    res.flushHeaders();
    let held: Buffer[] = [];
    let size = 0;
    upRes.on("data", (chunk: Buffer) => {
      held.push(chunk);
      size += chunk.length;
      if (size >= threshold) {
        res.write(Buffer.concat(held));
        held = [];
        size = 0;
      }
    });
    upRes.once("end", () => res.end(Buffer.concat(held)));
  });
}

/** Compresses the body with gzip, flushing after every upstream chunk. */
export function gzipProxy(upstreamPort: number): Promise<TestProxy> {
  return startProxy(upstreamPort, (upRes, res) => {
    const headers = { ...upRes.headers, "content-encoding": "gzip" };
    delete headers["content-length"];
    res.writeHead(upRes.statusCode ?? 502, headers);
    const gzip = createGzip();
    gzip.pipe(res);
    upRes.on("data", (chunk: Buffer) => {
      gzip.write(chunk);
      gzip.flush(constants.Z_SYNC_FLUSH);
    });
    upRes.once("end", () => gzip.end());
  });
}

/** Forwards at once, but closes the client connection after `idleMs` without data from upstream. */
export function idleTimeoutProxy(upstreamPort: number, idleMs: number): Promise<TestProxy> {
  return startProxy(upstreamPort, (upRes, res) => {
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    res.flushHeaders();
    let timer = setTimeout(() => res.destroy(), idleMs);
    upRes.on("data", (chunk: Buffer) => {
      clearTimeout(timer);
      timer = setTimeout(() => res.destroy(), idleMs);
      res.write(chunk);
    });
    res.once("close", () => clearTimeout(timer));
    upRes.once("end", () => res.end());
  });
}

/** Forwards everything at once, minus one response header; over TLS when given a key and certificate. */
export function headerDroppingProxy(
  upstreamPort: number,
  header: string,
  tls?: { key: string; cert: string },
): Promise<TestProxy> {
  return startProxy(
    upstreamPort,
    (upRes, res) => {
      const headers = { ...upRes.headers };
      delete headers[header.toLowerCase()];
      res.writeHead(upRes.statusCode ?? 502, headers);
      res.flushHeaders();
      upRes.on("data", (chunk: Buffer) => res.write(chunk));
      upRes.once("end", () => res.end());
    },
    tls,
  );
}
