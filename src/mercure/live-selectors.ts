/**
 * Changing the topics of an open Mercure stream (this hub's extension; issue 11, feature 1).
 *
 * `POST /.well-known/mercure/subscribers/{id}/selectors` with JSON `{"add": [...], "remove": [...]}`:
 * authorized by the stream's own token, or by a Mercure publisher token whose publish rights cover every
 * added and removed entry. The token is verified exactly as the hub's publish endpoint verifies it (the
 * same `authorize` / `authorizeAccess`: keys, algorithms, audience, issuers, cookie origin rule); only its
 * SHA-256 and its verified rights go to the node holding the stream (src/subscribers/).
 *
 * The holder reads the entries in the stream's own dialect (`changeHubStream`, also used for changes that
 * come in through `/subscribers/{id}/selectors`): a classic stream takes selector strings (topics, URI
 * templates, `*`); a Mercure 1.0 stream takes exact topics as strings or `{"match": …}` /
 * `{"match_exact": …}`, and URL patterns as `{"match_urlpattern": …}`, checked by the same `readMatchers`
 * and compiled by the same `compileMatchers` as a subscription's query (limits, reserved `match…`
 * namespace, patterns resolved against the hub URL). The subscription events and APIs follow the change
 * through `mercureMeta` (registry.ts).
 *
 * A rights entry covers an added or removed one when it is `*`, when the entry is an exact topic the
 * rights match (as a publish to it would be), or when the entry is a pattern the rights hold identically
 * (same dialect, same text): a publisher allowed on `https://example.com/books/{id}` may subscribe a
 * stream to that template or to `https://example.com/books/1`, not to `https://example.com/{any}`.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { findToken } from "../auth/token.js";
import type { Broker } from "../core/broker.js";
import type { Session } from "../core/session.js";
import { isPatternSelector, SelectorSet } from "../core/topic.js";
import { badRequest, SseBrokerError } from "../errors.js";
import { sendJson } from "../http/respond.js";
import { changeOf } from "../http/subscribers.js";
import {
  type ChangeEntry,
  type ChangeRequest,
  changeAnywhere,
  changeForbidden,
  credentialHashOf,
  type PublishRights,
} from "../subscribers/change.js";
import { authorize, authorizeAccess, authRequired, findAccessToken, insufficientScope } from "./authorize.js";
import { dialectOf } from "./dialect.js";
import { compileMatchers, type Mercure1Matchers, matcherKey, readMatchers } from "./matchers.js";
import type { ResolvedMercureOptions } from "./options.js";
import { HUB_PATH } from "./paths.js";
import { mercureMeta } from "./registry.js";
import { checkEventTopics, countRefusal } from "./subscribe.js";

const ROUTE = new RegExp(`^${HUB_PATH.replace(/\./g, "\\.")}/subscribers/([^/]+)/selectors$`);
/** Longer than any id this hub makes (`urn:uuid:` + 36), short enough never to be a cost. */
const MAX_ID_LENGTH = 256;

/** The subscriber id of a `…/subscribers/{id}/selectors` path (percent-encoded or not); else `null`. */
export function selectorsTarget(path: string): string | null {
  const m = ROUTE.exec(path);
  if (m === null) return null;
  try {
    const id = decodeURIComponent(m[1] as string);
    return id.length > MAX_ID_LENGTH ? null : id;
  } catch {
    return null;
  }
}

