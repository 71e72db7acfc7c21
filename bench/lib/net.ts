/**
 * Loopback helpers of the benchmarks: a free port, and waiting for a server to answer.
 * @module
 */
import http from "node:http";
import net from "node:net";

const HOST = "127.0.0.1";
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, HOST, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Resolves true once something accepts TCP connections on 127.0.0.1:`port`; false after `timeoutMs` or as
 * soon as `alive()` turns false (the server exited).
 */
export async function waitForPort(
  port: number,
  timeoutMs = 10_000,
  alive: () => boolean = () => true,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: HOST }, () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (up) return true;
    if (Date.now() > deadline || !alive()) return false;
    await sleep(100);
  }
}

/** Resolves once a redis-server on `port` answers PING with PONG (not LOADING). */
export async function waitForRedis(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: HOST }, () => s.write("PING\r\n"));
      s.setTimeout(500, () => s.destroy());
      s.once("data", (d) => {
        s.destroy();
        resolve(d.toString().startsWith("+PONG"));
      });
      s.once("error", () => resolve(false));
      s.once("close", () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`redis-server on port ${port} did not answer PING`);
}

/** Resolves once `GET path` on `port` answers 200; rejects after `timeoutMs` or when `alive()` turns false. */
export async function waitForHttp(
  port: number,
  path: string,
  timeoutMs = 15_000,
  alive: () => boolean = () => true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && alive()) {
    const status = await new Promise<number>((resolve) => {
      const req = http.get({ host: HOST, port, path, agent: false, timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.once("timeout", () => req.destroy());
      req.once("error", () => resolve(0));
    });
    if (status === 200) return;
    await sleep(100);
  }
  throw new Error(`nothing answered 200 on 127.0.0.1:${port}${path}`);
}

/** `GET path` on 127.0.0.1:`port`: status and body text (for /metrics, nchan's status page). */
export function httpGetText(
  port: number,
  path: string,
  timeoutMs = 5000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: HOST, port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once("timeout", () => req.destroy(new Error(`GET ${path} timed out`)));
    req.once("error", reject);
  });
}
