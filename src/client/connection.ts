/**
 * One stream's connection loop: fetch (so that it can send `Authorization`), read and parse, reconnect
 * with `Last-Event-ID` after the policy's delay, stop on answers that a retry cannot change. It reports to
 * a sink; the client (client.ts) turns that into typed events, possibly relayed to other tabs (shared.ts).
 * @module
 */
import { SseBrokerError } from "../errors.js";
import type { ReconnectPolicy } from "./backoff.js";
import {
  CLOSED_EVENT,
  type ControlEvents,
  type ControlType,
  isControlType,
  parseControl,
  TOKEN_EXPIRING_EVENT,
} from "./control.js";
import { httpError } from "./http-error.js";
import { EventTooLargeError, IdleTimeoutError, readEventStream } from "./sse-stream.js";
import { bearer, type TokenProvider, type TokenReason, tokenOf } from "./token.js";
import { isMercureUrl, tokenRefreshUrl } from "./urls.js";

/** What the `open` event says. */
export interface OpenInfo {
  /** The stream's subscriber id (`SSE-Broker-Subscriber`), when the broker sent one. */
  readonly subscriber: string | undefined;
  /** The `Last-Event-ID` this connection resumed from (`undefined` on a fresh start). */
  readonly resumedFrom: string | undefined;
  /**
   * The response's `Last-Event-ID` (or Mercure 1.0 `Mercure-Last-Event-ID`): the resume id itself when the
   * replay is complete, `earliest` when events may have been missed; `undefined` when absent.
   */
  readonly resumeHeader: string | undefined;
}

/** Where an error happened. */
export type ErrorPhase = "connect" | "stream" | "refresh" | "parse";

/** What the `error` event says. */
export interface ErrorInfo {
  readonly error: SseBrokerError;
  readonly phase: ErrorPhase;
  /** The HTTP status, when an answer caused it. */
  readonly status: number | undefined;
  /** True when the client stopped for good (no reconnect follows). */
  readonly closed: boolean;
  /** When it reconnects: after this many milliseconds. */
  readonly delayMs: number | undefined;
}

/** What the `token-refreshed` event says. */
export interface RefreshInfo {
  readonly subscriber: string;
  /** The stream's new end (ISO 8601), or `null` when the new token has no `exp`. */
  readonly expiresAt: string | null;
}

export interface ConnectionSink {
  open(info: OpenInfo): void;
  message(type: string, data: string, id: string | undefined, lastEventId: string): void;
  control<K extends ControlType>(type: K, data: ControlEvents[K], raw: string): void;
  refreshed(info: RefreshInfo): void;
  error(info: ErrorInfo): void;
}

export interface ConnectionOptions {
  url: URL;
  headers: Record<string, string>;
  token: TokenProvider | undefined;
  lastEventId: string | undefined;
  fetch: typeof fetch;
  credentials: Credentials | undefined;
  policy: ReconnectPolicy;
  maxEventChars: number;
  idleTimeoutMs: number | null;
  refreshUrl: ((subscriber: string) => string) | undefined;
}

export type ConnectionState = "connecting" | "open" | "closed";

/** `fetch`'s `credentials`. */
export type Credentials = "omit" | "same-origin" | "include";

/** Statuses a later attempt may get past: timeouts, rate limits, a broker busy or restarting. */
const RETRYABLE = new Set([408, 425, 429]);
/** The next attempt goes at once, asking the provider for a fresh token (after a first 401). */
const AT_ONCE = Symbol("at once");

