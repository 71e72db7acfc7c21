/**
 * The typed client: `createClient({ url, token })`, `on(type, handler)` with an application event map,
 * the broker's control events as their own callbacks, `changeSelectors`, `close()` / `AbortSignal`, and
 * optionally one connection shared by all tabs of an origin.
 * @module
 */
import { type ErrorCode, SseBrokerError } from "../errors.js";
import { type ReconnectOptions, ReconnectPolicy } from "./backoff.js";
import {
  Connection,
  type ConnectionSink,
  type ConnectionState,
  type Credentials,
  type ErrorInfo,
  type OpenInfo,
  type RefreshInfo,
} from "./connection.js";
import { type ControlEvents, isControlType, parseControl } from "./control.js";
import { Handlers } from "./handlers.js";
import { httpError } from "./http-error.js";
import { type ChangeResult, type Relay, TabShare } from "./shared.js";
import { bearer, type TokenProvider } from "./token.js";
import { selectorsUrl } from "./urls.js";

/** One application event. */
export interface SseMessage<T = unknown> {
  /** The `event:` type (`"message"` when the event has none). */
  readonly type: string;
  /** The data: text, or what `parse` made of it. */
  readonly data: T;
  /** The event's own `id:`; `undefined` when it had none. */
  readonly id: string | undefined;
  /** The client's last event id after this event (where a reconnect resumes). */
  readonly lastEventId: string;
}

/** Which tab holds the stream: this client's own (`own`), this tab for all (`leader`), another tab. */
export type Role = "own" | "leader" | "follower";

/** The client's own events and the broker's control events, with their data. */
export interface ClientEvents extends ControlEvents {
  /** A stream is open (again, after a reconnect). */
  open: OpenInfo & { readonly role: Role };
  /** A connection failed or ended, a refresh was refused, or data could not be parsed. */
  error: ErrorInfo;
  /** A new token was accepted for the live stream (after `sse-broker.token-expiring`). */
  "token-refreshed": RefreshInfo;
}

/** The application's event types (`event:`) and the type of their data; `message` is the unnamed one. */
export type EventMap = Record<string, unknown>;

/** The handler type for `type`: a client event's data, else an application event. */
export type Handler<E extends object, K extends string> = K extends keyof ClientEvents
  ? (event: ClientEvents[K]) => void
  : (event: SseMessage<K extends keyof E ? E[K] : unknown>) => void;

export interface ClientOptions {
  /** The stream URL (`eventsUrl`, `mercureSubscribeUrl`, `mercure1SubscribeUrl` build one). */
  url: string | URL;
  /** `Authorization: Bearer` token, or a provider asked on connect, after a 401 and before expiry. */
  token?: TokenProvider;
  /** More request headers. */
  headers?: Record<string, string>;
  /** Resume point of the first connection (`Last-Event-ID`). */
  lastEventId?: string;
  /** Aborting it closes the client. */
  signal?: AbortSignal;
  /** What `data` is: the text, `JSON.parse`d, or your function's result. Defaults to `"text"`. */
  parse?: "text" | "json" | ((data: string, type: string) => unknown);
  reconnect?: ReconnectOptions;
  /** Largest event (characters) accepted; a larger one drops the connection. Defaults to `1_048_576`. */
  maxEventChars?: number;
  /**
   * Reconnect when nothing, not even a heartbeat comment, arrived for this long: a connection a proxy or
   * a network change killed without closing it. Keep it above the broker's `--heartbeat-ms` (15 s by
   * default); `null` waits for ever. Defaults to `45_000`.
   */
  idleTimeoutMs?: number | null;
  /** The `fetch` to use. Defaults to the global one. */
  fetch?: typeof fetch;
  /** `fetch`'s `credentials` (`"include"` sends cookies cross-origin). */
  credentials?: Credentials;
  /** Where a new token is posted. Defaults to the hub's `/.well-known/mercure/subscribers/{id}/token`. */
  refreshUrl?: (subscriber: string) => string;
  /**
   * One connection for all tabs of this origin with the same `name` (default: the URL), where Web Locks
   * and BroadcastChannel exist (elsewhere the client has its own). Defaults to `false`.
   */
  shared?: boolean | { name?: string };
}

export interface SelectorChange {
  add?: readonly string[];
  remove?: readonly string[];
}

export class SseClient<E extends object = EventMap> {
  readonly #handlers = new Handlers();
  readonly #options: ClientOptions;
  readonly #policy: ReconnectPolicy;
  readonly #parse: (data: string, type: string) => unknown;
  readonly #share: TabShare | undefined;
  readonly #onAbort = () => this.close();
  #url: URL;
  #connection: Connection | undefined;
  #closed = false;
  #lastEventId: string;
  /** A follower's view of the leader's stream. */
  #followed: { open: boolean; subscriber: string | undefined } = { open: false, subscriber: undefined };

