/**
 * One stream for all tabs of an origin: the tab holding a Web Lock (`navigator.locks`) is the leader and
 * owns the connection; it relays what it receives over a `BroadcastChannel` to the others (followers).
 * When the leader's tab closes (or its client closes), the browser releases the lock and the next waiting
 * tab becomes the leader, resuming from the last event id it was relayed, so nothing is lost or doubled:
 * events relayed after it took the lock are ignored and come again from the broker's replay.
 * @module
 */

/** What the leader relays; plain data (structured clone). */
export type Relay =
  | {
      k: "open";
      subscriber: string | undefined;
      resumedFrom: string | undefined;
      resumeHeader: string | undefined;
    }
  | { k: "message"; type: string; data: string; id: string | undefined; lastEventId: string }
  | { k: "control"; type: string; raw: string }
  | { k: "refreshed"; subscriber: string; expiresAt: string | null }
  | {
      k: "error";
      code: string;
      message: string;
      status: number | undefined;
      phase: string;
      delayMs: number | undefined;
    }
  | { k: "url"; href: string };

export interface ChangeResult {
  readonly subscriber: string;
  readonly selectors: readonly string[];
}

type Wire =
  | Relay
  | { k: "hello" }
  | { k: "change"; n: number; from: string; add: string[]; remove: string[]; token: string | undefined }
  | {
      k: "changed";
      n: number;
      to: string;
      result?: ChangeResult;
      error?: { code: string; message: string; status?: number };
    };

export interface ShareHooks {
  /** This tab became the leader: open the connection. */
  lead(): void;
  /** A follower got something the leader relayed. */
  relayed(message: Relay): void;
  /** The leader runs a follower's selector change. */
  change(add: string[], remove: string[], token: string | undefined): Promise<ChangeResult>;
  /** The leader's current `open` relay, for a tab that just joined (`undefined` when not open). */
  current(): Relay | undefined;
}

/** The part of `BroadcastChannel` used here. */
interface ChannelLike {
  onmessage: ((e: { data: unknown }) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
}

interface LockManagerLike {
  request(name: string, options: { signal?: AbortSignal }, callback: () => Promise<void>): Promise<unknown>;
}

/** The Web Locks manager and `BroadcastChannel`, or `undefined` where either is missing. */
function platform(): { locks: LockManagerLike; Channel: new (name: string) => ChannelLike } | undefined {
  // Structural types: the client's declarations must not need the DOM library.
  const g = globalThis as unknown as {
    navigator?: { locks?: LockManagerLike };
    BroadcastChannel?: new (name: string) => ChannelLike;
  };
  const locks = g.navigator?.locks;
  if (typeof locks?.request !== "function" || typeof g.BroadcastChannel !== "function") return undefined;
  return { locks, Channel: g.BroadcastChannel };
}

/** A follower's selector change that did not happen: the leader's error, or the leader gone. */
export class ChangeError extends Error {
  readonly code: string;
  readonly status: number | undefined;
  constructor(code: string, message: string, status: number | undefined) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export class TabShare {
  readonly #hooks: ShareHooks;
  readonly #channel: ChannelLike;
  readonly #cancel = new AbortController();
  readonly #tab = Math.random().toString(36).slice(2);
  readonly #pending = new Map<number, { resolve(r: ChangeResult): void; reject(e: Error): void }>();
  #leader = false;
  #release: (() => void) | undefined;
  #closed = false;
  #n = 0;

  /** Joins the tabs sharing `name`; `undefined` where Web Locks or BroadcastChannel are missing. */
  static join(name: string, hooks: ShareHooks): TabShare | undefined {
    const p = platform();
    return p === undefined ? undefined : new TabShare(p, name, hooks);
  }

  private constructor(p: NonNullable<ReturnType<typeof platform>>, name: string, hooks: ShareHooks) {
    this.#hooks = hooks;
    this.#channel = new p.Channel(`sse-broker:${name}`);
    this.#channel.onmessage = (e) => this.#receive(e.data as Wire);
    this.#channel.postMessage({ k: "hello" } satisfies Wire);
    p.locks
      .request(`sse-broker:${name}`, { signal: this.#cancel.signal }, () => {
        if (this.#closed) return Promise.resolve();
        this.#leader = true;
        // Changes asked of the old leader are not answered by it any more: ask again here.
        for (const [, p] of this.#pending)
          p.reject(new ChangeError("SSEB_ERR_CLIENT_NOT_CONNECTED", "the leader tab changed", undefined));
        this.#pending.clear();
        const held = new Promise<void>((resolve) => {
          this.#release = resolve;
        });
        this.#hooks.lead();
        return held;
      })
      .catch(() => {}); // aborted: this tab closed while waiting
  }

  get leader(): boolean {
    return this.#leader;
  }

  /** The leader relays to every other tab. */
  relay(message: Relay): void {
    if (this.#leader && !this.#closed) this.#channel.postMessage(message);
  }

  /** A follower asks the leader to change the shared stream's selectors. */
  requestChange(add: string[], remove: string[], token: string | undefined): Promise<ChangeResult> {
    const n = ++this.#n;
    return new Promise((resolve, reject) => {
      this.#pending.set(n, { resolve, reject });
      this.#channel.postMessage({ k: "change", n, from: this.#tab, add, remove, token } satisfies Wire);
    });
  }

  /** Leaves: a leader releases the lock (another tab takes over), a follower stops waiting for it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancel.abort();
    this.#release?.();
    this.#channel.close();
    for (const [, p] of this.#pending)
      p.reject(new ChangeError("SSEB_ERR_CLIENT_NOT_CONNECTED", "the client is closed", undefined));
    this.#pending.clear();
  }

  #receive(m: Wire): void {
    if (this.#closed) return;
    if (this.#leader) {
      if (m.k === "hello") {
        const current = this.#hooks.current();
        if (current !== undefined) this.#channel.postMessage(current);
      } else if (m.k === "change") {
        this.#hooks.change(m.add, m.remove, m.token).then(
          (result) => this.#channel.postMessage({ k: "changed", n: m.n, to: m.from, result } satisfies Wire),
          (err: { code?: string; message?: string; statusCode?: number }) =>
            this.#channel.postMessage({
              k: "changed",
              n: m.n,
              to: m.from,
              error: {
                code: err.code ?? "SSEB_ERR_CLIENT_HTTP",
                message: String(err.message),
                ...(err.statusCode === undefined ? {} : { status: err.statusCode }),
              },
            } satisfies Wire),
        );
      }
      // Relays still in flight from the previous leader: what they carry comes again in our replay.
      return;
    }
    if (m.k === "hello" || m.k === "change") return;
    if (m.k === "changed") {
      if (m.to !== this.#tab) return;
      const p = this.#pending.get(m.n);
      this.#pending.delete(m.n);
      if (m.result !== undefined) p?.resolve(m.result);
      else
        p?.reject(
          new ChangeError(m.error?.code ?? "SSEB_ERR_CLIENT_HTTP", m.error?.message ?? "", m.error?.status),
        );
      return;
    }
    this.#hooks.relayed(m);
  }
}
