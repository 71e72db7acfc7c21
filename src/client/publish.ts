/**
 * Publishing from a client: JSON to the broker's `POST /publish`, a form to a Mercure hub (both dialects
 * take the same fields; the token decides which rules apply).
 * @module
 */
import { httpError } from "./http-error.js";
import { bearer } from "./token.js";

export interface PublishOptions {
  /** Bearer token (the broker's publish token, or a Mercure publisher JWT / access token). */
  token?: string;
  /** `Idempotency-Key` (quoted or a bare token) for safe retries. */
  idempotencyKey?: string;
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

/** An event for `POST /publish`. */
export interface PublishEvent {
  topic: string | readonly string[];
  /** Any JSON value; a non-string is sent as its JSON text. */
  data: unknown;
  /** The `event:` type. */
  event?: string;
  id?: string;
  retry?: number;
}

/** Publishes one event (answers its id) or a batch (answers the ids in order). `base`: where the broker is mounted. */
export async function publish(
  base: string | URL,
  event: PublishEvent,
  options?: PublishOptions,
): Promise<string>;
export async function publish(
  base: string | URL,
  events: readonly PublishEvent[],
  options?: PublishOptions,
): Promise<string[]>;
export async function publish(
  base: string | URL,
  input: PublishEvent | readonly PublishEvent[],
  options: PublishOptions = {},
): Promise<string | string[]> {
  const root = String(base).replace(/\/$/, "");
  const res = await send(`${root}/publish`, "application/json", JSON.stringify(input), options);
  const body = (await res.json()) as { id?: string; ids?: string[] };
  return Array.isArray(input) ? (body.ids ?? []) : (body.id ?? "");
}

/** An update for a Mercure hub's `POST /.well-known/mercure`. */
export interface MercureUpdate {
  topic: string | readonly string[];
  data?: string;
  private?: boolean;
  id?: string;
  /** The `event:` type. */
  type?: string;
  retry?: number;
}

/** Publishes to a Mercure hub (`hub` is its URL); answers the update's id. */
export async function publishMercure(
  hub: string | URL,
  update: MercureUpdate,
  options: PublishOptions = {},
): Promise<string> {
  const form = new URLSearchParams();
  for (const t of typeof update.topic === "string" ? [update.topic] : update.topic) form.append("topic", t);
  if (update.data !== undefined) form.set("data", update.data);
  if (update.private === true) form.set("private", "on");
  if (update.id !== undefined) form.set("id", update.id);
  if (update.type !== undefined) form.set("type", update.type);
  if (update.retry !== undefined) form.set("retry", String(update.retry));
  const res = await send(String(hub), "application/x-www-form-urlencoded", form.toString(), options);
  return res.text();
}

async function send(url: string, type: string, body: string, o: PublishOptions): Promise<Response> {
  const headers: Record<string, string> = { "Content-Type": type };
  if (o.token !== undefined) headers.Authorization = bearer(o.token);
  if (o.idempotencyKey !== undefined) headers["Idempotency-Key"] = o.idempotencyKey;
  const res = await (o.fetch ?? globalThis.fetch)(url, {
    method: "POST",
    headers,
    body,
    ...(o.signal === undefined ? {} : { signal: o.signal }),
  });
  if (!res.ok) throw await httpError(res, "the publish");
  return res;
}
