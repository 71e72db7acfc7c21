/**
 * Did the Redis stream drop entries a node never read? Decided from `XINFO STREAM`, asked right after a read.
 *
 * `XADD MAXLEN ~` trims from the head only, and (measured on Redis 7.0) does not move `max-deleted-entry-id`;
 * only XDEL does. So a trim shows in `first-entry`: if it is at or before the node's position, nothing after
 * it was trimmed. Past it, Redis >= 7's `entries-added` tells exactly: the n-th entry ever added is number n,
 * so with no deleted entry inside the retained range the first one is number `entries-added - length + 1`,
 * and a node that knows the number of its last entry knows whether the next one it read follows on. Without
 * that (Redis < 7, number unknown, entries deleted inside the range) the answer is "possible".
 * @module
 */
import { compareStreamIds } from "./redis-entry.js";

/** The parts of `XINFO STREAM` the check needs. */
export interface StreamInfo {
  readonly length: number;
  /** `null` when the stream is empty. */
  readonly firstId: string | null;
  readonly lastGeneratedId: string;
  /** Entries ever added (Redis >= 7), when a safe integer. */
  readonly entriesAdded: number | undefined;
  /** Highest id removed by XDEL (Redis >= 7; `"0-0"` when none). */
  readonly maxDeletedId: string | undefined;
}

/** Parses ioredis' flat `XINFO STREAM` reply. */
export function parseStreamInfo(reply: unknown): StreamInfo {
  const fields = new Map<string, unknown>();
  if (Array.isArray(reply))
    for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), reply[i + 1]);
  const first = fields.get("first-entry");
  const added = fields.get("entries-added");
  const deleted = fields.get("max-deleted-entry-id");
  return {
    length: Number(fields.get("length") ?? 0),
    firstId: Array.isArray(first) && typeof first[0] === "string" ? first[0] : null,
    lastGeneratedId: String(fields.get("last-generated-id") ?? "0-0"),
    entriesAdded: typeof added === "number" && Number.isSafeInteger(added) ? added : undefined,
    maxDeletedId: typeof deleted === "string" ? deleted : undefined,
  };
}

/** Where a node is in the stream: its last entry id and, when known, that entry's number. */
export interface StreamPosition {
  readonly id: string;
  readonly count: number | undefined;
}

export interface TrimVerdict {
  /** `lost`: entries after `from` were removed unread; `possible`: cannot rule it out (at the trim edge). */
  readonly gap: "none" | "lost" | "possible";
  /** Why, for the log. */
  readonly reason: string;
  /** Number of the batch's last entry when known (the position's `count` after delivering it). */
  readonly count: number | undefined;
}

/**
 * Checks a non-empty batch `ids` just read after `from` against `info`, asked after the read. Entries
 * removed before `from` are not a gap (not retained, like history eviction); nor is anything when
 * `from.id` is `"0-0"` (the node has delivered nothing yet).
 */
export function checkTrim(from: StreamPosition, ids: readonly string[], info: StreamInfo): TrimVerdict {
  const first = ids[0] as string;
  const last = ids[ids.length - 1] as string;
  const exact = numberOfLast(ids, info);
  const none = (reason: string): TrimVerdict => ({
    gap: "none",
    reason,
    count: exact ?? (from.count === undefined ? undefined : from.count + ids.length),
  });
  if (from.id === "0-0") return none("nothing delivered before");
  const deleted = info.maxDeletedId;
  if (
    deleted !== undefined &&
    compareStreamIds(deleted, from.id) > 0 &&
    compareStreamIds(deleted, last) <= 0 &&
    !ids.includes(deleted)
  ) {
    return { gap: "lost", reason: "an entry after this node's position was deleted (XDEL)", count: exact };
  }
  if (info.firstId !== null && compareStreamIds(info.firstId, from.id) <= 0) return none("not trimmed past");
  // Trimmed past this node's last entry: does the batch's first entry follow it?
  if (exact !== undefined && from.count !== undefined) {
    const numberOfFirst = exact - ids.length + 1;
    if (numberOfFirst === from.count + 1) return none("trimmed past, nothing lost");
    if (numberOfFirst > from.count + 1) {
      return {
        gap: "lost",
        reason: `${numberOfFirst - from.count - 1} entries trimmed before ${first} was read`,
        count: exact,
      };
    }
    return { gap: "possible", reason: "the stream's entry count went back (recreated?)", count: exact };
  }
  return { gap: "possible", reason: "trimmed past this node's position (at the trim edge)", count: exact };
}

/** The number of the batch's last entry, when `info` pins it down. */
function numberOfLast(ids: readonly string[], info: StreamInfo): number | undefined {
  const added = info.entriesAdded;
  if (added === undefined) return undefined;
  // The last entry ever added is number `entries-added`, deletions or not.
  if (ids[ids.length - 1] === info.lastGeneratedId) return added;
  // The first retained one, when nothing inside the retained range was deleted.
  const first = info.firstId;
  const deleted = info.maxDeletedId ?? "0-0";
  if (first === null || (deleted !== "0-0" && compareStreamIds(deleted, first) >= 0)) return undefined;
  const at = ids.indexOf(first);
  return at === -1 ? undefined : added - info.length + 1 + (ids.length - 1 - at);
}
