/**
 * A browser-like subscriber of the soak: opens `GET /events?topic=…` on a random node, stays a while,
 * leaves, and comes back with `Last-Event-ID` (the last id it saw), as EventSource does. Its chain (see
 * ledger.ts) continues across complete resumes and restarts on a fresh connection or an incomplete one.
 * State per subscriber: its topics, the last id, one Chain, one request.
 * @module
 */
import http from "node:http";
import { createParser } from "eventsource-parser";
import { Chain, type Ledger, type TopicMask } from "./ledger.js";

export interface BrowserCounters {
  connects: number;
  /** Streams open right now. */
  open: number;
  fresh: number;
  resumesComplete: number;
  /** The broker answered `Last-Event-ID: earliest`: that window is not accounted. */
  resumesIncomplete: number;
  /** Sent Last-Event-ID, got no Last-Event-ID header back. */
  resumesUnanswered: number;
  /** Chains that ended (subscriber left, resume incomplete) without their tail being judged. */
  chainsAbandoned: number;
  /** Connections that ended before any event arrived and had no id to resume from: not accounted. */
  windowsUnaccounted: number;
  /** Events whose id is not one of the publisher's (the hostile mix's publishes). */
  foreignEvents: number;
  /** Answers other than 200, by status. */
  badStatus: Record<string, number>;
  connectErrors: Record<string, number>;
  /** Streams the server ended while the subscriber was reading. */
  serverEnded: number;
  eventsWithoutId: number;
  /** `sse-broker.missed` control events (a resume history could not cover): no id by design. */
  missedNotices: number;
  /** Events received, and those ignored by the self-check (--inject-loss-every). */
  seen: number;
  discarded: number;
}

export function emptyBrowserCounters(): BrowserCounters {
  return {
    connects: 0,
    open: 0,
    fresh: 0,
    resumesComplete: 0,
    resumesIncomplete: 0,
    resumesUnanswered: 0,
    chainsAbandoned: 0,
    windowsUnaccounted: 0,
    foreignEvents: 0,
    badStatus: {},
    connectErrors: {},
    serverEnded: 0,
    eventsWithoutId: 0,
    missedNotices: 0,
    seen: 0,
    discarded: 0,
  };
}

export interface BrowserEnv {
  ledger: Ledger;
  counters: BrowserCounters;
  ports: readonly number[];
  random: () => number;
  /** Called once the browser left for good. */
  onRetired: (b: Browser) => void;
  /** Self-check of the accounting: ignore every Nth event received (0: none), as if it never came. */
  discardEvery?: number;
  /** Source address of its connections (a loopback alias), as users come from many addresses. */
  localAddress?: string;
}

const DIGITS = /^[1-9]\d*$/;
const HEAD_TIMEOUT_MS = 10_000;

export class Browser {
  readonly selectors: readonly string[];
  readonly mask: TopicMask;
  /** What the browser's EventSource would send as Last-Event-ID. */
  lastEventId: string | undefined;
  chain: Chain | null = null;
  /** True while a stream is open (head received, not ended). */
  connected = false;
  readonly #env: BrowserEnv;
  #req: http.ClientRequest | null = null;
  #timer: NodeJS.Timeout | undefined;
  /** Events received on the current connection. */
  #receivedHere = 0;
  #stopped = false;
  /** While settling for the end: no leaving, reconnect at once. */
  #settling = false;
  #stay: () => number;
  #pause: () => number;
  #retire: () => boolean;

  constructor(
    env: BrowserEnv,
    selectors: readonly string[],
    mask: TopicMask,
    behaviour: { stayMs: () => number; pauseMs: () => number; retire: () => boolean },
  ) {
    this.#env = env;
    this.selectors = selectors;
    this.mask = mask;
    this.#stay = behaviour.stayMs;
    this.#pause = behaviour.pauseMs;
    this.#retire = behaviour.retire;
  }

  /** Connects after `ms` (its own timer, so that settle() or stop() cancel it). */
  connectIn(ms: number): void {
    this.#setTimer(ms, () => this.connect());
  }

