/**
 * The unit the broker moves: one published event, addressed to one or more topics.
 * @module
 */

export interface Update {
  /** Unique event id, sent as the SSE `id:` and used for Last-Event-ID resume. */
  readonly id: string;
  /** Topics; the first is the canonical one (Mercure), the rest alternates. Never empty. */
  readonly topics: readonly string[];
  readonly data: string;
  /** SSE `event:` type; absent means `message`. */
  readonly type?: string | undefined;
  /** SSE `retry:` in milliseconds. */
  readonly retry?: number | undefined;
  /** Private updates reach only subscribers authorized for one of their topics. */
  readonly private?: boolean | undefined;
  /**
   * Kept in a small history of its own (e.g. Mercure subscription events, one topic per connection), so
   * connection churn never evicts the history of data topics. Best effort on resume.
   */
  readonly ephemeral?: boolean | undefined;
}

/** An update as the local node delivered it: ordered by `seq`, encoded once. */
export interface DeliveredUpdate extends Update {
  /** Local delivery order, strictly increasing. */
  readonly seq: number;
  /** The encoded event, with its `id:` line. */
  readonly frame: Buffer;
}
