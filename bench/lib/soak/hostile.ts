/**
 * The soak's hostile trickle: raw `node:net` requests a well-behaved HTTP client cannot send (pipelined
 * streams, malformed request lines, huge headers, bad escapes, deep JSON, absolute-form targets with bad
 * ports, slow headers). Every answer is recorded; none may be a 5xx. Query strings and bearer headers carry
 * `secret`, which must never show up in the brokers' logs.
 * @module
 */
import net from "node:net";

export interface HostileContext {
  port: number;
  /** The real publish token (deep JSON needs to get past authorization to reach the parser). */
  token: string;
  /** A marker that must never be logged. */
  secret: string;
  /** Round number of this kind (rotates variants). */
  round: number;
}

export interface HostileOutcome {
  /** Status codes of the responses seen on the socket, in order. */
  statuses: number[];
  /** Set when the outcome breaks a rule other than "no 5xx". */
  violation?: string;
}

export interface HostileKind {
  readonly name: string;
  /** Kinds that hold a socket long (slow headers) run at most this many at a time. */
  readonly maxConcurrent?: number;
  run(ctx: HostileContext): Promise<HostileOutcome>;
}

const STATUS = /HTTP\/1\.[01] (\d{3}) /g;
const HEAD_LIMIT = 64 * 1024;

/**
 * Opens a socket, lets `drive` write to it, collects what comes back (the first 64 KiB: status lines)
 * until the server closes or `timeoutMs` passes. `closedByServer` tells which.
 */
function exchange(
  port: number,
  drive: (s: net.Socket, done: Promise<void>) => void,
  timeoutMs: number,
): Promise<{ statuses: number[]; closedByServer: boolean; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = net.connect({ port, host: "127.0.0.1" });
    let text = "";
    let closedByServer = false;
    let finish = (): void => {};
    const done = new Promise<void>((r) => {
      finish = r;
    });
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.on("data", (d: Buffer) => {
      if (text.length < HEAD_LIMIT) text += d.toString("latin1");
    });
    s.on("end", () => {
      closedByServer = true;
      s.end();
    });
    s.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNRESET" || err.code === "EPIPE") closedByServer = true;
    });
    s.once("close", () => {
      clearTimeout(timer);
      finish();
      const statuses = [...text.matchAll(STATUS)].map((m) => Number(m[1]));
      resolve({ statuses, closedByServer, ms: performance.now() - t0 });
    });
    s.once("connect", () => drive(s, done));
  });
}

/** Writes `raw`, then waits for the server to answer/close, at most `ms`. */
const oneShot = (port: number, raw: string | Buffer, ms = 5000) =>
  exchange(port, (s) => s.write(raw), ms).then((r) => ({ statuses: r.statuses }));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const pick = <T>(list: readonly T[], round: number): T => list[round % list.length] as T;

