/**
 * Backend hooks of one broker, built once from its options: the subscribe hook that stream routes call
 * before a stream opens (`beforeStream`), and the disconnect notifications fed by `session-close`.
 * @module
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Broker } from "../core/broker.js";
import { SseBrokerError } from "../errors.js";
import { DisconnectHook } from "./disconnect-hook.js";
import { SubscribeHook } from "./subscribe-hook.js";

export interface Hooks {
  readonly subscribe: SubscribeHook | null;
  readonly disconnects: DisconnectHook | null;
  /** Sends the disconnects still queued; call after the broker closed. */
  close(): Promise<void>;
}

/** Kept on a session (`meta.hook`) for its disconnect notification. */
interface HookMeta {
  readonly id: string;
  readonly client: string;
  readonly selectors: readonly string[];
}

const byBroker = new WeakMap<Broker, Hooks>();

export function hooksOf(broker: Broker): Hooks {
  let h = byBroker.get(broker);
  if (h === undefined) {
    const o = broker.options;
    const subscribe =
      o.subscribeHookUrl === null
        ? null
        : new SubscribeHook({
            url: o.subscribeHookUrl,
            timeoutMs: o.subscribeHookTimeoutMs,
            failure: o.subscribeHookFailure,
            cacheMs: o.subscribeHookCacheMs,
            cacheMax: o.subscribeHookCacheSize,
            concurrency: o.subscribeHookConcurrency,
            queue: o.subscribeHookQueue,
            logger: o.logger,
          });
    const disconnects =
      o.disconnectHookUrl === null
        ? null
        : new DisconnectHook({
            url: o.disconnectHookUrl,
            intervalMs: o.disconnectHookIntervalMs,
            batch: o.disconnectHookBatch,
            queue: o.disconnectHookQueue,
            retries: o.disconnectHookRetries,
            timeoutMs: o.disconnectHookTimeoutMs,
            logger: o.logger,
          });
    if (disconnects !== null) {
      broker.on("session-close", (session, reason) => {
        const m = session.meta.hook as HookMeta | undefined;
        if (m === undefined) return;
        disconnects.add({ ...m, openedAt: session.openedAt, closedAt: Date.now(), reason });
      });
    }
    h = { subscribe, disconnects, close: async () => disconnects?.close() };
    byBroker.set(broker, h);
  }
  return h;
}

export interface StreamRequest {
  readonly route: "events" | "mercure";
  /** The stream's id (the Mercure subscriber id); generated when absent. */
  readonly id?: string;
  readonly client: string;
  readonly topics: readonly string[];
  readonly matchers?: readonly { readonly type: string; readonly match: string }[];
  readonly lastEventId: string | undefined;
  /** Throws when the broker would refuse these topics (an answer naming them is the hook's failure). */
  readonly validate: (topics: readonly string[]) => void;
}

export interface HookedStream {
  /** The topics the application narrowed the stream to; `null` = as asked. */
  readonly topics: readonly string[] | null;
  /** Session meta for the disconnect notification; `undefined` when that hook is off. */
  readonly meta: { hook: HookMeta } | undefined;
}

/**
 * Asks the subscribe hook (when configured) and prepares the disconnect notification. Throws the coded
 * 401/403 of a denial, or 503 (hook failed under the deny policy, or too many calls waiting).
 */
export async function beforeStream(
  broker: Broker,
  req: IncomingMessage,
  s: StreamRequest,
): Promise<HookedStream> {
  const h = hooksOf(broker);
  if (h.subscribe === null && h.disconnects === null) return { topics: null, meta: undefined };
  const id = s.id ?? `urn:uuid:${randomUUID()}`;
  let topics: readonly string[] | null = null;
  if (h.subscribe !== null) {
    s.validate(s.topics); // the client's own mistakes are answered without asking the application
    const d = await h.subscribe.decide(
      {
        route: s.route,
        id,
        client: s.client,
        topics: s.topics,
        ...(s.matchers === undefined ? {} : { matchers: s.matchers }),
        lastEventId: s.lastEventId,
        authorization: header(req, "authorization"),
        cookie: header(req, "cookie"),
      },
      s.validate,
    );
    if (!d.allow) {
      throw new SseBrokerError(
        "SSEB_ERR_HOOK_DENIED",
        d.reason ?? "the application refused this subscription",
        {
          statusCode: d.status,
        },
      );
    }
    topics = d.topics;
  }
  const meta =
    h.disconnects === null ? undefined : { hook: { id, client: s.client, selectors: topics ?? s.topics } };
  return { topics, meta };
}

function header(req: IncomingMessage, name: "authorization" | "cookie"): string | undefined {
  const v = req.headers[name];
  return typeof v === "string" && v !== "" ? v : undefined;
}
