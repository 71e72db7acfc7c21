/**
 * Cluster-wide requests about a live stream (selector changes, Mercure token refreshes; change.ts) over
 * Redis pub/sub: a node that does not hold the stream publishes the request on `${keyPrefix}subscribers`;
 * every other node answers it if it holds that subscriber id (ids are unique) on the asker's own channel,
 * `${keyPrefix}subscribers:${nodeId}`. The asker takes the holder's answer; when every node PUBLISH
 * reached answered "not here" it is a 404 (a refusal comes back with the holder's code, status and
 * `Retry-After`, change.ts); a node that does not answer within `timeoutMs` makes it a 504
 * (the holder may be that one). Pub/sub rather than the event stream: a request is a question for whoever
 * holds the connection now, not something to retain or replay. A selector change carries only its bearer
 * token's SHA-256; a token refresh carries the new token (the holder must verify it), in the PUBLISH only:
 * never written to a key or a stream, never logged. It loads ioredis, so the package root never imports it.
 * @module
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { Redis, type RedisOptions } from "ioredis";
import type { Broker } from "../core/broker.js";
import { optionsError, SseBrokerError } from "../errors.js";
import type { Logger } from "../options.js";
import {
  type AnswerOf,
  answerFor,
  type ChangeAnswer,
  refreshAnswerFor,
  type SubscriberRequest,
  type SubscriberRouter,
  setSubscriberRouter,
  type TokenAnswer,
} from "./change.js";

export interface RedisSubscriberRouterOptions {
  /** `redis://…` or `rediss://…`. */
  url: string;
  /** Same prefix as the transport's. Defaults to `"sse-broker:"`. */
  keyPrefix?: string;
  /** How long a forwarded change waits for the other nodes. Defaults to `2_000`. */
  timeoutMs?: number;
  /** Forwarded changes waiting for answers at most (past it: 503). Defaults to `1_000`. */
  maxPending?: number;
  /** This node's name on Redis. Defaults to `<hostname>:<pid>:<random>`. */
  nodeId?: string;
  /** Passed to ioredis; the offline queue and retries are overridden. */
  redisOptions?: RedisOptions;
  logger?: Logger | null;
}

interface Asked {
  readonly reqId: string;
  readonly from: string;
  /** `change` for the message's history: it first carried selector changes only. */
  readonly change: SubscriberRequest;
}

interface Answered {
  readonly reqId: string;
  /** `null`: not held by the answering node. */
  readonly answer: ChangeAnswer | TokenAnswer | null;
}

interface Waiting {
  /** Nodes still to answer. */
  left: number;
  readonly resolve: (a: ChangeAnswer | TokenAnswer | null) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export function createRedisSubscriberRouter(opts: RedisSubscriberRouterOptions): RedisSubscriberRouter {
  return new RedisSubscriberRouter(opts);
}

export class RedisSubscriberRouter implements SubscriberRouter {
  readonly nodeId: string;
  readonly channel: string;
  readonly replyChannel: string;
  readonly #timeoutMs: number;
  readonly #maxPending: number;
  readonly #log: Logger | null;
  /** Commands (PUBLISH); a connection in subscriber mode can send nothing else. */
  readonly #pub: Redis;
  readonly #sub: Redis;
  readonly #waiting = new Map<string, Waiting>();
  #broker: Broker | undefined;
  #subscribed: Promise<unknown>;
  #detach: () => void = () => {};
  #closed = false;

  constructor(opts: RedisSubscriberRouterOptions) {
    this.#timeoutMs = opts.timeoutMs ?? 2_000;
    if (!Number.isSafeInteger(this.#timeoutMs) || this.#timeoutMs < 1) {
      throw optionsError("subscriber router timeoutMs must be an integer >= 1");
    }
    this.#maxPending = opts.maxPending ?? 1_000;
    if (!Number.isSafeInteger(this.#maxPending) || this.#maxPending < 1) {
      throw optionsError("subscriber router maxPending must be an integer >= 1");
    }
    this.nodeId = opts.nodeId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const prefix = opts.keyPrefix ?? "sse-broker:";
    this.channel = `${prefix}subscribers`;
    this.replyChannel = `${prefix}subscribers:${this.nodeId}`;
    this.#log = opts.logger ?? null;
    const base: RedisOptions = {
      connectTimeout: 5_000,
      ...opts.redisOptions,
      // Fail, don't queue: a change is answered now or refused (503), never applied late.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
    };
    const name = opts.redisOptions?.connectionName ?? "sse-broker";
    this.#pub = new Redis(opts.url, { ...base, connectionName: `${name}:subscribers` });
    // The subscriber connection re-subscribes by itself after a reconnect (ioredis autoResubscribe).
    this.#sub = new Redis(opts.url, {
      ...base,
      connectionName: `${name}:subscribers-sub`,
      enableOfflineQueue: true,
    });
    this.#pub.on("error", (err: unknown) => this.#failed(err));
    this.#sub.on("error", (err: unknown) => this.#failed(err));
    this.#sub.on("message", (channel: string, message: string) => this.#message(channel, message));
    this.#subscribed = this.#sub.subscribe(this.channel, this.replyChannel);
    this.#subscribed.catch((err: unknown) => this.#failed(err));
  }

