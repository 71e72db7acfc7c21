/**
 * The subscribe hook: before a stream opens, the application's backend is asked (one JSON POST) whether
 * this client may subscribe to these topics, and may narrow them. Answers are cached by credentials and
 * topics (bounded, per `Cache-Control: max-age` or `subscribeHookCacheMs`), identical concurrent requests
 * share one call, and calls are bounded in number (limiter.ts). A hook that fails (timeout, non-200, bad
 * JSON, an answer outside the contract) follows `subscribeHookFailure`. The contract is in README
 * ("Backend hooks").
 * @module
 */
import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import { LogLimiter } from "../core/log-limiter.js";
import { SseBrokerError } from "../errors.js";
import { retryAfterSec } from "../jitter.js";
import type { Logger } from "../options.js";
import { Limiter } from "./limiter.js";
import { postJson } from "./post-json.js";

export interface SubscribeHookOptions {
  readonly url: string;
  readonly timeoutMs: number;
  readonly failure: "deny" | "allow";
  readonly cacheMs: number;
  readonly cacheMax: number;
  readonly concurrency: number;
  readonly queue: number;
  readonly logger: Logger | null;
}

/** What the broker asks; `authorization`/`cookie` are forwarded as headers, never logged. */
export interface SubscribeQuestion {
  readonly route: "events" | "mercure";
  readonly id: string;
  readonly client: string;
  readonly topics: readonly string[];
  /** Mercure 1.0 subscriptions: each matcher with its type (`topics` holds the same values). */
  readonly matchers?: readonly { readonly type: string; readonly match: string }[];
  readonly lastEventId: string | undefined;
  readonly authorization: string | undefined;
  readonly cookie: string | undefined;
}

export type Decision =
  | { readonly allow: true; readonly topics: readonly string[] | null }
  | { readonly allow: false; readonly status: 401 | 403; readonly reason: string | null };

type Failure = { readonly failed: string };

/** Largest hook answer read: an answer is a verdict and a topic list. */
export const MAX_ANSWER_BYTES = 64 * 1024;
const MAX_REASON_LENGTH = 200;

export interface SubscribeHookStats {
  /** POSTs sent to the hook. */
  calls: number;
  /** Answers served from the cache. */
  cacheHits: number;
  /** Requests that waited for an identical call already in flight. */
  shared: number;
  /** Calls that failed (timeout, non-200, invalid answer), whatever the failure policy did. */
  failures: number;
  /** Requests refused because the call queue was full. */
  busy: number;
}

export class SubscribeHook {
  readonly stats: SubscribeHookStats = { calls: 0, cacheHits: 0, shared: 0, failures: 0, busy: 0 };
  readonly #o: SubscribeHookOptions;
  readonly #cache: LRUCache<string, Decision> | null;
  readonly #inFlight = new Map<string, Promise<Decision | Failure>>();
  readonly #limiter: Limiter;
  readonly #log: LogLimiter | null;

  constructor(o: SubscribeHookOptions) {
    this.#o = o;
    this.#cache = o.cacheMs === 0 ? null : new LRUCache({ max: o.cacheMax, ttl: o.cacheMs });
    this.#limiter = new Limiter(o.concurrency, o.queue);
    this.#log = o.logger === null ? null : new LogLimiter(o.logger);
  }

  /** Cached answers (bounded by `cacheMax`). */
  get cacheSize(): number {
    return this.#cache?.size ?? 0;
  }