  connect(): void {
    if (this.#stopped || this.#req !== null) return;
    const env = this.#env;
    const c = env.counters;
    const port = env.ports[Math.floor(env.random() * env.ports.length)] as number;
    const q = this.selectors.map((s) => `topic=${encodeURIComponent(s)}`).join("&");
    const sentId = this.lastEventId;
    const headers: Record<string, string> = { Accept: "text/event-stream" };
    if (sentId !== undefined) headers["Last-Event-ID"] = sentId;
    c.connects++;
    this.#receivedHere = 0;
    const req = http.get({
      host: "127.0.0.1",
      port,
      path: `/events?${q}`,
      headers,
      agent: false,
      ...(env.localAddress === undefined ? {} : { localAddress: env.localAddress }),
    });
    this.#req = req;
    this.#setTimer(HEAD_TIMEOUT_MS, () => req.destroy(new Error("no response head in time")));
    req.once("error", (err) => {
      if (this.#req !== req) return;
      const code = (err as NodeJS.ErrnoException).code ?? err.message;
      c.connectErrors[code] = (c.connectErrors[code] ?? 0) + 1;
      this.#gone(req);
    });
    req.once("response", (res) => {
      if (this.#req !== req) {
        res.destroy();
        return;
      }
      if (res.statusCode !== 200) {
        const k = String(res.statusCode);
        c.badStatus[k] = (c.badStatus[k] ?? 0) + 1;
        res.resume();
        req.destroy();
        this.#gone(req);
        return;
      }
      this.#opened(sentId, res.headers["last-event-id"]);
      const discard = env.discardEvery ?? 0;
      const parser = createParser({
        onEvent: (ev) => {
          if (this.#req !== req) return; // a connection this browser already left
          if (discard > 0 && ++env.counters.seen % discard === 0) {
            env.counters.discarded++;
            return;
          }
          if (ev.id === undefined) {
            if (ev.event === "sse-broker.missed") c.missedNotices++;
            else c.eventsWithoutId++;
            return;
          }
          this.lastEventId = ev.id; // EventSource keeps the last id seen, whatever it is
          this.#receivedHere++;
          if (!DIGITS.test(ev.id)) {
            c.foreignEvents++;
            return;
          }
          this.chain?.receive(Number(ev.id));
        },
      });
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => parser.feed(chunk));
      res.on("error", () => {}); // a reset stream: 'close' follows
      res.once("close", () => {
        // Still current: the subscriber did not leave, so the server (or the network) ended the stream.
        if (this.#req === req) c.serverEnded++;
        this.#gone(req);
      });
    });
  }

  /** The response head arrived: decide what the chain is. */
  #opened(sentId: string | undefined, answer: string | string[] | undefined): void {
    const c = this.#env.counters;
    this.connected = true;
    c.open++;
    if (sentId !== undefined && answer === sentId && this.chain !== null) {
      c.resumesComplete++;
    } else {
      if (sentId !== undefined) {
        if (answer === "earliest") c.resumesIncomplete++;
        else c.resumesUnanswered++;
      } else {
        c.fresh++;
      }
      this.#endChain();
      // Everything handed out before now may have reached the node before this subscription existed.
      this.chain = new Chain(this.#env.ledger, this.mask, this.#env.ledger.lastBegun);
    }
    if (!this.#settling) this.#setTimer(this.#stay(), () => this.#leave());
    else this.#clearTimer();
  }

  #endChain(): void {
    if (this.chain !== null && !this.chain.ended) {
      this.chain.abandon();
      this.#env.counters.chainsAbandoned++;
    }
  }

  #leave(): void {
    const req = this.#req;
    if (req === null) return;
    req.destroy();
    this.#gone(req);
  }

  /** The current connection is over (left, refused, failed or ended by the server). */
  #gone(req: http.ClientRequest): void {
    if (this.#req !== req) return;
    this.#req = null;
    this.#clearTimer();
    if (this.connected) {
      this.connected = false;
      this.#env.counters.open--;
    }
    if (this.#receivedHere === 0 && this.lastEventId === undefined) this.#env.counters.windowsUnaccounted++;
    if (this.#stopped) return;
    if (!this.#settling && this.#retire()) {
      this.#stopped = true;
      this.#endChain();
      this.#env.onRetired(this);
      return;
    }
    this.#setTimer(this.#settling ? 100 : this.#pause(), () => this.connect());
  }

  /** End phase: stop leaving; reconnect now if away. */
  settle(): void {
    this.#settling = true;
    if (this.#req === null && !this.#stopped) {
      this.#clearTimer();
      this.connect();
    } else if (this.connected) {
      this.#clearTimer();
    }
  }

  /** Closes the connection for good. With `upTo`, the chain is judged up to the end marker. */
  stop(upTo?: number): void {
    this.#stopped = true;
    this.#clearTimer();
    if (upTo !== undefined && this.chain !== null) this.chain.complete(upTo);
    else this.#endChain();
    const req = this.#req;
    if (req !== null) {
      req.destroy();
      this.#gone(req);
    }
  }

  #setTimer(ms: number, fn: () => void): void {
    this.#clearTimer();
    this.#timer = setTimeout(fn, ms);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