  /** Answers other nodes' changes for `broker`'s streams and forwards its own; closes with it. */
  attach(broker: Broker): void {
    if (this.#broker !== undefined) throw new Error("RedisSubscriberRouter is already attached");
    this.#broker = broker;
    const onClose = (): void => void this.close();
    broker.once("close", onClose);
    setSubscriberRouter(broker, this);
    this.#detach = () => {
      broker.off("close", onClose);
      setSubscriberRouter(broker, null);
    };
  }

  /** Resolves once this node listens (tests wait for it before asking across nodes). */
  async ready(): Promise<void> {
    await this.#subscribed;
  }

  async forward<R extends SubscriberRequest>(change: R): Promise<AnswerOf<R> | null> {
    if (this.#waiting.size >= this.#maxPending) {
      throw new SseBrokerError(
        "SSEB_ERR_BACKPLANE_UNAVAILABLE",
        "too many requests waiting for other nodes",
        {
          statusCode: 503,
        },
      );
    }
    const reqId = randomUUID();
    const asked: Asked = { reqId, from: this.nodeId, change };
    let reached: number;
    try {
      if (this.#pub.status !== "ready") throw new Error(`Redis connection is ${this.#pub.status}`);
      await this.#subscribed; // our answers come on our own channel
      reached = await this.#pub.publish(this.channel, JSON.stringify(asked));
    } catch (err) {
      this.#failed(err);
      throw new SseBrokerError(
        "SSEB_ERR_BACKPLANE_UNAVAILABLE",
        "Redis is unavailable: cannot reach other nodes",
        {
          statusCode: 503,
          cause: err,
        },
      );
    }
    const others = reached - 1; // this node hears its own question and ignores it
    if (others <= 0) return null;
    // The answer is of the request's kind: the holder answers each kind with its own function.
    return new Promise<AnswerOf<R> | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(reqId);
        reject(
          new SseBrokerError(
            "SSEB_ERR_SUBSCRIBER_TIMEOUT",
            `not every node answered within ${this.#timeoutMs} ms; the request may or may not have taken effect`,
            { statusCode: 504 },
          ),
        );
      }, this.#timeoutMs);
      this.#waiting.set(reqId, {
        left: others,
        resolve: resolve as (a: ChangeAnswer | TokenAnswer | null) => void,
        reject,
        timer,
      });
    });
  }

  #message(channel: string, message: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      return; // not ours: a channel shared by mistake
    }
    if (channel === this.replyChannel) this.#answered(parsed as Answered);
    else if (channel === this.channel) void this.#asked(parsed as Asked);
  }

  #answered(a: Answered): void {
    const w = typeof a?.reqId === "string" ? this.#waiting.get(a.reqId) : undefined;
    if (w === undefined) return; // late (timed out) or unknown
    if (a.answer === null && --w.left > 0) return;
    clearTimeout(w.timer);
    this.#waiting.delete(a.reqId);
    w.resolve(a.answer);
  }

  async #asked(q: Asked): Promise<void> {
    const broker = this.#broker;
    if (broker === undefined || broker.closed || q?.from === this.nodeId) return;
    if (typeof q.reqId !== "string" || typeof q.from !== "string" || typeof q.change?.id !== "string") return;
    const r = q.change;
    // A kind this version does not know (a newer node's) is not a selector change: the asker times out.
    if (r.kind !== undefined && r.kind !== "selectors" && r.kind !== "token") return;
    let answer: ChangeAnswer | TokenAnswer | null;
    try {
      if (r.kind === "token") {
        if (typeof r.token !== "string") return;
        answer = await refreshAnswerFor(broker, r.id, r.token);
      } else {
        answer = answerFor(broker, {
          id: r.id,
          add: Array.isArray(r.add) ? r.add : [],
          remove: Array.isArray(r.remove) ? r.remove : [],
          publisher: r.publisher === true,
          credentialHash: typeof r.credentialHash === "string" ? r.credentialHash : null,
          // Verified on the asking node; the hub's changer checks its shape before using it.
          rights: typeof r.rights === "object" ? r.rights : null,
        });
      }
    } catch (err) {
      // The kind and the error's message only: never the request (a refresh carries a token).
      this.#log?.warn(
        { kind: r.kind ?? "selectors", err: (err as Error).message },
        "Request from another node failed",
      );
      answer = { ok: false, code: "SSEB_ERR_INTERNAL", message: "internal error", status: 500 };
    }
    const reply: Answered = { reqId: q.reqId, answer };
    try {
      const prefix = this.channel.slice(0, -"subscribers".length);
      await this.#pub.publish(`${prefix}subscribers:${q.from}`, JSON.stringify(reply));
    } catch (err) {
      this.#failed(err); // the asker times out (504)
    }
  }

  #down = false;

  #failed(err: unknown): void {
    if (this.#closed || this.#down) return;
    this.#down = true;
    this.#log?.warn({ err: (err as Error)?.message }, "Subscriber router: Redis unavailable");
    this.#pub.once("ready", () => {
      this.#down = false;
    });
  }

  /** Stops listening; changes still waiting end as 503. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#detach();
    for (const [id, w] of this.#waiting) {
      clearTimeout(w.timer);
      this.#waiting.delete(id);
      w.reject(
        new SseBrokerError("SSEB_ERR_BACKPLANE_UNAVAILABLE", "this node is stopping; try again", {
          statusCode: 503,
        }),
      );
    }
    this.#sub.disconnect();
    this.#pub.disconnect();
  }
}