export async function handleSelectorChange(
  broker: Broker,
  o: ResolvedMercureOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  id: string,
  headers: Record<string, string>,
): Promise<void> {
  // The token sources of a publish in this request's dialect (a 1.0 token never in the URL).
  const v1 = dialectOf(req, url, o) === "1";
  const token = v1
    ? findAccessToken(req, url, o.cookieName)?.token
    : findToken(req, url, o.cookieName)?.token;
  if (token === undefined || token === "")
    throw authRequired("changing a stream's topics needs a publisher token or the stream's own token");
  // Verified as the publish endpoint verifies publishers; a failure stays the answer unless the token
  // turns out to be the stream's own (which may be a subscriber token, signed with another key).
  let rights: PublishRights | null = null;
  let failure: unknown;
  try {
    rights = v1
      ? rights1(await authorizeAccess(req, url, "publisher", o))
      : rightsClassic(await authorize(req, url, "publisher", o));
  } catch (err) {
    failure = err;
  }
  const b = broker.options;
  const { add, remove } = await changeOf(req, b.maxBodyBytes, b.maxSelectorsPerSubscription);
  const change: ChangeRequest = {
    id,
    add,
    remove,
    publisher: false,
    credentialHash: credentialHashOf(token),
    rights,
  };
  let selectors: readonly ChangeEntry[];
  try {
    selectors = await changeAnywhere(broker, change);
  } catch (err) {
    if (failure !== undefined && (err as SseBrokerError).code === "SSEB_ERR_SUBSCRIBER_FORBIDDEN")
      throw failure;
    throw err;
  }
  sendJson(res, 200, { subscriber: id, selectors }, headers);
}

function rightsClassic(g: Awaited<ReturnType<typeof authorize>>): PublishRights | null {
  return g === null ? null : { dialect: "classic", selectors: g.publish ?? [] };
}

function rights1(g: Awaited<ReturnType<typeof authorizeAccess>>): PublishRights | null {
  if (g === null) return null;
  // compileMatchers turns `*` of either type into the wildcard and patterns into templates: read back.
  const matchers = g.publish.selectors.map(
    (s) => [s.kind === "template" ? "urlpattern" : "exact", s.source] as const,
  );
  return { dialect: "1", matchers };
}

/** What coverage needs of an entry: classic selectors and compiled 1.0 matchers both have it. */
interface Named {
  readonly kind: "exact" | "wildcard" | "template";
  readonly key: string;
  readonly source: string;
}

/**
 * Applies a change to a stream of this hub (`undefined` for other routes' streams): in its dialect,
 * authorized when `trusted` or covered by `change.rights`. Returns the stream's selectors as entries of
 * its dialect (1.0: URL patterns as `{"match_urlpattern": …}`).
 */
export function changeHubStream(
  broker: Broker,
  o: ResolvedMercureOptions,
  session: Session,
  change: ChangeRequest,
  trusted: boolean,
): readonly ChangeEntry[] | undefined {
  const m = mercureMeta(session); // also records what the metadata describes before the change
  if (m === undefined || m.subscriber !== session.subscriberId) return undefined;
  const rights = trusted ? null : compiledRights(broker, o, change.rights);
  if (!trusted && rights === null) throw changeForbidden();
  if (m.matchers === undefined) {
    const add = classicEntries(change.add);
    const remove = classicEntries(change.remove);
    if (rights !== null) assertCovered(rights, [...add, ...remove].map(classicNamed));
    return broker.changeSelectors(session, { add, remove });
  }
  let added: Mercure1Matchers;
  let removed: Mercure1Matchers;
  let compiled: ReturnType<typeof compileMatchers>;
  try {
    added = readMatchers(fieldsOf(change.add), o);
    removed = readMatchers(fieldsOf(change.remove), o);
    if (o.subscriptions) checkEventTopics(added);
    const keys = new Set(session.selectorSet.selectors.map((s) => s.key));
    for (const [t, v] of removed.pairs) keys.delete(matcherKey(t, v, o.hubBase));
    for (const [t, v] of added.pairs) keys.add(matcherKey(t, v, o.hubBase));
    if (keys.size > o.maxMatchersPerSubscription) {
      throw badRequest(
        `a subscription may have at most ${o.maxMatchersPerSubscription} topic matchers`,
        "SSEB_ERR_LIMIT_SELECTORS",
      );
    }
    compiled = compileMatchers(added, o.hubBase, o);
  } catch (err) {
    countRefusal(broker, err);
    throw err;
  }
  const removeKeys = removed.pairs.map(([t, v]) => matcherKey(t, v, o.hubBase));
  if (rights !== null) {
    const named: Named[] = removed.pairs.map(([t, v], i) => ({
      kind: v === "*" ? "wildcard" : t === "exact" ? "exact" : "template",
      key: removeKeys[i] as string,
      source: v,
    }));
    assertCovered(rights, [...compiled, ...named]);
  }
  broker.changeSelectors(session, { add: compiled, remove: removeKeys });
  return session.selectorSet.selectors.map((s) =>
    s.kind === "template" ? { match_urlpattern: s.source } : s.source,
  );
}

