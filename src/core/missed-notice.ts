/**
 * The in-band "you missed events" signal: a resume that history cannot cover (the response's
 * `Last-Event-ID: earliest`) starts with this control event, which a browser's `EventSource` (it cannot
 * read response headers) gets with `addEventListener("sse-broker.missed", …)`.
 *
 * It has no `id:` line, so the client's last event id stays the one it resumed from until the first
 * replayed event sets it; its data says which id was asked for and the id of the first event replayed
 * after it (`null` when history holds nothing for this subscriber).
 * @module
 */
import { encodeEvent } from "../wire/encode.js";
import { LOST, type ReplayCursor, type Retained, type StepBudget } from "./history.js";

/** The control event's `event:` type. */
export const MISSED_EVENT = "sse-broker.missed";

/** The control event's JSON data. */
export interface MissedNotice {
  /** The resume point the client sent (`Last-Event-ID`, `lastEventID`, `last_event_id`). */
  readonly requested: string;
  /** Id of the first event replayed after the notice, or `null` when none is. */
  readonly earliest: string | null;
}

/** The control event's bytes: `event:` and one `data:` line, never an `id:` line. */
export function encodeMissed(notice: MissedNotice): Buffer {
  return encodeEvent({ event: MISSED_EVENT, data: JSON.stringify(notice) });
}

/**
 * A replay cursor that yields the notice before the replay's first event. The notice needs that event's
 * id, so it is made once the inner cursor has found it (or finished), within the session's step budget.
 */
export class MissedNoticeCursor implements ReplayCursor {
  readonly #inner: ReplayCursor;
  readonly #requested: string;
  /** The notice until it was consumed, then `null`. */
  #notice: Retained | null | undefined;

  constructor(inner: ReplayCursor, requested: string) {
    this.#inner = inner;
    this.#requested = requested;
  }

  peek(budget: StepBudget): Retained | null | typeof LOST {
    if (this.#notice === null) return this.#inner.peek(budget);
    if (this.#notice !== undefined) return this.#notice;
    const first = this.#inner.peek(budget);
    if (first === LOST) return LOST;
    if (first === null && budget.left <= 0) return null; // paused before knowing the first event
    this.#notice = {
      id: "",
      topics: [],
      private: false,
      seq: 0,
      frame: encodeMissed({ requested: this.#requested, earliest: first?.id ?? null }),
      refs: 0,
    };
    return this.#notice;
  }

  advance(): void {
    // The inner cursor's first event was only peeked: it is peeked again next.
    if (this.#notice !== undefined && this.#notice !== null) this.#notice = null;
    else this.#inner.advance();
  }
}