  constructor(options: ClientOptions) {
    this.#options = options;
    this.#url = new URL(String(options.url), (globalThis as { location?: { href: string } }).location?.href);
    this.#policy = new ReconnectPolicy(options.reconnect);
    this.#lastEventId = options.lastEventId ?? "";
    const parse = options.parse ?? "text";
    this.#parse = parse === "text" ? (d) => d : parse === "json" ? (d) => JSON.parse(d) : parse;
    if (options.signal?.aborted) {
      this.#closed = true;
      this.#share = undefined;
      return;
    }
    options.signal?.addEventListener("abort", this.#onAbort, { once: true });
    const shared = options.shared;
    this.#share =
      shared === undefined || shared === false
        ? undefined
        : TabShare.join((shared === true ? undefined : shared.name) ?? this.#url.href, {
            lead: () => this.#lead(),
            relayed: (m) => this.#relayed(m),
            change: (add, remove, token) => this.#change(add, remove, token),
            current: () => this.#currentOpen(),
          });
    if (this.#share === undefined) this.#connection = this.#connect();
  }

  /** `connecting`, `open` or `closed` (for a follower: the leader's stream). */
  get state(): ConnectionState {
    if (this.#closed) return "closed";
    if (this.#connection !== undefined) return this.#connection.state;
    return this.#followed.open ? "open" : "connecting";
  }

  get role(): Role {
    return this.#share === undefined ? "own" : this.#share.leader ? "leader" : "follower";
  }

  /** The last event id seen: where a reconnect resumes. */
  get lastEventId(): string {
    return this.#connection?.lastEventId ?? this.#lastEventId;
  }

  /** The live stream's subscriber id (`SSE-Broker-Subscriber`). */
  get subscriber(): string | undefined {
    return this.#connection !== undefined ? this.#connection.subscriber : this.#followed.subscriber;
  }

  /** The URL the next connection opens (its selectors follow `changeSelectors`). */
  get url(): string {
    return (this.#connection?.url ?? this.#url).href;
  }

  on<K extends (keyof E & string) | keyof ClientEvents>(type: K, handler: Handler<E, K>): this {
    this.#handlers.add(type, handler);
    return this;
  }

  off<K extends (keyof E & string) | keyof ClientEvents>(type: K, handler: Handler<E, K>): this {
    this.#handlers.remove(type, handler);
    return this;
  }

  /** Ends the stream and every reconnect; in a shared leader, another tab takes the stream over. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.signal?.removeEventListener("abort", this.#onAbort);
    this.#connection?.close();
    this.#share?.close();
  }

  /**
   * Adds and removes selectors of the live stream (`POST /subscribers/{id}/selectors`, with the stream's
   * token, or `options.token`, e.g. a publisher's), without reconnecting; later reconnects open with the
   * new selectors (for `topic=` URLs). Throws `SSEB_ERR_CLIENT_NOT_CONNECTED` while no stream is open.
   */
  async changeSelectors(change: SelectorChange, options: { token?: string } = {}): Promise<ChangeResult> {
    const add = [...(change.add ?? [])];
    const remove = [...(change.remove ?? [])];
    if (this.#closed) throw notConnected("the client is closed");
    if (this.#share !== undefined && !this.#share.leader) {
      try {
        return await this.#share.requestChange(add, remove, options.token);
      } catch (err) {
        const e = err as { code?: string; message?: string; status?: number };
        throw new SseBrokerError((e.code ?? "SSEB_ERR_CLIENT_HTTP") as ErrorCode, String(e.message), {
          ...(e.status === undefined ? {} : { statusCode: e.status }),
        });
      }
    }
    return this.#change(add, remove, options.token);
  }

  async #change(add: string[], remove: string[], token?: string): Promise<ChangeResult> {
    const connection = this.#connection;
    const subscriber = connection?.subscriber;
    if (connection === undefined || subscriber === undefined)
      throw notConnected("no live stream with a subscriber id");
    const fetchFn = this.#options.fetch ?? globalThis.fetch;
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    const credential = token ?? connection.token;
    if (credential !== undefined) headers.Authorization = bearer(credential);
    // A change during the stream's history replay is refused (409): the replay ends soon, so ask again.
    for (let attempt = 0; ; attempt++) {
      const res = await fetchFn(selectorsUrl(connection.url, subscriber), {
        method: "POST",
        headers,
        body: JSON.stringify({ add, remove }),
        ...(this.#options.credentials === undefined ? {} : { credentials: this.#options.credentials }),
      });
      if (res.ok) {
        const body = (await res.json()) as ChangeResult;
        const url = withTopics(connection.url, body.selectors);
        if (url !== undefined) {
          connection.url = url;
          this.#url = url;
          this.#share?.relay({ k: "url", href: url.href });
        }
        return { subscriber: body.subscriber, selectors: body.selectors };
      }
      const error = await httpError(res, "the selector change");
      const replaying =
        (error.cause as { code?: string } | undefined)?.code === "SSEB_ERR_SUBSCRIBER_REPLAYING";
      if (!replaying || attempt >= 5) throw error;
      await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    }
  }

  #connect(): Connection {
    const o = this.#options;
    return new Connection(
      {
        url: this.#url,
        headers: o.headers ?? {},
        token: o.token,
        lastEventId: this.#lastEventId === "" ? undefined : this.#lastEventId,
        fetch: o.fetch ?? globalThis.fetch.bind(globalThis),
        credentials: o.credentials,
        policy: this.#policy,
        maxEventChars: o.maxEventChars ?? 1_048_576,
        idleTimeoutMs: o.idleTimeoutMs === undefined ? 45_000 : o.idleTimeoutMs,
        refreshUrl: o.refreshUrl,
      },
      this.#sink(),
    );
  }

  /** The connection's reports: dispatched here and, in a leader, relayed to the other tabs. */
  #sink(): ConnectionSink {
    return {
      open: (info) => {
        this.#share?.relay({ k: "open", ...info });
        this.#emit("open", { ...info, role: this.role });
      },
      message: (type, data, id, lastEventId) => {
        this.#lastEventId = lastEventId;
        this.#share?.relay({ k: "message", type, data, id, lastEventId });
        this.#dispatch(type, data, id, lastEventId);
      },
      control: (type, data, raw) => {
        this.#share?.relay({ k: "control", type, raw });
        this.#handlers.emit(type, data);
      },
      refreshed: (info) => {
        this.#share?.relay({ k: "refreshed", ...info });
        this.#emit("token-refreshed", info);
      },
      error: (info) => {
        this.#share?.relay({
          k: "error",
          code: info.error.code,
          message: info.error.message,
          status: info.status,
          phase: info.phase,
          delayMs: info.delayMs,
        });
        if (info.closed) this.close();
        this.#emit("error", info);
      },
    };
  }

  #lead(): void {
    if (this.#closed) return;
    this.#followed = { open: false, subscriber: undefined };
    this.#connection = this.#connect();
  }

  #currentOpen(): Relay | undefined {
    const c = this.#connection;
    if (c?.state !== "open") return undefined;
    return { k: "open", subscriber: c.subscriber, resumedFrom: undefined, resumeHeader: undefined };
  }