interface CompiledRights {
  readonly set: SelectorSet;
  readonly dialect: "classic" | "1";
}

/** The rights a publisher token brought, compiled on this node (the same base and limits as its own). */
function compiledRights(
  broker: Broker,
  o: ResolvedMercureOptions,
  rights: PublishRights | null | undefined,
): CompiledRights | null {
  if (rights === null || rights === undefined) return null;
  if (rights.dialect === "classic" && Array.isArray(rights.selectors)) {
    const selectors = rights.selectors.filter((s) => typeof s === "string");
    return { set: broker.matcher.compile(selectors), dialect: "classic" };
  }
  if (rights.dialect === "1" && Array.isArray(rights.matchers)) {
    const pairs = rights.matchers.filter(
      (p): p is readonly ["exact" | "urlpattern", string] =>
        Array.isArray(p) && (p[0] === "exact" || p[0] === "urlpattern") && typeof p[1] === "string",
    );
    try {
      // Bounded as they were when the token was verified (MAX_DETAILS × MAX_TOPICS_PER_DETAIL, pattern budget).
      const set = new SelectorSet(compileMatchers({ values: pairs.map(([, v]) => v), pairs }, o.hubBase, o));
      return { set, dialect: "1" };
    } catch {
      return null;
    }
  }
  return null;
}

function assertCovered(rights: CompiledRights, entries: readonly Named[]): void {
  const all = rights.set.selectors.some((r) => r.kind === "wildcard");
  for (const e of entries) {
    if (all) return;
    const ok =
      e.kind === "exact" ? rights.set.matches(e.source) : rights.set.selectors.some((r) => r.key === e.key);
    if (ok) continue;
    const message = "the token's publish rights do not cover every topic of this change";
    throw rights.dialect === "1"
      ? insufficientScope(message)
      : new SseBrokerError("SSEB_ERR_AUTH_FORBIDDEN", message, { statusCode: 403 });
  }
}

function classicEntries(list: readonly ChangeEntry[]): string[] {
  return list.map((x) => {
    if (typeof x !== "string") {
      throw badRequest(
        "this stream subscribed with topic= (classic Mercure): name its selectors as strings; matcher objects are for Mercure 1.0 streams",
      );
    }
    return x;
  });
}

function classicNamed(source: string): Named {
  return {
    kind: source === "*" ? "wildcard" : isPatternSelector(source) ? "template" : "exact",
    key: source,
    source,
  };
}

/**
 * A 1.0 change list as subscription fields, for `readMatchers`: a string is a `match` (exact topic), an
 * object names its matcher parameter. A name outside the `match…` namespace is refused here (a query
 * would ignore it, but a change has nothing else to say).
 */
function fieldsOf(list: readonly ChangeEntry[]): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  for (const x of list) {
    const [name, value] = typeof x === "string" ? ["match", x] : (Object.entries(x)[0] ?? ["", ""]);
    if (name.slice(0, 5).toLowerCase() !== "match") {
      throw badRequest(
        'a Mercure 1.0 stream takes exact topics as strings or {"match": …}, URL patterns as {"match_urlpattern": …}',
        "SSEB_ERR_MERCURE_MATCHER_INVALID",
      );
    }
    const values = fields.get(name);
    if (values === undefined) fields.set(name, [value]);
    else values.push(value);
  }
  return fields;
}
