/**
 * `POST /subscribers/{id}/selectors` with JSON `{"add": [...], "remove": [...]}`: changes the selectors of
 * the live stream with that subscriber id (its `SSE-Broker-Subscriber` header), on this node or, through
 * the registered router, on the node that holds it. Authorized as a publisher (the static publish token;
 * without one, the local-only rule of `/publish`), or by the bearer token the stream itself was opened
 * with. Answers `{"subscriber", "selectors"}` once the change is in effect. A Mercure hub's streams are
 * changed in their own dialect by the hub (src/mercure/live-selectors.ts, which also serves the route
 * that takes Mercure publisher tokens).
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Broker } from "../core/broker.js";
import { badRequest, SseBrokerError } from "../errors.js";
import {
  type ChangeEntry,
  type ChangeRequest,
  changeAnywhere,
  credentialHashOf,
  subscriberNotFound,
} from "../subscribers/change.js";
import { decodeUtf8, mediaType, parsedBody, readBody } from "./body.js";
import { assertLocal } from "./limits.js";
import { safeEqual } from "./ops.js";
import { sendJson } from "./respond.js";

const ROUTE = /^\/subscribers\/([^/]+)\/selectors$/;
/** Longer than any id this broker makes (`urn:uuid:` + 36), short enough to never be a cost. */
const MAX_ID_LENGTH = 256;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The subscriber id of a `/subscribers/{id}/selectors` path; `undefined` for other paths. */
export function subscriberPathId(path: string): string | null | undefined {
  const m = ROUTE.exec(path);
  if (m === null) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(m[1] as string);
  } catch {
    return null;
  }
  return id.length > MAX_ID_LENGTH || CONTROL.test(id) ? null : id;
}

/** The bearer token of `Authorization`, or `""`. */
export function bearerOf(req: IncomingMessage): string {
  const auth = req.headers.authorization ?? "";
  return auth.startsWith("Bearer ") ? auth.slice(7).trim() : "";
}

export async function handleSelectorChange(
  broker: Broker,
  req: IncomingMessage,
  res: ServerResponse,
  id: string | null,
  headers: Record<string, string>,
): Promise<void> {
  const o = broker.options;
  const given = bearerOf(req);
  let publisher = false;
  if (o.publishToken !== null) {
    if (given === "") {
      throw new SseBrokerError(
        "SSEB_ERR_AUTH_REQUIRED",
        "a publish token or the stream's own token is required",
        {
          statusCode: 401,
        },
      );
    }
    publisher = safeEqual(given, o.publishToken);
  } else if (given === "") {
    // No token anywhere: the /publish rule (this machine only, same-origin pages only).
    assertLocal(broker, req, "changing a stream's selectors without a token", o.publishOrigins);
    publisher = true;
  }
  const { add, remove } = await changeOf(req, o.maxBodyBytes, o.maxSelectorsPerSubscription);
  if (id === null) throw subscriberNotFound();
  const change: ChangeRequest = {
    id,
    add,
    remove,
    publisher,
    credentialHash: given === "" ? null : credentialHashOf(given),
  };
  const selectors = await changeAnywhere(broker, change);
  sendJson(res, 200, { subscriber: id, selectors }, headers);
}

/**
 * The body: a JSON object with `add` and/or `remove`, lists of entries (selector strings, or one-key
 * matcher objects for Mercure 1.0 streams, read by the holder), at least one entry in all.
 */
export async function changeOf(
  req: IncomingMessage,
  maxBodyBytes: number,
  maxSelectors: number,
): Promise<{ add: ChangeEntry[]; remove: ChangeEntry[] }> {
  if (mediaType(req) !== "application/json") {
    req.resume();
    throw new SseBrokerError("SSEB_ERR_MEDIA_TYPE_UNSUPPORTED", "Content-Type must be application/json", {
      statusCode: 415,
    });
  }
  const parsed = parsedBody(req);
  let value: unknown;
  if (parsed !== undefined) {
    value = parsed.value;
  } else {
    const text = decodeUtf8(await readBody(req, maxBodyBytes));
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw badRequest(err instanceof RangeError ? "body is nested too deeply" : "body is not valid JSON");
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw badRequest('body must be a JSON object {"add": [...], "remove": [...]}');
  const b = value as Record<string, unknown>;
  for (const k of Object.keys(b))
    if (k !== "add" && k !== "remove") throw badRequest(`unknown field "${k.slice(0, 40)}"`);
  const add = listOf(b.add, "add", maxSelectors);
  const remove = listOf(b.remove, "remove", maxSelectors);
  if (add.length + remove.length === 0) throw badRequest('"add" or "remove" must name a selector');
  return { add, remove };
}

function listOf(v: unknown, name: string, max: number): ChangeEntry[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string" || isMatcherObject(x)))
    throw badRequest(`"${name}" must be a list of selector strings or {"match_urlpattern": "…"} objects`);
  if (v.length > max) {
    throw badRequest(`"${name}" may list at most ${max} selectors`, "SSEB_ERR_LIMIT_SELECTORS");
  }
  return v as ChangeEntry[];
}

/** One key (a short name; the hub judges it) with a string value: what crosses nodes stays this small. */
function isMatcherObject(x: unknown): boolean {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return false;
  const keys = Object.keys(x);
  return keys.length === 1 && (keys[0] as string).length <= 40 && typeof Object.values(x)[0] === "string";
}