  /** Calls in flight (running or queued), each shared by identical requests. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * The application's decision, or what the failure policy makes of a failure. Throws a coded 503 when
   * the hook failed under the `deny` policy or too many calls wait. `validate` throws on topics the broker
   * would refuse: an allow answer naming those is a failure of the hook, not the client's fault.
   */
  async decide(q: SubscribeQuestion, validate: (topics: readonly string[]) => void): Promise<Decision> {
    const key = cacheKey(q);
    const cached = this.#cache?.get(key);
    if (cached !== undefined) {
      this.stats.cacheHits++;
      return cached;
    }
    let call = this.#inFlight.get(key);
    if (call === undefined) {
      call = this.#call(q, key, validate);
      this.#inFlight.set(key, call);
      call.then(() => this.#inFlight.delete(key)); // #call never rejects
    } else {
      this.stats.shared++;
    }
    const r = await call;
    if (!("failed" in r)) return r;
    if (r.failed === "busy") {
      throw new SseBrokerError("SSEB_ERR_HOOK_BUSY", "too many subscriptions wait for the application", {
        statusCode: 503,
        retryAfterSec: retryAfterSec(1, 10),
      });
    }
    if (this.#o.failure === "allow") return { allow: true, topics: null };
    throw new SseBrokerError(
      "SSEB_ERR_HOOK_UNAVAILABLE",
      "the application could not authorize this subscription",
      {
        statusCode: 503,
        retryAfterSec: retryAfterSec(1, 10),
      },
    );
  }

  async #call(
    q: SubscribeQuestion,
    key: string,
    validate: (topics: readonly string[]) => void,
  ): Promise<Decision | Failure> {
    const signal = AbortSignal.timeout(this.#o.timeoutMs); // also bounds the wait in the queue
    const headers: Record<string, string> = {};
    if (q.authorization !== undefined) headers.authorization = q.authorization;
    if (q.cookie !== undefined) headers.cookie = q.cookie;
    const body = {
      type: "subscribe",
      route: q.route,
      id: q.id,
      client: q.client,
      topics: q.topics,
      ...(q.matchers === undefined ? {} : { matchers: q.matchers }),
      lastEventId: q.lastEventId ?? null,
    };
    const run = this.#limiter.run(() => {
      this.stats.calls++;
      return postJson(this.#o.url, body, { headers, signal, maxBytes: MAX_ANSWER_BYTES });
    }, signal);
    if (run === null) {
      this.stats.busy++;
      return { failed: "busy" };
    }
    const answer = (await run) ?? ({ ok: false, reason: "timeout" } as const);
    let r: Decision | Failure;
    if (!answer.ok) r = { failed: answer.reason };
    else if (answer.status !== 200) r = { failed: `status_${statusClass(answer.status)}` };
    else r = decisionOf(answer.body);
    if (!("failed" in r) && r.allow && r.topics !== null) {
      try {
        validate(r.topics);
      } catch {
        r = { failed: "invalid_topics" };
      }
    }
    if ("failed" in r) {
      this.stats.failures++;
      this.#log?.warn(
        "subscribe-hook-failed",
        { reason: r.failed, policy: this.#o.failure },
        "Subscribe hook failed; applying the failure policy",
      );
      return r;
    }
    const ttl = answer.ok ? ttlOf(answer.cacheControl, this.#o.cacheMs) : 0;
    if (ttl > 0) this.#cache?.set(key, r, { ttl });
    return r;
  }
}

/** The cache key: a digest of what the decision may depend on (client input: bounded to 32 bytes). */
function cacheKey(q: SubscribeQuestion): string {
  const h = createHash("sha256");
  for (const part of [q.route, q.authorization ?? "", q.cookie ?? "", ...q.topics]) h.update(`${part}\u0000`);
  for (const m of q.matchers ?? []) h.update(`${m.type}\u0000`);
  return h.digest("base64");
}

/** The answer's verdict, or a failure when it is not exactly what the contract allows. */
export function decisionOf(body: unknown): Decision | Failure {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return { failed: "invalid_answer" };
  const b = body as Record<string, unknown>;
  if (b.allow === true) {
    if (b.topics === undefined) return { allow: true, topics: null };
    if (!Array.isArray(b.topics) || b.topics.some((t) => typeof t !== "string" || t === "")) {
      return { failed: "invalid_answer" };
    }
    // Nothing left to subscribe to: the application refused every topic asked for.
    if (b.topics.length === 0) return { allow: false, status: 403, reason: null };
    return { allow: true, topics: [...new Set(b.topics as string[])] };
  }
  if (b.allow === false) {
    const status = b.status ?? 403;
    if (status !== 401 && status !== 403) return { failed: "invalid_answer" };
    if (b.reason !== undefined && typeof b.reason !== "string") return { failed: "invalid_answer" };
    return { allow: false, status, reason: reasonOf(b.reason) };
  }
  return { failed: "invalid_answer" };
}

/** A reason is shown to the client: printable, one line, bounded. */
function reasonOf(reason: string | undefined): string | null {
  if (reason === undefined) return null;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const clean = reason.replace(/[\u0000-\u001f\u007f-\u009f]/g, " ").trim();
  return clean === "" ? null : clean.slice(0, MAX_REASON_LENGTH);
}

/** How long an answer may be reused: `no-store`/`no-cache` → 0, `max-age` capped at the option. */
export function ttlOf(cacheControl: string | null, cacheMs: number): number {
  if (cacheMs === 0 || cacheControl === null) return cacheMs;
  const cc = cacheControl.toLowerCase();
  if (/(^|[\s,])(no-store|no-cache)([\s,=]|$)/.test(cc)) return 0;
  const m = /(^|[\s,])max-age\s*=\s*"?(\d+)"?/.exec(cc);
  if (m === null) return cacheMs;
  return Math.min(cacheMs, Number(m[2]) * 1000);
}

function statusClass(status: number): string {
  return status >= 300 && status < 400 ? "redirect" : String(status);
}