  #relayed(m: Relay): void {
    if (this.#closed) return;
    switch (m.k) {
      case "open":
        this.#followed = { open: true, subscriber: m.subscriber };
        this.#emit("open", {
          subscriber: m.subscriber,
          resumedFrom: m.resumedFrom,
          resumeHeader: m.resumeHeader,
          role: this.role,
        });
        break;
      case "message":
        this.#lastEventId = m.lastEventId;
        this.#dispatch(m.type, m.data, m.id, m.lastEventId);
        break;
      case "control":
        if (isControlType(m.type)) {
          const data = parseControl(m.type, m.raw);
          if (data !== undefined) this.#handlers.emit(m.type, data);
        }
        break;
      case "refreshed":
        this.#emit("token-refreshed", { subscriber: m.subscriber, expiresAt: m.expiresAt });
        break;
      case "error":
        this.#followed = { open: false, subscriber: undefined };
        this.#emit("error", {
          error: new SseBrokerError(m.code as ErrorCode, m.message, {
            ...(m.status === undefined ? {} : { statusCode: m.status }),
          }),
          phase: m.phase as ErrorInfo["phase"],
          status: m.status,
          // This tab is not closed: it takes the stream over if the leader gives up.
          closed: false,
          delayMs: m.delayMs,
        });
        break;
      case "url":
        this.#url = new URL(m.href);
        break;
    }
  }

  #dispatch(type: string, raw: string, id: string | undefined, lastEventId: string): void {
    if (type === "open" || type === "error" || type === "token-refreshed") return; // reserved names
    if (!this.#handlers.has(type)) return;
    let data: unknown;
    try {
      data = this.#parse(raw, type);
    } catch (err) {
      const error = new SseBrokerError(
        "SSEB_ERR_CLIENT_DATA_INVALID",
        `the data of a ${type} event did not parse`,
        {
          cause: err,
        },
      );
      this.#emit("error", { error, phase: "parse", status: undefined, closed: false, delayMs: undefined });
      return;
    }
    this.#handlers.emit(type, { type, data, id, lastEventId } satisfies SseMessage);
  }

  #emit<K extends keyof ClientEvents>(type: K, data: ClientEvents[K]): void {
    this.#handlers.emit(type, data);
  }
}

/** Creates and starts a client. */
export function createClient<E extends object = EventMap>(options: ClientOptions): SseClient<E> {
  return new SseClient<E>(options);
}

function notConnected(message: string): SseBrokerError {
  return new SseBrokerError("SSEB_ERR_CLIENT_NOT_CONNECTED", message);
}

/** `url` with its `topic` parameters replaced by `selectors`; `undefined` for a Mercure 1.0 (`match…`) URL. */
function withTopics(url: URL, selectors: readonly string[]): URL | undefined {
  for (const key of url.searchParams.keys()) if (key.startsWith("match")) return undefined;
  const next = new URL(url.href);
  next.searchParams.delete("topic");
  for (const s of selectors) next.searchParams.append("topic", s);
  return next;
}
