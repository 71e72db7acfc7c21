/**
 * How an update is stored in a Redis stream entry, and how stream ids order.
 *
 * Two fields: `m`, a small JSON header (`i` id, `t` topics, `e` type, `r` retry, `p` private, `x` ephemeral),
 * and `d`, the data as is. Payloads are usually JSON already; keeping them out of the header spares escaping them twice
 * and keeps entries compact. Entries are validated on the way in because any client can XADD to the key.
 * @module
 */
import { assertTopic } from "../core/topic.js";
import type { Update } from "../core/update.js";
import { assertField, assertRetry } from "../wire/encode.js";

interface Header {
  i: string;
  t: readonly string[];
  e?: string;
  r?: number;
  p?: 1;
  x?: 1;
}

/** The XADD field/value list for an update. */
export function encodeEntry(u: Update): [string, string, string, string] {
  const h: Header = { i: u.id, t: u.topics };
  if (u.type !== undefined) h.e = u.type;
  if (u.retry !== undefined) h.r = u.retry;
  if (u.private === true) h.p = 1;
  if (u.ephemeral === true) h.x = 1;
  return ["m", JSON.stringify(h), "d", u.data];
}

/** Decodes an entry's flat field/value list; returns why when it is not a valid update. */
export function decodeEntry(fields: readonly string[]): Update | string {
  let m: string | undefined;
  let d: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === "m") m = fields[i + 1];
    else if (fields[i] === "d") d = fields[i + 1];
  }
  if (m === undefined || d === undefined) return "missing field m or d";
  let h: unknown;
  try {
    h = JSON.parse(m);
  } catch {
    return "header is not JSON";
  }
  if (typeof h !== "object" || h === null) return "header is not an object";
  const { i, t, e, r, p, x } = h as Record<string, unknown>;
  if (typeof i !== "string" || i === "" || i === "earliest") return "bad id";
  if (!Array.isArray(t) || t.length === 0 || !t.every((x) => typeof x === "string")) return "bad topics";
  if (e !== undefined && typeof e !== "string") return "bad type";
  if (r !== undefined && typeof r !== "number") return "bad retry";
  if (p !== undefined && p !== 1) return "bad private flag";
  if (x !== undefined && x !== 1) return "bad ephemeral flag";
  // The same checks publish() makes: an entry that passes them cannot throw in the encoder.
  try {
    assertField("id", i);
    if (e !== undefined) assertField("event", e);
    if (r !== undefined) assertRetry(r);
    for (const topic of t as string[]) assertTopic(topic);
  } catch (err) {
    return (err as Error).message;
  }
  const u: Update = { id: i, topics: t as string[], data: d, type: e, retry: r, private: p === 1 };
  return x === 1 ? { ...u, ephemeral: true } : u;
}

function compareDigits(a: string, b: string): number {
  // Decimal digits without leading zeros: the longer is larger, else compare as text.
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders stream ids (`<ms>-<seq>`, each up to 64 bits, so not as JS numbers). */
export function compareStreamIds(a: string, b: string): number {
  const da = a.indexOf("-");
  const db = b.indexOf("-");
  return compareDigits(a.slice(0, da), b.slice(0, db)) || compareDigits(a.slice(da + 1), b.slice(db + 1));
}
