/**
 * One subscriber connection: what it wants, and writing to its socket without ever waiting for it.
 * Node's writable buffer is the only queue; when it holds more than `maxBufferedBytes` the subscriber is
 * dropped (it resumes from history with Last-Event-ID) instead of growing memory or losing events silently.
 * @module
 */
import type { DeliveredUpdate } from "./update.js";

/** What a session writes to: a net.Socket, a ServerResponse, an HTTP/2 stream, or any Writable. */
export interface SessionSink {
  write(chunk: Buffer): boolean;
  /** With uncork, turns several writes into one (writev on a socket). Optional. */
  cork?(): void;
  uncork?(): void;
  end(): unknown;
  destroy(): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: matches the overloaded EventEmitter signatures of streams
  once(event: "close" | "error" | "drain", listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  off(event: "close" | "error" | "drain", listener: (...args: any[]) => void): unknown;
  readonly writableLength: number;
  readonly destroyed: boolean;
}

export type CloseReason = "client" | "slow" | "shutdown" | "expired" | "error" | "closed";

export interface SessionInit {
  readonly sink: SessionSink;
  /** Topic selectors (exact topics, `*` or URI templates). */
  readonly selectors: readonly string[];
  /** Selectors that authorize private updates; `null` = anonymous, never receives private updates. */
  readonly authorized: readonly string[] | null;
  /** Write events without their `id:` line (the seed demo's exact wire format on `GET /`). */
  readonly bareFrames?: boolean;
  readonly maxBufferedBytes: number;
  /** Free-form data for the embedding application (e.g. Mercure subscriber id, JWT payload). */
  readonly meta?: Record<string, unknown>;
}

let nextSessionId = 1;

/** Counters a flush adds to (the broker's stats). */
export interface DeliveryStats {
  eventsDelivered: number;
  bytesDelivered: number;
}

const MAX_QUEUED_BYTES = 64 * 1024;

export class Session {
  readonly id = nextSessionId++;
  readonly sink: SessionSink;
  readonly selectors: readonly string[];
  readonly authorized: readonly string[] | null;
  readonly bareFrames: boolean;
  readonly meta: Record<string, unknown>;
  readonly openedAt = Date.now();
  /** seq of the last update written: dedupes an update matched by several selectors. */
  lastSeq = 0;
  closed = false;
  closeReason: CloseReason | undefined;
  /** Extra allowance while a history replay drains (its frames are shared with history, not copies). */
  #slack = 0;
  readonly #maxBufferedBytes: number;
  #onClose: ((s: Session) => void) | undefined;
  /**
   * Frames fanned out to this session in the current event-loop turn, written together by flush(). The
   * usual single frame lives in a field: no array is allocated per delivery, only for a second frame.
   */
  #first: Buffer | null = null;
  #more: Buffer[] | null = null;
  #queuedBytes = 0;

  constructor(init: SessionInit) {
    this.sink = init.sink;
    this.selectors = init.selectors;
    this.authorized = init.authorized;
    this.bareFrames = init.bareFrames ?? false;
    this.meta = init.meta ?? {};
    this.#maxBufferedBytes = init.maxBufferedBytes;
  }

  /** Called once when the session ends, whatever the cause. Set by the broker. */
  set onClose(fn: (s: Session) => void) {
    this.#onClose = fn;
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

  /**
   * Queues an event frame for this turn's flush. Returns true when it is the first one queued since the
   * last flush, so that the caller schedules this session once per turn. A queue reaching 64 KiB is written
   * at once: the queue stays small and the cap keeps measuring what the socket really holds.
   */
  enqueue(frame: Buffer, stats: DeliveryStats): boolean {
    if (this.closed) return false;
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
   * Writes the frames queued this turn: one write, or one corked writev when events arrived together (a
   * burst, a backplane batch), so deliveries cost fewer system calls than events. Drops the session when
   * its pending output passes the cap. Adds what it wrote to `stats`.
   */
  flush(stats: DeliveryStats): void {
    const first = this.#first;
    if (first === null) return;
    const more = this.#more;
    const bytes = this.#queuedBytes;
    this.#first = null;
    this.#more = null;
    this.#queuedBytes = 0;
    if (this.closed) return;
    if (more === null) {
      this.sink.write(first);
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
    if (this.sink.writableLength <= this.#maxBufferedBytes + this.#slack) return false;
    this.close("slow");
    return true;
  }

  /** Writes a history replay at once; the cap is relaxed by its size until the socket drains. */
  replay(updates: readonly DeliveredUpdate[]): void {
    if (updates.length === 0) return;
    let bytes = 0;
    for (const u of updates) bytes += u.frame.length;
    this.#slack += bytes;
    for (const u of updates) {
      this.lastSeq = u.seq;
      this.sink.write(this.bareFrames ? bareFrameOf(u) : u.frame);
    }
    if (this.sink.writableLength > 0) {
      const reset = (): void => {
        this.#slack = 0;
      };
      this.sink.once("drain", reset);
    } else {
      this.#slack = 0;
    }
  }

  /** Ends the stream. `shutdown`/`expired` end it cleanly (clients reconnect); others destroy the socket. */
  close(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    if (reason === "shutdown" || reason === "expired" || reason === "closed") this.sink.end();
    else if (!this.sink.destroyed) this.sink.destroy();
    const cb = this.#onClose;
    this.#onClose = undefined;
    cb?.(this);
  }
}

const bareFrames = new WeakMap<DeliveredUpdate, Buffer>();

/** The event's frame without its `id:` line, computed once per update and only if someone needs it. */
export function bareFrameOf(u: DeliveredUpdate): Buffer {
  let b = bareFrames.get(u);
  if (b === undefined) {
    // The id line, when present, is always first (see wire/encode.ts).
    const nl = u.frame.indexOf(0x0a);
    b = u.frame.subarray(0, 3).toString("latin1") === "id:" ? u.frame.subarray(nl + 1) : u.frame;
    bareFrames.set(u, b);
  }
  return b;
}
