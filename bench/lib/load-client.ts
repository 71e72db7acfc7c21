/**
 * One load-client process (the orchestrator starts several, pinned to the load core). Raw `net` sockets,
 * minimal parsing: skip the response head, count frames by "\n\n", and for frames carrying `"t":<ms>`
 * (the publisher's `performance.timeOrigin + performance.now()`) record now − t in a histogram. No HTTP
 * client, no SSE parser, no per-frame allocation, so this side costs far less than the server under test.
 * Stalled subscribers send their request and never read (`socket.pause()`).
 * @module
 */
import net from "node:net";
import { performance } from "node:perf_hooks";
import { Histogram } from "./histogram.js";

export type ClientCommand =
  | {
      cmd: "connect";
      port: number;
      path: string;
      count: number;
      stalled: boolean;
      headers?: Record<string, string>;
      concurrency?: number;
      /** Loopback source addresses, used round robin. */
      sources?: string[];
    }
  | { cmd: "start" }
  | { cmd: "close"; count: number }
  | { cmd: "stop" }
  | { cmd: "exit" };

export interface ClientResult {
  type: "result";
  frames: number;
  bytes: number;
  hist: [number, number][];
  max: number;
  open: number;
  closed: number;
  errors: number;
}

const LFLF = Buffer.from("\n\n");
const CRLFCRLF = Buffer.from("\r\n\r\n");
const TKEY = Buffer.from('"t":');
const hist = new Histogram();
let measuring = false;
let frames = 0;
let bytes = 0;
let open = 0;
let closed = 0;
let errors = 0;
const sockets: net.Socket[] = [];

function send(msg: unknown): void {
  process.send?.(msg);
}

/** Parses the JSON number starting at `i` (digits, optional fraction). */
function numberAt(buf: Buffer, i: number): number {
  let v = 0;
  let c = buf[i] as number;
  while (c >= 48 && c <= 57) {
    v = v * 10 + (c - 48);
    c = buf[++i] as number;
  }
  if (c === 46) {
    let scale = 0.1;
    c = buf[++i] as number;
    while (c >= 48 && c <= 57) {
      v += (c - 48) * scale;
      scale *= 0.1;
      c = buf[++i] as number;
    }
  }
  return v;
}

let nextSource = 0;
function connectOptions(port: number, sources: readonly string[] | undefined): net.NetConnectOpts {
  if (sources === undefined || sources.length === 0) return { port, host: "127.0.0.1" };
  const localAddress = sources[nextSource++ % sources.length] as string;
  return { port, host: "127.0.0.1", localAddress };
}

const live = new Set<net.Socket>();

function openLive(port: number, request: Buffer, sources?: readonly string[]): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(connectOptions(port, sources));
    sockets.push(s);
    let headed = false;
    let rest: Buffer | null = null;
    s.setNoDelay(true);
    s.on("connect", () => s.write(request));
    s.on("data", (chunk: Buffer) => {
      const now = performance.timeOrigin + performance.now();
      if (measuring) bytes += chunk.length;
      const buf = rest === null ? chunk : Buffer.concat([rest, chunk]);
      let pos = 0;
      if (!headed) {
        const h = buf.indexOf(CRLFCRLF);
        if (h < 0) {
          rest = buf;
          return;
        }
        if (buf.toString("latin1", 9, 12) !== "200") {
          errors++;
          s.destroy();
          resolve();
          return;
        }
        headed = true;
        open++;
        live.add(s);
        resolve();
        pos = h + 4;
      }
      for (;;) {
        const end = buf.indexOf(LFLF, pos);
        if (end < 0) break;
        if (measuring) {
          const t = buf.indexOf(TKEY, pos);
          if (t >= 0 && t < end) {
            frames++;
            hist.record(now - numberAt(buf, t + 4));
          }
        }
        pos = end + 2;
      }
      rest = pos < buf.length ? buf.subarray(pos) : null;
    });
    s.on("error", () => {
      errors++;
    });
    s.on("close", () => {
      if (headed) open--;
      live.delete(s);
      closed++;
      resolve();
    });
  });
}

function openStalled(port: number, request: Buffer, sources?: readonly string[]): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(connectOptions(port, sources));
    sockets.push(s);
    s.pause();
    s.on("connect", () => {
      s.write(request);
      open++;
      resolve();
    });
    s.on("error", () => {
      errors++;
    });
    s.on("close", () => {
      open--;
      closed++;
      resolve();
    });
  });
}

async function connect(c: Extract<ClientCommand, { cmd: "connect" }>): Promise<void> {
  let extra = "";
  for (const [k, v] of Object.entries(c.headers ?? {})) extra += `${k}: ${v}\r\n`;
  const request = Buffer.from(
    `GET ${c.path} HTTP/1.1\r\nHost: 127.0.0.1:${c.port}\r\nAccept: text/event-stream\r\n${extra}\r\n`,
    "latin1",
  );
  const batch = c.concurrency ?? 50;
  for (let i = 0; i < c.count; i += batch) {
    const n = Math.min(batch, c.count - i);
    const ps: Promise<void>[] = [];
    for (let k = 0; k < n; k++)
      ps.push(c.stalled ? openStalled(c.port, request, c.sources) : openLive(c.port, request, c.sources));
    await Promise.all(ps);
  }
  send({ type: "connected", open, errors });
}

process.on("message", (m: ClientCommand) => {
  switch (m.cmd) {
    case "connect":
      void connect(m);
      break;
    case "start":
      hist.reset();
      frames = 0;
      bytes = 0;
      measuring = true;
      send({ type: "started" });
      break;
    case "stop": {
      measuring = false;
      const r: ClientResult = {
        type: "result",
        frames,
        bytes,
        hist: hist.toSparse(),
        max: hist.max,
        open,
        closed,
        errors,
      };
      send(r);
      break;
    }
    case "close": {
      let n = 0;
      for (const s of live) {
        if (n++ >= m.count) break;
        s.destroy();
      }
      send({ type: "closed", count: Math.min(n, m.count), open, errors });
      break;
    }
    case "exit":
      for (const s of sockets) s.destroy();
      process.exit(0);
  }
});
// The orchestrator gone (crash, Ctrl-C): never linger.
process.on("disconnect", () => process.exit(0));
send({ type: "ready" });