function post(path: string, headers: Record<string, string>, body: string): string {
  const h = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${h}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

export const HOSTILE_KINDS: readonly HostileKind[] = [
  {
    // Requests queued behind a stream on one socket must not become sessions that never close.
    name: "pipelined-events",
    async run({ port, secret, round }) {
      const req = (topic: string) =>
        `GET /events?topic=${topic}&access_token=${secret} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
      const raw = req(`hostile-${round}-a`) + req("t00") + req(`hostile-${round}-b`);
      const r = await exchange(
        port,
        (s, done) => {
          s.write(raw);
          // Hold the stream a moment (the queued requests reach the handler meanwhile), then leave.
          setTimeout(() => s.destroy(), 1500);
          void done;
        },
        5000,
      );
      return { statuses: r.statuses };
    },
  },
  {
    name: "pipelined-healthz",
    async run({ port }) {
      const one = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
      const r = await exchange(port, (s) => s.write(one + one + one), 1500);
      return {
        statuses: r.statuses,
        ...(r.statuses.length === 0 ? { violation: "no answer to pipelined /healthz" } : {}),
      };
    },
  },
  {
    name: "bad-request-line",
    run({ port, round }) {
      const lines = [
        "GARBAGE\r\n\r\n",
        "GET /events?topic=t00 HTTP/1.1 extra\r\nHost: x\r\n\r\n",
        "GET\r\n\r\n",
        "GET /events?topic=t00 HTTP/9.9\r\nHost: x\r\n\r\n",
        "\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003", // a TLS ClientHello's start
        "BREW /events HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /events?topic=t00 HTTP/1.1\nHost: x\n\n",
        "GET /events?topic=t\u0000 HTTP/1.1\r\nHost: x\r\n\r\n",
      ];
      return oneShot(port, Buffer.from(pick(lines, round), "latin1"));
    },
  },
  {
    name: "huge-headers",
    run({ port, round }) {
      const raw =
        round % 2 === 0
          ? `GET /events?topic=t00 HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n`
          : `GET /healthz HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v\r\n`).join("")}\r\n`;
      return oneShot(port, raw);
    },
  },
  {
    name: "bad-percent-escape",
    run({ port, secret, round }) {
      const targets = [
        `/events?topic=%E0%A4%A&access_token=${secret}`,
        `/events?topic=%&access_token=${secret}`,
        "/%ZZ",
        "/events?topic=%00",
        "/events?topic=%C0%AE%C0%AE",
        "/events?topic=t00&lastEventID=%FF%FE",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/events?%=%",
      ];
      const target = pick(targets, round);
      return exchange(
        port,
        (s) => {
          s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
          setTimeout(() => s.destroy(), 1000); // some of these open a stream
        },
        3000,
      ).then((r) => ({ statuses: r.statuses }));
    },
  },
  {
    name: "deep-json",
    run({ port, token, round }) {
      const depth = 20_000;
      const deep = `${"[".repeat(depth)}${"]".repeat(depth)}`;
      const bodies = [
        `{"topic":"soak-hostile","data":${deep}}`,
        `{"topic":${deep},"data":"x"}`,
        `${"[".repeat(100_000)}${"]".repeat(100_000)}`,
        `{"topic":"soak-hostile","data":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`,
      ];
      const raw = post(
        "/publish",
        { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        pick(bodies, round),
      );
      return oneShot(port, raw);
    },
  },
  {
    // The handler builds a URL from the request target; a bad absolute form must be a 400, not a 500.
    name: "absolute-form-bad-port",
    run({ port, secret, round }) {
      const targets = [
        `http://127.0.0.1:99999/events?topic=t00&access_token=${secret}`,
        `http://127.0.0.1:-1/healthz?access_token=${secret}`,
        `http://[::1/events?topic=t00&access_token=${secret}`,
        `http://a:b@127.0.0.1:70000/publish?access_token=${secret}`,
        `https://127.0.0.1:0x50/events?topic=t00&access_token=${secret}`,
      ];
      return oneShot(port, `GET ${pick(targets, round)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    },
  },
  {
    name: "unauthorized-publish",
    async run({ port, secret, round }) {
      const headers: Record<string, string>[] = [
        { "Content-Type": "text/plain" },
        { "Content-Type": "application/json", Authorization: `Bearer ${secret}` },
        { "Content-Type": "text/plain", Authorization: `Basic ${secret}` },
      ];
      const h = pick(headers, round);
      const body = h["Content-Type"] === "text/plain" ? "x" : '{"topic":"t00","data":"x"}';
      const r = await oneShot(port, post("/publish?topic=t00", h, body));
      const published = r.statuses.some((s) => s >= 200 && s < 300);
      return { statuses: r.statuses, ...(published ? { violation: "published without the token" } : {}) };
    },
  },
  {
    // Headers trickled one line every 2 s: the server must give up (headersTimeout) and close.
    name: "slowloris",
    maxConcurrent: 2,
    async run({ port }) {
      // headersTimeout (20 s) is enforced by a check every 30 s (connectionsCheckingInterval): 50 s at most.
      const limitMs = 60_000;
      const r = await exchange(
        port,
        (s, done) => {
          let closed = false;
          void done.then(() => {
            closed = true;
          });
          s.write("GET /events?topic=t00 HTTP/1.1\r\nHost: 127.0.0.1\r\n");
          void (async () => {
            for (let i = 0; !closed; i++) {
              await sleep(2000);
              if (!closed && !s.destroyed) s.write(`X-Slow-${i}: ${i}\r\n`);
            }
          })();
        },
        limitMs,
      );
      return {
        statuses: r.statuses,
        ...(r.closedByServer ? {} : { violation: `slow headers held over ${limitMs / 1000} s` }),
      };
    },
  },
];

/** Opt-in: the URI-template selector whose compile time explodes (a known attack; freezes unfixed trees). */
export const TEMPLATE_BOMB: HostileKind = {
  name: "template-bomb",
  run({ port }) {
    const selector = encodeURIComponent("{?a*}".repeat(10));
    return exchange(
      port,
      (s) => {
        s.write(`GET /events?topic=${selector} HTTP/1.1\r\nHost: x\r\n\r\n`);
        setTimeout(() => s.destroy(), 1000);
      },
      10_000,
    ).then((r) => ({ statuses: r.statuses }));
  },
};
