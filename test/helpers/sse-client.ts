/**
 * A small SSE test client over node:http: connect, read status and headers, collect parsed events, wait for
 * N of them, close. Parsing is eventsource-parser's (independent of src/wire), so tests check the real wire.
 *
 * @example
 * const sse = await connectSse(`${base}/events?topic=time`, { headers: { "Last-Event-ID": id } });
 * assert.equal(sse.status, 200);
 * const [first] = await sse.waitForEvents(1);
 * sse.close();
 */
import { type IncomingHttpHeaders, request } from "node:http";
import { createParser } from "eventsource-parser";

export interface SseEventRecord {
  /** The event's own `id:` field; `undefined` when the event had none. */
  id: string | undefined;
  /** The `event:` type; `undefined` means the default `message`. */
  event: string | undefined;
  data: string;
}

export interface ConnectOptions {
  /** Request headers, e.g. `{ "Last-Event-ID": "42" }` or `Authorization`. */
  headers?: Record<string, string>;
  /** Abort if no response headers arrive in time. Defaults to `5000`. */
  connectTimeoutMs?: number;
  /** e.g. `QUERY` or `POST` for a subscription with a body. Defaults to `GET`. */
  method?: string;
  /** Request body, sent as is (set its `Content-Type` in `headers`). */
  body?: string | Buffer;
}

export interface SseConnection {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Events received so far, in order. */
  readonly events: readonly SseEventRecord[];
  /** Comment lines received (heartbeats are `""`). */
  readonly comments: readonly string[];
  /** `retry:` values received. */
  readonly retries: readonly number[];
  /** Everything received so far, as text: for exact wire assertions, and for error bodies (after `waitForEnd`). */
  readonly raw: string;
  /** The last event id seen, as a browser would send it back in `Last-Event-ID`. */
  readonly lastEventId: string | undefined;
  /** True once the server or `close()` ended the response. */
  readonly ended: boolean;
  /**
   * Resolves with the first `n` events once that many arrived; rejects after `timeoutMs` (default 5000), or
   * as soon as the stream ends short of `n`.
   */
  waitForEvents(n: number, timeoutMs?: number): Promise<SseEventRecord[]>;
  /** Resolves when the response ends (e.g. the server closed the stream); rejects after `timeoutMs`. */
  waitForEnd(timeoutMs?: number): Promise<void>;
  /** Destroys the connection. Safe to call more than once. */
  close(): void;
}

/** Opens `url` with `Accept: text/event-stream`; resolves once the response headers arrived (any status). */
export function connectSse(url: string | URL, options: ConnectOptions = {}): Promise<SseConnection> {
  const { headers = {}, connectTimeoutMs = 5000, method = "GET", body } = options;
  return new Promise((resolve, reject) => {
    // agent: false gives each stream its own socket, never a pooled keep-alive one.
    const req = request(url, {
      agent: false,
      method,
      headers: { Accept: "text/event-stream", ...headers },
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`no response from ${String(url)} within ${connectTimeoutMs} ms`));
    }, connectTimeoutMs);
    req.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.once("response", (res) => {
      clearTimeout(timer);
      // Errors after the response (a reset socket) just end the stream.
      req.on("error", () => {});
      res.on("error", () => {});
      const events: SseEventRecord[] = [];
      const comments: string[] = [];
      const retries: number[] = [];
      const waiters = new Set<() => void>();
      const wake = (): void => {
        for (const w of [...waiters]) w();
      };
      let raw = "";
      let lastEventId: string | undefined;
      let ended = false;
      const parser = createParser({
        onEvent: (e) => {
          // The browser's last event id persists across events until another id: line changes it.
          if (e.id !== undefined) lastEventId = e.id;
          events.push({ id: e.id, event: e.event, data: e.data });
          wake();
        },
        onComment: (c) => comments.push(c),
        onRetry: (r) => retries.push(r),
      });
      res.setEncoding("utf8"); // decodes UTF-8 across chunk boundaries
      res.on("data", (chunk: string) => {
        raw += chunk;
        parser.feed(chunk);
      });
      res.once("close", () => {
        ended = true;
        wake();
      });

      /** Resolves when `done()` holds; rejects with `what()` after `timeoutMs`, or at once if it never can. */
      const until = (
        done: () => boolean,
        timeoutMs: number,
        what: () => string,
        hopeless: () => boolean = () => false,
      ): Promise<void> =>
        new Promise((ok, fail) => {
          if (done()) return ok();
          if (hopeless()) return fail(new Error(what()));
          const check = (): void => {
            if (!done() && !hopeless()) return;
            clearTimeout(t);
            waiters.delete(check);
            if (done()) ok();
            else fail(new Error(what()));
          };
          const t = setTimeout(() => {
            waiters.delete(check);
            fail(new Error(what()));
          }, timeoutMs);
          waiters.add(check);
        });

      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        comments,
        retries,
        get raw() {
          return raw;
        },
        get lastEventId() {
          return lastEventId;
        },
        get ended() {
          return ended;
        },
        async waitForEvents(n, timeoutMs = 5000) {
          await until(
            () => events.length >= n,
            timeoutMs,
            () =>
              `got ${events.length} of ${n} events ${ended ? "before the stream ended" : `within ${timeoutMs} ms`}`,
            () => ended,
          );
          return events.slice(0, n);
        },
        waitForEnd(timeoutMs = 5000) {
          return until(
            () => ended,
            timeoutMs,
            () => `stream still open after ${timeoutMs} ms`,
          );
        },
        close() {
          req.destroy();
          res.destroy();
        },
      });
    });
    req.end(body);
  });
}
