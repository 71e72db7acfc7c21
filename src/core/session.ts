/**
 * One subscriber connection: what it wants, and writing to its socket without ever waiting for it.
 *
 * Node's writable buffer is the only queue. When it holds more than `maxBufferedBytes` the subscriber is
 * dropped (it resumes from history with Last-Event-ID) instead of growing memory or losing events silently.
 * A history replay is read from a cursor one chunk at a time as the socket drains, while live events wait
 * (shared frames, counted against the cap): memory per connection stays under the cap plus one chunk.
 * @module
 */
import { randomUUID } from "node:crypto";
import { LOST, type ReplayCursor } from "./history.js";
import type { SelectorSet } from "./topic.js";

/** What a session writes to: a net.Socket, a ServerResponse, an HTTP/2 stream, or any Writable. */
export interface SessionSink {
  write(chunk: Buffer): boolean;
  /** With uncork, turns several writes into one (writev on a socket). Optional. */
  cork?(): void;
  uncork?(): void;
  end(): unknown;
  destroy(): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: matches the overloaded EventEmitter signatures of streams
  on(event: "close" | "error", listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  once(event: "close" | "error" | "drain", listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  off(event: "close" | "error" | "drain", listener: (...args: any[]) => void): unknown;
  readonly writableLength: number;
  /** True once a write returned false, until 'drain' (streams have it; other sinks fall back to a size). */
  readonly writableNeedDrain?: boolean;
  readonly destroyed: boolean;
}

/**
 * Why a session ended: `client` left, `slow` (output over the cap), `lagged` (its replay fell behind
 * history's turnover), `shutdown`, `expired` (token), `error` (the sink failed), `closed` (by the app).
 */
export type CloseReason = "client" | "slow" | "lagged" | "shutdown" | "expired" | "error" | "closed";

export interface SessionInit {
  readonly sink: SessionSink;
  /** Compiled topic selectors (exact topics, `*` or URI templates). */
  readonly selectors: SelectorSet;
  /** Selectors that authorize private updates; `null` = anonymous, never receives private updates. */
  readonly grants: SelectorSet | null;
  /** Write events without their `id:` line (the seed demo's exact wire format on `GET /`). */
  readonly bareFrames?: boolean;
  readonly maxBufferedBytes: number;
  /** Free-form data for the embedding application (e.g. Mercure subscriber id, JWT payload). */
  readonly meta?: Record<string, unknown>;
  /** When the stream ends (ms since epoch), e.g. its token's expiry. */
  readonly expiresAt?: number | undefined;
  /** Who opened it (e.g. the client address), for per-client accounting. */
  readonly client?: string | undefined;
  /** The stream's public id (`urn:uuid:…`); generated when absent. */
  readonly subscriberId?: string | undefined;
  /** SHA-256 (hex) of the bearer token the stream presented, if any: its own credential for changes. */
  readonly credentialHash?: string | undefined;
}

let nextSessionId = 1;

/** Counters a flush adds to (the broker's stats). */
export interface DeliveryStats {
  eventsDelivered: number;
  bytesDelivered: number;
}

const MAX_QUEUED_BYTES = 64 * 1024;
/** Replay bytes written per step; the next step waits until the socket drained what it holds. */
export const REPLAY_CHUNK_BYTES = 64 * 1024;
/** Retained events a replay step may pass over (not for this subscriber) before yielding the loop. */
const REPLAY_STEP_BUDGET = 4096;

export class Session {
  readonly id = nextSessionId++;
  /** Public id of the stream (`urn:uuid:…`, the `SSE-Broker-Subscriber` header), unique on the broker. */
  readonly subscriberId: string;
  /** SHA-256 (hex) of the stream's bearer token; `undefined` when it presented none. A refresh replaces it. */
  credentialHash: string | undefined;
  readonly sink: SessionSink;
  /** Replaced (never mutated) by `Broker.changeSelectors`, between two deliveries. */
  selectorSet: SelectorSet;
  /** Private-update rights; a token refresh replaces them (Broker.renewToken). */
  grants: SelectorSet | null;
  readonly bareFrames: boolean;
  readonly openedAt = Date.now();
  /** When the stream ends (ms since epoch); a token refresh moves it. */
  expiresAt: number | undefined;
  /**
   * When the `sse-broker.token-expiring` notice is due (ms since epoch); `undefined` once sent, or when the
   * stream gets none (see token-lifecycle.ts).
   */
  noticeAt: number | undefined;
  /** The stream says when its token ends it: the notice, then the final `sse-broker.closed`. */
  tokenLifecycle = false;
  /** Its token's expiry (ms since epoch, tolerance included), if any. */
  tokenExpiresAt: number | undefined;
  /** The latest it may end whatever its token says (`maxStreamLifetimeMs`), if any. */
  endsBy: number | undefined;
  readonly client: string | undefined;
  /** seq of the last live update queued: dedupes an update matched by several selectors. */
  lastSeq = 0;
  closed = false;
  closeReason: CloseReason | undefined;
  /** Position in the broker's expiry heap, keyed on `dueAt` (-1 when not in it). */
  expiryIndex = -1;
  /** Written since the last heartbeat: the next heartbeat skips it (it is visibly alive). */
  wrote = false;
  readonly #maxBufferedBytes: number;
  #onClose: ((s: Session) => void) | undefined;
  /**
   * Frames fanned out to this session in the current event-loop turn, written together by flush(). The
   * usual single frame lives in a field: no array is allocated per delivery, only for a second frame.
   */
  #first: Buffer | null = null;
  #more: Buffer[] | null = null;
  #queuedBytes = 0;
  /** While a replay runs: its cursor, and the live frames held until it ends. */
  #replay: ReplayCursor | null = null;
  #held: Buffer[] | null = null;
  #heldBytes = 0;
  #stats: DeliveryStats | null = null;
  #replayScheduled = false;
  // Created on first use: most sessions never replay, and an idle connection should hold little.
  #meta: Record<string, unknown> | undefined;
  #onDrain: (() => void) | undefined;
  #resume: (() => void) | undefined;

  constructor(init: SessionInit) {
    this.sink = init.sink;
    this.subscriberId = init.subscriberId ?? `urn:uuid:${randomUUID()}`;
    this.credentialHash = init.credentialHash;
    this.selectorSet = init.selectors;
    this.grants = init.grants;
    this.bareFrames = init.bareFrames ?? false;
    this.#meta = init.meta;
    this.expiresAt = init.expiresAt;
    // Template accounting needs it (see Broker), also when a change adds a template later.
    this.client = init.client;
    this.#maxBufferedBytes = init.maxBufferedBytes;
  }

  /** The broker's next timed action on this stream: its token-expiry notice, else its end. */
  get dueAt(): number | undefined {
    return this.noticeAt ?? this.expiresAt;
  }

  /** Free-form data for the embedding application (e.g. Mercure subscriber id, JWT payload). */
  get meta(): Record<string, unknown> {
    this.#meta ??= {};
    return this.#meta;
  }

  /** Topic selectors, as given. */
  get selectors(): readonly string[] {
    return this.selectorSet.sources;
  }

  /** Selectors authorizing private updates, as given; `null` = anonymous. */
  get authorized(): readonly string[] | null {
    return this.grants?.sources ?? null;
  }

  /** True while a history replay is being written. */
  get replaying(): boolean {
    return this.#replay !== null;
  }

  /** Called once when the session ends, whatever the cause. Set by the broker. */
  set onClose(fn: (s: Session) => void) {
    this.#onClose = fn;
  }

  /** True when the update passes this session's authorization (selectors are the index's business). */
  mayReceive(u: { readonly private?: boolean | undefined; readonly topics: readonly string[] }): boolean {
    return u.private !== true || this.grants?.matchesAny(u.topics) === true;
  }

  /**
   * Writes bytes now (heartbeats), never awaiting. Returns false when the session is (or just got) closed
   * because its pending output passed the cap.
   */
  send(bytes: Buffer): boolean {
    if (this.closed) return false;
    this.sink.write(bytes);
    return !this.#dropIfOverCap();
  }

  /** Writes a heartbeat unless events were written since the last one; true when it wrote. */
  beat(bytes: Buffer): boolean {
    if (this.wrote) {
      this.wrote = false;
      return false;
    }
    return this.send(bytes);
  }

  /**
   * Queues an event frame for this turn's flush. Returns true when it is the first one queued since the
   * last flush, so that the caller schedules this session once per turn. A queue reaching 64 KiB is written
   * at once: the queue stays small and the cap keeps measuring what the socket really holds. During a
   * replay the frame is held until the replay ends.
   */
  enqueue(frame: Buffer, stats: DeliveryStats): boolean {
    if (this.closed) return false;
    if (this.#replay !== null) {
      this.#held ??= [];
      this.#held.push(frame);
      this.#heldBytes += frame.length;
      this.#dropIfOverCap();
      return false;
    }
    let first = false;
    if (this.#first === null) {
      this.#first = frame;
      first = true;
    } else if (this.#more === null) {
      this.#more = [frame];
    } else {
      this.#more.push(frame);
    }
    this.#queuedBytes += frame.length;
    if (this.#queuedBytes >= MAX_QUEUED_BYTES) {
      this.flush(stats);
      return false; // scheduled by its first frame, or now written
    }
    return first;
  }

  /**
   * Writes the frames queued since the last flush in one write: one frame as it is, several joined into
   * one buffer that every session which queued the same frames shares (`joined`, one per flush), so a
   * broadcast costs one copy per batch, not per socket. Drops the session when its pending output passes
   * the cap. Adds what it wrote to `stats`.
   */
  flush(stats: DeliveryStats, joined?: JoinedFrames): void {
    const first = this.#first;
    if (first === null) return;
    const more = this.#more;
    const bytes = this.#queuedBytes;
    this.#first = null;
    this.#more = null;
    this.#queuedBytes = 0;
    if (this.closed) return;
    this.wrote = true;
    if (more === null) {
      this.sink.write(first);
    } else if (joined !== undefined) {
      this.sink.write(joined.of(first, more, bytes));
    } else {
      this.sink.cork?.();
      this.sink.write(first);
      for (const frame of more) this.sink.write(frame);
      this.sink.uncork?.();
    }
    if (this.#dropIfOverCap()) return;
    stats.eventsDelivered += more === null ? 1 : 1 + more.length;
    stats.bytesDelivered += bytes;
  }

  /** Closes the session as slow when its pending output passes the cap; returns true if it did. */
  #dropIfOverCap(): boolean {
    if (this.sink.writableLength + this.#heldBytes <= this.#maxBufferedBytes) return false;
    this.close("slow");
    return true;
  }

  /** Starts writing a history replay; live frames are held until it has been written. */
  replay(cursor: ReplayCursor, stats: DeliveryStats): void {
    if (this.closed) return;
    this.#replay = cursor;
    this.#stats = stats;
    this.#onDrain = () => this.#pump();
    this.#resume = () => {
      this.#replayScheduled = false;
      this.#pump();
    };
    this.#pump();
  }

  /** One replay step: up to a chunk of frames, then wait for `drain` or for the next turn. */
  #pump(): void {
    const cursor = this.#replay;
    if (cursor === null || this.closed) return;
    if (this.#mustWait()) {
      this.sink.once("drain", this.#onDrain as () => void);
      return;
    }
    let bytes = 0;
    let events = 0;
    const budget = { left: REPLAY_STEP_BUDGET };
    let done = false;
    this.sink.cork?.();
    try {
      while (bytes < REPLAY_CHUNK_BYTES && budget.left > 0) {
        const e = cursor.peek(budget);
        if (e === LOST) {
          this.close("lagged");
          return;
        }
        if (e === null) {
          done = budget.left > 0;
          break;
        }
        const frame = this.bareFrames ? bareFrameOf(e) : (e.frame as Buffer);
        this.sink.write(frame);
        bytes += frame.length;
        events++;
        cursor.advance();
      }
    } finally {
      this.sink.uncork?.();
    }
    const stats = this.#stats as DeliveryStats;
    stats.eventsDelivered += events;
    stats.bytesDelivered += bytes;
    if (this.closed) return;
    if (done) {
      this.#endReplay(stats);
      return;
    }
    if (this.#mustWait()) {
      this.sink.once("drain", this.#onDrain as () => void);
    } else if (!this.#replayScheduled) {
      this.#replayScheduled = true;
      setImmediate(this.#resume as () => void);
    }
  }

  /** True when the sink holds more than it wants (a write returned false): wait for its 'drain'. */
  #mustWait(): boolean {
    return this.sink.writableNeedDrain ?? this.sink.writableLength > REPLAY_CHUNK_BYTES;
  }

  /** The replay is written: the held live frames follow it, then the session is live. */
  #endReplay(stats: DeliveryStats): void {
    this.#replay = null;
    this.#onDrain = undefined;
    this.#resume = undefined;
    const held = this.#held;
    const bytes = this.#heldBytes;
    this.#held = null;
    this.#heldBytes = 0;
    if (held === null) return;
    this.sink.cork?.();
    for (const frame of held) this.sink.write(frame);
    this.sink.uncork?.();
    if (this.#dropIfOverCap()) return;
    stats.eventsDelivered += held.length;
    stats.bytesDelivered += bytes;
  }

  /** Ends the stream. `shutdown`/`expired`/`closed` end it cleanly (clients reconnect); others destroy it. */
  close(reason: CloseReason, last?: Buffer): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.#replay = null;
    this.#held = null;
    this.#heldBytes = 0;
    if (this.#onDrain !== undefined) this.sink.off("drain", this.#onDrain);
    if (reason === "shutdown" || reason === "expired" || reason === "closed") {
      if (last !== undefined && !this.sink.destroyed) this.sink.write(last);
      this.sink.end();
    } else if (!this.sink.destroyed) {
      this.sink.destroy();
    }
    const cb = this.#onClose;
    this.#onClose = undefined;
    cb?.(this);
  }
}

/**
 * The batches of one flush joined into single buffers, shared by the sessions that queued the same frames
 * (subscribers of the same topics get the same events in the same order). Keyed by the first frame; a
 * candidate is reused only if every frame is the same object.
 */
export class JoinedFrames {
  readonly #byFirst = new Map<Buffer, { more: readonly Buffer[]; buffer: Buffer }[]>();

  of(first: Buffer, more: readonly Buffer[], bytes: number): Buffer {
    let list = this.#byFirst.get(first);
    if (list !== undefined) {
      for (const c of list) if (sameFrames(c.more, more)) return c.buffer;
    } else {
      list = [];
      this.#byFirst.set(first, list);
    }
    const buffer = Buffer.concat([first, ...more], bytes);
    list.push({ more, buffer });
    return buffer;
  }
}

function sameFrames(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const bareFrames = new WeakMap<object, Buffer>();

/** The event's frame without its `id:` line, computed once per update and only if someone needs it. */
export function bareFrameOf(u: { readonly frame: Buffer | null }): Buffer {
  let b = bareFrames.get(u);
  if (b === undefined) {
    const frame = u.frame as Buffer;
    // The id line, when present, is always first (see wire/encode.ts).
    const nl = frame.indexOf(0x0a);
    b = frame.subarray(0, 3).toString("latin1") === "id:" ? frame.subarray(nl + 1) : frame;
    bareFrames.set(u, b);
  }
  return b;
}