export class Connection {
  readonly #o: ConnectionOptions;
  readonly #sink: ConnectionSink;
  readonly #stop = new AbortController();
  #state: ConnectionState = "connecting";
  #url: URL;
  #lastEventId: string;
  #subscriber: string | undefined;
  #token: string | undefined;
  #retriedUnauthorized = false;
  #healthy: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ConnectionOptions, sink: ConnectionSink) {
    this.#o = options;
    this.#sink = sink;
    this.#url = options.url;
    this.#lastEventId = options.lastEventId ?? "";
    this.#run().catch((err: unknown) => {
      // Not expected (every step catches its own failures); never an unhandled rejection.
      const error = new SseBrokerError("SSEB_ERR_CLIENT_DISCONNECTED", "the client stopped", { cause: err });
      this.#fatal(error, "stream", undefined);
    });
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get url(): URL {
    return this.#url;
  }

  /** The URL later connections use (a selector change keeps its selectors across reconnects). */
  set url(url: URL) {
    this.#url = url;
  }

  get lastEventId(): string {
    return this.#lastEventId;
  }

  get subscriber(): string | undefined {
    return this.#state === "open" ? this.#subscriber : undefined;
  }

  /** The token the current stream was opened (or last refreshed) with. */
  get token(): string | undefined {
    return this.#token;
  }

  /** A method, so that TypeScript does not narrow the state across awaits. */
  #isClosed(): boolean {
    return this.#state === "closed";
  }

  close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    clearTimeout(this.#healthy);
    this.#stop.abort();
  }

  async #run(): Promise<void> {
    let reason: TokenReason = "connect";
    while (this.#state !== "closed") {
      const next = await this.#attempt(reason);
      clearTimeout(this.#healthy);
      if (this.#isClosed() || next === null) break;
      this.#state = "connecting";
      reason = next === AT_ONCE ? "unauthorized" : "connect";
      if (next !== AT_ONCE) await this.#sleep(next);
    }
    this.close();
  }

  /** One connection: the delay before the next (`AT_ONCE`: with a fresh token), or `null` to stop. */
  async #attempt(reason: TokenReason): Promise<number | typeof AT_ONCE | null> {
    const signal = this.#stop.signal;
    let token: string | undefined;
    try {
      token = await tokenOf(this.#o.token, reason, signal);
    } catch (err) {
      if (signal.aborted) return null;
      const error = new SseBrokerError("SSEB_ERR_CLIENT_TOKEN_PROVIDER", "the token provider failed", {
        cause: err,
      });
      return this.#failed(error, "connect", undefined);
    }
    const headers: Record<string, string> = { Accept: "text/event-stream", ...this.#o.headers };
    if (token !== undefined) headers.Authorization = bearer(token);
    const resumedFrom = this.#lastEventId === "" ? undefined : this.#lastEventId;
    let target = this.#url;
    if (resumedFrom !== undefined) {
      if (HEADER_SAFE.test(resumedFrom)) headers["Last-Event-ID"] = resumedFrom;
      else target = withResumeParameter(target, resumedFrom);
    }
    let res: Response;
    try {
      res = await this.#o.fetch(target.href, {
        headers,
        signal,
        ...(this.#o.credentials === undefined ? {} : { credentials: this.#o.credentials }),
      });
    } catch (err) {
      if (signal.aborted) return null;
      const error = new SseBrokerError("SSEB_ERR_CLIENT_DISCONNECTED", "the stream request failed", {
        cause: err,
      });
      return this.#failed(error, "connect", undefined);
    }
    if (!res.ok || res.status === 204) return this.#refused(res);
    const type = res.headers.get("content-type") ?? "";
    if (!/^text\/event-stream\s*(;|$)/i.test(type) || res.body === null) {
      res.body?.cancel().catch(() => {});
      const error = new SseBrokerError(
        "SSEB_ERR_CLIENT_RESPONSE_INVALID",
        `expected text/event-stream, got ${type === "" ? "no Content-Type" : type.split(";")[0]}`,
        { statusCode: res.status },
      );
      return this.#fatal(error, "connect", res.status);
    }
    this.#retriedUnauthorized = false;
    this.#token = token;
    this.#subscriber = res.headers.get("sse-broker-subscriber") ?? undefined;
    this.#state = "open";
    this.#healthy = setTimeout(() => this.#o.policy.reset(), this.#o.policy.options.healthyAfterMs);
    this.#sink.open({
      subscriber: this.#subscriber,
      resumedFrom,
      resumeHeader: res.headers.get("last-event-id") ?? res.headers.get("mercure-last-event-id") ?? undefined,
    });
    try {
      await readEventStream(
        res.body,
        {
          onEvent: (m) => this.#event(m.event ?? "message", m.data, m.id),
          onRetry: (ms) => {
            this.#o.policy.retryMs = ms;
          },
        },
        this.#o.maxEventChars,
        this.#o.idleTimeoutMs,
      );
    } catch (err) {
      if (signal.aborted || this.#isClosed()) return null;
      const error =
        err instanceof EventTooLargeError
          ? new SseBrokerError("SSEB_ERR_CLIENT_EVENT_TOO_LARGE", err.message)
          : err instanceof IdleTimeoutError
            ? new SseBrokerError("SSEB_ERR_CLIENT_DISCONNECTED", `the stream went silent (${err.message})`)
            : new SseBrokerError("SSEB_ERR_CLIENT_DISCONNECTED", "the event stream was cut", { cause: err });
      return this.#failed(error, "stream", undefined);
    }
    if (this.#isClosed()) return null;
    return this.#failed(
      new SseBrokerError("SSEB_ERR_CLIENT_DISCONNECTED", "the broker ended the event stream"),
      "stream",
      undefined,
    );
  }

  #event(type: string, data: string, id: string | undefined): void {
    if (this.#state === "closed") return;
    if (id !== undefined) this.#lastEventId = id;
    if (!isControlType(type)) {
      // Progress: whatever happens next, the base delay applies again.
      this.#o.policy.reset();
      this.#sink.message(type, data, id, this.#lastEventId);
      return;
    }
    const notice = parseControl(type, data);
    if (notice === undefined) {
      const error = new SseBrokerError("SSEB_ERR_CLIENT_DATA_INVALID", `malformed ${type} control event`);
      this.#sink.error({ error, phase: "parse", status: undefined, closed: false, delayMs: undefined });
      return;
    }
    this.#sink.control(type, notice, data);
    if (type === TOKEN_EXPIRING_EVENT) {
      void this.#refresh((notice as ControlEvents[typeof TOKEN_EXPIRING_EVENT]).subscriber);
    } else if (type === CLOSED_EVENT) {
      // The broker ends the stream on purpose: reconnect at the base delay (with a token asked anew).
      this.#o.policy.reset();
    }
  }

  /** Asks the provider for a new token and posts it for this stream, which then goes on as it is. */
  async #refresh(noticeSubscriber: string | undefined): Promise<void> {
    const provider = this.#o.token;
    const subscriber = noticeSubscriber ?? this.#subscriber;
    if (typeof provider !== "function" || subscriber === undefined) return;
    const url =
      this.#o.refreshUrl?.(subscriber) ??
      (isMercureUrl(this.#url) ? tokenRefreshUrl(this.#url, subscriber) : undefined);
    if (url === undefined) return;
    const signal = this.#stop.signal;
    const report = (error: SseBrokerError, status?: number) =>
      this.#sink.error({ error, phase: "refresh", status, closed: false, delayMs: undefined });
    let token: string;
    try {
      token = (await tokenOf(provider, "expiring", signal)) as string;
    } catch (err) {
      if (!signal.aborted) {
        report(
          new SseBrokerError("SSEB_ERR_CLIENT_TOKEN_PROVIDER", "the token provider failed", { cause: err }),
        );
      }
      return;
    }
    try {
      const res = await this.#o.fetch(url, {
        method: "POST",
        headers: { Authorization: bearer(token) },
        signal,
        ...(this.#o.credentials === undefined ? {} : { credentials: this.#o.credentials }),
      });
      if (!res.ok) {
        report(await httpError(res, "the token refresh"), res.status);
        return;
      }
      const body = (await res.json()) as { expiresAt?: unknown };
      this.#token = token;
      this.#sink.refreshed({
        subscriber,
        expiresAt: typeof body.expiresAt === "string" ? body.expiresAt : null,
      });
    } catch (err) {
      if (!signal.aborted) {
        report(
          new SseBrokerError("SSEB_ERR_CLIENT_DISCONNECTED", "the token refresh failed", { cause: err }),
        );
      }
    }
  }

  /** A non-2xx (or 204) answer: once more with a fresh token after a 401, wait after 5xx, else stop. */
  async #refused(res: Response): Promise<number | typeof AT_ONCE | null> {
    const error = await httpError(res, "the stream request");
    if (res.status === 401 && typeof this.#o.token === "function" && !this.#retriedUnauthorized) {
      this.#retriedUnauthorized = true;
      this.#sink.error({ error, phase: "connect", status: 401, closed: false, delayMs: 0 });
      return AT_ONCE;
    }
    if (res.status === 204 || (res.status >= 400 && res.status < 500 && !RETRYABLE.has(res.status))) {
      return this.#fatal(error, "connect", res.status);
    }
    return this.#failed(error, "connect", res.status, retryAfterMs(res));
  }

  #failed(
    error: SseBrokerError,
    phase: ErrorPhase,
    status: number | undefined,
    atLeastMs = 0,
  ): number | null {
    const policy = this.#o.policy;
    if (policy.exhausted) return this.#fatal(error, phase, status);
    const delayMs = policy.next(atLeastMs);
    this.#state = "connecting";
    this.#sink.error({ error, phase, status, closed: false, delayMs });
    return delayMs;
  }

  #fatal(error: SseBrokerError, phase: ErrorPhase, status: number | undefined): null {
    this.close();
    this.#sink.error({ error, phase, status, closed: true, delayMs: undefined });
    return null;
  }

  #sleep(ms: number): Promise<void> {
    const signal = this.#stop.signal;
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done);
    });
  }
}

/**
 * A `fetch` header value must be a byte string, and the broker reads header bytes as Latin-1: an id
 * outside printable ASCII goes in the query instead (the broker's `lastEventID`, Mercure 1.0's
 * `last_event_id`), percent-encoded UTF-8.
 */
const HEADER_SAFE = /^[\x20-\x7e]*$/;

function withResumeParameter(url: URL, id: string): URL {
  const next = new URL(url.href);
  const mercure1 = [...next.searchParams.keys()].some((k) => k.startsWith("match"));
  next.searchParams.delete("lastEventID");
  next.searchParams.delete("last_event_id");
  next.searchParams.set(mercure1 ? "last_event_id" : "lastEventID", id);
  return next;
}

/** `Retry-After` in seconds (the broker sends seconds); 0 when absent or a date. */
function retryAfterMs(res: Response): number {
  const v = res.headers.get("retry-after");
  return v !== null && /^\d{1,6}$/.test(v.trim()) ? Number(v) * 1000 : 0;
}
